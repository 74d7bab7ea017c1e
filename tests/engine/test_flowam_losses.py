"""Flow AM loss terms, baselines and metrics against hand computation and brute force."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from engine.core.errors import ParameterError
from engine.methods.flowam.baselines import gaussian_blur
from engine.methods.flowam.metrics import (chamfer_to_reals, fid_sets, frechet_distance, legality,
                                           set_statistics)
from engine.methods.flowam.objective import (PAPER_LAYER_WEIGHTS, am_loss, continuity_loss,
                                             latent_alignment_loss, legal_loss, nearest_neighbour_distance,
                                             parse_layer_weights, tap_name, total_variation_loss)
from engine.methods.flowam.stats import average_cloud

# Four points: p0 at the origin, p1, p2 close together, p3 far out on z.
P4 = torch.tensor([[[0.0, 0.0, 0.0], [0.5, 0.0, 0.0], [0.5, 0.5, 0.0], [0.0, 0.0, 2.0]]])


def test_am_loss_is_minus_target_logit():
    logits = torch.tensor([[1.0, 5.0, -2.0], [0.5, 0.1, 3.0]])
    assert am_loss(logits, torch.tensor([1, 2])).tolist() == [-5.0, -3.0]


def test_latent_alignment_is_weighted_negative_cosine():
    acts = {"a": torch.tensor([[1.0, 0.0], [0.0, 2.0]]), "b": torch.tensor([[3.0, 4.0, 0.0], [1.0, 0.0, 0.0]])}
    means = {"a": torch.tensor([[1.0, 1.0], [1.0, 1.0]]), "b": torch.tensor([[3.0, 4.0, 0.0], [0.0, 1.0, 0.0]])}
    got = latent_alignment_loss(acts, means, {"a": 2.0, "b": 0.5})
    # cloud 0: cos(a)=1/sqrt2, cos(b)=1; cloud 1: cos(a)=1/sqrt2, cos(b)=0
    want = [-(2 / math.sqrt(2) + 0.5), -(2 / math.sqrt(2))]
    assert got.tolist() == pytest.approx(want, rel=1e-6)
    with pytest.raises(ParameterError):
        latent_alignment_loss(acts, means, {})


def test_continuity_loss_by_hand():
    nn = nearest_neighbour_distance(P4)[0].tolist()
    assert nn == pytest.approx([0.5, 0.5, 0.5, 2.0], rel=1e-6)
    # |B - (nn + norm)| per point with B = 1: 0.5, 0, |1 - (0.5 + sqrt(.5))|, |1 - 4|
    want = 0.5 + 0.0 + abs(1 - (0.5 + math.sqrt(0.5))) + 3.0
    assert continuity_loss(P4, 1.0).item() == pytest.approx(want, rel=1e-6)
    assert continuity_loss(P4, 2.0).item() == pytest.approx(1.5 + 1.0 + abs(2 - (0.5 + math.sqrt(0.5))) + 2.0, rel=1e-6)


def test_continuity_gradient_equals_the_dense_min():
    g = torch.Generator().manual_seed(3)
    x = torch.rand(2, 40, 3, generator=g) * 2 - 1
    a = x.clone().requires_grad_(True)
    continuity_loss(a, 1.0).sum().backward()
    b = x.clone().requires_grad_(True)
    d = ((b[:, :, None] - b[:, None]) ** 2).sum(-1) + torch.eye(40) * 1e9
    dense = (1.0 - (d.min(-1).values.sqrt() + b.norm(dim=-1))).abs().sum()
    dense.backward()
    assert torch.allclose(a.grad, b.grad, atol=1e-5)


def test_coincident_points_give_finite_gradients():
    x = torch.zeros(1, 5, 3, requires_grad=True)
    continuity_loss(x, 1.0).sum().backward()
    assert torch.isfinite(x.grad).all()


def test_legal_restriction_is_per_coordinate():
    pts = torch.tensor([[[1.5, -0.2, 0.0], [0.0, -2.0, 1.1]], [[0.9, 0.9, 0.9], [0.0, 0.0, 0.0]]])
    assert legal_loss(pts, 1.0).tolist() == pytest.approx([0.5 + 1.0 + 0.1, 0.0])
    # (0.9, 0.9, 0.9) has norm 1.56 > 1 but lies in the legal interval [-1, 1]^3
    assert legal_loss(pts, 0.5).tolist()[1] == pytest.approx(3 * 0.4)


def test_total_variation_on_a_line():
    pts = torch.tensor([[[0.0, 0, 0], [1.0, 0, 0], [3.0, 0, 0]]])
    assert total_variation_loss(pts, 1).item() == pytest.approx(1 + 1 + 2)
    assert total_variation_loss(pts, 2).item() == pytest.approx((1 + 3) + (1 + 2) + (2 + 3))


def test_gaussian_blur_by_hand():
    pts = torch.tensor([[[0.0, 0, 0], [1.0, 0, 0]]])
    w = math.exp(-0.5)
    out = gaussian_blur(pts, k=2, sigma=1.0)
    assert out[0, 0, 0].item() == pytest.approx(w / (1 + w), rel=1e-6)
    assert out[0, 1, 0].item() == pytest.approx(1 / (1 + w), rel=1e-6)
    assert gaussian_blur(pts, k=1, sigma=1.0).tolist() == pts.tolist()   # only itself


def test_layer_weights_parse_the_paper_setting():
    lw = parse_layer_weights(PAPER_LAYER_WEIGHTS)
    assert [w.layer for w in lw] == ["fT1.fc1", "fT1.fc2", "fT2.fc1", "fT2.fc2", "fc2"]
    assert lw[0].weight(512) == pytest.approx(512e-9) and lw[1].weight(256) == pytest.approx(1e-9)
    assert [w.weight(10) for w in lw[2:]] == pytest.approx([0.1, 0.1, 1.0])
    assert parse_layer_weights("fc2=2*N")[0].weight(4) == 8
    assert parse_layer_weights("") == []
    for bad in ("fc2", "fc2=abc", "fc2=1,fc2=2", "=1"):
        with pytest.raises(ParameterError):
            parse_layer_weights(bad)
    assert tap_name("fT1.fc1", "act") == "fT1.fc1.act" and tap_name("fc2", "linear") == "fc2"


def test_frechet_distance_closed_forms():
    # 1-D Gaussians: (m1 - m2)^2 + s1 + s2 - 2 sqrt(s1 s2)
    assert frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([3.0]), np.array([[9.0]])) == \
        pytest.approx(4 + 4 + 9 - 2 * 6)
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(200, 4)), rng.normal(size=(150, 4)) * 2 + 1
    mu1, s1 = a.mean(0), np.cov(a, rowvar=False)
    mu2, s2 = b.mean(0), np.cov(b, rowvar=False)
    eig = np.linalg.eigvals(s1 @ s2)          # Tr sqrt(S1 S2) = sum of sqrt eigenvalues
    want = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(eig.real).sum()
    assert fid_sets(a, b) == pytest.approx(want, rel=1e-6)
    assert fid_sets(a, a) == pytest.approx(0.0, abs=1e-6)
    # one explanation: zero covariance, the distance from the point to the real Gaussian
    x = rng.normal(size=(1, 4))
    assert set_statistics(x)[1].shape == (4, 4) and not set_statistics(x)[1].any()
    assert fid_sets(x, b) == pytest.approx(((x[0] - mu2) ** 2).sum() + np.trace(s2), rel=1e-6)


def test_frechet_distance_equals_the_sqrtm_form_in_high_dimension():
    # pytorch-fid's form (scipy.linalg.sqrtm of S1 S2) on rank-deficient covariances, as the
    # Flow AM metrics see them (fewer samples than feature dimensions)
    from scipy import linalg

    rng = np.random.default_rng(3)
    for n1, n2, d in ((30, 40, 64), (100, 12, 48)):
        a, b = rng.normal(size=(n1, d)), rng.normal(size=(n2, d)) * 1.5 + 0.3
        mu1, s1 = a.mean(0), np.cov(a, rowvar=False)
        mu2, s2 = b.mean(0), np.cov(b, rowvar=False)
        covmean = np.real(linalg.sqrtm(s1 @ s2))
        want = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)
        assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(want, rel=1e-6)


def test_chamfer_and_legality_brute_force():
    rng = np.random.default_rng(1)
    g, r = rng.normal(size=(2, 7, 3)).astype(np.float32), rng.normal(size=(3, 9, 3)).astype(np.float32)
    cd, eq7 = chamfer_to_reals(g, r)
    for b in range(2):
        d = ((g[b][:, None, None, :] - r[None]) ** 2).sum(-1)   # (7 points, 3 reals, 9 points)
        cds = [d[:, m].min(1).mean() + d[:, m].min(0).mean() for m in range(3)]
        e7 = [np.sqrt(d[:, m].min(1)).mean() for m in range(3)]
        assert cd[b] == pytest.approx(np.mean(cds), rel=1e-5)
        assert eq7[b] == pytest.approx(np.mean(e7), rel=1e-5)
    frac, ok = legality(np.array([[[0.5, 0, 0], [1.2, 0, 0]], [[1, -1, 1], [0, 0, 0]]]), 1.0)
    assert frac.tolist() == [0.5, 1.0] and ok.tolist() == [False, True]


def test_matched_average_is_the_barycentre():
    rng = np.random.default_rng(2)
    base = rng.normal(size=(6, 3))
    perms = np.stack([base[rng.permutation(6)] for _ in range(5)])
    avg = average_cloud(perms, "matched")
    assert np.allclose(np.sort(avg, 0), np.sort(base, 0), atol=1e-6)   # same set of points
    assert not np.allclose(np.sort(average_cloud(perms, "index"), 0), np.sort(base, 0))
    # Two clouds: the barycentre is the midpoint of the optimal matching (brute force over 4!).
    a, b = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    best = min(itertools.permutations(range(4)), key=lambda p: ((a - b[list(p)]) ** 2).sum())
    want = (a + b[list(best)]) / 2
    got = average_cloud(np.stack([a, b]), "matched", iterations=10)
    assert np.allclose(np.sort(got, 0), np.sort(want, 0), atol=1e-5)


@pytest.mark.parametrize("method", ["tree", "matrix"])
def test_neighbour_search_matches_brute_force(method):
    from engine.methods.flowam.neighbours import neighbour_indices

    g = torch.Generator().manual_seed(5)
    x = torch.rand(2, 50, 3, generator=g)
    x[:, 7] = x[:, 3]                                          # an exact duplicate pair
    d = ((x[:, :, None] - x[:, None]) ** 2).sum(-1)
    for include_self, k in ((False, 1), (False, 4), (True, 5)):
        idx = neighbour_indices(x, k, include_self, method)
        got = torch.gather(d, 2, idx)
        dd = d + (0 if include_self else torch.eye(50) * 1e9)
        want = torch.sort(dd, dim=2).values[..., :k]
        assert torch.allclose(got, want, atol=1e-6), (include_self, k)
        if not include_self:
            assert not (idx == torch.arange(50)[None, :, None]).any()
    assert neighbour_indices(x, 1, False, method)[0, 3, 0].item() == 7
