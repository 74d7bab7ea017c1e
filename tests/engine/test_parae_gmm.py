"""ParAE's Gaussian mixture (paper eq. 5-10) against independent float64 computations."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from engine.core.errors import DataError, ModelError, ParameterError
from engine.ops.gmm import DEFAULT_EPS, gmm_params, parae_loss


def _cloud(rng, b, n):
    """Points inside the unit sphere (as the loaders normalise them)."""
    p = rng.normal(size=(b, n, 3))
    return p / np.linalg.norm(p, axis=-1, keepdims=True) * rng.uniform(0.2, 1.0, (b, n, 1))


def _reference(points, gamma, eps):
    """numpy/scipy float64: pi, mu, Sigma (np.cov with weights) and the mean NLL of one cloud."""
    j = gamma.shape[1]
    pi = gamma.mean(0)
    mu = np.stack([np.average(points, axis=0, weights=gamma[:, k]) for k in range(j)])
    sigma = np.stack([np.cov(points.T, aweights=gamma[:, k], bias=True) + eps * np.eye(3) for k in range(j)])
    logp = np.stack([np.log(pi[k]) + multivariate_normal.logpdf(points, mu[k], sigma[k]) for k in range(j)], 1)
    return pi, mu, sigma, -logsumexp(logp, axis=1).mean()


@pytest.mark.parametrize("eps", [DEFAULT_EPS, 1e-4])
def test_params_and_nll_match_scipy(eps):
    rng = np.random.default_rng(0)
    pts = _cloud(rng, 3, 200)
    logits = rng.normal(scale=3.0, size=(3, 200, 7))
    nll, g = parae_loss(torch.tensor(logits), torch.tensor(pts), eps)
    for b in range(3):
        gamma = np.exp(logits[b] - logsumexp(logits[b], axis=1, keepdims=True))
        pi, mu, sigma, ref_nll = _reference(pts[b], gamma, eps)
        np.testing.assert_allclose(g["gamma"][b].numpy(), gamma, rtol=1e-12)
        np.testing.assert_allclose(g["pi"][b].numpy(), pi, rtol=1e-10)
        np.testing.assert_allclose(g["mu"][b].numpy(), mu, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(g["sigma"][b].numpy(), sigma, rtol=1e-9, atol=1e-12)
        assert float(nll[b]) == pytest.approx(ref_nll, rel=1e-10)
    # float32 (what training uses) agrees with the float64 reference, and so does double=True.
    nll32, _ = parae_loss(torch.tensor(logits, dtype=torch.float32), torch.tensor(pts, dtype=torch.float32), eps)
    np.testing.assert_allclose(nll32.numpy(), nll.numpy(), rtol=1e-4, atol=1e-4)
    nll32d, _ = parae_loss(torch.tensor(logits, dtype=torch.float32), torch.tensor(pts, dtype=torch.float32),
                           eps, double=True)
    assert nll32d.dtype == torch.float32
    np.testing.assert_allclose(nll32d.numpy(), nll.numpy(), rtol=1e-6)


def test_trace_of_sigma_is_deepgmrs_isotropic_variance():
    """REFERENCES 4.3: deepgmr's gmm_params gives s_j = sum_i g_ij |x_i - mu_j|^2 / (N pi_j) = trace."""
    g = torch.Generator().manual_seed(1)
    pts = torch.rand(2, 64, 3, generator=g, dtype=torch.float64)
    gamma = torch.softmax(torch.randn(2, 64, 5, generator=g, dtype=torch.float64), dim=2)
    # deepgmr model.py: gmm_params (transcribed, without its fragile squeeze).
    npi = gamma.sum(1)
    mu_ref = gamma.transpose(1, 2) @ pts / npi[..., None]
    diff = (pts[:, :, None, :] - mu_ref[:, None]) ** 2
    s_ref = (gamma[..., None] * diff).sum((1, 3)) / npi
    pi, mu, sigma = gmm_params(gamma, pts, eps=0.0)
    np.testing.assert_allclose(pi.numpy(), (npi / 64).numpy(), rtol=1e-12)
    np.testing.assert_allclose(mu.numpy(), mu_ref.numpy(), rtol=1e-12)
    np.testing.assert_allclose(torch.diagonal(sigma, dim1=-2, dim2=-1).sum(-1).numpy(), s_ref.numpy(), rtol=1e-12)


