"""The flowam METHOD's contract: gradients only to the points, the model unchanged and its hooks
removed after a run, a cancel or an error; previews, history, metrics; the statistics cache."""
from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from engine.data.dataset import Dataset, Loading
from engine.data.numpy_io import ArraySplit
from engine.core.errors import ModelError, ParameterError
from engine import Job, drive, run_sync, run, start
from engine.methods.flowam import stats as flowam_stats
from engine.methods.flowam.baselines import objective_config
from engine.methods.flowam.inputs import frozen
from engine.methods.flowam.objective import FlowObjective, tap_name
from engine.models.pointnet import PointNetClassifier
from engine.results import load_result, save_result

N = 64
CLASSES = ["ring", "rod", "slab"]


def _clouds(label: int, count: int, rng) -> np.ndarray:
    out = []
    for _ in range(count):
        t = rng.uniform(0, 2 * np.pi, N)
        if label == 0:
            p = np.stack([np.cos(t), np.sin(t), rng.normal(0, 0.05, N)], 1)
        elif label == 1:
            p = np.stack([rng.normal(0, 0.05, N), rng.normal(0, 0.05, N), rng.uniform(-1, 1, N)], 1)
        else:
            p = np.stack([rng.uniform(-1, 1, N), rng.uniform(-1, 1, N), rng.normal(0, 0.02, N)], 1)
        out.append(p)
    return np.asarray(out, np.float32)


