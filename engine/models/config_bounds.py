"""Upper and lower bounds of every model setting, checked before a model is built.

One table for both doors into a model: a checkpoint's metadata (a lying file must not make the
constructor allocate gigabytes) and the settings a user gives training (`--parts 1e8`).
"""
from __future__ import annotations

import math

# Per-field bounds of model configs; any other whole number is bounded by MAX_INT.
BOUNDS = {"num_classes": (1, 100_000), "parts": (1, 10_000), "width": (1e-3, 1024),
          "dim": (1, 65_536), "out_channels": (1, 100_000), "codebook_size": (1, 1 << 20),
          "emb_dims": (1, 65_536), "k": (1, 65_536)}
MAX_INT = 1 << 20


def out_of_bounds(config: dict, too_large_only: bool = False) -> tuple[str, float, float, float] | None:
    """The first (field, value, lo, hi) outside its bounds, or None. ``too_large_only``: only
    values above the upper bound (what would allocate too much); the models' own checks give
    the plainer message for a 0, a negative or a NaN."""
    for key, value in config.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        lo, hi = BOUNDS.get(key, (-MAX_INT, MAX_INT))
        if too_large_only:
            if math.isfinite(value) and value > hi:
                return key, value, lo, hi
        elif not (math.isfinite(value) and lo <= value <= hi):
            return key, value, lo, hi
    return None
