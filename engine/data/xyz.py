"""Plain-text point tables: .xyz, .txt, .pts, .asc, .csv (whitespace or comma separated).

What each column means comes, in this order, from the layout the caller gives (``--columns
x,y,z,r,g,b,label``), from a header line naming the columns (``//X Y Z R G B``,
``x,y,z,red,green,blue``), or from a guess by column count and value range (engine/data/columns.py)
that is written into the geometry's notes so ``data info`` shows it. A single count on the first
line (some .pts writers) is skipped.
"""
from __future__ import annotations

from engine.core.errors import DataError
from engine.data.columns import apply_columns, guess_columns, header_names, parse_columns
from engine.data.surface import Geometry
from engine.data.text import content_lines, number_table, read_text


def read_xyz(path, columns: str | None = None) -> Geometry:
    text = read_text(path, "point table (x y z per line)")
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    header = header_names(first)
    lines = content_lines(text)
    if header is not None and lines and lines[0].strip() == first.strip():
        lines = lines[1:]                        # a '#' header was already dropped as a comment
    elif header is None and lines and not _numeric(lines[0]):
        raise DataError(f"{path}: the first line '{lines[0][:60]}' is neither numbers nor a header naming "
                        f"x, y and z.", hint="Give the column names with --columns x,y,z,... or fix the header.")
    if len(lines) > 1 and len(lines[0].replace(",", " ").split()) == 1 and lines[0].isdigit():
        lines = lines[1:]
    tab = number_table(lines, path, "point table", min_cols=3)
    if columns is not None:
        return apply_columns(tab, parse_columns(columns), path, "given layout")
    if header is not None:
        return apply_columns(tab, header, path, "from the header line")
    names, why = guess_columns(tab)
    return apply_columns(tab, names, path, f"guessed: {why}; --columns overrides" if why else "x y z")


def _numeric(line: str) -> bool:
    try:
        [float(t) for t in line.replace(",", " ").replace(";", " ").split()]
    except ValueError:
        return False
    return True
