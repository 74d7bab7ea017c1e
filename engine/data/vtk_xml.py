"""VTK's XML files, ``.vtp`` (PolyData) and ``.vtu`` (UnstructuredGrid), read without VTK.

The engine may not import VTK (the import contracts), and meshio reads neither .vtp nor a .vtu
without cells, so the format is read here. A file is XML with one or more ``Piece`` elements;
each holds ``Points`` (one 3-component DataArray), ``PointData`` (named arrays) and, for
surfaces, ``Polys`` (PolyData) or ``Cells`` (UnstructuredGrid) as connectivity + offsets.

DataArray contents come in three encodings, all read: ``ascii`` (numbers as text), ``binary``
(base64 inline) and ``appended`` (in the ``AppendedData`` block after the XML, raw bytes or
base64). Binary data starts with a header of ``header_type`` integers: the byte count, or with
a ``compressor`` the block table (number of blocks, block size, last block size, the compressed
size of each block) followed by the blocks. zlib and LZMA blocks are decompressed with the
standard library; LZ4 (ParaView's optional compressor) is refused with a message.

Point arrays: the PointData's ``Normals`` array (or one named normals) becomes the normals, a
3/4-component array named like a colour (RGB, Colors ...) or of type UInt8 the colours, every
other array a field (multi-component ones split into ``name_0`` ...). Triangles, quads and
polygons make the file a mesh; vertices, lines and volume cells are ignored.
"""
from __future__ import annotations

import base64
import lzma
import math
import xml.etree.ElementTree as ET
import zlib

import numpy as np

from engine.core.errors import DataError
from engine.data.pointfields import scalar_fields, to_uint8_colors
from engine.data.surface import Geometry, check_mesh, triangulate
from engine.data.text import read_bytes

TYPES = {"Int8": "i1", "UInt8": "u1", "Int16": "i2", "UInt16": "u2", "Int32": "i4", "UInt32": "u4",
         "Int64": "i8", "UInt64": "u8", "Float32": "f4", "Float64": "f8"}
SURFACE_CELLS = {5, 7, 9}   # VTK_TRIANGLE, VTK_POLYGON, VTK_QUAD (the cells a surface is made of)
_COLOUR_NAMES = {"rgb", "rgba", "colors", "colours", "color", "colour"}


