"""``open_dataset(spec)``: find out what a path holds and open it with the right reader.

A spec is ``builtin`` (or ``builtin:SEED``), a file, or a folder. Folders are recognised by the
files in them, in this order: PointNet HDF5 lists or .h5 files (ScanObjectNN by its file
names), the PointNet++ text layout, ShapeNetPart (by its category file), ModelNet40-C (by its
label.npy beside data_*.npy), then per-class sub-folders of cloud/mesh files.
"""
from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from engine.core.errors import DataError, ParameterError
from engine.fsguard import check_input
from engine.data.columns import default_columns
from engine.data.dataset import Dataset, Loading
from engine.data.files import READERS, folder_dataset, single_file_dataset
from engine.data.modelnet40c import data_files, is_modelnet40c, open_modelnet40c
from engine.data.modelnet_txt import layout_prefix, open_modelnet_txt
from engine.data.numpy_io import load_arrays, open_array_file
from engine.data.pointnet_h5 import H5_EXT, LISTS, is_h5_folder, open_h5_file, open_h5_folder
from engine.data.scanobjectnn import is_scanobjectnn, open_scanobjectnn
from engine.data.shapenet_part import CATEGORY_FILE, is_shapenet_part, open_shapenet_part

# Every suffix open_dataset reads as a file: what file dialogs and drag-and-drop should accept.
DATA_SUFFIXES = tuple(sorted(set(READERS) | set(H5_EXT)))


def _has_clouds(folder: Path) -> bool:
    return any(f.suffix.lower() in READERS for f in folder.iterdir())


def _open_file(p: Path, loading: Loading) -> Dataset:
    ext = p.suffix.lower()
    if ext in H5_EXT:
        return open_scanobjectnn(p, loading) if is_scanobjectnn(p) else open_h5_file(p, loading)
    prefix = layout_prefix(p.parent) if ext == ".txt" else None
    if p.name in LISTS.values() or p.name.endswith("shape_names.txt") or (prefix and p.name.startswith(prefix)):
        return open_dataset(str(p.parent), loading)   # a layout's index file stands for its folder
    if p.name == CATEGORY_FILE or (p.suffix == ".json" and is_shapenet_part(p.parent.parent)):
        return open_dataset(str(p.parent if p.name == CATEGORY_FILE else p.parent.parent), loading)
    if ext == ".npy" and is_modelnet40c(p.parent) and (p.name == "label.npy" or p in data_files(p.parent)):
        return open_modelnet40c(p.parent, loading, first=p)   # one corruption file: its labels are beside it
    if ext in (".npy", ".npz") and load_arrays(p)["points"].ndim == 3:
        return open_array_file(p, loading)
    if ext not in READERS:
        raise DataError(f"{p}: unknown file type '{ext or '(none)'}'.",
                        hint=f"Open an .h5 dataset, a folder, or a file of type {', '.join(sorted(set(READERS)))}.")
    return single_file_dataset(p, loading)


def open_dataset(spec: str | os.PathLike, loading: Loading | None = None) -> Dataset:
    """Open a dataset lazily: only metadata and labels are read now, samples when indexed."""
    loading = loading or Loading()
    if loading.columns is None and default_columns() is not None:   # the command's --columns
        loading = replace(loading, columns=default_columns())
    s = str(spec)
    if s == "builtin" or s.startswith("builtin:"):
        from engine.data.builtin import open_builtin

        seed = s.partition(":")[2] or "0"
        if not seed.isdigit():
            raise DataError(f"'{s}': the built-in dataset's seed must be a whole number (e.g. builtin:1).")
        return open_builtin(int(seed), loading)
    p = Path(s).expanduser()
    if p.exists() or p.is_symlink():   # a FIFO, device or socket is refused before any open
        check_input(p, "dataset", folder_ok=True)
    if not p.exists():
        raise DataError(f"{p}: no such file or folder.", hint="Give a dataset path, or 'builtin' for the built-in dataset.")
    if p.is_file():
        return _open_file(p, loading)
    if not p.is_dir():
        raise DataError(f"{p}: neither a file nor a folder.")
    try:
        if is_scanobjectnn(p):
            return open_scanobjectnn(p, loading)
        if is_h5_folder(p):
            return open_h5_folder(p, loading)
        prefix = layout_prefix(p)
        if prefix:
            return open_modelnet_txt(p, loading, prefix)
        if is_shapenet_part(p):
            return open_shapenet_part(p, loading)
        if is_modelnet40c(p):
            return open_modelnet40c(p, loading)
        inner = sorted(d.name for d in p.iterdir() if d.is_dir() and (is_scanobjectnn(d) or is_h5_folder(d)))
        if inner and not any(d.is_dir() and _has_clouds(d) for d in p.iterdir()):
            raise DataError(f"{p}: the datasets are in its sub-folders ({', '.join(inner)}).",
                            hint=f"Open one of them, e.g. {p / inner[0]}.")
        return folder_dataset(p, loading)
    except PermissionError as e:
        raise DataError(f"{e.filename or p}: permission denied.", hint="Check the folder's permissions.") from None


def open_sample(data: str | os.PathLike, index: int = 0, split: str = "test", points: int | None = None):
    """(cloud, dataset): sample ``index`` of ``split``, cut to ``points`` (None keeps all), with one
    clear message for an unknown split or an index outside it. The one way a method or command
    turns ``--data D --split S --index I`` into a cloud."""
    ds = open_dataset(str(data), Loading(points=points))
    if split not in ds.splits:
        raise DataError(f"{data}: no split '{split}' (splits: {', '.join(ds.splits)}).")
    sp = ds.split(split)
    if not 0 <= int(index) < len(sp):
        raise ParameterError(f"index {index} is outside split '{split}' of {data} ({len(sp)} samples).",
                             hint=f"Use an index in [0, {len(sp) - 1}].")
    return sp[int(index)], ds
