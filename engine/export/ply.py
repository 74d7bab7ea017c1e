"""PLY writer: binary little-endian, one vertex element (format: Turk's PLY, as CloudCompare,
MeshLab and VTK read it).

Coordinates are ``float x/y/z``; every per-point field is one ``property float <name>`` column
(vectors as name_x/_y/_z), which CloudCompare opens as scalar fields; colours, when the cloud has
them, are ``uchar red/green/blue``. Fields are stored as float32 because that is what scalar
fields are in CloudCompare; integers stay exact up to 2^24.
"""
from __future__ import annotations

import os

import numpy as np

from engine.atomic import atomic_path
from engine.export.pointset import PointSet, columns


def printable(text: str) -> str:
    """A header line is ASCII up to its newline: anything else in a cloud's name becomes '_'."""
    return "".join(ch if 32 <= ord(ch) < 127 else "_" for ch in str(text))


def ply_bytes(ps: PointSet) -> bytes:
    cols = [("x", ps.points[:, 0]), ("y", ps.points[:, 1]), ("z", ps.points[:, 2]), *columns(ps)]
    dtype = [(name, "<f4") for name, _ in cols]
    if ps.colors is not None:
        dtype += [("red", "u1"), ("green", "u1"), ("blue", "u1")]
    rows = np.empty(ps.n, dtype=dtype)
    for name, values in cols:
        rows[name] = values
    if ps.colors is not None:
        for i, c in enumerate(("red", "green", "blue")):
            rows[c] = ps.colors[:, i]
    props = [f"property float {name}" for name, _ in cols]
    if ps.colors is not None:
        props += ["property uchar red", "property uchar green", "property uchar blue"]
    header = "\n".join(["ply", "format binary_little_endian 1.0", f"comment PointLens export: {printable(ps.name)}",
                        f"element vertex {ps.n}", *props, "end_header"]) + "\n"
    return header.encode("ascii") + rows.tobytes()


def write_ply(ps: PointSet, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(ply_bytes(ps))
