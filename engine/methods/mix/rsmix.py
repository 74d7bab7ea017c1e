"""RSMix (Lee et al., CVPR 2021): swap a rigid subset of one cloud for a subset of another.

As ``dogyoonlee/RSMix: rsmix_provider.rsmix``, per pair:
1. a ball of radius r around a query point of a and of b (r ~ Beta(beta, beta), one per batch,
   used directly as the radius); each ball keeps at most ``n_sample`` points, the FIRST ones by
   index order (not the nearest) - the public ball query sorts indices, not distances;
2. a's subset is removed; b's subset, translated by q_a - q_b, is added;
3. counts are equalised: too few b points -> pad with random duplicates of them; too many ->
   a random subset (without replacement, kept in index order);
4. the partner's share is n_added / N; edge cases: empty subset of a -> a unchanged, share 0;
   empty subset of b -> a's subset replaced by duplicates of a's remaining points, share 0.

Distances are exact differences (the public code expands |x|^2 - 2xy + |y|^2, whose rounding can
leave the query itself outside a tiny ball: that is how its "empty subset" branches are reached).
The public code appends the added points after a's remaining ones; here they fill the removed
points' slots (the same set of points, so the same input to an order-invariant network), which
gives every slot a source: ``source[i]`` = index in b, or -1 where a's own point is kept.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from engine.core.errors import ParameterError
from engine.methods.mix.sagemix import mixed_labels, numpy_rng
from engine.specs.mix import DEFAULT_BETA, N_SAMPLE


@dataclass(frozen=True)
class RSMixPair:
    mixed: np.ndarray        # (N, 3)
    source: np.ndarray       # (N,) int64: index in b that fills the slot, -1 where a's point stays
    lam: np.ndarray          # (N,) share of a per point: 1 kept, 0 replaced
    erased: np.ndarray       # indices of a removed (ascending)
    added: np.ndarray        # indices of b added, after count control, before translation
    share_b: float           # n_added / N (the public code's lambda)
    case: str                # "mixed", "empty-a" or "empty-b"


def ball_query(points: np.ndarray, centre: np.ndarray, radius: float, n_sample: int = N_SAMPLE) -> np.ndarray:
    """Indices (ascending) of the points within ``radius`` of ``centre``, the first n_sample."""
    d2 = ((np.asarray(points, np.float64) - np.asarray(centre, np.float64)) ** 2).sum(-1)
    return np.flatnonzero(d2 <= float(radius) ** 2)[:n_sample]


def count_control(erase_idx: np.ndarray, add_idx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The public ``pts_num_ctrl``: make len(add) == len(erase) (add must be non-empty)."""
    n_e, n_a = len(erase_idx), len(add_idx)
    if n_e >= n_a:
        extra = add_idx[rng.integers(0, n_a, size=n_e - n_a)] if n_e > n_a else add_idx[:0]
        return np.concatenate([add_idx, extra]).astype(np.int64)
    return np.sort(rng.choice(add_idx, size=n_e, replace=False)).astype(np.int64)


def rsmix_merge(a: np.ndarray, b: np.ndarray, erase_idx: np.ndarray, add_idx: np.ndarray,
                q_a: np.ndarray, q_b: np.ndarray, rng: np.random.Generator) -> RSMixPair:
    """Steps 2-4 for given subsets (index arrays into a and b) and query points q_a, q_b."""
    a = np.asarray(a)
    n = a.shape[0]
    erase_idx = np.asarray(erase_idx, np.int64)
    add_idx = np.asarray(add_idx, np.int64)
    mixed = a.copy()
    source = np.full(n, -1, np.int64)
    keep = np.ones(n, bool)
    keep[erase_idx] = False
    remaining = np.flatnonzero(keep)
    if erase_idx.size == 0 or (add_idx.size == 0 and remaining.size == 0):
        return RSMixPair(mixed, source, np.ones(n, a.dtype), erase_idx[:0], add_idx[:0], 0.0, "empty-a")
    lam = keep.astype(a.dtype)
    if add_idx.size == 0:
        dup = remaining[rng.integers(0, remaining.size, size=erase_idx.size)]
        mixed[erase_idx] = a[dup]
        return RSMixPair(mixed, source, np.ones(n, a.dtype), erase_idx, add_idx[:0], 0.0, "empty-b")
    added = count_control(erase_idx, add_idx, rng)
    shift = np.asarray(q_a, np.float64) - np.asarray(q_b, np.float64)
    mixed[erase_idx] = (np.asarray(b)[added] + shift).astype(a.dtype)
    source[erase_idx] = added
    return RSMixPair(mixed, source, lam, erase_idx, added, added.size / n, "mixed")


