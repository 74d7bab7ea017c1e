"""What each column of an ASCII point table means: told (``--columns``), read from a header
line, or - only when neither is there - guessed, with the guess written down.

A layout is a list of column names. The names that mean something to the engine:

=====================  ==============================================================
``x y z``              the point (all three required)
``nx ny nz``           the normal (all three or none)
``r g b``              the colour, 0..255 or 0..1 (kept as uint8, pointfields.py)
``intensity`` / ``i``  kept as the field ``intensity``
``label`` / ``class``  per-point part / segment ids (whole numbers)
/ ``part``
``_`` / ``skip``       a column to ignore
=====================  ==============================================================

Any other name keeps its column as a per-point field of that name (``curvature``, ``time``).
Header lines use the same names and their common spellings (``X``, ``red``, ``Nx``,
``normal_x``, ``scalar_Intensity`` as CloudCompare writes it) after an optional ``//``, ``#``
or ``%``, separated by spaces, commas or semicolons.
"""
from __future__ import annotations

import re

import numpy as np

from engine.core.errors import DataError
from engine.data.pointfields import to_uint8_colors
from engine.data.surface import Geometry

SKIP = "_"
_ALIASES = {
    "x": "x", "y": "y", "z": "z",
    "nx": "nx", "ny": "ny", "nz": "nz", "normal_x": "nx", "normal_y": "ny", "normal_z": "nz",
    "normalx": "nx", "normaly": "ny", "normalz": "nz",
    "r": "r", "g": "g", "b": "b", "red": "r", "green": "g", "blue": "b",
    "i": "intensity", "intensity": "intensity",
    "label": "label", "class": "label", "part": "label",
    "_": SKIP, "skip": SKIP,
}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_TRIPLES = (("x", "y", "z"), ("nx", "ny", "nz"), ("r", "g", "b"))


def canonical(name: str) -> str:
    """A column name as the engine knows it (``Red`` -> ``r``); unknown names are kept lower-case,
    less CloudCompare's ``scalar_`` prefix."""
    n = name.strip().lower()
    if n.startswith("scalar_"):
        n = n[len("scalar_"):]
    return _ALIASES.get(n, n)


def parse_columns(text: str, where: str = "--columns") -> list[str]:
    """``"x,y,z,r,g,b,label"`` (commas or spaces) -> canonical names, checked: x y z present,
    triples complete, no name twice (``_`` may repeat)."""
    raw = [t for t in re.split(r"[\s,;]+", text.strip()) if t]
    bad = [t for t in raw if not _NAME.match(t)]
    if not raw or bad:
        raise DataError(f"{where}: '{text}' is not a list of column names"
                        + (f" ('{bad[0]}' is not a name)." if bad else "."),
                        hint="Write e.g. --columns x,y,z,r,g,b,label (use _ for a column to skip).")
    names = [canonical(t) for t in raw]
    seen = [n for n in names if n != SKIP]
    twice = sorted({n for n in seen if seen.count(n) > 1})
    if twice:
        raise DataError(f"{where}: column '{twice[0]}' is named twice in '{text}'.")
    for triple in _TRIPLES:
        have = [n for n in triple if n in names]
        if (triple == ("x", "y", "z") and len(have) < 3) or 0 < len(have) < 3:
            raise DataError(f"{where}: '{text}' names {' '.join(have) or 'none'} of {' '.join(triple)}; "
                            f"name all three.", hint="Every point needs x, y and z; normals and colours come in threes.")
    return names


def header_names(line: str) -> list[str] | None:
    """The column names of a header line (``//X Y Z R G B``, ``x,y,z,red,green,blue``), or None
    when the line is not a header (it holds a number, or does not name x, y and z)."""
    text = line.strip().lstrip("/#%").strip()
    tokens = [t for t in re.split(r"[\s,;]+", text) if t]
    if len(tokens) < 3 or not all(_NAME.match(t) for t in tokens):
        return None
    names = [canonical(t) for t in tokens]
    return names if {"x", "y", "z"} <= set(names) else None


# ---- the fallback guess ----------------------------------------------------------------------

