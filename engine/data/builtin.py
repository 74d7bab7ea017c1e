"""The built-in dataset: ten ModelNet10-like classes made procedurally, deterministic from a seed.

100 training and 30 test shapes per class, 2,048 points each (z up, unit sphere), generated in
a few seconds and cached as one HDF5 file in the user cache folder (``POINTLENS_CACHE_DIR``
overrides it), keyed by seed and ``GENERATOR_VERSION``: change the generator, bump the version.
Each shape has its own random stream (seed, split, class, index), so a small variant made for
tests holds exactly the first shapes of the full one.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np

from engine.atomic import atomic_path
from engine.data.h5safe import open_h5
from engine.core.errors import DataError
from engine.data.builtin_shapes import CLASSES, make_shape
from engine.data.dataset import Dataset, Loading
from engine.data.h5 import H5Split, inspect, release

GENERATOR_VERSION = 2
POINTS = 2048
PER_CLASS = {"train": 100, "test": 30}
_SPLIT_IDS = {"train": 0, "test": 1}


def generate(seed: int = 0, per_class: dict[str, int] | None = None, points: int | None = None
             ) -> dict[str, dict[str, np.ndarray]]:
    """{split: {"points" (n, points, 3), "normals", "labels" (n,)}}, class-major order."""
    per_class = per_class or PER_CLASS
    points = points or POINTS
    out = {}
    for split, count in per_class.items():
        pts = np.empty((count * len(CLASSES), points, 3), np.float32)
        nrm = np.empty_like(pts)
        labels = np.repeat(np.arange(len(CLASSES)), count)
        for k, label in enumerate(labels):
            rng = np.random.default_rng([seed, _SPLIT_IDS.get(split, 2), int(label), k % count])
            pts[k], nrm[k] = make_shape(int(label), points, rng)
        out[split] = {"points": pts, "normals": nrm, "labels": labels.astype(np.int64)}
    return out


def cache_dir() -> Path:
    env = os.environ.get("POINTLENS_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("pointlens"))


def cache_path(seed: int) -> Path:
    return cache_dir() / f"builtin-v{GENERATOR_VERSION}-seed{seed}.h5"


def write_cache(path: Path, seed: int, data: dict) -> None:
    release(path)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            for split, arrays in data.items():
                g = f.create_group(split)
                g.create_dataset("data", data=arrays["points"])
                g.create_dataset("normal", data=arrays["normals"].astype(np.float16))   # half the size
                g.create_dataset("label", data=arrays["labels"].astype(np.uint8)[:, None])
            f.attrs["shape_names"] = json.dumps(CLASSES)
            f.attrs["generator_version"] = GENERATOR_VERSION
            f.attrs["seed"] = seed
            f.attrs["up_axis"] = "z"


def _valid(path: Path, seed: int) -> bool:
    try:
        with open_h5(path, "cache") as f:
            return (int(f.attrs.get("generator_version", -1)) == GENERATOR_VERSION and int(f.attrs["seed"]) == seed
                    and all(f[s]["data"].shape == (n * len(CLASSES), POINTS, 3) for s, n in PER_CLASS.items()))
    except (OSError, KeyError, ValueError, DataError):
        return False


def ensure_cache(seed: int = 0) -> Path:
    """The cache file for ``seed``, generating it first if missing or stale."""
    path = cache_path(seed)
    if not path.is_file() or not _valid(path, seed):
        try:
            write_cache(path, seed, generate(seed))
        except OSError as e:
            raise DataError(f"{path}: cannot write the built-in dataset's cache ({e.strerror or e}).",
                            hint="Set POINTLENS_CACHE_DIR to a writable folder.") from None
        for old in path.parent.glob(f"builtin-v*-seed{seed}.h5"):   # earlier generator versions
            if old != path:
                old.unlink(missing_ok=True)
    return path


def open_builtin(seed: int = 0, loading: Loading | None = None) -> Dataset:
    loading = loading or Loading()
    path = ensure_cache(seed)
    splits = {s: H5Split(s, loading, [inspect(path, f"{s}/")]) for s in PER_CLASS}
    spec = "builtin" if seed == 0 else f"builtin:{seed}"
    return Dataset(spec, "builtin", list(CLASSES), splits, loading, {
        "points_per_sample": loading.points or POINTS, "has_normals": True, "up_axis": "z",
        "seed": seed, "generator_version": GENERATOR_VERSION, "file": str(path),
        "fingerprint": f"builtin-v{GENERATOR_VERSION}-seed{seed}",
    })
