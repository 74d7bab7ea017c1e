"""NumPy .npz writer: ``points`` (N, 3), every field under its own name with its own shape and
type, and ``colors`` (N, 3) uint8 when the cloud has them. ``np.load`` gives them back as they
were."""
from __future__ import annotations

import os

import numpy as np

from engine.atomic import atomic_path
from engine.export.pointset import PointSet


def write_npz(ps: PointSet, path: str | os.PathLike) -> None:
    arrays = {"points": ps.points, **ps.fields}
    if ps.colors is not None:
        arrays["colors"] = ps.colors
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:          # a file object: np.savez would append '.npz' to a name
            np.savez(f, **arrays)
