"""NumPy clouds: .npy (one array) and .npz (named arrays). Loaded with allow_pickle=False:
an object array (a pickle) is refused without being unpickled.

An (N, 3+) array is one cloud; a (B, N, 3+) array is B clouds (with labels from the .npz's
``label``/``labels`` array when present).
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from engine.core.errors import DataError
from engine.data.dataset import Dataset, Loading, RawSample, Split
from engine.data.surface import Geometry
from engine.fsguard import check_input
from engine.inputs import record_input

POINT_KEYS = ("points", "data", "xyz", "pos", "pc", "point_cloud", "arr_0")
NORMAL_KEYS = ("normals", "normal")
LABEL_KEYS = ("labels", "label", "y")
PART_KEYS = ("part_ids", "pid", "seg")


# zlib cannot compress better than about 1032:1; a member claiming more is a zip bomb.
MAX_RATIO = 1100


def _header(f, where) -> tuple[int, int]:
    """(declared data bytes, header length) of the .npy stream ``f`` (at its start)."""
    fmt = np.lib.format
    version = fmt.read_magic(f)
    shape, _, dtype = (fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0)(f)
    if dtype.hasobject:
        raise ValueError("object arrays need allow_pickle")
    return int(np.prod(shape, dtype=object)) * dtype.itemsize, f.tell()


def check_sizes(path) -> None:
    """Refuse a .npy/.npz whose array headers declare more bytes than the file holds, before
    numpy allocates them (numpy allocates the declared shape first, then reads)."""
    where = str(path)
    if where.lower().endswith(".npz"):
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                if info.file_size > max(info.compress_size, 1) * MAX_RATIO and info.file_size > 1 << 20:
                    raise DataError(f"{path}: array '{info.filename}' claims {info.file_size:,} bytes from "
                                    f"{info.compress_size:,} compressed bytes, more than any compression gives.",
                                    hint="The file is crafted or damaged; refused before reading it.")
                with z.open(info) as f:
                    need, head = _header(f, where)
                if need > info.file_size - head:
                    raise DataError(f"{path}: array '{info.filename}' declares {need:,} bytes but holds "
                                    f"{max(info.file_size - head, 0):,}.", hint="The file is truncated or its header lies.")
    else:
        with open(path, "rb") as f:
            need, head = _header(f, where)
        size = os.path.getsize(path)
        if need > size - head:
            raise DataError(f"{path}: the array header declares {need:,} bytes but the file holds "
                            f"{max(size - head, 0):,}.", hint="The file is truncated or its header lies.")


def load_arrays(path) -> dict[str, np.ndarray]:
    """{'points': ..., optional 'normals', 'labels', 'part_ids'} from a .npy or .npz file."""
    check_input(path, "NumPy file")
    record_input(path, "dataset")
    try:
        check_sizes(path)
        if str(path).lower().endswith(".npz"):
            with np.load(path, allow_pickle=False) as z:
                files = list(z.files)
                key = next((k for k in POINT_KEYS if k in files), None)
                if key is None:
                    raise DataError(f"{path}: no point array in the .npz (arrays: {', '.join(files) or 'none'}).",
                                    hint=f"Name the points array one of: {', '.join(POINT_KEYS)}.")
                out = {"points": z[key]}
                for name, keys in (("normals", NORMAL_KEYS), ("labels", LABEL_KEYS), ("part_ids", PART_KEYS)):
                    k = next((k for k in keys if k in files), None)
                    if k is not None:
                        out[name] = z[k]
        else:
            out = {"points": np.load(path, mmap_mode="r", allow_pickle=False)}
    except DataError:
        raise
    except ValueError as e:
        if "allow_pickle" in str(e) or "object" in str(e).lower():
            raise DataError(f"{path}: the array holds Python objects (a pickle); refused without loading it.",
                            hint="Save plain numeric arrays (np.save of a float array).") from None
        raise DataError(f"{path}: not a valid NumPy file ({e}).") from None
    except (OSError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"{path}: cannot read the NumPy file ({e}).", hint="The file is truncated or not .npy/.npz.") from None
    pts = out["points"]
    if pts.dtype.kind not in "fiu" or pts.ndim not in (2, 3) or pts.shape[-1] < 3:
        raise DataError(f"{path}: points must be a numeric (N, 3) or (B, N, 3) array, got {pts.dtype} {pts.shape}.")
    return out


def read_npy_cloud(path) -> Geometry:
    a = load_arrays(path)
    pts = a["points"]
    if pts.ndim != 2:
        raise DataError(f"{path}: holds {pts.shape[0]} clouds {pts.shape}; in a folder each file must be one (N, 3) cloud.",
                        hint="Open the file on its own to see its clouds as a dataset.")
    normals = a.get("normals")
    if normals is None and pts.shape[1] >= 6:
        normals = pts[:, 3:6]
    if normals is not None and normals.shape != (pts.shape[0], 3) and normals.shape[:1] == pts.shape[:1]:
        normals = normals[:, :3]
    if normals is not None and normals.shape != (pts.shape[0], 3):
        raise DataError(f"{path}: normals have shape {normals.shape}, the points {pts.shape}.")
    parts = a.get("part_ids")
    if parts is not None and parts.shape != (pts.shape[0],):
        raise DataError(f"{path}: part ids have shape {parts.shape}; expected ({pts.shape[0]},).")
    return Geometry(np.asarray(pts[:, :3], np.float64),
                    None,
                    None if normals is None else np.asarray(normals, np.float32),
                    None if parts is None else np.asarray(parts, np.int64))


class ArraySplit(Split):
    """Clouds of a (B, N, 3+) array file; a .npy is memory-mapped, so only used rows are read."""

    def __init__(self, name, loading, path, arrays, labels):
        super().__init__(name, loading)
        self.path, self.a, self._labels = path, arrays, labels

    def __len__(self) -> int:
        return int(self.a["points"].shape[0])

    @property
    def labels(self) -> np.ndarray:
        return self._labels

    def source_name(self, i: int) -> str:
        return f"{Path(self.path).name}#{i}"

    def _raw(self, i: int) -> RawSample:
        pts = np.asarray(self.a["points"][i])
        nrm = self.a.get("normals")
        nrm = np.asarray(nrm[i][:, :3], np.float32) if nrm is not None else (
            pts[:, 3:6].astype(np.float32) if pts.shape[1] >= 6 else None)
        pid = self.a.get("part_ids")
        return RawSample(pts[:, :3], int(self._labels[i]), nrm,
                         None if pid is None else np.asarray(pid[i], np.int64), f"{self.path} cloud {i}")


def open_array_file(path: Path, loading: Loading) -> Dataset:
    """A .npy/.npz of many clouds as a dataset with one split "all"."""
    from engine.data.h5 import class_names, int_labels

    a = load_arrays(path)
    b, n = a["points"].shape[:2]
    if b == 0 or n == 0:
        raise DataError(f"{path}: the array is empty (shape {a['points'].shape}).")
    for k, want in (("normals", (b, n)), ("part_ids", (b, n))):
        if k in a and a[k].shape[:2] != want:
            raise DataError(f"{path}: '{k}' has shape {a[k].shape}; expected {want}+.")
    labels = int_labels(a["labels"], b, str(path)) if "labels" in a else np.zeros(b, np.int64)
    classes = class_names(None, labels, str(path), None)
    return Dataset(str(path), path.suffix.lower().lstrip("."), classes,
                   {"all": ArraySplit("all", loading, path, a, labels)}, loading,
                   {"points_per_sample": loading.points or int(n), "has_normals": "normals" in a or a["points"].shape[2] >= 6})
