"""One cloud ready to leave PointLens: its points, its per-point fields and, if it has them, colours.

Every writer (PLY, VTP, NPZ, CSV) takes a ``PointSet``, so the GUI's "Export points…" (one view's
points and scalars) and ``pointlens export`` (one cloud of a result file) write the same files.
Field names are made safe for every format here, once: PLY property names cannot hold spaces,
CSV headers cannot hold commas, and a field may not take a coordinate's or a colour's name.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from engine.core.errors import DataError

# Names the formats give the coordinates and the colours; a field by one of them is renamed.
TAKEN = ("x", "y", "z", "red", "green", "blue")
_UNSAFE = re.compile(r"[^A-Za-z0-9_]+")


@dataclass(frozen=True)
class PointSet:
    """``points`` (N, 3) float32; ``fields`` name -> (N,) or (N, K) numeric array; ``colors``
    (N, 3) uint8 or None."""

    name: str
    points: np.ndarray
    fields: Mapping[str, np.ndarray]
    colors: np.ndarray | None = None

    @property
    def n(self) -> int:
        return int(self.points.shape[0])


def safe_name(name: str, used: set[str]) -> str:
    """``name`` with every run of characters other than letters, digits and '_' as one '_', and a
    numbered suffix if it is a coordinate's, a colour's or an earlier field's name."""
    base = _UNSAFE.sub("_", str(name)).strip("_") or "field"
    out, i = base, 2
    while out in used or out in TAKEN:
        out, i = f"{base}_{i}", i + 1
    used.add(out)
    return out


def as_colors(values: np.ndarray) -> np.ndarray | None:
    """(N, 3) colours as uint8: integers 0..255 as they are, floats in 0..1 scaled by 255; None
    for anything else (the array is then exported as an ordinary vector field)."""
    a = np.asarray(values)
    if a.ndim != 2 or a.shape[1] != 3 or a.dtype.kind not in "fiu" or a.size == 0 or not np.isfinite(a).all():
        return None
    if a.dtype.kind in "iu" and a.min() >= 0 and a.max() <= 255:
        return a.astype(np.uint8)
    if a.dtype.kind == "f" and a.min() >= 0.0 and a.max() <= 1.0:
        return np.rint(a * 255.0).astype(np.uint8)
    return None


def make_point_set(name: str, points, fields: Mapping[str, np.ndarray] | None = None,
                   colors=None) -> PointSet:
    """Check shapes and make names safe. ``fields`` may hold (N,) or (N, K) numeric arrays (bool
    becomes 0/1); anything else is refused naming the field."""
    pts = np.asarray(points)
    if pts.ndim != 2 or pts.shape[1] != 3 or pts.dtype.kind not in "fiu":
        raise DataError(f"{name}: points must be an (N, 3) number array, not {pts.dtype} {pts.shape}.")
    n = pts.shape[0]
    used: set[str] = set()
    out: dict[str, np.ndarray] = {}
    for key, values in (fields or {}).items():
        a = np.asarray(values)
        if a.ndim == 0 or a.ndim > 2 or a.shape[0] != n or a.dtype.kind not in "fiub":
            raise DataError(f"{name}: field '{key}' is {a.dtype} {a.shape}; an exported field holds one "
                            f"number (or one row of numbers) per point, {n} rows.")
        out[safe_name(key, used)] = a.astype(np.uint8) if a.dtype.kind == "b" else a
    rgb = None
    if colors is not None:
        rgb = as_colors(colors)
        if rgb is None or rgb.shape[0] != n:
            raise DataError(f"{name}: colours must be (N, 3) integers 0..255 or floats 0..1 for {n} points.")
    return PointSet(name, np.ascontiguousarray(pts, dtype=np.float32), out, rgb)


def columns(ps: PointSet) -> list[tuple[str, np.ndarray]]:
    """Every field as one-number columns: (N,) as is, (N, 3) as name_x/_y/_z, (N, K) as
    name_0 .. name_{K-1} (PLY and CSV have no vector columns)."""
    split = []
    for name, a in ps.fields.items():
        if a.ndim == 1:
            split.append((name, a))
        elif a.shape[1] == 3:
            split += [(f"{name}_{axis}", a[:, i]) for i, axis in enumerate("xyz")]
        else:
            split += [(f"{name}_{i}", a[:, i]) for i in range(a.shape[1])]
    used: set[str] = set()      # a vector 'mu' and a scalar 'mu_x' must not give two 'mu_x' columns
    return [(safe_name(name, used), a) for name, a in split]
