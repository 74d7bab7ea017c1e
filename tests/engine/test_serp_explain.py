"""serp-explain: the Result's arrays and metrics against independent computations."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial import cKDTree

from engine.core.errors import EngineError, ModelError, ParameterError
from engine import Job, run_sync, run, start
from engine.ops.perturb import perturb
from engine.models.zoo import build_model

TINY_T = dict(size="small", dim=16, heads=2, depth=1, decoder_depth=1, groups=16, group_size=16)


def cd_kdtree(a, b) -> float:
    return float(np.mean(cKDTree(b).query(a)[0] ** 2) + np.mean(cKDTree(a).query(b)[0] ** 2))


@pytest.fixture(scope="module")
def cloud():
    return np.random.default_rng(0).uniform(-1, 1, (256, 3)).astype(np.float32)


def explain(model, pts, **params):
    return run(Job("serp-explain", {"points": pts}, params, model=model))


def test_pointnet_result(cloud):
    torch.manual_seed(0)
    model = build_model("serp-pointnet", width=0.125).eval()
    r = explain(model, cloud, centres=5, neighbours=10, std=0.05, seed=3)
    ref = perturb(cloud, 5, 10, 0.05, "per-point", rng=np.random.default_rng(3))
    a = r.arrays
    np.testing.assert_array_equal(a["perturbed_mask"], ref.mask)
    np.testing.assert_allclose(a["perturbed"], ref.points, atol=1e-7)
    np.testing.assert_array_equal(a["original"], cloud)
    assert a["reconstructed"].shape == (256, 3) and a["detection_probability"].shape == (256,)
    with torch.no_grad():
        out = model.forward_all(torch.from_numpy(a["perturbed"])[None])
    np.testing.assert_allclose(a["reconstructed"], out["reconstructed"][0].numpy(), atol=1e-6)
    np.testing.assert_allclose(a["error"], np.linalg.norm(a["reconstructed"] - cloud, axis=1), atol=1e-6)
    m = r.metrics
    assert m["chamfer_perturbed"] == pytest.approx(cd_kdtree(cloud, a["perturbed"]), rel=1e-4)
    assert m["chamfer_reconstructed"] == pytest.approx(cd_kdtree(cloud, a["reconstructed"]), rel=1e-4)
    assert m["detection_accuracy"] == pytest.approx(
        float(((a["detection_probability"] > 0.5) == ref.mask).mean()))
    assert m["perturbed_points"] == int(ref.mask.sum()) and not model.training


@pytest.mark.parametrize("key", ["serp-transformer", "vasp"])
def test_transformer_result(cloud, key):
    torch.manual_seed(0)
    model = build_model(key, **TINY_T).eval()
    r = explain(model, cloud, mode="per-patch", seed=1, centres=4, neighbours=16)
    a, m = r.arrays, r.metrics
    g, n = 16, 16
    assert a["reconstructed"].shape == (g * n, 3) and a["patch_centres"].shape == (g, 3)
    with torch.no_grad():
        out = model.forward_all(torch.from_numpy(a["perturbed"])[None])
    pidx = out["patch_idx"][0].numpy()
    covered = np.zeros(256, bool)
    covered[pidx.ravel()] = True
    np.testing.assert_array_equal(a["covered"], covered)
    # Every covered point's patch contains it; uncovered points have none.
    for i in np.flatnonzero(covered)[:50]:
        assert i in pidx[a["patch_index"][i]]
    assert (a["patch_index"][~covered] == -1).all()
    # Reconstruction anchored at the clean centres; Chamfer on the clean patch points.
    cidx = out["centre_idx"][0].numpy()
    expect = (out["patches"][0].numpy() + cloud[cidx][:, None]).reshape(-1, 3)
    np.testing.assert_allclose(a["reconstructed"], expect, atol=1e-5)
    clean_set = cloud[pidx.ravel()]
    assert m["chamfer_reconstructed"] == pytest.approx(cd_kdtree(clean_set, expect), rel=1e-4)
    assert m["chamfer_perturbed"] == pytest.approx(cd_kdtree(clean_set, a["perturbed"][pidx.ravel()]), rel=1e-4)
    np.testing.assert_allclose(a["error"], cKDTree(expect).query(cloud)[0], rtol=1e-4, atol=1e-6)
    assert m["coverage"] == pytest.approx(covered.mean())
    if key == "vasp":
        np.testing.assert_array_equal(a["patch_codes"], out["codes"][0, 1:].numpy())
    else:
        assert "patch_codes" not in a


def test_bad_inputs_give_engine_errors(cloud):
    with pytest.raises(ModelError, match="SeRP"):
        explain(build_model("pointnet", num_classes=3, width=0.125).eval(), cloud)
    model = build_model("serp-pointnet", width=0.125).eval()
    with pytest.raises(ParameterError):
        explain(model, cloud, mode="gaussian")
    with pytest.raises(ParameterError):
        explain(model, cloud, centres=300)
    with pytest.raises(EngineError):
        explain(model, np.full((10, 3), np.nan, np.float32))


def test_training_mode_is_restored_and_reconstruction_is_deterministic(cloud):
    model = build_model("serp-pointnet", width=0.125).train()
    a = explain(model, cloud, seed=5)
    assert model.training
    b = explain(model, cloud, seed=5)
    np.testing.assert_array_equal(a.arrays["reconstructed"], b.arrays["reconstructed"])   # eval-mode BN
