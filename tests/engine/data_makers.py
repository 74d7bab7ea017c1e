"""Writers of small files in every format the data readers accept (for tests; not collected)."""
from __future__ import annotations

import struct
from pathlib import Path

import h5py
import numpy as np

CUBE_V = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]], float)
CUBE_QUADS = np.array([[0, 3, 2, 1], [4, 5, 6, 7], [0, 1, 5, 4], [2, 3, 7, 6], [1, 2, 6, 5], [0, 4, 7, 3]])


def quads_to_tris(q):
    return np.concatenate([q[:, [0, 1, 2]], q[:, [0, 2, 3]]])


def tri_area(v, t):
    a, b, c = v[t[:, 0]], v[t[:, 1]], v[t[:, 2]]
    return 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1).sum()


def write_off(path, v, faces, header_bug=False, keyword="OFF", vertex_extra=""):
    lines = [f"{keyword}{len(v)} {len(faces)} 0" if header_bug else keyword]
    if not header_bug:
        lines.append(f"{len(v)} {len(faces)} 0")
    lines += [f"{x:.9g} {y:.9g} {z:.9g}{vertex_extra}" for x, y, z in v]
    lines += [f"{len(f)} " + " ".join(map(str, f)) for f in faces]
    Path(path).write_text("\n".join(lines) + "\n")
    return path


def write_ply(path, v, faces=None, fmt="ascii", normals=None, labels=None, tristrips=None):
    props = ["x", "y", "z"] + (["nx", "ny", "nz"] if normals is not None else [])
    head = ["ply", f"format {fmt} 1.0", "comment made by PointLens tests", f"element vertex {len(v)}"]
    head += [f"property double {p}" for p in props] + (["property int label"] if labels is not None else [])
    if faces is not None:
        head += [f"element face {len(faces)}", "property list uchar int vertex_indices"]
    if tristrips is not None:
        head += ["element tristrips 1", "property list int int vertex_indices"]
    head.append("end_header")
    cols = [np.asarray(v, float)] + ([np.asarray(normals, float)] if normals is not None else [])
    table = np.concatenate(cols, 1)
    if fmt == "ascii":
        body = [" ".join(f"{x:.9g}" for x in row) + (f" {int(labels[i])}" if labels is not None else "")
                for i, row in enumerate(table)]
        body += [f"{len(f)} " + " ".join(map(str, f)) for f in (faces if faces is not None else [])]
        if tristrips is not None:
            body.append(f"{len(tristrips)} " + " ".join(map(str, tristrips)))
        Path(path).write_text("\n".join(head + body) + "\n")
        return path
    o = "<" if fmt == "binary_little_endian" else ">"
    out = bytearray(("\n".join(head) + "\n").encode())
    for i, row in enumerate(table):
        out += struct.pack(o + "d" * len(row), *row)
        if labels is not None:
            out += struct.pack(o + "i", int(labels[i]))
    for f in faces if faces is not None else []:
        out += struct.pack(o + "B" + "i" * len(f), len(f), *f)
    if tristrips is not None:
        out += struct.pack(o + "i" + "i" * len(tristrips), len(tristrips), *tristrips)
    Path(path).write_bytes(bytes(out))
    return path


def write_obj(path, v, faces, style="plain"):
    lines = ["# test", "mtllib missing.mtl", "o thing"] + [f"v {x} {y} {z}" for x, y, z in v]
    lines += ["vt 0 0", "vn 0 0 1"]
    for f in faces:
        if style == "plain":
            lines.append("f " + " ".join(str(i + 1) for i in f))
        elif style == "slash":
            lines.append("f " + " ".join(f"{i + 1}/1/1" for i in f))
        else:   # negative: relative to the end of the vertex list
            lines.append("f " + " ".join(str(i - len(v)) for i in f))
    Path(path).write_text("\n".join(lines) + "\n")
    return path


def write_stl(path, v, tris, binary=True):
    v = np.asarray(v, np.float32)
    if binary:
        out = bytearray(b"solid but actually binary".ljust(80, b" ")) + struct.pack("<I", len(tris))
        for t in tris:
            out += struct.pack("<3f", 0, 0, 0) + v[t].astype("<f4").tobytes() + b"\0\0"
        Path(path).write_bytes(bytes(out))
    else:
        lines = ["solid test"]
        for t in tris:
            lines += ["  facet normal 0 0 0", "    outer loop"] + [f"      vertex {a} {b} {c}" for a, b, c in v[t]]
            lines += ["    endloop", "  endfacet"]
        Path(path).write_text("\n".join(lines + ["endsolid test"]) + "\n")
    return path


def lzf_literals(data: bytes) -> bytes:
    """A valid LZF stream made only of literal runs (the decoder must accept it)."""
    out = bytearray()
    for i in range(0, len(data), 32):
        chunk = data[i:i + 32]
        out.append(len(chunk) - 1)
        out += chunk
    return bytes(out)


def write_pcd(path, pts, fmt="ascii", normals=None, height=1, extra_rgb=False):
    pts = np.asarray(pts, np.float32)
    fields = ["x", "y", "z"] + (["rgb"] if extra_rgb else []) + (["normal_x", "normal_y", "normal_z"] if normals is not None else [])
    cols = [pts] + ([np.full((len(pts), 1), 4.2108e6, np.float32)] if extra_rgb else []) + (
        [np.asarray(normals, np.float32)] if normals is not None else [])
    table = np.concatenate(cols, 1).astype("<f4")
    n = len(pts)
    head = ["# .PCD v0.7 - Point Cloud Data file format", "VERSION 0.7", "FIELDS " + " ".join(fields),
            "SIZE " + " ".join("4" * len(fields)), "TYPE " + " ".join("F" * len(fields)),
            "COUNT " + " ".join("1" * len(fields)), f"WIDTH {n // height}", f"HEIGHT {height}",
            "VIEWPOINT 0 0 0 1 0 0 0", f"POINTS {n}", f"DATA {fmt}"]
    out = ("\n".join(head) + "\n").encode()
    if fmt == "ascii":
        out += ("\n".join(" ".join(f"{x:.7g}" for x in row) for row in table) + "\n").encode()
    elif fmt == "binary":
        out += table.tobytes()
    else:
        raw = np.ascontiguousarray(table.T).tobytes()   # field-major, as PCL writes it
        comp = lzf_literals(raw)
        out += struct.pack("<II", len(comp), len(raw)) + comp
    Path(path).write_bytes(out)
    return path


def write_pointnet_h5(path, data, label, **extra):
    with h5py.File(path, "w") as f:
        f.create_dataset("data", data=data)
        if label is not None:
            f.create_dataset("label", data=label)
        for k, v in extra.items():
            f.create_dataset(k, data=v)
    return path


def clouds(n=6, points=64, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, points, 3)).astype(np.float32), (np.arange(n) % classes).astype(np.int64)
