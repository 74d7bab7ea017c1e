"""How a scalar's values become positions on its colour map (Qt-free, VTK-free).

A min-max (linear) range suits evenly spread values. Saliency and other heavy-tailed scalars
put a few points far above the rest: on a linear range almost every point gets the darkest
colour. The choices, one per layer:

- ``linear``: data min .. max (symmetric about 0 for signed scalars);
- ``log``: log10 of the values, from the smallest positive value to the max;
- ``percentile``: linear between two percentiles (1 .. 99 % by default); the points beyond
  take the end colours;
- ``rank``: each point's percentile rank among the layer's points (ties share a rank), so the
  colours are spread evenly whatever the distribution;
- ``custom``: linear over a range the user types.

The default is linear unless that crowds most points into one end of the map; then
percentile-clipped, or rank when clipping is not enough (``default_norm``).
``display_values`` gives what the colour map reads and ``limits`` its range, in the same units;
``Norm.label`` is what the colour-bar title says.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MODES = ("linear", "log", "percentile", "rank", "custom")
SIGNED_MODES = ("linear", "percentile", "custom")    # log and rank would move the zero off-centre


@dataclass(frozen=True)
class Norm:
    mode: str = "linear"
    percentiles: tuple[float, float] = (1.0, 99.0)   # percentile mode
    range: tuple[float, float] | None = None          # custom mode

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"normalisation '{self.mode}' is not one of {MODES}")
        if self.mode == "custom" and (self.range is None or not self.range[0] < self.range[1]):
            raise ValueError(f"a custom range needs low < high, got {self.range}")

    @property
    def label(self) -> str:
        if self.mode == "percentile":
            lo, hi = self.percentiles
            return f"{lo:g}–{hi:g} percentile"
        if self.mode == "custom":
            return f"range {self.range[0]:g} to {self.range[1]:g}"
        if self.mode == "rank":
            return "rank"
        return self.mode


def modes_for(kind: str) -> tuple[str, ...]:
    """The normalisations that make sense for a scalar kind (none for categories)."""
    return {"categorical": (), "signed": SIGNED_MODES}.get(kind, MODES)


def _finite(values) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    return v[np.isfinite(v)]


def crowded(values, lo: float, hi: float) -> bool:
    """True when the median point sits in the first or last eighth of [lo, hi]: most points
    would then share the colours of one end of the map."""
    v = _finite(values)
    if v.size < 20 or not hi > lo:
        return False
    t = (float(np.median(v)) - lo) / (hi - lo)
    return t < 0.125 or t > 0.875


def heavy_tailed(values) -> bool:
    """True when a min-max range crowds most points into one end of the colour map."""
    v = _finite(values)
    return v.size > 0 and crowded(v, float(v.min()), float(v.max()))


def default_norm(values, kind: str) -> Norm:
    """Linear, unless that crowds most points into one end of the map (saliency): then
    percentile-clipped (1 .. 99 %), or rank when clipping 1 % at each end is not enough."""
    if kind != "continuous" or not heavy_tailed(values):
        return Norm("linear")
    clipped = Norm("percentile")
    if not crowded(values, *limits(values, clipped, kind)):
        return clipped
    return Norm("rank")


def _nondegenerate(lo: float, hi: float) -> tuple[float, float]:
    if hi > lo:
        return (lo, hi)
    return (lo, lo + 1.0) if lo == 0 else (lo, lo + abs(lo) * 1e-6 + 1e-12)


def smallest_positive(values) -> float | None:
    v = _finite(values)
    v = v[v > 0]
    return float(v.min()) if v.size else None


def limits(values, norm: Norm, kind: str = "continuous") -> tuple[float, float]:
    """The colour range, in the units of ``display_values`` (rank: 0 .. 100)."""
    if norm.mode == "custom":
        return (float(norm.range[0]), float(norm.range[1]))
    if norm.mode == "rank":
        return (0.0, 100.0)
    v = _finite(values)
    if v.size == 0:
        return (0.0, 1.0)
    if norm.mode == "log":
        lo = smallest_positive(v)
        if lo is None:                      # nothing positive: a log scale has nothing to show
            return limits(values, Norm("linear"), kind)
        return _nondegenerate(lo, float(v.max()))
    if norm.mode == "percentile":
        p_lo, p_hi = norm.percentiles
        if kind == "signed":
            m = float(np.percentile(np.abs(v), p_hi)) or float(np.abs(v).max()) or 1.0
            return (-m, m)
        return _nondegenerate(*(float(x) for x in np.percentile(v, [p_lo, p_hi])))
    if kind == "signed":
        m = float(np.abs(v).max()) or 1.0
        return (-m, m)
    return _nondegenerate(float(v.min()), float(v.max()))


def percentile_ranks(values) -> np.ndarray:
    """Each value's rank among all of them as a percentage 0 .. 100 (ties share their mean rank;
    NaN stays NaN)."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    out = np.full(v.shape, np.nan)
    ok = np.isfinite(v)
    if ok.sum() == 0:
        return out
    uniq, inverse, counts = np.unique(v[ok], return_inverse=True, return_counts=True)
    before = np.cumsum(counts) - counts                    # values strictly below each unique value
    mean_rank = before + (counts - 1) / 2.0
    n = int(ok.sum())
    out[ok] = 100.0 * mean_rank[inverse] / max(n - 1, 1)
    return out


def display_values(values, norm: Norm, kind: str = "continuous") -> np.ndarray:
    """What the colour map reads (float32): rank -> percentile ranks; log -> the values with
    those below the smallest positive raised to it; otherwise the values themselves."""
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if norm.mode == "rank":
        return percentile_ranks(v).astype(np.float32)
    if norm.mode == "log":
        lo = smallest_positive(v)
        if lo is not None:
            return np.maximum(v, lo).astype(np.float32)
    return v.astype(np.float32)
