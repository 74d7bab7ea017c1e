"""`pointlens explain flowam`, `pointlens flow-layers`, `pointlens sanity flowam` end to end
(tiny untrained checkpoint, the built-in dataset, few points and steps)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from engine.cli import main
from engine.methods.flowam import stats as flowam_stats
from engine.results import load_result

FAST = ["--param", "points=64", "--param", "init_objects=3", "--param", "fid_reals=5",
        "--param", "stats_per_class=4"]


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    import os

    from engine.data import open_dataset
    from engine.models.checkpoints import save_checkpoint
    from engine.models.pointnet import PointNetClassifier

    old = os.environ.get("POINTLENS_FLOWAM_CACHE")
    os.environ["POINTLENS_FLOWAM_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    torch.manual_seed(0)
    classes = open_dataset("builtin").classes
    path = tmp_path_factory.mktemp("ckpt") / "tiny.safetensors"
    save_checkpoint(path, PointNetClassifier(num_classes=len(classes), width=0.0625).eval(), {"classes": classes})
    yield str(path)
    flowam_stats.clear_memory_cache()
    if old is None:
        os.environ.pop("POINTLENS_FLOWAM_CACHE", None)
    else:
        os.environ["POINTLENS_FLOWAM_CACHE"] = old


def _json(capsys, argv) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_explain_flowam_json_and_result_file(ckpt, tmp_path, capsys):
    out = tmp_path / "r.h5"
    d = _json(capsys, ["explain", "flowam", "--checkpoint", ckpt, "--data", "builtin", "--class", "chair",
                       "--steps", "4", "--beta", "0.2", "--seed", "1", "--out", str(out), "--json", *FAST])
    for key in ("class", "method", "logit", "softmax", "chamfer", "fid", "legality", "predicted"):
        assert key in d
    assert d["class"] == "chair" and d["method"] == "flow" and np.isfinite(d["fid"])
    r = load_result(out)
    assert r.kind == "flowam" and r.arrays["points"].shape == (64, 3)
    assert r.arrays["history"].shape[1:] == (64, 3) and r.params["beta"] == 0.2 and r.params["seed"] == 1


def test_explain_flowam_all_classes_and_baseline(ckpt, tmp_path, capsys):
    d = _json(capsys, ["explain", "flowam", "--checkpoint", ckpt, "--data", "builtin", "--class", "all",
                       "--method", "tv", "--steps", "2", "--out", str(tmp_path / "t.h5"), "--json", *FAST])
    assert d["method"] == "tv" and len(d["per_class"]) == 10
    assert d["fid_all_classes"]["fid_set_size"] == 10 and d["fid_all_classes"]["fid_real_count"] == 10 * 5
    assert load_result(tmp_path / "t.h5").arrays["points"].shape == (10, 64, 3)


def test_bad_class_is_one_line_and_exit_2(ckpt, tmp_path, capsys):
    code = main(["explain", "flowam", "--checkpoint", ckpt, "--data", "builtin", "--class", "chiar",
                 "--out", str(tmp_path / "x.h5")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "Did you mean chair" in err[0]


def test_flow_layers_cli(ckpt, capsys):
    d = _json(capsys, ["flow-layers", "--checkpoint", ckpt, "--data", "builtin", "--steps", "3",
                       "--layers", "aliases", "--json", "--param", "points=64", "--param", "per_class=3",
                       "--param", "pairs=3"])
    assert "fT1.fc1" in d["layers"] and len(d["same_class"]) == len(d["layers"])
    assert len(d["explanation_vanilla"]) == len(d["layers"]) and len(d["suggested"]) == 5
    assert all(-1.0 - 1e-6 <= v <= 1.0 + 1e-6 for v in d["same_class"] + d["different_class"])


def test_sanity_cli(ckpt, capsys):
    d = _json(capsys, ["sanity", "flowam", "--checkpoint", ckpt, "--data", "builtin", "--class", "bed",
                       "--steps", "2", "--levels", "0,0.3", "--json", *FAST, "--param", "accuracy_per_class=2"])
    assert [r["level"] for r in d["dropout"]] == [0.0, 0.3]
    assert set(d["ablation"]) == {"all", "no_la", "no_c", "no_lr"}
