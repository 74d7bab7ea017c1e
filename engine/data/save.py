"""Writing the PointNet HDF5 layout, atomically, so anything PointLens makes re-opens anywhere.

``save_h5(path, ...)`` writes one file: ``data`` (n, N, 3) float32, ``label`` (n, 1) (uint8 for up
to 256 classes, as PointNet's files), optional ``normal`` and ``pid``, the class names as a
``shape_names`` JSON attribute, and ``shape_names.txt`` beside it for other tools (or
``<stem>_shape_names.txt`` if a different shape_names.txt is already there).
``save_h5_folder(folder, {"train": {...}, "test": {...}}, classes)`` writes the folder layout:
``ply_data_<split>0.h5``, ``<split>_files.txt`` and ``shape_names.txt``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

import h5py
import numpy as np

from engine.atomic import atomic_path
from engine.core.errors import DataError
from engine.data.h5 import release

SPLITS = ("train", "test", "val")


def _check(path, points, labels, classes, normals, part_ids):
    pts = np.asarray(points)
    if pts.ndim != 3 or pts.shape[2] != 3 or pts.shape[0] == 0 or pts.shape[1] == 0:
        raise DataError(f"{path}: points must have shape (shapes, points, 3), got {pts.shape}.")
    if pts.dtype.kind not in "fiu" or not np.isfinite(pts).all():
        raise DataError(f"{path}: points must be finite numbers (found {pts.dtype} with NaN/Inf or non-numbers).")
    lab = np.asarray(labels)
    if lab.ndim == 2 and lab.shape[1] == 1:
        lab = lab[:, 0]
    if lab.shape != (pts.shape[0],) or lab.dtype.kind not in "iu":
        raise DataError(f"{path}: labels must be {pts.shape[0]} integers, got {lab.dtype} {lab.shape}.")
    if len(classes) == 0 or lab.min() < 0 or lab.max() >= len(classes):
        raise DataError(f"{path}: labels must lie in 0..{len(classes) - 1} (one per class name); "
                        f"found {int(lab.min())}..{int(lab.max())}.")
    for name, arr, shape in (("normals", normals, pts.shape), ("part_ids", part_ids, pts.shape[:2])):
        if arr is not None and np.shape(arr) != shape:
            raise DataError(f"{path}: {name} must have shape {shape}, got {np.shape(arr)}.")
    return pts, lab


def _write_names(folder: Path, stem: str, classes: list[str]) -> Path:
    target = folder / "shape_names.txt"
    text = "\n".join(classes) + "\n"
    if target.exists():
        try:
            same = target.read_text("utf-8").split() == list(classes)
        except (OSError, UnicodeDecodeError):
            same = False
        if not same:
            target = folder / f"{stem}_shape_names.txt"
    with atomic_path(target) as tmp:
        tmp.write_text(text, "utf-8")
    return target


def save_h5(path, points, labels, classes, normals=None, part_ids=None, names_file: bool = True) -> Path:
    """Write one PointNet-layout file (atomic). Returns the path written."""
    path = Path(path)
    classes = [str(c) for c in classes]
    pts, lab = _check(path, points, labels, classes, normals, part_ids)
    release(path)   # a pooled read handle on the old file must not outlive its replacement
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.create_dataset("data", data=pts.astype(np.float32))
            f.create_dataset("label", data=lab.astype(np.uint8 if len(classes) <= 256 else np.int32)[:, None])
            if normals is not None:
                f.create_dataset("normal", data=np.asarray(normals, np.float32))
            if part_ids is not None:
                f.create_dataset("pid", data=np.asarray(part_ids).astype(np.int32))
            f.attrs["shape_names"] = json.dumps(classes)
    if names_file:
        _write_names(path.parent, path.stem, classes)
    return path


def save_h5_folder(folder, splits: Mapping[str, Mapping[str, np.ndarray]], classes) -> Path:
    """Write ``{split: {"points", "labels"[, "normals", "part_ids"]}}`` as a PointNet folder."""
    folder = Path(folder)
    for name, arrays in splits.items():
        if name not in SPLITS:
            raise DataError(f"{folder}: split '{name}' cannot be written; use {', '.join(SPLITS)}.")
        if "points" not in arrays or "labels" not in arrays:
            raise DataError(f"{folder}: split '{name}' needs 'points' and 'labels' arrays.")
        fname = f"ply_data_{name}0.h5"
        save_h5(folder / fname, arrays["points"], arrays["labels"], classes,
                arrays.get("normals"), arrays.get("part_ids"), names_file=False)
        with atomic_path(folder / f"{name}_files.txt") as tmp:
            tmp.write_text(fname + "\n", "utf-8")
    with atomic_path(folder / "shape_names.txt") as tmp:
        tmp.write_text("\n".join(str(c) for c in classes) + "\n", "utf-8")
    return folder
