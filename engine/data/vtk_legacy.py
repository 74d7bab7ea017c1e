"""VTK's legacy ``.vtk`` files (ASCII or BINARY), POLYDATA and UNSTRUCTURED_GRID, read without VTK.

The file is: a version line, a title, ``ASCII`` or ``BINARY``, ``DATASET <kind>``, then keyword
sections. ``POINTS n type`` gives the points. Cell sections (``POLYGONS``, ``VERTICES``, ``LINES``,
``TRIANGLE_STRIPS``, ``CELLS`` + ``CELL_TYPES``) come in two layouts: before version 5, ``n size``
then per cell its vertex count and indices; from 5.0, ``OFFSETS`` and ``CONNECTIVITY`` arrays.
After ``POINT_DATA n`` come the attributes: ``SCALARS`` (with a ``LOOKUP_TABLE`` line),
``COLOR_SCALARS`` (floats 0..1 in ASCII, unsigned bytes in BINARY), ``NORMALS``, ``VECTORS``,
``TEXTURE_COORDINATES``, ``TENSORS`` and ``FIELD`` arrays. ``METADATA`` blocks (text up to a blank
line) and everything under ``CELL_DATA`` are skipped. BINARY numbers are big-endian.

Polygons (and the triangles/quads/polygons of an unstructured grid) make the file a mesh;
otherwise it is a cloud with normals (``NORMALS``), colours (``COLOR_SCALARS``, or a 3/4-component
unsigned-char ``SCALARS``) and every other point attribute as a named field.
"""
from __future__ import annotations

import numpy as np

from engine.core.errors import DataError
from engine.data.pointfields import scalar_fields, to_uint8_colors
from engine.data.surface import Geometry, check_mesh, triangulate
from engine.data.text import read_bytes

TYPES = {"bit": None, "unsigned_char": "u1", "char": "i1", "unsigned_short": "u2", "short": "i2",
         "unsigned_int": "u4", "int": "i4", "unsigned_long": "u8", "long": "i8", "float": "f4",
         "double": "f8", "vtktypeint64": "i8", "vtktypeuint64": "u8", "vtkidtype": "i4",
         "vtktypeint32": "i4", "vtktypeuint32": "u4"}
_CELLS = ("POLYGONS", "VERTICES", "LINES", "TRIANGLE_STRIPS", "CELLS")
SURFACE_CELLS = {5, 7, 9}   # VTK_TRIANGLE, VTK_POLYGON, VTK_QUAD


class _Reader:
    """A cursor over the file: text lines for keywords, numbers as text (ASCII) or big-endian
    binary (BINARY) for the data that follows them."""

    def __init__(self, data: bytes, path):
        self.data, self.pos, self.path = data, 0, path
        self.binary = False

    def line(self) -> str | None:
        """The next non-blank line, or None at the end."""
        while self.pos < len(self.data):
            nl = self.data.find(b"\n", self.pos)
            end = len(self.data) if nl < 0 else nl
            text = self.data[self.pos:end].decode("latin-1").strip()
            self.pos = end + 1
            if text:
                return text
        return None

    def raw_line(self) -> str | None:
        if self.pos >= len(self.data):
            return None
        nl = self.data.find(b"\n", self.pos)
        end = len(self.data) if nl < 0 else nl
        text = self.data[self.pos:end].decode("latin-1").strip()
        self.pos = end + 1
        return text

    def values(self, n: int, tname: str, what: str) -> np.ndarray:
        code = TYPES.get(tname.lower())
        if code is None:
            raise DataError(f"{self.path}: {what} has data type '{tname}', which this reader does not read.")
        if self.binary:
            dt = np.dtype(">" + code)
            need = n * dt.itemsize
            if self.pos + need > len(self.data):
                raise DataError(f"{self.path}: the file ends inside {what}.", hint="The file is truncated.")
            out = np.frombuffer(self.data, dt, n, self.pos).astype(dt.newbyteorder("="))
            self.pos += need
            return out
        tokens: list[str] = []
        while len(tokens) < n:
            ln = self.line()
            if ln is None:
                raise DataError(f"{self.path}: the file ends inside {what} ({len(tokens)} of {n} values).",
                                hint="The file is truncated.")
            tokens += ln.split()
        if len(tokens) > n:
            raise DataError(f"{self.path}: {what} has more values on its last line than declared.")
        try:
            return np.array(tokens, np.float64).astype(code)
        except ValueError:
            raise DataError(f"{self.path}: {what} holds a value that is not a number.") from None


