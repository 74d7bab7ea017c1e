"""SeRP's perturbation: Gaussian noise on c random patches of k nearest neighbours.

Paper (Garg & Chaudhary, SeRP, section 3.1): pick c = 20 random centres, take the k = 20 nearest
points of each (the centre included) and add N(0, 0.03) noise, about 400 of 1024 points.
The public code draws *one* 3-D offset per centre and adds it to the
whole patch (a rigid shift); where patches overlap the later centre's offset wins. Both are here:

- ``mode="per-point"`` (the paper's words): every perturbed point gets its own noise draw, once,
  even if it lies in several patches (so the noise on each point has exactly the requested std);
- ``mode="per-patch"`` (the public code): one offset per patch, the later patch overwrites.

Neighbours are found on the clean cloud by squared distance; the centre is always one of its own
neighbours (it is forced to rank first, so duplicated points cannot push it out).
Randomness is injectable (``centre_idx``, ``noise``) so tests can compare exactly; ``noise`` is
the offsets themselves (already scaled), shape (N, 3) per-point or (c, 3) per-patch
(with a leading batch dimension in the torch version).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from engine.core.errors import ParameterError
from engine.ops.geometry import pairwise_sq_dist
from engine.specs.serp import MODES   # declared with the serp-explain spec (torch-free)

DEFAULT_CENTRES = 20
DEFAULT_NEIGHBOURS = 20
DEFAULT_STD = 0.03


class Perturbation(NamedTuple):
    """``points`` corrupted cloud, ``mask`` perturbed-point labels (bool), the chosen centres
    (indices) and patches (indices, centre first), and the noise that was used."""

    points: np.ndarray | torch.Tensor
    mask: np.ndarray | torch.Tensor
    centre_idx: np.ndarray | torch.Tensor
    patch_idx: np.ndarray | torch.Tensor
    noise: np.ndarray | torch.Tensor


def check_settings(n: int, centres: int, neighbours: int, std: float, mode: str) -> None:
    """One clear message for settings that cannot work on a cloud of ``n`` points."""
    if mode not in MODES:
        raise ParameterError(f"perturbation mode {mode!r} is not one of {list(MODES)}.")
    if not 1 <= centres <= n:
        raise ParameterError(f"perturbation centres = {centres} must be in [1, {n}] "
                             f"for a cloud of {n} points.", hint="Use fewer centres.")
    if not 1 <= neighbours <= n:
        raise ParameterError(f"perturbation neighbours = {neighbours} must be in [1, {n}] "
                             f"for a cloud of {n} points.", hint="Use fewer neighbours.")
    if not (np.isfinite(std) and std >= 0):
        raise ParameterError(f"perturbation std = {std!r} must be a finite number >= 0.")


# ----------------------------------------------------------------------------------- numpy
def perturb(points: np.ndarray, centres: int = DEFAULT_CENTRES,
            neighbours: int = DEFAULT_NEIGHBOURS, std: float = DEFAULT_STD,
            mode: str = "per-point", rng: np.random.Generator | int | None = None,
            centre_idx: np.ndarray | None = None, noise: np.ndarray | None = None) -> Perturbation:
    """Perturb one cloud (N, 3). ``rng`` (a Generator or a seed) draws what is not injected:
    first the centres (first c of a permutation, as the public code), then the noise."""
    pts = np.asarray(points, dtype=np.float32)
    n = pts.shape[0]
    check_settings(n, centres, neighbours, std, mode)
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    if centre_idx is None:
        centre_idx = rng.permutation(n)[:centres]
    centre_idx = np.asarray(centre_idx, dtype=np.int64)
    c = centre_idx.shape[0]

    d = ((pts[centre_idx, None, :] - pts[None, :, :]) ** 2).sum(-1)        # (c, N)
    d[np.arange(c), centre_idx] = -1.0                                     # centre ranks first
    patch_idx = np.argsort(d, axis=1, kind="stable")[:, :neighbours]       # (c, k)

    mask = np.zeros(n, dtype=bool)
    mask[patch_idx.ravel()] = True
    out = pts.copy()
    if mode == "per-point":
        if noise is None:
            noise = rng.normal(0.0, std, size=(n, 3))
        noise = np.asarray(noise, dtype=np.float32)
        out[mask] += noise[mask]
    else:
        if noise is None:
            noise = rng.normal(0.0, std, size=(c, 3))
        noise = np.asarray(noise, dtype=np.float32)
        owner = np.full(n, -1, dtype=np.int64)                              # last patch wins
        np.maximum.at(owner, patch_idx.ravel(), np.repeat(np.arange(c), patch_idx.shape[1]))
        out[mask] = pts[mask] + noise[owner[mask]]
    return Perturbation(out, mask, centre_idx, patch_idx, noise)


# ----------------------------------------------------------------------------------- torch
def perturb_batch(points: torch.Tensor, centres: int = DEFAULT_CENTRES,
                  neighbours: int = DEFAULT_NEIGHBOURS, std: float = DEFAULT_STD,
                  mode: str = "per-point", generator: torch.Generator | None = None,
                  centre_idx: torch.Tensor | None = None,
                  noise: torch.Tensor | None = None) -> Perturbation:
    """Perturb a batch (B, N, 3) on its device. Random draws come from ``generator`` (a CPU
    generator; None = torch's global one) on the CPU and are moved, so a seed gives the same
    perturbation on every device."""
    b, n, _ = points.shape
    check_settings(n, centres, neighbours, std, mode)
    dev = points.device
    if centre_idx is None:
        # First c of a random permutation per cloud = c distinct uniformly chosen indices.
        centre_idx = torch.rand(b, n, generator=generator).argsort(dim=1)[:, :centres]
    centre_idx = centre_idx.to(dev).long()
    c = centre_idx.shape[1]

    ctr = torch.gather(points, 1, centre_idx.unsqueeze(-1).expand(-1, -1, 3))
    d = pairwise_sq_dist(ctr, points)                                      # (B, c, N)
    d.scatter_(2, centre_idx.unsqueeze(-1), -1.0)                          # centre ranks first
    patch_idx = torch.topk(d, neighbours, dim=2, largest=False, sorted=True).indices  # (B, c, k)
    flat = patch_idx.reshape(b, -1)

    mask = torch.zeros(b, n, dtype=torch.bool, device=dev)
    mask.scatter_(1, flat, True)
    if mode == "per-point":
        if noise is None:
            noise = torch.randn(b, n, 3, generator=generator) * std
        noise = noise.to(dev, points.dtype)
        out = points + noise * mask.unsqueeze(-1)
    else:
        if noise is None:
            noise = torch.randn(b, c, 3, generator=generator) * std
        noise = noise.to(dev, points.dtype)
        owner = torch.full((b, n), -1, dtype=torch.long, device=dev)       # last patch wins
        src = torch.arange(c, device=dev).repeat_interleave(neighbours).expand(b, -1)
        owner.scatter_reduce_(1, flat, src, reduce="amax")
        shift = torch.gather(noise, 1, owner.clamp_min(0).unsqueeze(-1).expand(-1, -1, 3))
        out = points + shift * mask.unsqueeze(-1)
    return Perturbation(out, mask, centre_idx, patch_idx, noise)
