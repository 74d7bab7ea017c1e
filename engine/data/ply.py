"""PLY meshes and clouds: ascii, binary little- and big-endian.

Faces come from a ``face`` element (``vertex_indices`` or ``vertex_index``) or from triangle
strips (``tristrips``, -1 restarts a strip, as in igea.ply). A PLY without faces is a point cloud;
its ``nx ny nz`` become normals, an integer ``label`` property per-point part ids, ``red green
blue`` (or ``r g b``, ``diffuse_*``) colours, and every other vertex property a named field.
Unknown elements are parsed and skipped so the ones after them are read at the right offset.
"""
from __future__ import annotations

import numpy as np

from engine.core.errors import DataError
from engine.data.pointfields import color_triplet, scalar_fields, to_uint8_colors
from engine.data.surface import Geometry, check_mesh, fan, triangulate
from engine.data.text import decode_text, read_bytes

TYPES = {"char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1", "short": "i2", "int16": "i2",
         "ushort": "u2", "uint16": "u2", "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
         "float": "f4", "float32": "f4", "double": "f8", "float64": "f8"}
MAX_HEADER = 1 << 16


class _Element:
    def __init__(self, name: str, count: int):
        self.name, self.count = name, count
        self.props: list[tuple[str, str, str | None]] = []   # (name, value type, list count type)


def _header(data: bytes, path):
    end = data.find(b"end_header", 0, MAX_HEADER)
    if not data.startswith(b"ply") or end < 0:
        raise DataError(f"{path}: not a PLY file (no 'ply' ... 'end_header' header).",
                        hint="Check the file extension matches its contents.")
    nl = data.find(b"\n", end)
    body = len(data) if nl < 0 else nl + 1
    text = decode_text(data[:end], path, "PLY header")
    fmt, elems = None, []
    for raw in text.splitlines()[1:]:
        t = raw.split()
        if not t or t[0] in ("comment", "obj_info"):
            continue
        try:
            if t[0] == "format":
                fmt = t[1]
            elif t[0] == "element":
                elems.append(_Element(t[1], int(t[2])))
            elif t[0] == "property":
                if not elems:
                    raise ValueError
                if t[1] == "list":
                    elems[-1].props.append((t[4], TYPES[t[3]], TYPES[t[2]]))
                else:
                    elems[-1].props.append((t[2], TYPES[t[1]], None))
        except (IndexError, KeyError, ValueError):
            raise DataError(f"{path}: malformed PLY header line '{raw.strip()[:60]}'.") from None
    if fmt not in ("ascii", "binary_little_endian", "binary_big_endian"):
        raise DataError(f"{path}: unknown PLY format '{fmt}'.",
                        hint="Expected ascii, binary_little_endian or binary_big_endian.")
    return fmt, elems, body


def _binary(data: bytes, pos: int, elems, order: str, path) -> dict:
    out = {}
    for el in elems:
        lists = [p for p in el.props if p[2] is not None]
        if not lists:   # fixed-size records: one frombuffer for the whole element
            dt = np.dtype([(n, order + t) for n, t, _ in el.props])
            need = dt.itemsize * el.count
            if pos + need > len(data):
                raise DataError(f"{path}: the file ends inside element '{el.name}' "
                                f"({len(data) - pos} of {need} bytes).", hint="The file is truncated.")
            out[el.name] = np.frombuffer(data, dt, el.count, pos)
            pos += need
            continue
        if len(el.props) == 1 and el.count > 0:   # one list (faces): try the equal-length fast path
            _, vt, ct = el.props[0]
            if pos + np.dtype(ct).itemsize <= len(data):
                k = int(np.frombuffer(data, order + ct, 1, pos)[0])
                size = np.dtype(ct).itemsize + k * np.dtype(vt).itemsize
                if k > 0 and pos + size * el.count <= len(data):
                    dt = np.dtype([("n", order + ct), ("v", order + vt, (k,))])
                    rec = np.frombuffer(data, dt, el.count, pos)
                    if (rec["n"] == k).all():
                        out[el.name] = {el.props[0][0]: rec["v"]}
                        pos += dt.itemsize * el.count
                        continue
        cols: dict[str, list] = {n: [] for n, _, _ in el.props}
        try:
            for _ in range(el.count):
                for n, vt, ct in el.props:
                    if ct is None:
                        cols[n].append(np.frombuffer(data, order + vt, 1, pos)[0])
                        pos += np.dtype(vt).itemsize
                    else:
                        k = int(np.frombuffer(data, order + ct, 1, pos)[0])
                        pos += np.dtype(ct).itemsize
                        if k < 0:
                            raise ValueError
                        cols[n].append(np.frombuffer(data, order + vt, k, pos))
                        pos += k * np.dtype(vt).itemsize
        except ValueError:
            raise DataError(f"{path}: the file ends inside element '{el.name}'.", hint="The file is truncated.") from None
        out[el.name] = cols
    return out


def _ascii(text: str, elems, path) -> dict:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    out, row = {}, 0
    for el in elems:
        chunk = lines[row:row + el.count]
        if len(chunk) < el.count:
            raise DataError(f"{path}: element '{el.name}' declares {el.count} lines but {len(chunk)} follow.",
                            hint="The file is truncated or the header counts are wrong.")
        row += el.count
        try:
            if all(p[2] is None for p in el.props):
                arr = np.array([ln.split()[:len(el.props)] for ln in chunk], dtype=np.float64)
                arr = arr.reshape(el.count, len(el.props))
                # the declared types, as the binary path gives them (a uchar colour stays 8-bit)
                out[el.name] = {n: arr[:, j] if t[0] == "f" else arr[:, j].astype(t)
                                for j, (n, t, _) in enumerate(el.props)}
                continue
            cols: dict[str, list] = {n: [] for n, _, _ in el.props}
            for ln in chunk:
                t, k = ln.split(), 0
                for n, _, ct in el.props:
                    if ct is None:
                        cols[n].append(float(t[k]))
                        k += 1
                    else:
                        c = int(t[k])
                        cols[n].append(np.array(t[k + 1:k + 1 + c], dtype=np.float64))
                        if len(cols[n][-1]) != c:
                            raise IndexError
                        k += 1 + c
            out[el.name] = cols
        except (ValueError, IndexError):
            raise DataError(f"{path}: malformed line in element '{el.name}' of the ascii PLY.",
                            hint="The values do not match the header's properties.") from None
    return out


