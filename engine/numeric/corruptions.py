"""Test-time corruptions of the SageMix paper's robustness table (Table 3), seeded.

Given as ``KIND:LEVEL``:
- ``noise:0.01``, ``noise:0.05`` — add N(0, sigma^2) to every coordinate (Gaussian noise sigma');
- ``rotate-x:180``, ``rotate-z:180`` (also ``rotate-y``) — rotate every cloud by LEVEL degrees
  about that axis;
- ``scale:0.6``, ``scale:2.0`` — multiply every coordinate by LEVEL;
- ``dropout:0.25``, ``dropout:0.5`` — remove that fraction of each cloud's points (chosen at
  random per cloud; every cloud keeps the same count so batches stay rectangular).
The table uses exactly these levels; other levels are allowed for sweeps.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.core.errors import ParameterError

KINDS = ("noise", "rotate-x", "rotate-y", "rotate-z", "scale", "dropout")
TABLE3 = ("noise:0.01", "noise:0.05", "rotate-x:180", "rotate-z:180", "scale:0.6", "scale:2.0",
          "dropout:0.25", "dropout:0.5")


@dataclass(frozen=True)
class Corruption:
    kind: str
    level: float

    @property
    def spec(self) -> str:
        return f"{self.kind}:{self.level:g}"


def parse(spec: str) -> Corruption:
    """'noise:0.05' -> Corruption('noise', 0.05); bad text is a ParameterError saying what is valid."""
    kind, sep, level_text = str(spec).strip().partition(":")
    kind = kind.strip().lower()
    if kind not in KINDS or not sep:
        raise ParameterError(f"corruption '{spec}' is not KIND:LEVEL with KIND one of {', '.join(KINDS)}.",
                             hint=f"E.g. {', '.join(TABLE3)}.")
    try:
        level = float(level_text)
    except ValueError:
        raise ParameterError(f"corruption '{spec}': level '{level_text}' is not a number.") from None
    if not np.isfinite(level):
        raise ParameterError(f"corruption '{spec}': the level must be finite.")
    if kind == "noise" and level < 0:
        raise ParameterError(f"corruption '{spec}': noise sigma must be >= 0.")
    if kind == "scale" and level <= 0:
        raise ParameterError(f"corruption '{spec}': the scale factor must be > 0.")
    if kind == "dropout" and not 0 <= level < 1:
        raise ParameterError(f"corruption '{spec}': the dropout fraction must be in [0, 1).")
    return Corruption(kind, level)


def rotation_matrix(axis: str, degrees: float) -> np.ndarray:
    """Right-handed rotation about x, y or z, for column vectors (p' = R p)."""
    t = np.deg2rad(degrees)
    c, s = np.cos(t), np.sin(t)
    if axis == "x":
        r = [[1, 0, 0], [0, c, -s], [0, s, c]]
    elif axis == "y":
        r = [[c, 0, s], [0, 1, 0], [-s, 0, c]]
    else:
        r = [[c, -s, 0], [s, c, 0], [0, 0, 1]]
    return np.asarray(r, dtype=np.float64)


def apply(points: np.ndarray, corruption: Corruption | str, seed: int = 0) -> np.ndarray:
    """Corrupt clouds (n, N, 3) (or one (N, 3)); returns float32, never modifies the input."""
    c = parse(corruption) if isinstance(corruption, str) else corruption
    pts = np.asarray(points, dtype=np.float32)
    single = pts.ndim == 2
    if single:
        pts = pts[None]
    if pts.ndim != 3 or pts.shape[-1] != 3:
        raise ParameterError(f"corruptions need clouds of shape (n, N, 3), got {np.shape(points)}.")
    rng = np.random.default_rng(seed)
    if c.kind == "noise":
        out = pts + rng.normal(0.0, c.level, size=pts.shape).astype(np.float32)
    elif c.kind.startswith("rotate-"):
        rot = rotation_matrix(c.kind[-1], c.level)
        out = (pts.astype(np.float64) @ rot.T).astype(np.float32)
    elif c.kind == "scale":
        out = pts * np.float32(c.level)
    else:  # dropout
        n_pts = pts.shape[1]
        keep = max(1, n_pts - int(round(c.level * n_pts)))
        idx = np.stack([np.sort(rng.permutation(n_pts)[:keep]) for _ in range(pts.shape[0])])
        out = np.take_along_axis(pts, idx[:, :, None], axis=1)
    out = np.ascontiguousarray(out, dtype=np.float32)
    return out[0] if single else out
