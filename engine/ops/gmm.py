"""The Gaussian mixture that ParAE reads out of a point-wise network (Eckart et al. 2021, eq. 5-10).

Pure torch, batched over clouds, differentiable end to end (the loss reaches the network only
through pi, mu and Sigma):

- Gamma = softmax over J of the logits S (B, N, J)                         eq. (2)-(4)
- pi_j = (1/N) sum_i gamma_ij                                               eq. (5)
- mu_j = sum_i gamma_ij p_i / (N pi_j)                                      eq. (6)
- Sigma_j = sum_i gamma_ij (p_i - mu_j)(p_i - mu_j)^T / (N pi_j) + eps I    eq. (7), full covariance
- NLL = -(1/N) sum_i log sum_j pi_j N(p_i; mu_j, Sigma_j)                   eq. (10), mean over points

Stability: points of ModelNet-like clouds lie on surfaces, so a part's
covariance is near-planar and the likelihood could run to -inf. ``eps`` (default 1e-3 for clouds
normalised into the unit sphere, i.e. a floor of ~0.03 on every standard deviation) is added to
every Sigma_j and is part of the Sigma this module reports. Denominators N pi_j are clamped at
1e-8; log N uses a Cholesky factor (log det = 2 sum log diag L, Mahalanobis term by triangular
solve) and the mixture a logsumexp. No randomness anywhere.
"""
from __future__ import annotations

import math

import torch

from engine.core.errors import DataError, ModelError, ParameterError

DEFAULT_EPS = 1e-3       # covariance floor for unit-sphere clouds (1e-4 ... 1e-3)
WEIGHT_FLOOR = 1e-8      # clamp of N*pi_j, the denominator of eq. (6) and (7)
LOG_2PI = math.log(2.0 * math.pi)


def check_gmm_inputs(points: torch.Tensor, logits: torch.Tensor | None = None,
                     where: str = "ParAE") -> None:
    """Raise a clear EngineError for inputs the mixture cannot be fitted to (instead of NaN)."""
    if points.ndim != 3 or points.shape[-1] != 3:
        raise DataError(f"{where}: points must have shape (B, N, 3), got {tuple(points.shape)}.")
    b, n, _ = points.shape
    if n < 1:
        raise DataError(f"{where}: a cloud has no points.", hint="Give every cloud at least one point.")
    if not torch.isfinite(points).all():
        bad = (~torch.isfinite(points).all(-1)).sum().item()
        raise DataError(f"{where}: {bad} point(s) have NaN or Inf coordinates.",
                        hint="Clean the cloud (drop those points) and try again.")
    if logits is not None:
        if logits.ndim != 3 or logits.shape[:2] != points.shape[:2]:
            raise ModelError(f"{where}: logits must have shape (B, N, J) = ({b}, {n}, J), "
                             f"got {tuple(logits.shape)}.")
        j = logits.shape[-1]
        if j > n:
            raise ParameterError(
                f"{where}: J = {j} parts is more than the {n} points of the cloud; each Gaussian "
                f"needs points to estimate its mean and covariance.",
                hint=f"Use --parts {n} or fewer, or load more points per cloud.")
        if not torch.isfinite(logits).all():
            raise ModelError(f"{where}: the network produced NaN or Inf logits.",
                             hint="The model has diverged: lower the learning rate or load another checkpoint.")
    # All points identical: every Gaussian collapses onto one point; the likelihood says nothing.
    extent = (points.amax(1) - points.amin(1)).amax(-1)               # (B,)
    scale = points.abs().amax(dim=(1, 2)).clamp_min(1.0)
    flat = extent <= 1e-7 * scale
    if bool(flat.any()):
        i = int(flat.nonzero()[0, 0])
        raise DataError(f"{where}: all {n} points of cloud {i} are identical, so no Gaussian "
                        f"mixture can be fitted to them.",
                        hint="Check the data (a degenerate sample?) or remove that cloud.")


def responsibilities(logits: torch.Tensor) -> torch.Tensor:
    """Gamma (B, N, J): the posterior of each point's part, a softmax over J (eq. 4)."""
    return torch.softmax(logits, dim=-1)


