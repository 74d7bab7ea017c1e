"""The Flow AM paper's claims on a trained PointNet and the built-in dataset.

- Flow AM explanations are classified as their target for most classes (Table I, "AM Acc.").
- They are closer to real objects of the class (Chamfer) than vanilla AM (Table I, Fig. 1).
- With the legal restriction more than 90 % of the points are legal, and fewer without (Table III).
- Parameter dropout changes the explanation (the sanity check, Fig. 7 / Table S1).

The classifier is the demo PointNet when ``assets/demo_pointnet.safetensors`` exists and fits the
built-in classes, else (or with FLOWAM_TEST_MODEL=tiny) a tiny PointNet trained here on part of
``builtin`` (a few seconds).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from engine import Job, run_sync, run, start
from engine.methods.flowam import stats as flowam_stats

ROOT = Path(__file__).resolve().parents[2]
N = 256
STEPS = 100
COMMON = {"points": N, "steps": STEPS, "fid_reals": 10, "stats_per_class": 10, "init_objects": 8}


def _tiny_pointnet(ds):
    from engine.methods.flowam.stats import class_indices, load_clouds
    from engine.models.pointnet import PointNetClassifier

    torch.manual_seed(0)
    split = ds.split("train")
    idx = np.concatenate([class_indices(split, c, 30) for c in range(len(ds.classes))])
    x = torch.as_tensor(load_clouds(split, idx, N))
    y = torch.as_tensor(np.asarray(split.labels)[idx])
    model = PointNetClassifier(num_classes=len(ds.classes), width=0.125)
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    model.train()
    for _ in range(12):
        perm = torch.randperm(len(y))
        for s in range(0, len(y) - 1, 32):
            i = perm[s:s + 32]
            scale = torch.empty(len(i), 1, 3).uniform_(0.85, 1.15)      # light augmentation
            loss, _ = model.training_loss(x[i] * scale, y[i])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    import os

    from engine.data import open_dataset

    old = os.environ.get("POINTLENS_FLOWAM_CACHE")
    os.environ["POINTLENS_FLOWAM_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    flowam_stats.clear_memory_cache()
    try:
        ds = open_dataset("builtin")
        demo = ROOT / "assets" / "demo_pointnet.safetensors"
        model = None
        if demo.is_file() and os.environ.get("FLOWAM_TEST_MODEL") != "tiny":
            from engine.models.checkpoints import load_checkpoint

            loaded = load_checkpoint(demo)
            if loaded.classes == list(ds.classes):
                model = loaded.model
        yield ds, (model if model is not None else _tiny_pointnet(ds))
    finally:
        flowam_stats.clear_memory_cache()
        if old is None:
            os.environ.pop("POINTLENS_FLOWAM_CACHE", None)
        else:
            os.environ["POINTLENS_FLOWAM_CACHE"] = old


def _run(model, ds, target, **params):
    return run(Job("flowam", {"dataset": ds, "target": target}, {**COMMON, **params}, model=model))


def test_flow_am_beats_vanilla_am_on_builtin(setup):
    ds, model = setup
    rows = {"flow": [], "vanilla": []}
    for c in range(len(ds.classes)):
        for name, extra in (("flow", {}), ("vanilla", {"method": "vanilla"})):
            rows[name].append(_run(model, ds, c, **extra).metrics)
    mean = {k: {m: float(np.mean([r[m] for r in v])) for m in ("chamfer", "legality", "success")}
            for k, v in rows.items()}
    print(mean)
    assert mean["flow"]["success"] >= 0.7                     # classified as the target: most classes
    assert mean["flow"]["chamfer"] < mean["vanilla"]["chamfer"]
    better = sum(f["chamfer"] < v["chamfer"] for f, v in zip(rows["flow"], rows["vanilla"]))
    assert better >= len(ds.classes) // 2 + 1                # and for most classes
    assert mean["flow"]["legality"] > 0.9


def test_legal_restriction_keeps_points_legal(setup):
    """Table III: without L_LR fewer points stay inside the legal interval. A larger step size
    than the default lets the critical points reach the limit within 100 steps."""
    ds, model = setup
    legality = {True: [], False: []}
    for c in ("bathtub", "monitor", "table"):
        for on in (True, False):
            legality[on].append(_run(model, ds, c, lr=0.015, use_lr=on).metrics["legality"])
    print(legality)
    assert np.mean(legality[True]) > 0.9
    assert np.mean(legality[False]) < np.mean(legality[True])


def test_dropout_sanity_check_degrades_the_explanation(setup):
    ds, model = setup
    params = {**COMMON, "levels": "0,0.5", "part": "dropout", "accuracy_per_class": 5}
    r = run(Job("flowam-sanity", {"dataset": ds, "target": "chair"}, params, model=model))
    a = r.arrays
    assert a["levels"].tolist() == [0.0, 0.5]
    assert a["chamfer_to_undropped"][0] < 1e-6 and a["chamfer_to_undropped"][1] > 1e-3
    assert a["dropout_points"].shape == (2, N, 3)
    assert a["accuracy"][1] < a["accuracy"][0]              # the dropped model has lost its skill


def test_activation_flow_matches_paper_fig2(setup):
    """Fully connected layers separate same-class from other-class pairs; Flow AM explanations
    activate the aligned layers more like real objects than raw (vanilla) AM does."""
    ds, model = setup
    params = {**COMMON, "layers": "aliases", "explanations": "both", "per_class": 8, "pairs": 10}
    m = run(Job("flow-layers", {"dataset": ds}, params, model=model)).metrics
    at = {name: i for i, name in enumerate(m["layers"])}
    fc = [at[n] for n in ("fT1.fc2", "fT2.fc2", "fc1", "fc2")]
    assert np.mean([m["same_class"][i] for i in fc]) > np.mean([m["different_class"][i] for i in fc]) + 0.05
    aligned = [at[n] for n in ("fT1.fc1", "fT1.fc2", "fT2.fc1", "fT2.fc2", "fc2")]
    flow = np.mean([m["explanation_flow"][i] for i in aligned])
    vanilla = np.mean([m["explanation_vanilla"][i] for i in aligned])
    print({"flow": flow, "vanilla": vanilla})
    assert flow > vanilla
