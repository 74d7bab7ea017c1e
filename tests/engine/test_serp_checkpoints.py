"""SeRP checkpoints: round trip, and one variant opened as another gives a clear message."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.core.errors import CheckpointError, EngineError
from engine import Job, run_sync, run, start
from engine.models.zoo import build_model
from engine.models.checkpoints import load_checkpoint, save_checkpoint
from engine.models.serp_pointnet import SerpPointNet
from engine.models.serp_transformer import SerpTransformer
from engine.models.vasp import VASP

TINY_T = dict(size="small", dim=16, heads=2, depth=1, decoder_depth=1, groups=8, group_size=8)
MODELS = {"serp-pointnet": (SerpPointNet, dict(width=0.125, reconstruction="chamfer")),
          "serp-transformer": (SerpTransformer, TINY_T),
          "vasp": (VASP, dict(TINY_T, codebook_size=16))}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("serp_ckpt")
    out = {}
    for key, (_, cfg) in MODELS.items():
        torch.manual_seed(0)
        model = build_model(key, **cfg).eval()
        path = folder / f"{key}.safetensors"
        save_checkpoint(path, model, {"classes": None})
        out[key] = (path, model)
    return out


@pytest.mark.parametrize("key", list(MODELS))
def test_round_trip_rebuilds_the_same_model(saved, key):
    path, model = saved[key]
    cls = MODELS[key][0]
    loaded = load_checkpoint(str(path), expect=key).model
    assert type(loaded) is cls and loaded.config == model.config
    x = torch.rand(1, 96, 3, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))


@pytest.mark.parametrize("key,other", [("serp-pointnet", "serp-transformer"), ("vasp", "serp-transformer"),
                                       ("serp-transformer", "vasp"), ("serp-transformer", "serp-pointnet")])
def test_variant_opened_as_another_names_both(saved, key, other):
    path, _ = saved[key]
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(str(path), expect=other)
    text = str(err.value)
    assert f"'{key}'" in text and f"'{other}'" in text and str(path) in text


def test_explain_refuses_a_classifier_checkpoint(saved, tmp_path):
    path = tmp_path / "pointnet.safetensors"
    save_checkpoint(path, build_model("pointnet", num_classes=3, width=0.125), {"classes": ["a", "b", "c"]})
    pts = np.random.default_rng(0).uniform(-1, 1, (128, 3)).astype(np.float32)
    with pytest.raises(EngineError, match="'pointnet'"):
        run(Job("serp-explain", {"points": pts}, {}, model=str(path)))
    r = run(Job("serp-explain", {"points": pts}, {"centres": 3}, model=str(saved["vasp"][0])))
    assert r.metrics["model"] == "vasp"