def gmm_params(gamma: torch.Tensor, points: torch.Tensor, eps: float = DEFAULT_EPS
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Soft M-step: gamma (B, N, J), points (B, N, 3) -> pi (B, J), mu (B, J, 3), Sigma (B, J, 3, 3).

    Sigma is the full gamma-weighted covariance plus ``eps * I``.
    """
    if eps < 0 or not math.isfinite(eps):
        raise ParameterError(f"ParAE: eps = {eps!r} must be a finite number >= 0.",
                             hint="Use a small positive value such as 1e-3.")
    n = points.shape[1]
    points = points.to(gamma.dtype)
    weight = gamma.sum(1)                                             # (B, J) = N pi_j
    pi = weight / n
    denom = weight.clamp_min(WEIGHT_FLOOR)
    mu = torch.einsum("bnj,bnk->bjk", gamma, points) / denom[..., None]
    diff = points[:, :, None, :] - mu[:, None, :, :]                  # (B, N, J, 3)
    sigma = torch.einsum("bnjk,bnjl->bjkl", gamma[..., None] * diff, diff) / denom[..., None, None]
    eye = torch.eye(3, dtype=sigma.dtype, device=sigma.device)
    sigma = 0.5 * (sigma + sigma.transpose(-1, -2)) + eps * eye       # exact symmetry for Cholesky
    return pi, mu, sigma


def _cholesky(sigma: torch.Tensor) -> torch.Tensor:
    chol, info = torch.linalg.cholesky_ex(sigma)
    if bool((info != 0).any()):
        raise ModelError("ParAE: a covariance matrix is not positive definite (Cholesky failed).",
                         hint="Increase eps (the covariance floor), e.g. --eps 1e-3.")
    return chol


def component_log_prob(points: torch.Tensor, mu: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """log N(p_i; mu_j, Sigma_j) for every point and component: (B, N, J)."""
    chol = _cholesky(sigma)                                           # (B, J, 3, 3)
    diff = points.to(mu.dtype)[:, None, :, :] - mu[:, :, None, :]     # (B, J, N, 3)
    y = torch.linalg.solve_triangular(chol, diff.transpose(-1, -2), upper=False)  # (B, J, 3, N)
    maha = (y * y).sum(-2)                                            # (B, J, N)
    logdet = 2.0 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)  # (B, J)
    logp = -0.5 * (maha + logdet[..., None] + 3.0 * LOG_2PI)
    return logp.transpose(1, 2)


def log_density(points: torch.Tensor, pi: torch.Tensor, mu: torch.Tensor, sigma: torch.Tensor
                ) -> torch.Tensor:
    """log g(p_i) = log sum_j pi_j N(p_i; mu_j, Sigma_j) for every point: (B, N)."""
    log_pi = torch.log(pi.clamp_min(torch.finfo(pi.dtype).tiny))      # empty parts add nothing
    return torch.logsumexp(log_pi[:, None, :] + component_log_prob(points, mu, sigma), dim=-1)


def gmm_nll(points: torch.Tensor, pi: torch.Tensor, mu: torch.Tensor, sigma: torch.Tensor
            ) -> torch.Tensor:
    """Mean negative log-likelihood of each cloud's points under its mixture: (B,)."""
    return -log_density(points, pi, mu, sigma).mean(1)


def parae_loss(logits: torch.Tensor, points: torch.Tensor, eps: float = DEFAULT_EPS,
               double: bool = False, check: bool = True) -> tuple[torch.Tensor, dict]:
    """ParAE's pretext loss from the network's logits: (NLL per cloud (B,), dict of the GMM).

    ``double`` runs the M-step and the likelihood in float64 (the loss is cast back).
    The dict holds gamma (B, N, J), pi, mu, sigma.
    """
    if check:
        check_gmm_inputs(points, logits)
    dtype = logits.dtype
    if double:
        logits, points = logits.double(), points.double()
    gamma = responsibilities(logits)
    pi, mu, sigma = gmm_params(gamma, points, eps)
    nll = gmm_nll(points, pi, mu, sigma)
    return nll.to(dtype), {"gamma": gamma, "pi": pi, "mu": mu, "sigma": sigma}
