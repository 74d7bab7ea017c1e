"""PCL's PCD point clouds: DATA ascii, binary and binary_compressed (LZF).

Any FIELDS layout is read (rgb, curvature, padding '_' fields ...); x y z are the points,
normal_x/y/z (or nx/ny/nz) the normals, an integer ``label`` field becomes part ids, the packed
``rgb``/``rgba`` field (or r g b fields) colours, and every other field a named per-point field.
Organized clouds (HEIGHT > 1) mark missing measurements with NaN: those points are dropped;
in an unorganized cloud a NaN is an error, reported by the loader.
"""
from __future__ import annotations

import numpy as np

from engine.core.errors import DataError
from engine.data.pointfields import color_triplet, scalar_fields, to_uint8_colors, unpack_rgb
from engine.data.surface import Geometry
from engine.data.text import decode_text, number_table, read_bytes

_KINDS = {"F": "f", "I": "i", "U": "u"}
MAX_HEADER = 1 << 16
# LZF's best case is a 264-byte back-reference in 3 bytes (88:1); a header claiming more lies.
LZF_MAX_RATIO = 100


def lzf_decompress(src: bytes, out_len: int, path="data") -> bytes:
    """LZF (liblzf) decompression: literal runs and back-references into the output so far."""
    out = bytearray(out_len)
    ip = op = 0
    n_src = len(src)
    try:
        while ip < n_src:
            ctrl = src[ip]
            ip += 1
            if ctrl < 32:                      # literal run of ctrl + 1 bytes
                n = ctrl + 1
                if ip + n > n_src or op + n > out_len:
                    raise IndexError
                out[op:op + n] = src[ip:ip + n]
                ip += n
                op += n
                continue
            n = ctrl >> 5                      # back-reference: length and offset
            ref = op - ((ctrl & 0x1F) << 8) - 1
            if n == 7:
                n += src[ip]
                ip += 1
            ref -= src[ip]
            ip += 1
            n += 2
            if ref < 0 or op + n > out_len:
                raise IndexError
            if ref + n <= op:
                out[op:op + n] = out[ref:ref + n]
            else:                              # overlapping copy repeats the pattern
                for k in range(n):
                    out[op + k] = out[ref + k]
            op += n
    except IndexError:
        raise DataError(f"{path}: the compressed point data is corrupt or truncated.") from None
    if op != out_len:
        raise DataError(f"{path}: compressed point data gives {op} bytes, the header says {out_len}.",
                        hint="The file is truncated or corrupt.")
    return bytes(out)


def _parse_header(data: bytes, path):
    pos, fields = 0, {}
    while True:
        nl = data.find(b"\n", pos, MAX_HEADER)
        if nl < 0:
            raise DataError(f"{path}: no 'DATA' line in the first {MAX_HEADER} bytes; not a PCD file?",
                            hint="Check the file extension matches its contents.")
        line = decode_text(data[pos:nl], path, "PCD header").strip()
        pos = nl + 1
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition(" ")
        fields[key.upper()] = value.split()
        if key.upper() == "DATA":
            return fields, pos


def _dtype(h: dict, path) -> np.dtype:
    names = h.get("FIELDS")
    if not names:
        raise DataError(f"{path}: the PCD header has no FIELDS line; not a PCD file?",
                        hint="Check the file extension matches its contents.")
    sizes = h.get("SIZE", ["4"] * len(names))
    types = h.get("TYPE", ["F"] * len(names))
    counts = h.get("COUNT", ["1"] * len(names))
    if not len(names) == len(sizes) == len(types) == len(counts):
        raise DataError(f"{path}: FIELDS, SIZE, TYPE and COUNT have different lengths in the PCD header.")
    spec, seen = [], set()
    for n, s, t, c in zip(names, sizes, types, counts):
        try:
            dt = np.dtype(f"<{_KINDS[t.upper()]}{int(s)}")
        except (KeyError, TypeError, ValueError):
            raise DataError(f"{path}: PCD field '{n}' has an unknown type {t}{s}.") from None
        if not c.isdigit() or int(c) < 1:
            raise DataError(f"{path}: PCD field '{n}' has COUNT '{c}'; expected a whole number >= 1.")
        c = int(c)
        name = n if n not in seen else f"{n}_{len(seen)}"   # '_' padding fields repeat
        seen.add(name)
        spec.append((name, dt) if c == 1 else (name, dt, (c,)))
    return np.dtype(spec)


def _declared_points(h, path) -> int:
    try:
        if "POINTS" in h:
            return int(h["POINTS"][0])
        return int(h["WIDTH"][0]) * int(h.get("HEIGHT", ["1"])[0])
    except (KeyError, IndexError, ValueError):
        raise DataError(f"{path}: the PCD header has no valid POINTS (or WIDTH/HEIGHT) line.") from None


