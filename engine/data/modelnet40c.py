"""ModelNet40-C, the corrupted ModelNet40 test set for robustness benchmarks.

The release is one folder: ``label.npy`` (the 2,468 test labels, (N,) or (N, 1)) and one
``data_<corruption>_<severity>.npy`` per corruption and severity 1..5 (``data_gaussian_3.npy``,
``data_distortion_rbf_inv_5.npy``), each (N, points, 3) float32 in the order of ``label.npy``;
``data_original.npy`` is the clean set. Each data file becomes a split named after it
(``gaussian_3``, ``original``) and every split shares ``label.npy``. The labels index the 40
ModelNet40 class names (below, in the order of ModelNet40's shape_names.txt); a
``shape_names.txt`` in the folder is used instead when present.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from engine.core.errors import DataError
from engine.data.dataset import Dataset, Loading
from engine.data.listfiles import read_list
from engine.data.numpy_io import ArraySplit, load_arrays

MODELNET40_CLASSES = [
    "airplane", "bathtub", "bed", "bench", "bookshelf", "bottle", "bowl", "car", "chair", "cone",
    "cup", "curtain", "desk", "door", "dresser", "flower_pot", "glass_box", "guitar", "keyboard", "lamp",
    "laptop", "mantel", "monitor", "night_stand", "person", "piano", "plant", "radio", "range_hood", "sink",
    "sofa", "stairs", "stool", "table", "tent", "toilet", "tv_stand", "vase", "wardrobe", "xbox"]
_DATA = re.compile(r"^data_(.+)\.npy$")


def data_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and _DATA.match(p.name))


def is_modelnet40c(folder: Path) -> bool:
    return (folder / "label.npy").is_file() and bool(data_files(folder))


def split_name(path: Path) -> str:
    """``data_gaussian_3.npy`` -> ``gaussian_3``."""
    return _DATA.match(path.name).group(1)


def open_modelnet40c(folder: Path, loading: Loading, first: Path | None = None) -> Dataset:
    """The folder as a dataset; ``first`` (one data file the user picked) becomes the first split."""
    from engine.data.h5 import class_names, int_labels   # h5py only when such a folder is opened

    labels_path = folder / "label.npy"
    raw = np.load(labels_path, allow_pickle=False)
    names_path = folder / "shape_names.txt"
    names = [n for _, n in read_list(names_path)] if names_path.is_file() else MODELNET40_CLASSES
    files = data_files(folder)
    if first is not None and first in files:
        files.remove(first)
        files.insert(0, first)
    splits, points = {}, None
    for f in files:
        arrays = load_arrays(f)                  # memory-mapped: only the header is read now
        pts = arrays["points"]
        if pts.ndim != 3:
            raise DataError(f"{f}: ModelNet40-C data files hold (shapes, points, 3) arrays; this one is {pts.shape}.")
        labels = int_labels(raw, pts.shape[0], f"{labels_path} (for {f.name})")
        splits[split_name(f)] = ArraySplit(split_name(f), loading, f, arrays, labels)
        points = points or int(pts.shape[1])
    labels = next(iter(splits.values())).labels
    classes = class_names(names, labels, str(labels_path), "shape_names.txt" if names_path.is_file() else "ModelNet40")
    corruptions = sorted({re.sub(r"_\d+$", "", s) for s in splits})
    return Dataset(str(folder), "modelnet40_c", list(classes), splits, loading,
                   {"points_per_sample": loading.points or points, "corruptions": corruptions,
                    "labels_from": labels_path.name})
