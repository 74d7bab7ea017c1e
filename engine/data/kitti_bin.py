"""KITTI velodyne scans (``.bin``): headerless float32 records ``x y z reflectance``, 16 bytes a
point, little-endian, as the KITTI odometry/object devkits write them (and nuScenes-style tools
that reuse the layout). Reflectance (0..1 in KITTI) is kept as the field ``reflectance``.
"""
from __future__ import annotations

import numpy as np

from engine.core.errors import DataError
from engine.data.surface import Geometry
from engine.data.text import read_bytes

RECORD = 16   # 4 x float32


def read_kitti_bin(path) -> Geometry:
    data = read_bytes(path)
    if len(data) % RECORD:
        raise DataError(f"{path}: {len(data):,} bytes is not a whole number of KITTI points "
                        f"(16 bytes each: x y z reflectance as float32).",
                        hint="The file is truncated, or it is a .bin of another kind (only KITTI velodyne scans are read).")
    rec = np.frombuffer(data, "<f4").reshape(-1, 4)
    return Geometry(rec[:, :3].astype(np.float64), fields={"reflectance": rec[:, 3].copy()})
