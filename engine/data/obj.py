"""Wavefront OBJ meshes: ``v`` and ``f`` lines; texture/normal indices, negative (relative)
indices and polygons are handled; materials and textures are ignored (spot.obj references one).
An OBJ with vertices but no faces is a point cloud.
"""
from __future__ import annotations

import re

import numpy as np

from engine.core.errors import DataError
from engine.data.surface import Geometry, check_mesh, fan, triangulate
from engine.data.text import fast_table, parse_floats, read_text

_SLASH = re.compile(r"/\S*")


def _fast(text: str):
    """Vertices and same-size faces without relative indices, parsed in C; None otherwise."""
    lines = text.splitlines()
    vl = [ln[2:] for ln in lines if ln.startswith("v ")]
    fl = [_SLASH.sub("", ln[2:]) for ln in lines if ln.startswith("f ")]
    if not vl:
        return None
    v = fast_table(vl, len(vl[0].split()))
    if v is None or v.shape[1] < 3:
        return None
    if not fl:
        return Geometry(v[:, :3])
    f = fast_table(fl, len(fl[0].split()), np.int64)
    if f is None or f.shape[1] < 3 or f.min() < 1:
        return None
    tris = fan(f - 1)
    check_mesh(v[:, :3], tris, path="")
    return Geometry(v[:, :3], tris)


def read_obj(path) -> Geometry:
    text = read_text(path, "OBJ")
    try:
        fast = _fast(text)
    except DataError:
        fast = None   # the slow path below names the problem with its line number
    if fast is not None:
        return fast
    vtok: list[str] = []
    faces: list[list[int]] = []
    nv = 0
    for k, line in enumerate(text.splitlines()):
        if line.startswith("v "):
            t = line.split()
            if len(t) < 4:
                raise DataError(f"{path}: line {k + 1}: a vertex needs x y z ('{line[:40]}').")
            vtok += t[1:4]
            nv += 1
        elif line.startswith("f "):
            try:
                idx = [int(t.split("/", 1)[0]) for t in line.split()[1:]]
            except ValueError:
                raise DataError(f"{path}: line {k + 1}: malformed face '{line[:60]}'.",
                                hint="Faces list vertex numbers, e.g. 'f 1 2 3' or 'f 1/1/1 2/2/2 3/3/3'.") from None
            # OBJ counts from 1; negative numbers count back from the last vertex read so far
            faces.append([i - 1 if i > 0 else nv + i if i < 0 else -(10**12) for i in idx])
    if nv == 0:
        raise DataError(f"{path}: no vertices ('v x y z' lines) found.", hint="Check that this is an OBJ file.")
    vertices = parse_floats(vtok, path, "vertex coordinates").reshape(nv, 3)
    tris = triangulate(faces, path)
    if len(tris):
        if tris.min() < 0:
            raise DataError(f"{path}: a face uses vertex number 0 or refers before the first vertex.",
                            hint="OBJ vertex numbers start at 1.")
        check_mesh(vertices, tris, path)
        return Geometry(vertices, tris)
    return Geometry(vertices)
