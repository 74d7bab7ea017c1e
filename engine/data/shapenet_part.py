"""ShapeNetPart, as released for PointNet++ (``shapenetcore_partanno_segmentation_benchmark_v0_normal``).

The folder holds ``synsetoffset2category.txt`` (one line per category: name and synset id, e.g.
``Airplane 02691156``), one sub-folder per synset id with a text file per shape (lines
``x y z nx ny nz part``; ``part`` is the global part id 0..49, written as a float), and the
official split lists ``train_test_split/shuffled_{train,val,test}_file_list.json``: JSON lists
of ``shape_data/<synset>/<shape id>``. Classes are the category names in the order of the
category file (labels index them); splits are the official lists, or one split ``all`` of every
file when the lists are missing.
"""
from __future__ import annotations

import json
from pathlib import Path

from engine.core.errors import DataError
from engine.data.dataset import Dataset, Loading, RawSample, Split
from engine.data.files import CACHE
from engine.data.listfiles import plain_name, read_list, relative_entry
from engine.data.modelnet_txt import TextSplit
from engine.data.text import read_bytes

CATEGORY_FILE = "synsetoffset2category.txt"
SPLITS = ("train", "val", "test")
COLUMNS = "x,y,z,nx,ny,nz,label"


def is_shapenet_part(folder: Path) -> bool:
    return (folder / CATEGORY_FILE).is_file()


def _categories(folder: Path) -> list[tuple[str, str]]:
    """[(name, synset)] in file order."""
    path = folder / CATEGORY_FILE
    out = []
    for line, text in read_list(path):
        parts = text.split()
        if len(parts) != 2:
            raise DataError(f"{path}: line {line}: '{text[:60]}' is not 'Name synset_id'.")
        out.append((parts[0], plain_name(parts[1], path, line)))
    if not out:
        raise DataError(f"{path}: the category list is empty.")
    return out


class PartSplit(TextSplit):
    """A ModelNet-style file list whose clouds carry part ids (read with the part-file columns)."""

    def _raw(self, i: int) -> RawSample:
        g = CACHE.get(self.files[i], COLUMNS)
        return RawSample(g.vertices, int(self._labels[i]), g.normals, g.part_ids, str(self.files[i]))


def _split_list(listfile: Path, folder: Path, synsets: dict[str, int]) -> tuple[list[Path], list[int], list[str]]:
    try:
        entries = json.loads(read_bytes(listfile).decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"{listfile}: not a JSON list ({e}).") from None
    if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
        raise DataError(f"{listfile}: expected a JSON list of 'shape_data/<synset>/<id>' strings.")
    files, labels, ids = [], [], []
    for k, entry in enumerate(entries):
        parts = relative_entry(entry, listfile, k + 1).split("/")
        if len(parts) < 2 or parts[-2] not in synsets:
            raise DataError(f"{listfile}: entry {k + 1} '{entry}' does not name a category of {CATEGORY_FILE}.",
                            hint="Entries look like 'shape_data/02691156/<id>'.")
        synset, sid = parts[-2], parts[-1]
        f = folder / synset / f"{sid}.txt"
        if not f.is_file():
            raise DataError(f"{listfile}: lists '{entry}', but {f} does not exist.",
                            hint="Download the missing shapes or open the folder without the lists.")
        files.append(f)
        labels.append(synsets[synset])
        ids.append(f"{synset}/{sid}")
    return files, labels, ids


def open_shapenet_part(folder: Path, loading: Loading) -> Dataset:
    cats = _categories(folder)
    classes = [name for name, _ in cats]
    synsets = {s: k for k, (_, s) in enumerate(cats)}
    lists = folder / "train_test_split"
    splits: dict[str, Split] = {}
    for name in SPLITS:
        lf = lists / f"shuffled_{name}_file_list.json"
        if lf.is_file():
            splits[name] = PartSplit(name, loading, *_split_list(lf, folder, synsets))
    if not splits:   # no official lists: every shape, one split
        files, labels, ids = [], [], []
        for synset, k in synsets.items():
            for f in sorted((folder / synset).glob("*.txt")) if (folder / synset).is_dir() else []:
                files.append(f)
                labels.append(k)
                ids.append(f"{synset}/{f.stem}")
        splits["all"] = PartSplit("all", loading, files, labels, ids)
    first = next((s for s in splits.values() if len(s)), None)
    if first is None:
        raise DataError(f"{folder}: no shape files found for the categories of {CATEGORY_FILE}.")
    pps = loading.points or int(first._raw(0).points.shape[0])
    return Dataset(str(folder), "shapenet_part", classes, splits, loading,
                   {"points_per_sample": pps, "has_normals": True, "has_part_ids": True,
                    "synsets": {name: s for name, s in cats},
                    "splits_from": "official lists" if "all" not in splits else "all files (no split lists)",
                    "points_per_sample_from": "first file" if loading.points is None else "loading"})
