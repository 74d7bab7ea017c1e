"""Parsed text clouds kept on disk, so a text dataset is parsed once, not on every read.

PointNet++'s ``modelnet40_normal_resampled`` layout stores each shape as 10,000 lines of text;
parsing one costs tens of milliseconds, which dominates an epoch over 10,000 shapes. The first
read of a file stores its vertices (+ normals) as a float64 ``.npy`` under the cache folder,
named by a hash of the file's path, size and modification time: an edited file is parsed again,
and a damaged cache entry is ignored and rewritten. ``.npy`` files are read with
``allow_pickle=False`` (they hold numbers only).
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from engine.atomic import atomic_path
from engine.core.errors import DataError
from engine.data.surface import Geometry

VERSION = 1


def cache_root() -> Path:
    from engine.data.builtin import cache_dir

    return cache_dir() / "parsed"


def _entry(path: Path) -> Path:
    try:
        st = path.stat()
    except OSError as e:
        raise DataError(f"{path}: cannot read the file ({e.strerror or e}).",
                        hint="It was moved or deleted after the dataset was opened.") from None
    key = f"{VERSION}|{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()
    return cache_root() / f"{hashlib.sha1(key).hexdigest()}.npy"


def cached_cloud(path: str | os.PathLike, parse) -> Geometry:
    """``parse(path) -> Geometry`` of a point cloud (no triangles), through the disk cache."""
    path = Path(path)
    entry = _entry(path)
    try:
        table = np.load(entry, allow_pickle=False)
        if table.ndim == 2 and table.shape[1] in (3, 6) and np.isfinite(table).all():
            return Geometry(table[:, :3], normals=table[:, 3:] if table.shape[1] == 6 else None)
    except (OSError, ValueError, EOFError):
        pass                                   # not cached yet, or a damaged / empty entry: parse again
    geom = parse(path)
    if geom.is_mesh or geom.part_ids is not None or geom.colors is not None or geom.fields:
        return geom                            # only plain clouds are cached (the entry holds xyz + normals)
    table = geom.vertices if geom.normals is None else np.concatenate([geom.vertices, geom.normals], 1)
    try:
        with atomic_path(entry) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, np.ascontiguousarray(table, np.float64))
    except OSError:
        pass                                   # a read-only cache folder only costs speed
    return geom
