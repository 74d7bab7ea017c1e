"""`pointlens train --model serp-*` and `pointlens explain serp` end to end on the built-in data."""
from __future__ import annotations

import json

import numpy as np
import pytest

from engine.cli import main
from engine.results import load_result


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    out = tmp_path_factory.mktemp("serp_cli") / "sp.safetensors"
    rc = main(["train", "--model", "serp-pointnet", "--data", "builtin", "--epochs", "1", "--limit", "16",
               "--points", "128", "--batch-size", "8", "--width", "0.125", "--centres", "4",
               "--neighbours", "10", "--noise-mode", "per-patch", "--reconstruction", "chamfer",
               "--out", str(out), "--json"])
    assert rc == 0
    return out


def test_train_passes_serp_options(pretrained, capsys):
    from engine.models.checkpoints import load_checkpoint

    loaded = load_checkpoint(str(pretrained))
    cfg = loaded.model.config
    assert loaded.key == "serp-pointnet"
    assert (cfg["centres"], cfg["neighbours"], cfg["noise_mode"], cfg["reconstruction"]) == \
        (4, 10, "per-patch", "chamfer")
    assert cfg["cls_weight"] == 0.001 and cfg["rec_weight"] == 1.5     # paper defaults kept


def test_fine_tune_pointnet_from_serp(pretrained, tmp_path, capsys):
    capsys.readouterr()
    rc = main(["train", "--model", "pointnet", "--data", "builtin", "--epochs", "1", "--limit", "16",
               "--points", "128", "--batch-size", "8", "--width", "0.125", "--init", str(pretrained),
               "--out", str(tmp_path / "ft.safetensors"), "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # Every feat.* weight of the SeRP encoder (input T-Net, conv1-3, their BN) = 50 tensors; the
    # classifier's feature T-Net (absent in SeRP-PointNet) and head stay freshly initialised.
    assert out["init"].startswith("initialised 50 of ")


def test_explain_serp_command(pretrained, tmp_path, capsys):
    capsys.readouterr()
    out = tmp_path / "r.h5"
    rc = main(["explain", "serp", "--checkpoint", str(pretrained), "--data", "builtin", "--index", "3",
               "--points", "128", "--seed", "2", "--centres", "4", "--neighbours", "8", "--std", "0.05",
               "--out", str(out), "--json"])
    assert rc == 0
    js = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for k in ("chamfer_perturbed", "chamfer_reconstructed", "detection_accuracy"):
        assert np.isfinite(js[k])
    r = load_result(out)
    assert r.kind == "serp-explain" and r.arrays["original"].shape == (128, 3)
    assert r.arrays["perturbed_mask"].dtype == bool and 8 <= r.arrays["perturbed_mask"].sum() <= 32
    assert r.metrics["chamfer_perturbed"] == pytest.approx(js["chamfer_perturbed"])
    assert r.params["std"] == 0.05 and r.params["seed"] == 2


def test_explain_serp_bad_input_is_one_line(pretrained, capsys):
    capsys.readouterr()
    rc = main(["explain", "serp", "--checkpoint", str(pretrained), "--data", "builtin", "--index", "99999",
               "--points", "128"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "99999" in err
