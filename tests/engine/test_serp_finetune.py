"""finetune-compare: the same classifier from scratch and from the SeRP encoder, through the loop."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.core.errors import ModelError
from engine import Job, run_sync, run, start
from engine.training.finetune_compare import downstream
from engine.models.zoo import build_model
from engine.models.checkpoints import load_checkpoint, save_checkpoint


def small_data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (24, 64, 3)).astype(np.float32)
    y = np.arange(24) % 3
    x[y == 1] *= np.array([1.0, 0.3, 0.3], np.float32)      # three separable shapes
    x[y == 2] *= np.array([0.3, 0.3, 1.0], np.float32)
    return x, y


def test_pretrained_run_starts_from_the_encoder(tmp_path):
    torch.manual_seed(1)          # not the runs' seed 0: the scratch encoder must start elsewhere
    pre = build_model("serp-pointnet", width=0.125)
    ckpt = tmp_path / "pre.safetensors"
    save_checkpoint(ckpt, pre, {})
    x, y = small_data()
    params = {"epochs": 1, "batch_size": 8, "points": 64, "lr": 1e-9, "augmentations": "none",
              "out_prefix": str(tmp_path / "ft")}
    r = run(Job("finetune-compare", {"data": (x, y, ["a", "b", "c"]), "test": small_data(1)[:2]},
                params, model=str(ckpt)))
    m = r.metrics
    n_feat = sum(not k.endswith("num_batches_tracked") for k in pre.encoder_state_dict())
    assert m["classifier"] == "pointnet" and m["init"].startswith(f"initialised {n_feat} of ")
    for k in ("scratch_accuracy", "pretrained_accuracy"):
        assert 0.0 <= m[k] <= 1.0
    assert m["gain"] == pytest.approx(m["pretrained_accuracy"] - m["scratch_accuracy"])
    assert r.arrays["scratch_test_acc"].shape == (1,)
    # lr ~ 0: the pre-trained classifier still holds the encoder weights, the scratch one does not.
    ft = load_checkpoint(tmp_path / "ft_pretrained.safetensors").model
    sc = load_checkpoint(tmp_path / "ft_scratch.safetensors").model
    assert ft.config["feature_transform"] is False and ft.config["width"] == 0.125
    torch.testing.assert_close(ft.feat.conv2.weight, pre.feat.conv2.weight, atol=1e-6, rtol=0)
    torch.testing.assert_close(ft.feat.stn.fc1.weight, pre.feat.stn.fc1.weight, atol=1e-6, rtol=0)
    assert not torch.allclose(sc.feat.conv2.weight, pre.feat.conv2.weight)


def test_downstream_classifier_follows_the_encoder():
    cfg = build_model("vasp", size="small", dim=32, groups=8, group_size=8).config
    key, width, options = downstream("vasp", cfg)
    assert key == "serp-transformer-cls" and options["dim"] == 32 and options["groups"] == 8
    cls = build_model(key, num_classes=4, width=width, **options)
    pre = build_model("vasp", **{k: v for k, v in cfg.items()})
    own = cls.state_dict()
    assert all(own[k].shape == v.shape for k, v in pre.encoder_state_dict().items())
    with pytest.raises(ModelError, match="'pointnet'"):
        downstream("pointnet", {})