def _ints(t: list[str], k: int, where: str, path) -> list[int]:
    """The k whole numbers after a section keyword (``POINTS 100 float`` -> [100])."""
    try:
        if len(t) > k:
            return [int(v) for v in t[1:1 + k]]
    except ValueError:
        pass
    _bad(where, path)


def _bad(where: str, path):
    raise DataError(f"{path}: malformed line '{where[:60]}' in the legacy VTK file.")


def _cell_section(r: _Reader, t: list[str], version: float, path) -> list[np.ndarray]:
    """One cell section as a list of index arrays."""
    n, size = _ints(t, 2, " ".join(t), path)
    if version >= 5.0:
        offs = conn = None
        for _ in range(2):
            h = (r.line() or "").split()
            if len(h) < 2 or h[0] not in ("OFFSETS", "CONNECTIVITY"):
                _bad(" ".join(h), path)
            arr = r.values(n if h[0] == "OFFSETS" else size, h[1], f"{t[0]} {h[0]}").astype(np.int64)
            offs, conn = (arr, conn) if h[0] == "OFFSETS" else (offs, arr)
        return [conn[a:b] for a, b in zip(offs[:-1], offs[1:])]
    flat = r.values(size, "int", t[0]).astype(np.int64)
    cells, k = [], 0
    while k < len(flat):
        m = int(flat[k])
        cells.append(flat[k + 1:k + 1 + m])
        k += 1 + m
    return cells


def _attributes(r: _Reader, n: int, t: list[str], path, out: dict) -> None:
    """One attribute section of POINT_DATA into out['normals'|'colors'|'columns']."""
    key = t[0]
    if key == "SCALARS":
        comps = int(t[3]) if len(t) > 3 else 1
        nxt = r.line() or ""
        if not nxt.startswith("LOOKUP_TABLE"):   # the table line is required; be lenient once
            _bad(nxt, path)
        a = r.values(n * comps, t[2], f"SCALARS {t[1]}")
        if comps in (3, 4) and a.dtype == np.uint8 and out.get("colors") is None:
            out["colors"] = to_uint8_colors(a.reshape(n, comps)[:, :3])
        else:
            out["columns"][t[1]] = a.reshape(n, comps) if comps > 1 else a
    elif key == "COLOR_SCALARS":
        comps = int(t[2])
        a = r.values(n * comps, "unsigned_char" if r.binary else "float", f"COLOR_SCALARS {t[1]}")
        out["colors"] = to_uint8_colors(a.reshape(n, comps)[:, :3])
    elif key in ("NORMALS", "VECTORS"):
        a = r.values(3 * n, t[2], f"{key} {t[1]}").reshape(n, 3)
        if key == "NORMALS" and out.get("normals") is None:
            out["normals"] = a.astype(np.float32)
        else:
            out["columns"][t[1]] = a
    elif key == "TEXTURE_COORDINATES":
        dim = int(t[2])
        out["columns"][t[1]] = r.values(dim * n, t[3], f"TEXTURE_COORDINATES {t[1]}").reshape(n, dim)
    elif key == "TENSORS":
        r.values(9 * n, t[2], f"TENSORS {t[1]}")
    elif key == "FIELD":
        for _ in range(int(t[2])):
            h = (r.line() or "").split()
            if len(h) < 4:
                _bad(" ".join(h), path)
            comps, tuples = int(h[1]), int(h[2])
            a = r.values(comps * tuples, h[3], f"FIELD array {h[0]}")
            if tuples == n:
                out["columns"][h[0]] = a.reshape(n, comps) if comps > 1 else a
            _skip_metadata(r)
    elif key == "LOOKUP_TABLE":
        r.values(4 * int(t[2]), "unsigned_char" if r.binary else "float", "LOOKUP_TABLE")
    else:
        _bad(" ".join(t), path)


