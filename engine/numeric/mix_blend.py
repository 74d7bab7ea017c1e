"""SageMix's blend (eq. 6, 9, 8) in numpy: the viewer's sigma / pi sliders and the numpy branch of
``engine.methods.mix.sagemix.blend`` (that module imports torch; the GUI thread must not). Written in
a numerically safe form: lambda = sigmoid(logit(pi) + (||b - q_b||^2 - ||a - q_a||^2)
/ (2 sigma^2)), equal to pi w_a / (pi w_a + (1 - pi) w_b) with w = exp(-d^2 / (2 sigma^2)) but
free of 0/0 far from both queries. The assignment (b_matched = b[phi]) and the queries stay
fixed; only the weights change.
"""
from __future__ import annotations

import numpy as np


def _sigmoid(x: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    e = np.exp(x[~pos])
    out[~pos] = e / (1.0 + e)
    return out


def blend(a, b_matched, q_a, q_b, sigma: float, pi) -> tuple[np.ndarray, np.ndarray]:
    """(mixed (..., N, 3), lambda (..., N)) for one pair or a batch: lambda is the share of cloud a
    per point. a, b_matched (..., N, 3) with b_matched[i] the partner of a[i]; q_a, q_b (..., 3);
    pi a scalar or (...,). Float input keeps its dtype; other input gives float64."""
    if not (np.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma = {sigma!r} must be a positive number")
    p = np.asarray(pi, np.float64)
    if not np.all((p >= 0.0) & (p <= 1.0)):
        raise ValueError(f"pi = {pi!r} must lie in [0, 1]")
    a_in = np.asarray(a)
    dtype = a_in.dtype if a_in.dtype.kind == "f" else np.float64
    a = a_in.astype(np.float64, copy=False)
    b = np.asarray(b_matched, np.float64)
    d_a = ((a - np.asarray(q_a, np.float64)[..., None, :]) ** 2).sum(-1)
    d_b = ((b - np.asarray(q_b, np.float64)[..., None, :]) ** 2).sum(-1)
    with np.errstate(divide="ignore"):
        logit = np.log(p) - np.log1p(-p)            # +-inf at pi = 1 / 0: lambda 1 / 0
    lam = _sigmoid(logit[..., None] + (d_b - d_a) / (2.0 * sigma * sigma))
    mixed = lam[..., None] * a + (1.0 - lam[..., None]) * b
    return mixed.astype(dtype, copy=False), lam.astype(dtype, copy=False)


def blend_constant(a, b_matched, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """PointMixup's blend (one ratio for every point): (lam a_i + (1 - lam) b_phi(i), lambda (..., N)).
    Float input keeps its dtype; other input gives float64."""
    if not (np.isfinite(lam) and 0.0 <= lam <= 1.0):
        raise ValueError(f"lambda = {lam!r} must lie in [0, 1]")
    a_in = np.asarray(a)
    dtype = a_in.dtype if a_in.dtype.kind == "f" else np.float64
    mixed = lam * a_in.astype(np.float64, copy=False) + (1.0 - lam) * np.asarray(b_matched, np.float64)
    return mixed.astype(dtype, copy=False), np.full(a_in.shape[:-1], lam, dtype)