def rsmix_pair(a: Any, b: Any, q_a: int, q_b: int, radius: float, n_sample: int = N_SAMPLE,
               rng: np.random.Generator | None = None) -> RSMixPair:
    """RSMix of one pair with query indices q_a (into a), q_b (into b) and ball radius."""
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape or a.ndim != 2 or a.shape[1] != 3:
        raise ParameterError(f"RSMix needs two (N, 3) clouds of equal size, got {a.shape} and {b.shape}.")
    if not (0 <= q_a < len(a) and 0 <= q_b < len(b)):
        raise ParameterError(f"RSMix query indices ({q_a}, {q_b}) are outside 0..{len(a) - 1}.")
    if not radius >= 0:
        raise ParameterError(f"RSMix radius {radius!r} must be >= 0.")
    if n_sample < 1:
        raise ParameterError(f"RSMix n_sample = {n_sample} must be at least 1.")
    rng = rng if rng is not None else np.random.default_rng(0)
    erase = ball_query(a, a[q_a], radius, n_sample)
    add = ball_query(b, b[q_b], radius, n_sample)
    return rsmix_merge(a, b, erase, add, a[q_a], b[q_b], rng)


def draw_radius(beta: float, rng: np.random.Generator) -> float:
    if not beta > 0:
        raise ParameterError(f"RSMix Beta shape = {beta!r} must be positive.", hint="The public code uses 1.0.")
    return float(rng.beta(beta, beta))


def rsmix_batch(points: torch.Tensor, labels: torch.Tensor, num_classes: int,
                generator: torch.Generator | None = None, beta: float = DEFAULT_BETA,
                n_sample: int = N_SAMPLE, partner: Any = None, queries: Any = None,
                radius: float | None = None) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """(mixed (B, N, 3), soft labels (B, K), details) in the public code's draw order: radius,
    partner permutation, query indices in a, in b, then per-pair count control. ``radius``,
    ``partner`` (B,) and ``queries`` ((B,), (B,)) may be injected."""
    b, n = points.shape[:2]
    rng = numpy_rng(generator)
    r = draw_radius(beta, rng) if radius is None else float(radius)
    partner = rng.permutation(b) if partner is None else np.asarray(partner, np.int64)
    if queries is None:
        qa, qb = rng.integers(0, n, size=b), rng.integers(0, n, size=b)
    else:
        qa, qb = (np.asarray(q, np.int64).reshape(b) for q in queries)
    x = points.detach().cpu().numpy()
    out = np.empty_like(x)
    share_b = np.zeros(b)
    for k in range(b):
        pair = rsmix_pair(x[k], x[partner[k]], int(qa[k]), int(qb[k]), r, n_sample, rng)
        out[k], share_b[k] = pair.mixed, pair.share_b
    mixed = torch.from_numpy(out).to(points.device, points.dtype)
    lam_mean = torch.from_numpy(1.0 - share_b)
    y_b = labels[torch.as_tensor(partner, device=labels.device)]
    soft = mixed_labels(lam_mean, labels, y_b, num_classes).to(points.device)
    return mixed, soft, {"partner": torch.as_tensor(partner), "queries": (qa, qb), "radius": r,
                         "lambda_mean": lam_mean}
