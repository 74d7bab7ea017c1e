"""Bias injection (PointMask paper, section 4.2 and Fig. 5): a class-specific alphabet letter
added to every cloud of a class, so that a classifier can score by the letter alone.

Class c gets letter chr(ord('A') + c) (wrapping after Z), drawn with ``k`` points by
``engine.data.alphabet``. The letter is APPENDED, as the paper does ("letter 'I' is concatenated
with all desks"): the object keeps all its N points and every biased cloud of a level has
exactly N + k points (a fixed total within a level, so batches stack); clean clouds keep N.
Level k = 0 means no letter (the clean reference).

Placement (the letter's box centre; clouds are unit-sphere normalised):
- ``per-class`` (default): class c sits at angle 2*pi*c/K on a circle of radius ``distance``
  in the x-y plane around the object. The paper's toy experiment (Fig. 3) puts each class's
  bias at its own coordinates, and a 1-point "letter" can only carry the class through its
  position, yet the paper reports that even 1 point breaks PointNet.
- ``fixed``: every class at (distance, 0, 0); only the letter's shape tells the classes apart
  (needs K <= 26).
"""
from __future__ import annotations

import math

import numpy as np

from engine.data.alphabet import PLACEMENTS, class_letter, letter_anchor
from engine.core.errors import ParameterError

def check_bias_settings(level: int, num_classes: int, placement: str, distance: float,
                        scale: float) -> None:
    if int(level) != level or level < 0:
        raise ParameterError(f"bias level {level} must be a whole number of letter points >= 0.")
    if placement not in PLACEMENTS:
        raise ParameterError(f"letter placement '{placement}' is unknown; use one of {', '.join(PLACEMENTS)}.")
    if placement == "fixed" and num_classes > 26:
        raise ParameterError(f"placement 'fixed' tells classes apart by letter only, and {num_classes} "
                             "classes exceed the 26 letters.", hint="Use placement 'per-class'.")
    if not (math.isfinite(distance) and distance >= 0):
        raise ParameterError(f"letter distance {distance} must be a finite number >= 0.")
    if not (math.isfinite(scale) and scale > 0):
        raise ParameterError(f"letter scale {scale} must be a positive number.")


def inject_bias(points: np.ndarray, labels: np.ndarray, level: int, num_classes: int, *,
                placement: str = "per-class", distance: float = 1.5, scale: float = 0.5,
                seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Append each cloud's class letter as ``level`` points.

    points (n, N, 3), labels (n,) -> (biased (n, N + level, 3) float32, is_bias (n, N + level)
    bool: True on the letter's points). Deterministic in ``seed``; cloud i draws its letter from
    its own stream (seed, i), so a subset of a dataset gets the same letters as the whole.
    """
    from engine.data.alphabet import place_letter

    x = np.asarray(points, np.float32)
    y = np.asarray(labels).reshape(-1)
    if x.ndim != 3 or x.shape[-1] != 3 or x.shape[0] != y.shape[0]:
        raise ParameterError(f"bias injection needs points (n, N, 3) and labels (n,), got {x.shape} and {y.shape}.")
    check_bias_settings(level, num_classes, placement, distance, scale)
    n, npts = x.shape[:2]
    level = int(level)
    out = np.empty((n, npts + level, 3), np.float32)
    for i in range(n):
        c = int(y[i])
        if not 0 <= c < num_classes:
            raise ParameterError(f"label {c} of cloud {i} is outside 0..{num_classes - 1}.")
        rng = np.random.default_rng([int(seed), i])
        out[i] = place_letter(x[i], class_letter(c), level, letter_anchor(c, num_classes, placement, distance),
                              scale, rng)
    is_bias = np.zeros(out.shape[:2], bool)
    is_bias[:, npts:] = True
    return out, is_bias
