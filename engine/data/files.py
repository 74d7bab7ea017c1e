"""Datasets made of individual files: one cloud/mesh file, or a folder of per-class sub-folders.

A folder ``root/<class>/<file>`` gives classes = sub-folder names (sorted) and one split "all";
``root/<class>/train/<file>`` and ``.../test/<file>`` (the raw ModelNet layout) give splits
"train" and "test". A folder of files without sub-folders is one class named after the folder.
Each sample is read when asked for (a few recently read files are kept parsed in memory).
"""
from __future__ import annotations

import os
import struct
import threading
import zlib
from collections import OrderedDict
from pathlib import Path

import numpy as np

from engine.core.errors import DataError
from engine.data.dataset import Dataset, Loading, RawSample, Split
from engine.data.file_class import class_of_file
from engine.data.kitti_bin import read_kitti_bin
from engine.data.las import read_las
from engine.data.numpy_io import read_npy_cloud
from engine.data.obj import read_obj
from engine.data.off import read_off
from engine.data.pcd import read_pcd
from engine.data.ply import read_ply
from engine.data.stl import read_stl
from engine.data.surface import DEFAULT_MESH_POINTS, Geometry, to_cloud
from engine.data.vtk_legacy import read_vtk_legacy
from engine.data.vtk_xml import read_vtk_xml
from engine.data.xyz import read_xyz

READERS = {".off": read_off, ".ply": read_ply, ".obj": read_obj, ".stl": read_stl, ".pcd": read_pcd,
           ".xyz": read_xyz, ".txt": read_xyz, ".pts": read_xyz, ".asc": read_xyz,
           ".npy": read_npy_cloud, ".npz": read_npy_cloud, ".csv": read_xyz,
           ".bin": read_kitti_bin, ".las": read_las, ".laz": read_las,
           ".vtk": read_vtk_legacy, ".vtp": read_vtk_xml, ".vtu": read_vtk_xml}
TABLE_READERS = {read_xyz}   # readers that take a column layout (Loading.columns)
SPLIT_DIRS = {"train": "train", "test": "test", "val": "val", "valid": "val", "validation": "val"}
_CACHE_SIZE = 8
FPS_OVERSAMPLE = 4


_NOT_CLOUDS = ("readme", "license", "licence", "changelog")   # .txt files that travel with datasets


def supported(path: Path) -> bool:
    name = path.name.lower()
    if path.suffix.lower() not in READERS or name.startswith("."):
        return False
    return not (name.endswith(".txt") and (name.startswith(_NOT_CLOUDS) or "names" in name or name.endswith("_files.txt")))


