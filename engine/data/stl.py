"""STL meshes, binary and ascii. Vertices are not shared in STL (three per facet); surface
sampling does not need them shared, so they are kept as read.
"""
from __future__ import annotations

import re

import numpy as np

from engine.core.errors import DataError
from engine.data.surface import Geometry
from engine.data.text import decode_text, parse_floats, read_bytes

_BINARY = np.dtype([("normal", "<f4", (3,)), ("v", "<f4", (3, 3)), ("attr", "<u2")])
_VERTEX = re.compile(r"^\s*vertex\s+(\S+)\s+(\S+)\s+(\S+)", re.MULTILINE)


def read_stl(path) -> Geometry:
    data = read_bytes(path)
    if len(data) >= 84:
        n = int(np.frombuffer(data, "<u4", 1, 80)[0])
        if len(data) == 84 + 50 * n:   # the size only adds up for a binary file
            if n == 0:
                raise DataError(f"{path}: the binary STL holds no triangles.")
            v = np.frombuffer(data, _BINARY, n, 84)["v"].reshape(-1, 3).astype(np.float64)
            return Geometry(v, np.arange(3 * n, dtype=np.int64).reshape(n, 3))
    head = data[:5].lower()
    if head != b"solid":
        if len(data) >= 84:
            n = int(np.frombuffer(data, "<u4", 1, 80)[0])
            raise DataError(f"{path}: binary STL header says {n} triangles ({84 + 50 * n} bytes), "
                            f"but the file has {len(data)} bytes.", hint="The file is truncated or not an STL.")
        raise DataError(f"{path}: not an STL file (too short and no 'solid' keyword).")
    if b"\0" in data[:4096] and len(data) >= 84:
        # binary STL headers may start with "solid" too: this one's size does not add up
        n = int(np.frombuffer(data, "<u4", 1, 80)[0])
        raise DataError(f"{path}: a binary STL (its header starts with 'solid', as some exporters write) "
                        f"whose header says {n} triangles ({84 + 50 * n} bytes), but the file has {len(data)} bytes.",
                        hint="The file is truncated or not an STL.")
    text = decode_text(data, path, "ascii STL")
    coords = _VERTEX.findall(text)
    if not coords or len(coords) % 3:
        raise DataError(f"{path}: ascii STL with {len(coords)} 'vertex' lines; expected 3 per facet.",
                        hint="The file is truncated or malformed.")
    v = parse_floats([c for xyz in coords for c in xyz], path, "vertex coordinates").reshape(-1, 3)
    m = len(v) // 3
    return Geometry(v, np.arange(3 * m, dtype=np.int64).reshape(m, 3))
