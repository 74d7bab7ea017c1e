"""Lazy HDF5 sample access shared by the PointNet, ScanObjectNN and built-in datasets.

Opening a file reads only its keys, shapes and labels; a sample is one hyperslab read of row i,
so opening a 10,000-shape file and showing one shape costs the same as for a 100-shape file.
Open handles are kept in a small LRU pool (a dataset may list many files); one lock serialises
pool changes and reads, so the engine thread and a GUI-side peek never race on a handle.
"""
from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from engine.core.errors import DataError
from engine.data.dataset import Loading, RawSample, Split
from engine.data.h5safe import open_h5
from engine.inputs import record_input

MAX_OPEN = 32
_LOCK = threading.RLock()
_POOL: OrderedDict[str, h5py.File] = OrderedDict()


def h5_file(path: str | Path) -> h5py.File:
    """An open read-only handle from the pool (caller holds _LOCK)."""
    key = str(path)
    f = _POOL.get(key)
    if f is not None and f.id.valid:
        _POOL.move_to_end(key)
        return f
    f = open_h5(key, "dataset")   # refuses links/storage outside the file and lying shapes
    record_input(key, "dataset")
    _POOL[key] = f
    while len(_POOL) > MAX_OPEN:
        _, old = _POOL.popitem(last=False)
        old.close()
    return f


def release(path: str | Path) -> None:
    """Close the pooled handle of one file (before it is replaced on disk)."""
    with _LOCK:
        f = _POOL.pop(str(path), None)
        if f is not None:
            f.close()


def close_all() -> None:
    """Close every pooled handle (tests that rewrite files; shutdown)."""
    with _LOCK:
        while _POOL:
            _POOL.popitem()[1].close()


# Largest label accepted: a class table is built from it, so 2**40 would mean a 7 GB table.
MAX_LABEL = 100_000


def _num(v) -> str:
    """A label as read: ints exactly (uint64 2**64-1 too), floats in short form (1e+30)."""
    return str(int(v)) if np.asarray(v).dtype.kind in "iub" else f"{float(v):g}"


def int_labels(raw: np.ndarray, n: int, where: str) -> np.ndarray:
    """Labels (n,) or (n, 1) of any int/float/bool dtype -> (n,) int64; non-integral is an error."""
    lab = np.asarray(raw)
    if lab.ndim == 2 and lab.shape[1] == 1:
        lab = lab[:, 0]
    if lab.ndim != 1 or lab.shape[0] != n:
        raise DataError(f"{where}: 'label' has shape {np.shape(raw)}; expected ({n},) or ({n}, 1) for {n} shapes.")
    if lab.dtype.kind == "b":
        return lab.astype(np.int64)
    if lab.dtype.kind not in "iuf":
        raise DataError(f"{where}: 'label' holds {lab.dtype} values; expected whole numbers.")
    if lab.dtype.kind == "f":
        if not np.isfinite(lab).all() or np.any(np.mod(lab, 1) != 0):
            k = int(np.flatnonzero(~np.isfinite(lab) | (np.mod(np.nan_to_num(lab), 1) != 0))[0])
            raise DataError(f"{where}: label of shape {k} is {float(lab[k])}, not a whole number.",
                            hint="Class labels must be integers 0..K-1.")
    if n:   # range first, in the stored type: 1e30 or 2**64-1 must not wrap around in int64
        lo, hi = lab.min(), lab.max()
        if lo < 0:
            raise DataError(f"{where}: labels must be >= 0; found {_num(lo)}.")
        if hi > MAX_LABEL:
            k = int(np.argmax(lab))
            raise DataError(f"{where}: label of shape {k} is {_num(hi)}, too large for a class index "
                            f"(at most {MAX_LABEL:,}).", hint="Class labels must be integers 0..K-1.")
    lab = lab.astype(np.int64)
    return lab


@dataclass
class H5Part:
    """One file (or group of a file) holding rows of a split."""

    path: Path
    group: str          # "" or "train/" (the built-in cache stores splits as groups)
    n: int
    labels: np.ndarray
    points_per_sample: int
    normals: str | None     # dataset name of the normals ("normal", or "data" when data has 6 columns)
    has_pid: bool
    has_mask: bool
    attrs: dict
    id2file: Path | None = None


