"""Plain-text point tables: .xyz, .txt, .pts, .asc (whitespace or comma separated).

Columns: x y z; 6 or more columns -> columns 4-6 are normals (kitten.xyz, PointNet++ txt);
a 7th whole-number column -> part ids (ShapeNetPart txt). A single count on the first line
(some .pts writers) is skipped.
"""
from __future__ import annotations

import numpy as np

from engine.data.surface import Geometry
from engine.data.text import content_lines, number_table, read_text


def read_xyz(path) -> Geometry:
    lines = content_lines(read_text(path, "point table (x y z per line)"))
    if len(lines) > 1 and len(lines[0].replace(",", " ").split()) == 1 and lines[0].isdigit():
        lines = lines[1:]
    tab = number_table(lines, path, "point table", min_cols=3)
    normals = tab[:, 3:6].astype(np.float32) if tab.shape[1] >= 6 else None
    part_ids = None
    if tab.shape[1] == 7 and np.all(np.isfinite(tab[:, 6])) and np.all(np.mod(tab[:, 6], 1) == 0):
        part_ids = tab[:, 6].astype(np.int64)
    return Geometry(tab[:, :3], None, normals, part_ids)
