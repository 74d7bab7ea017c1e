"""ScanObjectNN h5 files: ``training_objectdataset<variant>.h5`` / ``test_objectdataset<variant>.h5``.

Keys ``data`` (n, 2048, 3), ``label`` (n,), ``mask`` (per-point foreground). The plain variant
(OBJ_ONLY or OBJ_BG, by folder) gives splits "train"/"test"; other variants in the same folder
(e.g. ``_augmentedrot_scale75`` = PB_T50_RS) give "train_augmentedrot_scale75" etc. Opening one
file opens its train/test pair. Class order from REFERENCES §7 (openpoints).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from engine.data.dataset import Dataset, Loading
from engine.data.h5 import H5Split, class_names, inspect, read_names_file
from engine.data.pointnet_h5 import names_file

CLASSES = ["bag", "bin", "box", "cabinet", "chair", "desk", "display", "door", "shelf", "table",
           "bed", "pillow", "sink", "sofa", "toilet"]
PATTERN = re.compile(r"^(training|test)_objectdataset(.*)\.h5$", re.IGNORECASE)


def is_scanobjectnn(path: Path) -> bool:
    if path.is_file():
        return bool(PATTERN.match(path.name))
    return any(PATTERN.match(p.name) for p in path.iterdir() if p.is_file())


def open_scanobjectnn(path: Path, loading: Loading) -> Dataset:
    folder = path if path.is_dir() else path.parent
    only = PATTERN.match(path.name).group(2) if path.is_file() else None
    files = sorted(p for p in folder.iterdir() if p.is_file() and PATTERN.match(p.name))
    variants = sorted({PATTERN.match(f.name).group(2) for f in files}, key=lambda v: (len(v), v))
    primary = only if only is not None else variants[0]   # it gets the plain names train/test
    splits = {}
    for variant in ([only] if only is not None else variants):
        for f in files:
            kind, v = PATTERN.match(f.name).groups()
            if v == variant:
                name = ("train" if kind.lower() == "training" else "test") + ("" if v == primary else v)
                splits[name] = H5Split(name, loading, [inspect(f)])
    labels = np.concatenate([s.labels for s in splits.values()])
    nf = names_file(folder, [f.stem for f in files])
    names = read_names_file(nf) if nf is not None else CLASSES
    classes = class_names(names, labels, str(path), str(nf) if nf else "ScanObjectNN's list of 15 classes")
    parts = [p for s in splits.values() for p in s.parts]
    return Dataset(str(path), "scanobjectnn_h5", classes, splits, loading, {
        "points_per_sample": loading.points or max(p.points_per_sample for p in parts),
        "has_mask": all(p.has_mask for p in parts),
        "has_normals": False,
        "files": [str(p.path) for p in parts],
    })
