"""PointNet++'s ``modelnet40_normal_resampled`` text layout (and its ModelNet10 lists).

``<prefix>_shape_names.txt``, ``<prefix>_train.txt`` / ``<prefix>_test.txt`` listing ids like
``airplane_0001``; each shape is ``<class>/<id>.txt`` with 10,000 lines ``x,y,z,nx,ny,nz``.
The class of an id is the id without its trailing ``_NNNN``. Both prefixes (modelnet40,
modelnet10) live in the same folder in the public download: modelnet40 is used unless the
folder's name says modelnet10 or only the modelnet10 lists are there.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from engine.core.errors import DataError
from engine.data.dataset import Dataset, Loading, RawSample, Split
from engine.data.files import read_geometry
from engine.data.parse_cache import cached_cloud
from engine.data.listfiles import plain_name, read_list

_ID = re.compile(r"^(.+)_(\d+)$")


def layout_prefix(folder: Path) -> str | None:
    found = [p for p in ("modelnet40", "modelnet10")
             if (folder / f"{p}_shape_names.txt").is_file() and (
                 (folder / f"{p}_train.txt").is_file() or (folder / f"{p}_test.txt").is_file())]
    if not found:
        return None
    if "modelnet10" in found and ("modelnet10" in folder.name.lower() or found == ["modelnet10"]):
        return "modelnet10"
    return found[0]


class TextSplit(Split):
    def __init__(self, name: str, loading: Loading, files: list[Path], labels: list[int], ids: list[str]):
        super().__init__(name, loading)
        self.files, self.ids, self._labels = files, ids, np.asarray(labels, np.int64)

    def __len__(self) -> int:
        return len(self.files)

    @property
    def labels(self) -> np.ndarray:
        return self._labels

    def source_name(self, i: int) -> str:
        return self.ids[i]

    def _raw(self, i: int) -> RawSample:
        g = cached_cloud(self.files[i], read_geometry)
        return RawSample(g.vertices, int(self._labels[i]), g.normals, None, str(self.files[i]))


def open_modelnet_txt(folder: Path, loading: Loading, prefix: str) -> Dataset:
    names_path = folder / f"{prefix}_shape_names.txt"
    classes = [plain_name(c, names_path, k) for k, c in read_list(names_path)]
    index = {c: i for i, c in enumerate(classes)}
    listing = {c: {p.stem for p in (folder / c).glob("*.txt")} for c in classes if (folder / c).is_dir()}
    splits = {}
    for split in ("train", "test"):
        lf = folder / f"{prefix}_{split}.txt"
        if not lf.is_file():
            continue
        files, labels, ids = [], [], []
        for line, sid in read_list(lf):
            k = line - 1
            m = _ID.match(sid)
            cls = m.group(1) if m else None
            if cls not in index:
                raise DataError(f"{lf}: line {k + 1}: '{sid}' does not name a class of {names_path.name}.",
                                hint="Ids look like 'airplane_0001' (class, underscore, number).")
            if sid not in listing.get(cls, ()):
                raise DataError(f"{lf}: lists '{sid}', but {folder / cls / (sid + '.txt')} does not exist.",
                                hint="Download the missing shapes or remove them from the list.")
            files.append(folder / cls / f"{sid}.txt")
            labels.append(index[cls])
            ids.append(sid)
        splits[split] = TextSplit(split, loading, files, labels, ids)
    first = next((s for s in splits.values() if len(s)), None)
    if first is None:
        raise DataError(f"{folder}: the {prefix} split lists are empty.")
    pps = loading.points or int(first._raw(0).points.shape[0])
    return Dataset(str(folder), "modelnet_normal_resampled", classes, splits, loading,
                   {"points_per_sample": pps, "has_normals": True, "layout": prefix,
                    "points_per_sample_from": "first file" if loading.points is None else "loading"})