def test_hard_assignments_reduce_to_cluster_statistics():
    rng = np.random.default_rng(2)
    pts = _cloud(rng, 1, 90)[0]
    labels = np.arange(90) % 4
    rng.shuffle(labels)
    onehot = np.eye(4)[labels]
    pi, mu, sigma = gmm_params(torch.tensor(onehot)[None], torch.tensor(pts)[None], eps=1e-3)
    for k in range(4):
        members = pts[labels == k]
        assert float(pi[0, k]) == pytest.approx(len(members) / 90, rel=1e-12)
        np.testing.assert_allclose(mu[0, k].numpy(), members.mean(0), rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(sigma[0, k].numpy(), np.cov(members.T, bias=True) + 1e-3 * np.eye(3),
                                   rtol=1e-9, atol=1e-14)
    # Through the logits: saturated softmax = hard parts; the NLL is that of the hard-fit GMM.
    nll, _ = parae_loss(torch.tensor(100.0 * onehot)[None], torch.tensor(pts)[None], 1e-3)
    _, _, _, ref = _reference(pts, onehot + 1e-300, 1e-3)
    assert float(nll[0]) == pytest.approx(ref, rel=1e-9)


def test_gradients_match_finite_differences():
    g = torch.Generator().manual_seed(3)
    pts = torch.rand(1, 9, 3, generator=g, dtype=torch.float64)
    logits = torch.randn(1, 9, 3, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda s: parae_loss(s, pts, 1e-2)[0], (logits,))


def test_empty_parts_and_surface_clouds_stay_finite():
    # A part that no point uses (logit -1e4) and a planar cloud (z = 0): eps keeps it finite.
    rng = np.random.default_rng(4)
    pts = np.concatenate([rng.uniform(-1, 1, (1, 128, 2)), np.zeros((1, 128, 1))], -1)
    logits = rng.normal(size=(1, 128, 4))
    logits[..., 3] = -1e4
    nll, g = parae_loss(torch.tensor(logits), torch.tensor(pts), 1e-3)
    assert torch.isfinite(nll).all() and float(g["pi"][0, 3]) < 1e-300
    # Without the floor the planar covariance is singular: a clear error, not NaN.
    with pytest.raises(ModelError, match="Increase eps"):
        parae_loss(torch.tensor(logits[..., :3]), torch.tensor(pts), 0.0)


def test_degenerate_inputs_give_clear_errors():
    logits = torch.randn(2, 16, 4)
    same = torch.ones(2, 16, 3) * 0.3
    with pytest.raises(DataError, match="identical"):
        parae_loss(logits, same)
    pts = torch.rand(2, 16, 3)
    with pytest.raises(ParameterError, match=r"J = 20 parts is more than the 16 points"):
        parae_loss(torch.randn(2, 16, 20), pts)
    bad = pts.clone()
    bad[1, 3, 0] = float("nan")
    with pytest.raises(DataError, match="NaN or Inf"):
        parae_loss(logits, bad)
    with pytest.raises(ModelError, match="NaN or Inf logits"):
        parae_loss(torch.full((2, 16, 4), float("nan")), pts)
    with pytest.raises(ParameterError, match="eps"):
        gmm_params(torch.softmax(logits, -1), pts, eps=-1.0)


def test_model_default_eps_is_the_gmm_default():
    from engine.models.parae import DEFAULT_EPS as model_default

    assert model_default == DEFAULT_EPS