def _skip_metadata(r: _Reader) -> None:
    """A METADATA block (VTK 9 writes one after many arrays): text lines up to a blank line."""
    save = r.pos
    if r.line() != "METADATA":
        r.pos = save
        return
    _metadata_body(r)


def _metadata_body(r: _Reader) -> None:
    while True:
        raw = r.raw_line()
        if raw is None or raw == "":
            return


def read_vtk_legacy(path) -> Geometry:
    data = read_bytes(path)
    r = _Reader(data, path)
    first = r.line() or ""
    if not first.lower().startswith("# vtk datafile version"):
        raise DataError(f"{path}: not a legacy VTK file (no '# vtk DataFile Version' line).",
                        hint="Check the file extension matches its contents.")
    try:
        version = float(first.split()[-1])
    except ValueError:
        version = 3.0
    r.raw_line()                                   # the title (may be blank)
    mode = (r.line() or "").upper()
    if mode not in ("ASCII", "BINARY"):
        raise DataError(f"{path}: the third line says '{mode}'; expected ASCII or BINARY.")
    r.binary = mode == "BINARY"
    ds = (r.line() or "").split()
    if len(ds) < 2 or ds[0].upper() != "DATASET" or ds[1].upper() not in ("POLYDATA", "UNSTRUCTURED_GRID"):
        raise DataError(f"{path}: legacy VTK dataset '{' '.join(ds[1:]) or '?'}'; only POLYDATA and "
                        f"UNSTRUCTURED_GRID hold point clouds this reader opens.")
    pts, polys, cell_types = None, [], None
    section = None                                 # None, "point" or "cell"
    npt = 0
    attrs: dict = {"columns": {}}
    while True:
        ln = r.line()
        if ln is None:
            break
        t = ln.split()
        key = t[0].upper()
        if key == "POINTS":
            npt = _ints(t, 1, ln, path)[0]
            pts = r.values(3 * npt, t[2], "POINTS").astype(np.float64).reshape(npt, 3)
        elif key in _CELLS:
            cells = _cell_section(r, t, version, path)
            if key in ("POLYGONS", "CELLS"):
                polys.append((key, cells))
        elif key == "CELL_TYPES":
            cell_types = r.values(_ints(t, 1, ln, path)[0], "int", "CELL_TYPES")
        elif key == "METADATA":
            _metadata_body(r)
        elif key in ("POINT_DATA", "CELL_DATA"):
            section = "point" if key == "POINT_DATA" else "cell"
            count = _ints(t, 1, ln, path)[0]
            if section == "point" and count != npt:
                raise DataError(f"{path}: POINT_DATA declares {count} values, POINTS {npt}.")
            width = npt if section == "point" else count
        elif section is not None:
            target = attrs if section == "point" else {"columns": {}}   # cell data is read past
            _attributes(r, width, t, path, target)
            _skip_metadata(r)
        else:
            _bad(ln, path)
    if pts is None:
        raise DataError(f"{path}: the legacy VTK file has no POINTS.")
    faces = []
    for key, cells in polys:
        if key == "CELLS" and cell_types is not None:
            cells = [c for c, ct in zip(cells, cell_types) if int(ct) in SURFACE_CELLS]
        faces += cells
    if faces:
        tris = triangulate(faces, path)
        if len(tris):
            check_mesh(pts, tris, path)
            return Geometry(pts, tris)
    return Geometry(pts, None, attrs.get("normals"), colors=attrs.get("colors"),
                    fields=scalar_fields(attrs["columns"], set(), npt))