def small_dataset(seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    lo = Loading(points=N)
    splits = {}
    for name, count in (("train", 6), ("test", 4)):
        x = np.concatenate([_clouds(c, count, rng) for c in range(3)])
        y = np.repeat(np.arange(3), count)
        splits[name] = ArraySplit(name, lo, f"memory-{seed}", {"points": x}, y)
    return Dataset(f"memory-{seed}", "memory", list(CLASSES), splits, lo)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("POINTLENS_FLOWAM_CACHE", str(tmp_path / "cache"))
    flowam_stats.clear_memory_cache()
    yield
    flowam_stats.clear_memory_cache()


@pytest.fixture
def model():
    torch.manual_seed(0)
    m = PointNetClassifier(num_classes=3, width=0.0625)
    m.train()                               # a state the run must give back
    m.fc3.weight.requires_grad_(False)      # a mixed requires_grad state to restore exactly
    return m


FAST = {"steps": 12, "points": N, "init_objects": 3, "fid_reals": 4, "preview_every": 2}


def _snapshot(m):
    return ({k: v.clone() for k, v in m.state_dict().items()},
            [p.requires_grad for p in m.parameters()], [x.training for x in m.modules()])


def _assert_unchanged(m, snap):
    state, flags, modes = snap
    for k, v in m.state_dict().items():
        assert torch.equal(v, state[k]), k
    assert [p.requires_grad for p in m.parameters()] == flags
    assert [x.training for x in m.modules()] == modes
    assert all(not x._forward_hooks and not x._forward_pre_hooks for x in m.modules())
    assert all(p.grad is None for p in m.parameters())


def test_gradients_reach_only_the_points(model):
    ds = small_dataset()
    from engine.specs.flowam import FlowAMParams

    cfg = objective_config(FlowAMParams(points=N))
    names = [tap_name(lw.layer, cfg.activation) for lw in cfg.layer_weights]
    with frozen(model):
        means = flowam_stats.drain(flowam_stats.class_mean_activations(model, ds, names, N))
        means = {k: torch.as_tensor(v) for k, v in means.items() if k != "counts"}
        x = torch.rand(2, N, 3, requires_grad=True)
        obj = FlowObjective(model, torch.tensor([0, 2]), cfg, means)
        total, terms = obj(x)
        total.backward()
        assert set(terms) == {"am", "la", "c", "lr", "total"}
        assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
        assert all(p.grad is None and not p.requires_grad for p in model.parameters())
        # the total is equation (6) of the terms
        t = terms
        want = t["am"] + 0.9 * t["la"] + 0.1 * t["c"] + t["lr"]
        assert torch.allclose(t["total"], want)
        # the paper's alpha: N_l * 1e-9 for fT1.fc1 (N_l = its width), then 1e-9, .1, .1, 1
        n1 = model.feat.stn.fc1.out_features
        assert obj.taps == pytest.approx({"fT1.fc1": n1 * 1e-9, "fT1.fc2": 1e-9, "fT2.fc1": 0.1,
                                          "fT2.fc2": 0.1, "fc2": 1.0})


def test_run_gives_previews_history_metrics_and_leaves_the_model(model, tmp_path):
    ds = small_dataset()
    snap = _snapshot(model)
    seen = []
    job = Job("flowam", {"dataset": ds, "target": "rod"}, FAST, model=model)
    result = drive(start(job), seen.append)
    _assert_unchanged(model, snap)
    previews = [p.preview for p in seen if p.preview]
    assert previews and all(p["points"].shape == (N, 3) and p["points"].dtype == np.float32 for p in previews)
    assert set(previews[0]["losses"]) == {"am", "la", "c", "lr", "total"}
    a = result.arrays
    t = len(a["history_steps"])
    assert a["history"].shape == (t, N, 3) and a["history_steps"][0] == 0 and a["history_steps"][-1] == 12
    assert np.allclose(a["history"][-1], a["points"]) and np.allclose(a["history"][0], a["init"])
    for term in ("am", "la", "c", "lr", "total"):
        assert a[f"loss_{term}"].shape == (t,)
    for p in previews:      # a preview's losses belong to its cloud (here every step is kept)
        assert np.array_equal(p["points"], a["history"][p["step"]])
        assert p["losses"]["total"] == pytest.approx(a["loss_total"][p["step"]])
    m = result.metrics
    for key in ("class", "method", "logit", "softmax", "chamfer", "fid", "legality", "predicted"):
        assert key in m
    assert m["class"] == "rod" and m["method"] == "flow" and np.isfinite(m["fid"])
    assert m["final_loss_am"] == pytest.approx(-m["logit"], rel=1e-4, abs=1e-4)
    # the nearest real class: the one of the three whose real objects lie nearest (mean CD-L2)
    assert set(m["chamfer_by_class"]) == set(CLASSES)
    assert m["nearest_real_class"] == min(m["chamfer_by_class"], key=m["chamfer_by_class"].get)
    assert m["looks_like_target"] == (m["nearest_real_class"] == "rod")
    save_result(result, tmp_path / "r.h5")
    back = load_result(tmp_path / "r.h5")
    assert np.array_equal(back.arrays["history"], a["history"]) and back.metrics["class"] == "rod"
    assert back.metrics["chamfer_by_class"] == m["chamfer_by_class"]


def test_nearest_real_class_is_the_class_of_the_object_copied():
    """A real object of each class, used as an explanation, lies nearest to its own class."""
    from engine.methods.flowam.metrics import nearest_real_class

    rng = np.random.default_rng(3)
    reals = {c: _clouds(c, 3, rng) for c in range(3)}
    copies = np.stack([reals[c][0] for c in range(3)])
    nearest, table = nearest_real_class(copies, reals)
    assert nearest.tolist() == [0, 1, 2] and table.shape == (3, 3)
    assert np.all(np.argmin(table, 1) == [0, 1, 2])


@pytest.mark.parametrize("method", ["vanilla", "l2", "blur", "tv"])
def test_baselines_run_with_their_own_terms(model, method):
    ds = small_dataset()
    r = run(Job("flowam", {"dataset": ds, "target": 0}, {**FAST, "method": method}, model=model))
    want = {"am", "total"} | ({"tv"} if method == "tv" else set())
    assert {k[5:] for k in r.arrays if k.startswith("loss_")} == want
    assert r.arrays["points"].shape == (N, 3) and np.isfinite(r.arrays["points"]).all()


def test_cancel_restores_the_model(model):
    ds = small_dataset()
    snap = _snapshot(model)
    cancel = threading.Event()
    job = Job("flowam", {"dataset": ds, "target": 1}, {**FAST, "steps": 500}, model=model)
    out = drive(start(job), lambda p: cancel.set() if p.preview else None, cancel)
    assert out is None
    _assert_unchanged(model, snap)


def test_error_mid_run_restores_the_model(model, monkeypatch):
    ds = small_dataset()
    snap = _snapshot(model)
    from engine.methods.flowam import baselines as flowam_baselines

    calls = []

    def boom(self, points, step):
        calls.append(step)
        if step == 3:
            raise RuntimeError("injected")

    monkeypatch.setattr(flowam_baselines.StepRule, "__call__", boom)
    with pytest.raises(RuntimeError, match="injected"):
        run(Job("flowam", {"dataset": ds, "target": 1}, FAST, model=model))
    assert calls == [0, 1, 2, 3]
    _assert_unchanged(model, snap)


def test_bad_inputs_are_engine_errors(model):
    ds = small_dataset()
    with pytest.raises(ParameterError, match="Did you mean rod"):
        run(Job("flowam", {"dataset": ds, "target": "rood"}, FAST, model=model))
    with pytest.raises(ParameterError, match="layer weights"):
        run(Job("flowam", {"dataset": ds, "target": 0}, {**FAST, "layer_weights": "fc2"}, model=model))
    with pytest.raises(ModelError, match="no layer 'nolayer'"):
        run(Job("flowam", {"dataset": ds, "target": 0},
                     {**FAST, "layer_weights": "nolayer=1"}, model=model))
    with pytest.raises(ParameterError, match="'beta'"):
        run(Job("flowam", {"dataset": ds, "target": 0}, {**FAST, "beta": 2.0}, model=model))
    wrong = PointNetClassifier(num_classes=5, width=0.0625)
    with pytest.raises(Exception, match="predicts 5 classes"):
        run(Job("flowam", {"dataset": ds, "target": 0}, FAST, model=wrong))


def test_statistics_are_cached_in_memory_and_on_disk(model, monkeypatch, tmp_path):
    ds = small_dataset()
    names = ["fc2", "global"]
    first = flowam_stats.drain(flowam_stats.class_mean_activations(model, ds, names, N))
    assert list(flowam_stats.cache_dir().glob("means-*.npz"))
    # the means are the class means of the activations
    x, y = ds.split("test").arrays()
    acts = flowam_stats.activations(model, x, names)
    assert np.allclose(first["fc2"][2], acts["fc2"][y == 2].mean(0), atol=1e-5)

    def fail(*a, **k):
        raise AssertionError("recomputed")

    monkeypatch.setattr(flowam_stats, "activations", fail)
    again = flowam_stats.drain(flowam_stats.class_mean_activations(model, ds, names, N))   # memory
    flowam_stats.clear_memory_cache()
    disk = flowam_stats.drain(flowam_stats.class_mean_activations(model, ds, names, N))    # disk
    assert np.array_equal(again["fc2"], first["fc2"]) and np.array_equal(disk["fc2"], first["fc2"])
    with torch.no_grad():
        model.fc2.weight.mul_(2)                 # other weights: another key, so recomputed
    with pytest.raises(AssertionError, match="recomputed"):
        flowam_stats.drain(flowam_stats.class_mean_activations(model, ds, names, N))


def test_drop_parameters_zeroes_the_fraction_of_a_copy(model):
    from engine.methods.flowam.sanity import drop_parameters, parse_levels

    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(0.5, 1.0)             # no zero entries: every zero below was dropped
    snap = _snapshot(model)
    dropped = drop_parameters(model, 0.3, seed=1)
    _assert_unchanged(model, snap)
    for (name, p), q in zip(model.named_parameters(), dropped.parameters()):
        assert int((q == 0).sum()) == round(0.3 * p.numel()), name
        assert torch.equal(q[q != 0], p[q != 0])
    again = drop_parameters(model, 0.3, seed=1)
    assert all(torch.equal(a, b) for a, b in zip(again.parameters(), dropped.parameters()))
    assert parse_levels("0.2, 0.1") == [0.0, 0.1, 0.2]
    with pytest.raises(ParameterError):
        parse_levels("0.1,1.5")


def test_sanity_and_flow_layers_cancel_restore_the_model(model):
    ds = small_dataset()
    snap = _snapshot(model)
    for name, inputs, extra in (("flowam-sanity", {"target": 0}, {"levels": "0,0.2"}),
                                ("flow-layers", {}, {"per_class": 2, "pairs": 2})):
        cancel = threading.Event()
        job = Job(name, {"dataset": ds, **inputs}, {**FAST, "steps": 400, **extra}, model=model)
        seen = []

        def stop(p):
            seen.append(p)
            if p.preview and len([s for s in seen if s.preview]) >= 3:
                cancel.set()

        assert drive(start(job), stop, cancel) is None
        _assert_unchanged(model, snap)


def test_divergence_is_a_model_error_not_a_traceback(model, monkeypatch):
    from engine.methods.flowam import baselines as flowam_baselines

    def diverge(self, points, step):          # what a too-large step size does to the points
        if step == 2:
            points.data[0, 0, 0] = float("inf")

    monkeypatch.setattr(flowam_baselines.StepRule, "__call__", diverge)
    snap = _snapshot(model)
    with pytest.raises(ModelError, match="NaN or infinite at step 3"):
        run(Job("flowam", {"dataset": small_dataset(), "target": 0}, FAST, model=model))
    _assert_unchanged(model, snap)


def test_specs_declare_the_contract_and_the_catalog_checks_jobs(model):
    import subprocess
    import sys

    from engine.catalog import implementation
    from engine.specs.flowam import FLOW_LAYERS, FLOWAM, SANITY

    for spec in (FLOWAM, FLOW_LAYERS, SANITY):
        assert implementation(spec.key).Params is spec.params and spec.needs_model
        assert "checkpoint" not in spec.input_names and "model" not in spec.input_names
        assert "device" not in spec.input_names
    lr = {f.name: f.metadata for f in FLOWAM.params.__dataclass_fields__.values()}["lr"]
    assert lr["scale"] == "log"
    # the specs are plain data: importing them does not import torch
    code = "import sys, engine.specs.flowam; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"
    ds = small_dataset()
    with pytest.raises(ParameterError, match="no input 'checkpoint'"):
        run(Job("flowam", {"dataset": ds, "target": 0, "checkpoint": "demo:pointnet"}, FAST))
    with pytest.raises(ParameterError, match="needs 'target'"):
        run(Job("flowam", {"dataset": ds}, FAST, model=model))
