"""CSV writer: a header row ``x,y,z,<field columns>[,red,green,blue]`` and one row per point.

Vectors are split as in PLY (name_x/_y/_z). Floats are written with enough digits to read back
exactly (9 significant digits for float32, 17 for float64); integers as integers.
"""
from __future__ import annotations

import io
import os

import numpy as np

from engine.atomic import atomic_path
from engine.export.pointset import PointSet, columns


def _format(a: np.ndarray) -> str:
    if a.dtype.kind in "iub":
        return "%d"
    return "%.17g" if a.dtype.itemsize > 4 else "%.9g"


def csv_text(ps: PointSet) -> str:
    cols = [("x", ps.points[:, 0]), ("y", ps.points[:, 1]), ("z", ps.points[:, 2]), *columns(ps)]
    if ps.colors is not None:
        cols += [(c, ps.colors[:, i]) for i, c in enumerate(("red", "green", "blue"))]
    buf = io.StringIO()
    buf.write(",".join(name for name, _ in cols) + "\n")
    if ps.n:
        table = np.empty((ps.n, len(cols)), dtype=object)
        for j, (_, values) in enumerate(cols):
            table[:, j] = values.tolist()
        fmts = [_format(np.asarray(values)) for _, values in cols]
        for row in table:
            buf.write(",".join(f % v for f, v in zip(fmts, row)) + "\n")
    return buf.getvalue()


def write_csv(ps: PointSet, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(csv_text(ps), encoding="utf-8")
