"""The report folder on disk: OUT/settings.json and one OUT/cells/<cell-id>.json per finished cell.

Every file is written atomically (engine.atomic), so a killed run leaves only whole cell files: a
cell file exists exactly when its cell finished. That is what makes a run resumable and lets
cells run as separate processes (a cluster array) and be merged later.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from engine.atomic import atomic_path
from engine.core.errors import DataError, ParameterError
from engine.reproduce.declaration import Cell, Key, Settings
from engine.results import _jsonable

FORMAT = "pointlens-reproduction-cell/1"


def write_json(path: Path, obj: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(_jsonable(obj), indent=1, sort_keys=True) + "\n", encoding="utf-8")


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"{path}: cannot read it as JSON ({e}).",
                        hint="Delete the file to recompute it, or choose another --out.") from None


def claim_folder(out: Path, stamp: dict) -> None:
    """Record the run's stamp (reproduction, settings, scale) in OUT/settings.json, or check a
    resumed folder was made with the same one: cells of two settings would average unlike things."""
    path = out / "settings.json"
    mine = _jsonable(stamp)
    if path.exists():
        theirs = read_json(path)
        if theirs != mine:
            diff = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
            raise ParameterError(f"{out} holds a run of {theirs.get('reproduction')} with other settings "
                                 f"({', '.join(diff)} differ).",
                                 hint="Use the same settings to resume it, or choose another --out.")
        return
    write_json(path, stamp)


def folder_settings(out: Path) -> tuple[str, Settings]:
    """(reproduction name, settings) of a report folder, for --merge."""
    path = out / "settings.json"
    if not path.is_file():
        raise DataError(f"{out}: no settings.json here; this is not a reproduction folder.",
                        hint="Give the --out folder of a `pointlens reproduce` run or plan.")
    raw = read_json(path)
    try:
        name = str(raw.pop("reproduction"))
        raw.pop("scale", None)       # the declaration's; merge checks each cell against it
        return name, Settings(**raw)
    except (KeyError, TypeError) as e:
        raise DataError(f"{path}: not a reproduction settings file ({e}).") from None


def cell_path(out: Path, cell: Cell) -> Path:
    return out / "cells" / f"{cell.id}.json"


def write_cell(out: Path, stamp: dict, cell: Cell, values: dict[Key, float], seconds: float,
               device: str = "cpu") -> None:
    write_json(cell_path(out, cell), {
        "format": FORMAT, "cell": cell.id, "config": dict(cell.config),
        "stamp": stamp, "device": device, "seconds": seconds,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "values": [[row, col, float(v)] for (row, col), v in values.items()]})


def read_cell(out: Path, cell: Cell, stamp: dict) -> dict | None:
    """The finished cell's record, or None when it has not finished (no file). A file from other
    settings is an error, not silently reused."""
    path = cell_path(out, cell)
    if not path.is_file():
        return None
    rec = read_json(path)
    if rec.get("format") != FORMAT or rec.get("stamp") != _jsonable(stamp):
        raise DataError(f"{path}: this cell was computed with other settings.",
                        hint="Delete it to recompute it, or choose another --out.")
    rec["values"] = {(str(r), str(c)): float(v) for r, c, v in rec["values"]}
    return rec