def _colour_like(cols: np.ndarray) -> bool:
    """Whole numbers in 0..255, some above 1: 8-bit colour, which normals (|n| <= 1) never are."""
    return (cols.size > 0 and bool(np.all(np.isfinite(cols))) and bool(np.all(np.mod(cols, 1) == 0))
            and cols.min() >= 0 and cols.max() <= 255 and cols.max() > 1)


def _whole(col: np.ndarray) -> bool:
    return bool(np.all(np.isfinite(col))) and bool(np.all(np.mod(col, 1) == 0))


def guess_columns(tab: np.ndarray) -> tuple[list[str], str]:
    """(names, why) for a table without a header or an explicit layout."""
    c = tab.shape[1]
    rest = [f"col{k + 1}" for k in range(6, c)]          # columns past the sixth, kept as fields
    if c == 3:
        return ["x", "y", "z"], ""
    if c == 4:
        return ["x", "y", "z", "intensity"], "4 columns, the 4th taken as intensity"
    if c == 5:
        return ["x", "y", "z", "col4", "col5"], "5 columns, the last two kept as fields"
    if c == 7 and _colour_like(tab[:, 4:7]) and not _whole(tab[:, 3]):
        return ["x", "y", "z", "intensity", "r", "g", "b"], \
            "column 4 fractional, columns 5-7 whole numbers in 0..255"
    if _colour_like(tab[:, 3:6]):
        if c == 7 and _whole(tab[:, 6]):
            return ["x", "y", "z", "r", "g", "b", "label"], \
                "columns 4-6 whole numbers in 0..255 (colour), column 7 whole numbers (labels)"
        return ["x", "y", "z", "r", "g", "b"] + rest, "columns 4-6 whole numbers in 0..255 (colour)"
    if c == 7 and _colour_like(tab[:, 4:7]):
        return ["x", "y", "z", "intensity", "r", "g", "b"], "columns 5-7 whole numbers in 0..255 (colour)"
    if c == 7 and _whole(tab[:, 6]):
        return ["x", "y", "z", "nx", "ny", "nz", "label"], \
            "columns 4-6 not colour-like (normals), column 7 whole numbers (part ids)"
    return ["x", "y", "z", "nx", "ny", "nz"] + rest, "columns 4-6 not colour-like, read as normals"


# ---- a table and its names -> Geometry --------------------------------------------------------

def apply_columns(tab: np.ndarray, names: list[str], path, how: str) -> Geometry:
    """Split a (rows, cols) table into a Geometry by column ``names``; ``how`` says where the
    names came from (kept in ``Geometry.notes`` when they were guessed or read from a header)."""
    if len(names) != tab.shape[1]:
        raise DataError(f"{path}: the column layout ({how}) names {len(names)} columns ({' '.join(names)}) but the file has "
                        f"{tab.shape[1]} per line.", hint="Name every column, with _ for one to skip.")
    col = {n: tab[:, k] for k, n in enumerate(names) if n != SKIP}
    pts = np.stack([col["x"], col["y"], col["z"]], axis=1)
    normals = np.stack([col[n] for n in ("nx", "ny", "nz")], axis=1).astype(np.float32) if "nx" in col else None
    colors = to_uint8_colors(np.stack([col[n] for n in "rgb"], axis=1)) if "r" in col else None
    part_ids = None
    if "label" in col:
        if not _whole(col["label"]):
            raise DataError(f"{path}: the 'label' column holds values that are not whole numbers.",
                            hint="Part/segment labels are integers; name the column differently to keep it as a field.")
        part_ids = col["label"].astype(np.int64)
    used = {"x", "y", "z", "nx", "ny", "nz", "r", "g", "b", "label"}
    fields = {n: v.astype(np.float32) for n, v in col.items() if n not in used}
    notes = [f"columns {' '.join(names)} ({how})"] if how not in ("given layout", "x y z") else []
    return Geometry(pts, None, normals, part_ids, colors=colors, fields=fields, notes=notes)


# ---- the layout a command was given -------------------------------------------------------------

_PROCESS_DEFAULT: list[str | None] = [None]


def set_default_columns(text: str | None) -> None:
    """The layout every ASCII table opened by this process uses unless a Loading names its own
    (``pointlens ... --columns``); checked now so a bad layout fails before any work."""
    if text is not None:
        parse_columns(text)
    _PROCESS_DEFAULT[0] = text


def default_columns() -> str | None:
    return _PROCESS_DEFAULT[0]
