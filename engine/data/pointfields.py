"""Per-point colours and scalars as the readers keep them (``Geometry.colors`` / ``.fields``).

Files store colour as 8-bit integers (PLY, PCD, most ASCII tables), 16-bit integers (LAS) or
floats in 0..1 (some PLY writers, VTK); the engine keeps one form, (N, 3) uint8 0..255, so a
renderer and an exporter never have to guess again. Every other per-point value is a field:
a 1-D array per name, kept in the file's dtype.
"""
from __future__ import annotations

import numpy as np

COLOR_NAMES = (("red", "green", "blue"), ("r", "g", "b"), ("diffuse_red", "diffuse_green", "diffuse_blue"))


def to_uint8_colors(rgb: np.ndarray) -> np.ndarray:
    """(N, 3) colour values in any of the stored ranges -> uint8 0..255.

    Floats that all lie in 0..1 are fractions; integers (or whole floats) up to 255 are 8-bit;
    anything larger is 16-bit (LAS, some PLY ``ushort`` colours) and scaled by 255/65535.
    """
    a = np.asarray(rgb)
    if a.size == 0:
        return np.zeros(a.shape, np.uint8)
    if a.dtype == np.uint8:
        return np.ascontiguousarray(a)
    f = np.nan_to_num(a.astype(np.float64), nan=0.0)
    top = float(f.max())
    if a.dtype.kind == "f" and top <= 1.0:
        f = f * 255.0
    elif top > 255.0:
        f = f * (255.0 / 65535.0)
    return np.clip(np.rint(f), 0, 255).astype(np.uint8)


def unpack_rgb(packed: np.ndarray) -> np.ndarray:
    """PCL's packed colour (one float32 or uint32 per point, bytes 0x00RRGGBB) -> (N, 3) uint8."""
    u = np.ascontiguousarray(packed).view(np.uint32) if packed.dtype.itemsize == 4 else packed.astype(np.uint32)
    return np.stack([(u >> 16) & 255, (u >> 8) & 255, u & 255], axis=1).astype(np.uint8)


def color_triplet(names) -> tuple[str, str, str] | None:
    """The first known (red, green, blue) name triple that ``names`` holds, else None."""
    have = set(names)
    return next((t for t in COLOR_NAMES if set(t) <= have), None)


def scalar_fields(columns: dict[str, np.ndarray], used, n: int) -> dict[str, np.ndarray]:
    """Every column not in ``used`` as a (n,) array; a multi-value column (PCD COUNT > 1) is kept
    as ``name_0``, ``name_1`` ... when it has at most 4 values, and left out when longer (a
    descriptor histogram is not a scalar to colour points by)."""
    out: dict[str, np.ndarray] = {}
    for name, arr in columns.items():
        if name in used or name.startswith("_"):
            continue
        a = np.asarray(arr)
        if a.ndim == 1 and len(a) == n:
            out[name] = a.copy()
        elif a.ndim == 2 and len(a) == n and a.shape[1] <= 4:
            out.update({f"{name}_{k}": a[:, k].copy() for k in range(a.shape[1])})
    return out