class _GeometryCache:
    """Last few parsed files, keyed by path + size + mtime (a rewritten file is read again)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._items: OrderedDict = OrderedDict()

    def get(self, path: Path, columns: str | None = None) -> Geometry:
        try:
            st = path.stat()
        except OSError as e:
            raise DataError(f"{path}: cannot read the file ({e.strerror or e}).",
                            hint="It was moved or deleted after the dataset was opened.") from None
        key = (str(path), st.st_size, st.st_mtime_ns, columns)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        geom = read_geometry(path, columns)
        with self._lock:
            self._items[key] = geom
            while len(self._items) > _CACHE_SIZE:
                self._items.popitem(last=False)
        return geom


CACHE = _GeometryCache()


def read_geometry(path: str | os.PathLike, columns: str | None = None) -> Geometry:
    """Parse one file by its extension. Any parser failure becomes a DataError naming the file.
    ``columns`` (``"x,y,z,r,g,b"``) is the column layout of ASCII tables; other formats name
    their own fields and ignore it."""
    path = Path(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise DataError(f"{path}: unknown file type '{path.suffix or '(none)'}'.",
                        hint=f"Supported: {', '.join(sorted(set(READERS)))}, .h5 datasets, or a folder.")
    try:
        return reader(path, columns) if reader in TABLE_READERS else reader(path)
    except DataError:
        raise
    except (ValueError, IndexError, KeyError, OSError, struct.error, OverflowError, MemoryError) as e:
        raise DataError(f"{path}: cannot read this {path.suffix.lstrip('.').upper()} file ({type(e).__name__}: {e}).",
                        hint="The file is corrupt or not of the type its extension says.") from None


class FileSplit(Split):
    def __init__(self, name: str, loading: Loading, files: list[Path], labels: list[int], root: Path):
        super().__init__(name, loading)
        self.files, self._labels, self.root = files, np.asarray(labels, np.int64), root

    def __len__(self) -> int:
        return len(self.files)

    @property
    def labels(self) -> np.ndarray:
        return self._labels

    def source_name(self, i: int) -> str:
        f = self.files[i]
        return str(f.relative_to(self.root)) if f != self.root and self.root in f.parents else f.name

    def _raw(self, i: int) -> RawSample:
        path = self.files[i]
        geom = CACHE.get(path, self.loading.columns)
        # A mesh's sample depends on the seed and the file's name, not on its place in the folder.
        rng = np.random.default_rng([self.loading.seed, zlib.crc32(self.source_name(i).encode())])
        n = self.loading.points
        if geom.is_mesh and n and self.loading.sampling == "fps":
            n *= FPS_OVERSAMPLE   # farthest-point sampling then picks n evenly spread ones
        pts, normals, parts = to_cloud(geom, n, rng, path)
        colors, fields = (None, {}) if geom.is_mesh else (geom.colors, geom.fields)
        return RawSample(pts, int(self._labels[i]), normals, parts, source=str(path), colors=colors, fields=fields)


def _points_per_sample(split: FileSplit, loading: Loading) -> int | None:
    if loading.points is not None:
        return loading.points
    if not len(split):
        return None
    geom = CACHE.get(split.files[0], loading.columns)
    return DEFAULT_MESH_POINTS if geom.is_mesh else int(geom.vertices.shape[0])


def single_file_dataset(path: Path, loading: Loading) -> Dataset:
    split = FileSplit("all", loading, [path], [0], path.parent)
    n = _points_per_sample(split, loading)   # parses the file now: a bad file fails at open
    geom = CACHE.get(path, loading.columns)
    return Dataset(str(path), path.suffix.lower().lstrip("."), [class_of_file(path)], {"all": split}, loading,
                   {"points_per_sample": n, "mesh": geom.is_mesh, "has_normals": geom.is_mesh or geom.normals is not None,
                    "has_part_ids": geom.part_ids is not None, "original_points": int(geom.vertices.shape[0]),
                    **per_point_info(geom)})


def per_point_info(geom: Geometry) -> dict:
    """What a cloud carries beyond x y z, for ``data info``: colours, field names, and how an
    ASCII table's columns were read when that was a guess or a header."""
    out = {}
    if geom.colors is not None:
        out["has_colors"] = True
    if geom.fields:
        out["fields"] = sorted(geom.fields)
    if geom.notes:
        out["notes"] = list(geom.notes)
    return out


def _files_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and supported(p))


def folder_dataset(root: Path, loading: Loading) -> Dataset:
    subdirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    entries: dict[str, list[tuple[Path, str]]] = {}   # split -> [(file, class)]
    classes = []
    for d in subdirs:
        found = False
        for sub in sorted(x for x in d.iterdir() if x.is_dir() and x.name.lower() in SPLIT_DIRS):
            fs = _files_in(sub)
            entries.setdefault(SPLIT_DIRS[sub.name.lower()], []).extend((f, d.name) for f in fs)
            found |= bool(fs)
        fs = _files_in(d)
        entries.setdefault("all", []).extend((f, d.name) for f in fs)
        if found or fs:
            classes.append(d.name)
    if not classes:   # no class folders: the folder's own files are one class
        fs = _files_in(root)
        if fs:
            classes = [root.name]
            entries = {"all": [(f, root.name) for f in fs]}
    entries = {k: v for k, v in entries.items() if v}
    if not entries:
        kinds = ", ".join(sorted(set(READERS)))
        raise DataError(f"{root}: no point-cloud or mesh files found (looked for {kinds} files, "
                        f"directly or in per-class sub-folders).", hint="Pick a folder that holds the data.")
    index = {c: i for i, c in enumerate(classes)}
    splits = {name: FileSplit(name, loading, [f for f, _ in v], [index[c] for _, c in v], root)
              for name, v in entries.items()}
    first = next(iter(splits.values()))
    exts = sorted({f.suffix.lower().lstrip(".") for s in splits.values() for f in s.files})
    return Dataset(str(root), "folder", classes, splits, loading,
                   {"points_per_sample": _points_per_sample(first, loading), "file_types": exts,
                    "points_per_sample_from": "first file" if loading.points is None else "loading",
                    **_first_file_info(first, loading)})


def _first_file_info(split: FileSplit, loading: Loading) -> dict:
    """per_point_info of the first file, where it is parsed anyway (no fixed point count) or is
    an ASCII table (whose column guess the user should see at open)."""
    f = split.files[0]
    if loading.points is not None and READERS.get(f.suffix.lower()) not in TABLE_READERS:
        return {}
    return {f"first file {k}": v for k, v in per_point_info(CACHE.get(f, loading.columns)).items()}
