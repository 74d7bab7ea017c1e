"""VTK XML PolyData (.vtp) writer, by hand (the engine does not import VTK): the format of
VTK's "VTK File Formats" document, version 1.0, as ParaView and vtkXMLPolyDataReader read it.

One piece: the points, one vertex cell per point (so ParaView draws them without a filter), and
every per-point field as a PointData array under its own name with its own type; an (N, K)
field is one K-component array (ParaView offers an (N, 3) one as a vector). Colours are a
3-component UInt8 array ``colors``. Arrays are inline "binary": base64 of a UInt64 byte count
followed by the little-endian values, uncompressed.
"""
from __future__ import annotations

import base64
import os
import struct
from xml.sax.saxutils import quoteattr

import numpy as np

from engine.atomic import atomic_path
from engine.export.pointset import PointSet

# numpy dtype kind + size -> VTK type name
_TYPES = {("f", 4): "Float32", ("f", 8): "Float64",
          ("i", 1): "Int8", ("i", 2): "Int16", ("i", 4): "Int32", ("i", 8): "Int64",
          ("u", 1): "UInt8", ("u", 2): "UInt16", ("u", 4): "UInt32", ("u", 8): "UInt64"}


def _encode(a: np.ndarray) -> str:
    a = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<"))
    raw = a.tobytes()
    return base64.b64encode(struct.pack("<Q", len(raw)) + raw).decode("ascii")


def _data_array(name: str, a: np.ndarray) -> str:
    a = np.asarray(a)
    if a.dtype.kind == "f" and a.dtype.itemsize not in (4, 8):
        a = a.astype(np.float32)        # float16: VTK has no half type
    vtk_type = _TYPES[(a.dtype.kind, a.dtype.itemsize)]
    comps = 1 if a.ndim == 1 else a.shape[1]
    return (f'<DataArray type="{vtk_type}" Name={quoteattr(name)} NumberOfComponents="{comps}" '
            f'format="binary">{_encode(a)}</DataArray>')


def vtp_text(ps: PointSet) -> str:
    n = ps.n
    arrays = [_data_array(name, a) for name, a in ps.fields.items()]
    if ps.colors is not None:
        arrays.append(_data_array("colors", ps.colors))
    scalars = next(iter(ps.fields), None)
    active = f" Scalars={quoteattr(scalars)}" if scalars else ""
    return "\n".join([
        '<?xml version="1.0"?>',
        '<VTKFile type="PolyData" version="1.0" byte_order="LittleEndian" header_type="UInt64">',
        "<PolyData>",
        f'<Piece NumberOfPoints="{n}" NumberOfVerts="{n}" NumberOfLines="0" NumberOfStrips="0" NumberOfPolys="0">',
        f"<PointData{active}>", *arrays, "</PointData>",
        "<Points>", _data_array("Points", ps.points.reshape(n, 3)), "</Points>",
        "<Verts>",
        _data_array("connectivity", np.arange(n, dtype=np.int64)),
        _data_array("offsets", np.arange(1, n + 1, dtype=np.int64)),
        "</Verts>",
        "</Piece>", "</PolyData>", "</VTKFile>", ""])


def write_vtp(ps: PointSet, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(vtp_text(ps), encoding="ascii")
