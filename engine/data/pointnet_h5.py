"""The PointNet HDF5 layout (modelnet40_ply_hdf5_2048 and its many copies).

A folder holds ``ply_data_train0.h5`` ..., ``train_files.txt`` / ``test_files.txt`` listing them
(often with a ``data/<folder>/`` prefix from the authors' machine: entries are resolved relative
to the folder, its parent, or by file name) and ``shape_names.txt``. A single .h5 file opens as
one split named after the file (train/test/val, else "all"). Class names come from the file's
own ``shape_names`` attribute, then a names file beside it, else "class 0" ...
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from engine.core.errors import DataError
from engine.data.dataset import Dataset, Loading
from engine.data.listfiles import read_list, relative_entry, within
from engine.data.h5 import H5Part, H5Split, attr_names, class_names, inspect, read_names_file

LISTS = {"train": "train_files.txt", "test": "test_files.txt", "val": "val_files.txt"}
H5_EXT = (".h5", ".hdf5", ".hdf")


def split_of(name: str) -> str:
    low = name.lower()
    for key, split in (("train", "train"), ("test", "test"), ("val", "val")):
        if key in low:
            return split
    return "all"


def _natural(p: Path):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name)]


def names_file(folder: Path, stems: list[str], sole: bool = False) -> Path | None:
    """shape_names.txt, else a '<prefix>_shape_names.txt' whose prefix starts a data file's name
    (ycb_shape_names.txt for ycb_objects_train.h5), else (``sole``: a folder layout) the folder's
    only '*shape_names*.txt'. A names file of other files beside a lone .h5 is not borrowed."""
    if (folder / "shape_names.txt").is_file():
        return folder / "shape_names.txt"
    cands = sorted(folder.glob("*shape_names*.txt"))
    for c in cands:
        prefix = c.name.split("shape_names")[0].rstrip("_")
        if prefix and any(s.startswith(prefix) for s in stems):
            return c
    return cands[0] if sole and len(cands) == 1 else None


def resolve_names(parts: list[H5Part], folder: Path, labels, where: str, sole: bool
                  ) -> tuple[list[str], str | None]:
    for p in parts:
        names = attr_names(p.attrs)
        if names:
            return class_names(names, labels, where, f"the file's 'shape_names' attribute"), "attribute"
    nf = names_file(folder, [p.path.stem for p in parts], sole)
    if nf is not None:
        return class_names(read_names_file(nf), labels, where, str(nf)), str(nf)
    return class_names(None, labels, where, None), None


def _resolve_entry(folder: Path, entry: str, listfile: Path, line: int) -> Path:
    """A listed .h5 file: relative to the folder, to its parent (the authors' ``data/<folder>/``
    prefix) or by file name; it must stay inside the folder (see engine/data/listfiles.py)."""
    e = Path(relative_entry(entry, listfile, line))
    for cand in (folder / e, folder.parent / e, folder / e.name):
        if within(folder, cand) and cand.is_file():
            return cand
    raise DataError(f"{listfile}: line {line}: lists '{entry.strip()}', which is not in {folder}.",
                    hint="Put the listed .h5 files beside the list, or fix the list.")


def _make(path: Path, split_files: dict[str, list[Path]], loading: Loading, folder: Path) -> Dataset:
    splits, all_parts = {}, []
    for name, files in split_files.items():
        parts = [inspect(f) for f in files]
        all_parts += parts
        splits[name] = H5Split(name, loading, parts)
    labels = np.concatenate([p.labels for p in all_parts])
    classes, src = resolve_names(all_parts, folder, labels, str(path), path.is_dir())
    pps = {p.points_per_sample for p in all_parts}
    return Dataset(str(path), "pointnet_h5", classes, splits, loading, {
        "points_per_sample": loading.points or (pps.pop() if len(pps) == 1 else max(pps)),
        "stored_points": sorted({p.points_per_sample for p in all_parts}),
        "has_normals": all(p.normals for p in all_parts),
        "has_part_ids": all(p.has_pid for p in all_parts),
        "has_mask": all(p.has_mask for p in all_parts),
        "class_names_from": src,
        "files": [str(p.path) for p in all_parts],
    })


def open_h5_file(path: Path, loading: Loading) -> Dataset:
    return _make(path, {split_of(path.stem): [path]}, loading, path.parent)


def is_h5_folder(folder: Path) -> bool:
    return any((folder / f).is_file() for f in LISTS.values()) or any(
        p.suffix.lower() in H5_EXT for p in folder.iterdir() if p.is_file())


def open_h5_folder(folder: Path, loading: Loading) -> Dataset:
    split_files: dict[str, list[Path]] = {}
    for split, lst in LISTS.items():
        lf = folder / lst
        if lf.is_file():
            entries = read_list(lf)
            if not entries:
                raise DataError(f"{lf}: the list is empty.", hint="It should name the split's .h5 files.")
            split_files[split] = [_resolve_entry(folder, e, lf, k) for k, e in entries]
    if not split_files:
        for p in sorted((p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in H5_EXT), key=_natural):
            split_files.setdefault(split_of(p.stem), []).append(p)
    if not split_files:
        raise DataError(f"{folder}: no .h5 files and no train_files.txt/test_files.txt.")
    return _make(folder, split_files, loading, folder)
