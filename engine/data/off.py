"""OFF meshes (OFF, COFF, NOFF, CNOFF), including ModelNet's header bug.

About a third of ModelNet40's files start ``OFF3514 3546 0``: the counts are glued to the OFF
keyword on the first line instead of being on their own line. We accept counts on the OFF line
whether or not a space separates them. Extra per-vertex values (colours, normals) and per-face
colours are ignored; polygons are fan-triangulated.
"""
from __future__ import annotations

import re

import numpy as np

from engine.core.errors import DataError
from engine.data.surface import Geometry, check_mesh, fan, triangulate
from engine.data.text import content_lines, fast_table, parse_floats, read_text

_HEADER = re.compile(r"^(ST)?(C)?(N)?(4)?(n)?OFF(.*)$")


def _ints(tokens: list[str], path, where: str) -> list[int]:
    try:
        return [int(t) for t in tokens]
    except ValueError:
        raise DataError(f"{path}: {where}: expected whole numbers, got '{' '.join(tokens)[:60]}'.",
                        hint="The counts on the header line may not match the data.") from None


def _vertices(vlines: list[str], path) -> np.ndarray:
    if not vlines:
        return np.zeros((0, 3))
    fast = fast_table(vlines, len(vlines[0].split()))
    if fast is not None and fast.shape[1] >= 3:
        return fast[:, :3]
    vt = [ln.split() for ln in vlines]
    if any(len(t) < 3 for t in vt):
        k = next(i for i, t in enumerate(vt) if len(t) < 3)
        raise DataError(f"{path}: vertex {k} has fewer than 3 coordinates ('{vlines[k][:40]}').",
                        hint="The counts on the header line may not match the data.")
    return parse_floats([x for t in vt for x in t[:3]], path, "vertex coordinates").reshape(len(vt), 3)


def _faces(flines: list[str], path) -> np.ndarray | None:
    """Fast path: every face line 'k i1 .. ik' with the same k and no colours."""
    if not flines:
        return np.zeros((0, 3), np.int64)
    first = flines[0].split()
    if not first or not first[0].isdigit() or len(first) != int(first[0]) + 1 or int(first[0]) < 3:
        return None
    tab = fast_table(flines, len(first), np.int64)
    if tab is None or (tab[:, 0] != tab[0, 0]).any():
        return None
    return fan(tab[:, 1:])


def _polygons(flines: list[str], path) -> list[list[int]]:
    polys = []
    for k, ln in enumerate(flines):
        t = ln.split()
        cnt = _ints(t[:1], path, f"face {k}")[0]
        if len(t) < cnt + 1:
            raise DataError(f"{path}: face {k} declares {cnt} vertices but lists {len(t) - 1}.",
                            hint="The file is truncated or the counts are wrong.")
        polys.append(_ints(t[1:cnt + 1], path, f"face {k}"))
    return polys


def read_off(path) -> Geometry:
    lines = content_lines(read_text(path, "OFF"))
    if not lines:
        raise DataError(f"{path}: the file is empty.", hint="An OFF file starts with the line 'OFF'.")
    m = _HEADER.match(lines[0].split()[0] if lines[0].split() else "")
    if not m:
        raise DataError(f"{path}: not an OFF file (first line '{lines[0][:40]}').",
                        hint="An OFF file starts with 'OFF'; check the file extension.")
    if m.group(4):
        raise DataError(f"{path}: 4OFF (4-dimensional) files are not supported.")
    rest = (lines[0][lines[0].find("OFF") + 3:]).split()   # counts glued to 'OFF' (ModelNet bug)
    body = 1
    if not rest:
        if len(lines) < 2:
            raise DataError(f"{path}: the counts line 'vertices faces edges' is missing.")
        rest = lines[1].split()
        body = 2
    counts = _ints(rest[:3], path, "the counts line")
    if len(counts) < 2 or min(counts) < 0:
        raise DataError(f"{path}: the counts line must be 'vertices faces [edges]', got '{' '.join(rest)}'.")
    nv, nf = counts[0], counts[1]
    vlines = lines[body:body + nv]
    flines = lines[body + nv:body + nv + nf]
    if len(vlines) < nv or len(flines) < nf:
        raise DataError(f"{path}: the header declares {nv} vertices and {nf} faces, but only "
                        f"{len(lines) - body} data lines follow.", hint="The file is truncated or the counts are wrong.")
    vertices = _vertices(vlines, path)
    tris = _faces(flines, path)
    if tris is None:
        tris = triangulate(_polygons(flines, path), path)
    if nf and not len(tris):
        raise DataError(f"{path}: none of the {nf} faces has 3 or more vertices.")
    if len(tris):
        check_mesh(vertices, tris, path)
        return Geometry(vertices, tris)
    return Geometry(vertices)  # an OFF with no faces is a point cloud