class _Decoder:
    """Turns a DataArray element into a flat numpy array, whatever its encoding."""

    def __init__(self, root: ET.Element, appended: bytes | str | None, path):
        self.path = path
        self.order = "<" if root.get("byte_order", "LittleEndian") == "LittleEndian" else ">"
        ht = root.get("header_type", "UInt32")
        if ht not in ("UInt32", "UInt64"):
            raise DataError(f"{path}: unknown header_type '{ht}' in the VTK file.")
        self.header = np.dtype(self.order + TYPES[ht])
        comp = root.get("compressor") or ""
        if comp and comp not in ("vtkZLibDataCompressor", "vtkLZMADataCompressor"):
            raise DataError(f"{path}: the data is compressed with {comp}, which this reader does not decompress.",
                            hint="Save the file again without compression or with zlib (ParaView: Data Mode / Compressor).")
        self.compressor = comp
        self.appended = appended

    def array(self, el: ET.Element) -> np.ndarray:
        tname = el.get("type", "")
        if tname not in TYPES:
            raise DataError(f"{self.path}: DataArray '{el.get('Name', '?')}' has type '{tname}', not a number type.")
        dt = np.dtype(self.order + TYPES[tname])
        fmt = el.get("format", "ascii")
        if fmt == "ascii":
            return np.array((el.text or "").split(), dtype=np.float64).astype(dt)
        if fmt == "binary":
            raw = self._from_base64("".join((el.text or "").split()))
        elif fmt == "appended":
            if self.appended is None:
                raise DataError(f"{self.path}: DataArray '{el.get('Name', '?')}' is appended but the file has no AppendedData.")
            off = int(el.get("offset", "0"))
            raw = self._from_base64(self.appended[off:]) if isinstance(self.appended, str) else self._from_raw(off)
        else:
            raise DataError(f"{self.path}: DataArray format '{fmt}' is unknown (expected ascii, binary or appended).")
        return np.frombuffer(raw[:len(raw) // dt.itemsize * dt.itemsize], dt)

    # -- binary payloads: [byte count][data], or [block table][compressed blocks]
    def _ints(self, b: bytes, k: int) -> list[int]:
        return [int(v) for v in np.frombuffer(b, self.header, k)]

    def _inflate(self, blocks: list[bytes]) -> bytes:
        unpack = zlib.decompress if self.compressor == "vtkZLibDataCompressor" else lzma.decompress
        try:
            return b"".join(unpack(b) for b in blocks)
        except (zlib.error, lzma.LZMAError) as e:
            raise DataError(f"{self.path}: a compressed data block is corrupt ({e}).") from None

    def _from_raw(self, off: int) -> bytes:
        data, hs = self.appended, self.header.itemsize
        if not self.compressor:
            (n,) = self._ints(data[off:off + hs], 1)
            return data[off + hs:off + hs + n]
        nb = self._ints(data[off:off + hs], 1)[0]
        sizes = self._ints(data[off + 3 * hs:off + (3 + nb) * hs], nb)
        pos, blocks = off + (3 + nb) * hs, []
        for s in sizes:
            blocks.append(data[pos:pos + s])
            pos += s
        return self._inflate(blocks)

    def _from_base64(self, text: str) -> bytes:
        hs = self.header.itemsize
        chars = lambda nbytes: 4 * math.ceil(nbytes / 3)   # noqa: E731 - base64 length of nbytes
        b64 = lambda s: base64.b64decode(s, validate=False)   # noqa: E731
        if not self.compressor:   # header and data encoded together
            (n,) = self._ints(b64(text[:chars(hs)])[:hs], 1)
            return b64(text[:chars(hs + n)])[hs:hs + n]
        nb = self._ints(b64(text[:chars(hs)])[:hs], 1)[0]   # the block table is encoded on its own
        head = chars((3 + nb) * hs)
        sizes = self._ints(b64(text[:head])[3 * hs:], nb)
        body = b64(text[head:head + chars(sum(sizes))])
        pos, blocks = 0, []
        for s in sizes:
            blocks.append(body[pos:pos + s])
            pos += s
        return self._inflate(blocks)


def _split_appended(data: bytes, path) -> tuple[bytes, bytes | str | None]:
    """(the XML part, the appended payload): raw appended bytes are not XML, so they are cut off
    before parsing. The payload starts after the '_' that follows the AppendedData tag."""
    at = data.find(b"<AppendedData")
    if at < 0:
        return data, None
    close = data.find(b">", at)
    start = data.find(b"_", close)
    end = data.rfind(b"</AppendedData>")
    if close < 0 or start < 0:
        raise DataError(f"{path}: the AppendedData block is malformed.")
    tag = data[at:close]
    payload = data[start + 1:end if end > start else len(data)]
    xml = data[:at] + b"</VTKFile>"
    if b'encoding="base64"' in tag:
        return xml, "".join(payload.decode("ascii", "replace").split())
    return xml, payload


def _parse(data: bytes, path) -> tuple[ET.Element, _Decoder]:
    if b"<!DOCTYPE" in data[:4096] or b"<!ENTITY" in data[:4096]:
        raise DataError(f"{path}: the XML declares a DOCTYPE or entities, which VTK files never do; refused.")
    xml, appended = _split_appended(data, path)
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as e:
        raise DataError(f"{path}: not a VTK XML file ({e}).", hint="Check the file extension matches its contents.") from None
    if root.tag != "VTKFile" or root.get("type") not in ("PolyData", "UnstructuredGrid"):
        raise DataError(f"{path}: a VTK XML file of type '{root.get('type')}'; only PolyData (.vtp) and "
                        f"UnstructuredGrid (.vtu) hold point clouds this reader opens.")
    return root, _Decoder(root, appended, path)


def _cells(piece: ET.Element, dec: _Decoder, kind: str) -> list[np.ndarray]:
    """Polygons of one piece as index arrays (PolyData Polys/Strips are not strips here: Polys only)."""
    sec = piece.find("Polys") if kind == "PolyData" else piece.find("Cells")
    if sec is None:
        return []
    arrays = {el.get("Name"): el for el in sec.findall("DataArray")}
    if "connectivity" not in arrays or "offsets" not in arrays:
        return []
    conn = dec.array(arrays["connectivity"]).astype(np.int64)
    ends = dec.array(arrays["offsets"]).astype(np.int64)
    starts = np.concatenate([[0], ends[:-1]])
    keep = np.ones(len(ends), bool)
    if kind == "UnstructuredGrid" and "types" in arrays:
        keep = np.isin(dec.array(arrays["types"]), list(SURFACE_CELLS))
    return [conn[s:e] for s, e, k in zip(starts, ends, keep) if k]


def _point_data(piece: ET.Element, dec: _Decoder, n: int, path):
    pd = piece.find("PointData")
    normals = colors = None
    columns: dict[str, np.ndarray] = {}
    if pd is None:
        return normals, colors, columns
    normals_name = pd.get("Normals")
    for el in pd.findall("DataArray"):
        name = el.get("Name") or f"array{len(columns)}"
        comps = int(el.get("NumberOfComponents", "1"))
        try:
            a = dec.array(el)
        except DataError as e:
            if "not a number type" in str(e):
                continue   # string arrays: nothing to show per point
            raise
        if a.size != n * comps:
            raise DataError(f"{path}: point array '{name}' holds {a.size} values; {n} points x {comps} expected.")
        a = a.reshape(n, comps) if comps > 1 else a
        low = name.lower()
        if comps == 3 and normals is None and (name == normals_name or low in ("normals", "normal")):
            normals = a.astype(np.float32)
        elif comps in (3, 4) and colors is None and (low in _COLOUR_NAMES or a.dtype == np.uint8):
            colors = to_uint8_colors(a[:, :3])
        else:
            columns[name] = a
    return normals, colors, columns


def read_vtk_xml(path) -> Geometry:
    root, dec = _parse(read_bytes(path), path)
    kind = root.get("type")
    grid = root.find(kind)
    pieces = [] if grid is None else grid.findall("Piece")
    if not pieces:
        raise DataError(f"{path}: the VTK file has no Piece with points.")
    xyz, nrm, col, fields, polys = [], [], [], [], []
    for piece in pieces:
        n = int(piece.get("NumberOfPoints", "0"))
        pts_el = piece.find("Points/DataArray")
        if n == 0 or pts_el is None:
            continue
        p = dec.array(pts_el).astype(np.float64)
        if p.size != 3 * n:
            raise DataError(f"{path}: Points holds {p.size} values; {n} points need {3 * n}.", hint="The file is truncated or corrupt.")
        base = sum(len(v) for v in xyz)
        polys += [c + base for c in _cells(piece, dec, kind)]
        normals, colors, columns = _point_data(piece, dec, n, path)
        xyz.append(p.reshape(n, 3))
        nrm.append(normals)
        col.append(colors)
        fields.append(scalar_fields(columns, set(), n))
    if not xyz:
        raise DataError(f"{path}: the VTK file holds no points.")
    vertices = np.concatenate(xyz)
    if polys:
        tris = triangulate(polys, path)
        if len(tris):
            check_mesh(vertices, tris, path)
            return Geometry(vertices, tris)
    same = lambda parts: None if any(p is None for p in parts) else np.concatenate(parts)   # noqa: E731
    common = set.intersection(*(set(f) for f in fields))
    return Geometry(vertices, None, same(nrm), colors=same(col),
                    fields={k: np.concatenate([f[k] for f in fields]) for k in sorted(common)})
