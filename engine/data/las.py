"""ASPRS LAS and LAZ (compressed LAS) point clouds, read with laspy (LAZ through its lazrs backend).

Coordinates are the scaled ones (stored integer * scale + offset), in the file's units. Colour
(point formats 2, 3, 5, 7, 8, 10) is 16-bit in the specification and becomes 8-bit (x 255/65535);
files whose colours never exceed 255 were written 8-bit and are kept as they are. Intensity,
classification and every other dimension (return numbers, GPS time, extra bytes ...) are kept as
fields by laspy's dimension names.
"""
from __future__ import annotations

import io

import numpy as np

from engine.core.errors import DataError
from engine.data.pointfields import to_uint8_colors
from engine.data.surface import Geometry
from engine.data.text import read_bytes

_NOT_FIELDS = {"X", "Y", "Z", "red", "green", "blue"}


def read_las(path) -> Geometry:
    import laspy   # imported on first use: opening other formats does not pay for it

    data = read_bytes(path)
    try:
        las = laspy.read(io.BytesIO(data))
    except laspy.errors.LaspyException as e:
        if "lazrs" in str(e).lower() or "backend" in str(e).lower():
            raise DataError(f"{path}: this LAZ file needs a LAZ decompressor ({e}).",
                            hint="Install one: pip install 'laspy[lazrs]'.") from None
        raise DataError(f"{path}: not a readable LAS/LAZ file ({e}).",
                        hint="Check the file extension matches its contents.") from None
    xyz = np.stack([np.asarray(las.x), np.asarray(las.y), np.asarray(las.z)], axis=1).astype(np.float64)
    names = list(las.point_format.dimension_names)
    colors = None
    if {"red", "green", "blue"} <= set(names):
        colors = to_uint8_colors(np.stack([np.asarray(las[c]) for c in ("red", "green", "blue")], axis=1))
    fields = {}
    for name in names:
        if name in _NOT_FIELDS:
            continue
        a = np.asarray(las[name])
        if a.ndim == 1 and len(a) == len(xyz):
            fields[name] = a.astype(np.uint8) if a.dtype == bool else a.copy()
    return Geometry(xyz, colors=colors, fields=fields)