def read_pcd(path) -> Geometry:
    data = read_bytes(path)
    h, pos = _parse_header(data, path)
    dt = _dtype(h, path)
    n = _declared_points(h, path)
    if n < 0:
        raise DataError(f"{path}: the PCD header declares {n} points.")
    kind = (h["DATA"] or ["?"])[0].lower()
    if kind == "ascii":
        text = decode_text(data[pos:], path, "ascii PCD")
        cols = sum(int(np.prod(dt[k].shape or (1,))) for k in dt.names)
        tab = number_table(text.splitlines(), path, "PCD points", min_cols=cols)
        if tab.shape[1] != cols:
            raise DataError(f"{path}: PCD rows have {tab.shape[1]} values, the header declares {cols}.")
        flat = np.empty(len(tab), dt)
        j = 0
        for k in dt.names:
            w = int(np.prod(dt[k].shape or (1,)))
            flat[k] = tab[:, j:j + w].reshape(flat[k].shape)
            j += w
        rec = flat
    elif kind == "binary":
        need = dt.itemsize * n
        if len(data) - pos < need:
            raise DataError(f"{path}: binary PCD declares {n} points ({need} bytes) but holds "
                            f"{len(data) - pos} bytes.", hint="The file is truncated.")
        rec = np.frombuffer(data, dt, n, pos)
    elif kind == "binary_compressed":
        if len(data) - pos < 8:
            raise DataError(f"{path}: binary_compressed PCD is truncated (no size words).")
        csize, usize = (int(x) for x in np.frombuffer(data, "<u4", 2, pos))
        if usize > LZF_MAX_RATIO * csize + 1024:
            raise DataError(f"{path}: compressed PCD declares {usize:,} bytes from {csize:,} compressed bytes, "
                            f"more than LZF can give (at most {LZF_MAX_RATIO}:1).",
                            hint="The file is crafted or damaged; refused before reading it.")
        if usize != dt.itemsize * n:
            raise DataError(f"{path}: compressed PCD holds {usize} bytes, {n} points need {dt.itemsize * n}.")
        if len(data) - pos - 8 < csize:
            raise DataError(f"{path}: binary_compressed PCD is truncated.")
        raw = lzf_decompress(data[pos + 8:pos + 8 + csize], usize, path)
        rec = np.empty(n, dt)
        off = 0   # compressed PCD stores each field for all points, one field after another
        for k in dt.names:
            w = dt[k].itemsize * n
            rec[k] = np.frombuffer(raw, dt[k].base, w // dt[k].base.itemsize, off).reshape(rec[k].shape)
            off += w
    else:
        raise DataError(f"{path}: unknown PCD DATA kind '{kind}'.", hint="Expected ascii, binary or binary_compressed.")
    names = set(rec.dtype.names)
    if not {"x", "y", "z"} <= names:
        raise DataError(f"{path}: the PCD has no x, y, z fields (fields: {', '.join(rec.dtype.names)}).")
    xyz = np.stack([rec["x"], rec["y"], rec["z"]], axis=1).astype(np.float64)
    normals = None
    for nn in (("normal_x", "normal_y", "normal_z"), ("nx", "ny", "nz")):
        if set(nn) <= names:
            normals = np.stack([rec[c] for c in nn], axis=1).astype(np.float32)
    part_ids = rec["label"].astype(np.int64) if "label" in names and rec.dtype["label"].kind in "iu" else None
    colors, used = _colors(rec, names)
    used |= {"x", "y", "z", "normal_x", "normal_y", "normal_z", "nx", "ny", "nz"}
    used |= {"label"} if part_ids is not None else set()
    fields = scalar_fields({k: rec[k] for k in rec.dtype.names}, used, len(xyz))
    if int(h.get("HEIGHT", ["1"])[0]) > 1:   # organized cloud: NaN marks "no measurement"
        ok = np.isfinite(xyz).all(axis=1)
        xyz = xyz[ok]
        normals = None if normals is None else normals[ok]
        part_ids = None if part_ids is None else part_ids[ok]
        colors = None if colors is None else colors[ok]
        fields = {k: v[ok] for k, v in fields.items()}
    return Geometry(xyz, None, normals, part_ids, colors=colors, fields=fields)


def _colors(rec: np.ndarray, names: set) -> tuple[np.ndarray | None, set]:
    """PCL packs colour into one 4-byte field ``rgb`` or ``rgba`` (0x00RRGGBB, usually typed
    F 4); some writers use separate r g b fields instead. Returns (colours, the fields used)."""
    for packed in ("rgb", "rgba"):
        if packed in names and rec.dtype[packed].itemsize == 4 and not rec.dtype[packed].shape:
            return unpack_rgb(rec[packed]), {packed}
    rgb = color_triplet(names)
    if rgb is None:
        return None, set()
    return to_uint8_colors(np.stack([rec[c] for c in rgb], axis=1)), set(rgb)