def inspect(path: Path, group: str = "") -> H5Part:
    """Check keys, shapes and dtypes of a PointNet-layout file and read its labels."""
    with _LOCK:
        f = h5_file(path)
        where = f"{path}" + (f" [{group.rstrip('/')}]" if group else "")
        try:
            g = f[group] if group else f
            keys = list(g.keys())
            for need in ("data", "label"):
                if need not in keys:
                    raise DataError(f"{where}: no '{need}' dataset (found: {', '.join(keys) or 'nothing'}).",
                                    hint="A PointNet HDF5 file holds 'data' (n, N, 3) and 'label' (n,) or (n, 1).")
            d = g["data"]
            if not isinstance(d, h5py.Dataset) or d.ndim != 3 or d.shape[2] < 3:
                raise DataError(f"{where}: 'data' has shape {getattr(d, 'shape', '?')}; expected (shapes, points, 3).")
            if d.dtype.kind not in "fiu":
                raise DataError(f"{where}: 'data' holds {d.dtype} values; expected numbers.")
            n, p = int(d.shape[0]), int(d.shape[1])
            if n == 0 or p == 0:
                raise DataError(f"{where}: 'data' is empty (shape {d.shape}).", hint="The file holds no shapes.")
            labels = int_labels(g["label"][()], n, where)
            normals = None
            if "normal" in keys:
                if g["normal"].shape[:2] != (n, p) or g["normal"].shape[-1] != 3:
                    raise DataError(f"{where}: 'normal' has shape {g['normal'].shape}; expected ({n}, {p}, 3).")
                normals = "normal"
            elif d.shape[2] >= 6:
                normals = "data"
            for opt in ("pid", "mask"):
                if opt in keys and g[opt].shape[:2] != (n, p):
                    raise DataError(f"{where}: '{opt}' has shape {g[opt].shape}; expected ({n}, {p}).")
            attrs = {k: v for k, v in f.attrs.items()}
        except DataError:
            raise
        except (OSError, KeyError, TypeError, ValueError) as e:
            raise DataError(f"{where}: cannot read the file ({e}).",
                            hint="The file is truncated or damaged; download or export it again.") from None
    return H5Part(path, group, n, labels, p, normals, "pid" in keys, "mask" in keys, attrs, _id2file(path))


def _id2file(path: Path) -> Path | None:
    """ModelNet's '<stem>_id2file.json' (ply_data_train0.h5 -> ply_data_train_0_id2file.json)."""
    stem = path.stem
    for cand in (f"{stem}_id2file.json", re.sub(r"(\d+)$", r"_\1", stem) + "_id2file.json"):
        if (path.parent / cand).is_file():
            return path.parent / cand
    return None


class H5Split(Split):
    """Rows of one or more H5 parts, in order, read one sample at a time."""

    def __init__(self, name: str, loading: Loading, parts: list[H5Part]):
        super().__init__(name, loading)
        self.parts = parts
        self._offsets = np.cumsum([0] + [p.n for p in parts])
        self._labels = np.concatenate([p.labels for p in parts]) if parts else np.zeros(0, np.int64)
        self._names: dict[int, list | None] = {}

    def __len__(self) -> int:
        return int(self._offsets[-1])

    @property
    def labels(self) -> np.ndarray:
        return self._labels

    def _locate(self, i: int) -> tuple[H5Part, int]:
        k = int(np.searchsorted(self._offsets, i, side="right") - 1)
        return self.parts[k], i - int(self._offsets[k])

    def _file_names(self, k: int) -> list | None:
        if k not in self._names:
            names = None
            part = self.parts[k]
            if part.id2file is not None:
                try:
                    names = json.loads(part.id2file.read_text("utf-8"))
                except (OSError, ValueError):
                    names = None
                if not (isinstance(names, list) and len(names) == part.n):
                    names = None
            self._names[k] = names
        return self._names[k]

    def source_name(self, i: int) -> str:
        part, row = self._locate(i)
        names = self._file_names(self.parts.index(part))
        return str(names[row]) if names else f"{part.path.name}#{row}"

    def _read(self, i: int, key: str, cols: slice | None = None) -> np.ndarray:
        part, row = self._locate(i)
        with _LOCK:
            try:
                ds = h5_file(part.path)[part.group + key]
                return ds[row] if cols is None else ds[row, :, cols]
            except DataError:
                raise
            except (OSError, KeyError, ValueError) as e:
                raise DataError(f"{part.path}: cannot read '{key}' of shape {row} ({e}).",
                                hint="The file is truncated or damaged.") from None

    def _raw(self, i: int) -> RawSample:
        part, row = self._locate(i)
        pts = self._read(i, "data", slice(0, 3))
        normals = None
        if part.normals == "normal":
            normals = self._read(i, "normal").astype(np.float32)
        elif part.normals == "data":
            normals = self._read(i, "data", slice(3, 6)).astype(np.float32)
        pid = self._read(i, "pid").astype(np.int64) if part.has_pid else None
        source = f"{part.path} shape {row} ({self.source_name(i)})"
        return RawSample(pts, int(self._labels[i]), normals, pid, source)

    def mask(self, i: int) -> np.ndarray | None:
        """The per-point mask (ScanObjectNN foreground) of sample i as stored, before sampling."""
        part, _ = self._locate(i)
        return self._read(i, "mask") if part.has_mask else None


def read_names_file(path: Path) -> list[str]:
    from engine.data.listfiles import read_list

    return [name for _, name in read_list(path)]


def attr_names(attrs: dict) -> list[str] | None:
    """Class names stored in the file itself (save_h5 writes a 'shape_names' JSON attribute)."""
    v = attrs.get("shape_names")
    if v is None:
        return None
    try:
        names = json.loads(v if isinstance(v, str) else bytes(v).decode())
        return [str(x) for x in names] if isinstance(names, list) else None
    except (ValueError, TypeError):
        return None


def class_names(names: list[str] | None, labels: np.ndarray, where: str, source: str | None) -> list[str]:
    """Check labels fit the names; without names, 'class 0' .. 'class K-1'."""
    top = int(labels.max()) if len(labels) else -1
    if names is None:
        return [f"class {k}" for k in range(top + 1)]
    if top >= len(names):
        raise DataError(f"{where}: labels go up to {top}, but {source} lists only {len(names)} class names.",
                        hint="Use the names file that belongs to this data.")
    return names