def _field(el, name):
    """A property's values from a parsed element (structured array or dict of columns)."""
    if isinstance(el, np.ndarray):
        return el[name] if name in (el.dtype.names or ()) else None
    return np.asarray(el[name]) if name in el else None


def strips_to_triangles(strip: np.ndarray) -> np.ndarray:
    """Triangle strips with -1 restarts -> triangles, alternating winding, degenerate ones dropped."""
    a = np.asarray(strip, np.int64)
    if len(a) < 3:
        return np.zeros((0, 3), np.int64)
    i = np.arange(len(a) - 2)
    ok = (a[i] >= 0) & (a[i + 1] >= 0) & (a[i + 2] >= 0)
    # position within the current strip (counted from the last -1) decides the winding
    last = np.maximum.accumulate(np.where(a < 0, np.arange(len(a)), -1))
    pos = np.arange(len(a)) - last - 1
    odd = (pos[i] % 2 == 1)
    t = np.stack([a[i], a[i + 1], a[i + 2]], axis=1)
    t[odd] = t[odd][:, [1, 0, 2]]
    t = t[ok]
    keep = (t[:, 0] != t[:, 1]) & (t[:, 1] != t[:, 2]) & (t[:, 0] != t[:, 2])
    return t[keep]


def _check_counts(elems, fmt: str, data: bytes, body: int, path) -> None:
    """Declared element counts must fit in the bytes that follow the header (each binary record
    takes at least its fixed-size fields, each ascii record at least 2 bytes) - checked before
    anything is allocated for them."""
    left, need = len(data) - body, 0
    for el in elems:
        if el.count < 0:
            raise DataError(f"{path}: element '{el.name}' declares a negative count ({el.count}).")
        rec = 2 if fmt == "ascii" else sum(np.dtype(ct or vt).itemsize for _, vt, ct in el.props)
        need += el.count * max(rec, 1 if el.props else 0)
        if need > left:
            raise DataError(f"{path}: the header declares {el.count:,} '{el.name}' records, more than the "
                            f"{left:,} bytes after the header can hold.",
                            hint="The file is truncated or its header counts are wrong.")


def read_ply(path) -> Geometry:
    data = read_bytes(path)
    fmt, elems, body = _header(data, path)
    _check_counts(elems, fmt, data, body, path)
    if fmt == "ascii":
        parsed = _ascii(decode_text(data[body:], path, "ascii PLY"), elems, path)
    else:
        parsed = _binary(data, body, elems, "<" if fmt.endswith("little_endian") else ">", path)
    vert = parsed.get("vertex")
    if vert is None or any(_field(vert, c) is None for c in "xyz"):
        raise DataError(f"{path}: the PLY has no 'vertex' element with x, y, z properties.")
    xyz = np.stack([np.asarray(_field(vert, c), np.float64) for c in "xyz"], axis=1)
    tris = []
    for name in ("face", "tristrips"):
        el = parsed.get(name)
        if el is None:
            continue
        key = next((k for k in ("vertex_indices", "vertex_index") if k in el), None)
        if key is None:
            raise DataError(f"{path}: element '{name}' has no 'vertex_indices' list.")
        v = el[key]
        if name == "tristrips":
            tris += [strips_to_triangles(s) for s in v]
        elif isinstance(v, np.ndarray) and v.ndim == 2:
            tris.append(fan(v) if v.shape[1] >= 3 else np.zeros((0, 3), np.int64))
        else:
            tris.append(triangulate(list(v), path))
    tris = [t for t in tris if len(t)]
    if tris:
        t = np.concatenate(tris, axis=0).astype(np.int64)
        check_mesh(xyz, t, path)
        return Geometry(xyz, t)
    normals = None
    if all(_field(vert, c) is not None for c in ("nx", "ny", "nz")):
        normals = np.stack([np.asarray(_field(vert, c), np.float32) for c in ("nx", "ny", "nz")], axis=1)
    labels = _field(vert, "label")
    part_ids = None
    if labels is not None and np.all(np.mod(np.asarray(labels, np.float64), 1) == 0):
        part_ids = np.asarray(labels, np.int64)
    used = {"x", "y", "z", "nx", "ny", "nz"} | ({"label"} if part_ids is not None else set())
    names = vert.dtype.names if isinstance(vert, np.ndarray) else [n for n in vert if _scalar(vert[n])]
    rgb = color_triplet(names)
    colors = None
    if rgb is not None:
        colors = to_uint8_colors(np.stack([np.asarray(_field(vert, c)) for c in rgb], axis=1))
        used |= set(rgb)
    fields = scalar_fields({n: _field(vert, n) for n in names}, used, len(xyz))
    return Geometry(xyz, None, normals, part_ids, colors=colors, fields=fields)


def _scalar(column) -> bool:
    """Whether a parsed ascii/slow-path column holds one number per vertex (not a list property)."""
    return not (len(column) and isinstance(column[0], np.ndarray))
