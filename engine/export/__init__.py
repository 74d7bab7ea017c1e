"""Hand points and their per-point values to other tools: PLY (CloudCompare, MeshLab), VTP
(ParaView), NPZ (numpy) and CSV (spreadsheets, pandas). numpy only; each format in its own module.

``export_points`` writes any cloud (the GUI's "Export points…" passes one view's points and
scalars); ``export_result`` writes one cloud of a job result (``pointlens export``, the Python
API); ``result_clouds`` holds the rule that maps a result's arrays to its clouds.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from engine.core.errors import DataError
from engine.core.types import Result
from engine.export.csv import write_csv
from engine.export.npz import write_npz
from engine.export.ply import write_ply
from engine.export.pointset import PointSet, make_point_set
from engine.export.result_clouds import cloud_names, result_point_set
from engine.export.vtp import write_vtp

WRITERS: dict[str, Callable[[PointSet, str | os.PathLike], None]] = {
    "ply": write_ply, "vtp": write_vtp, "npz": write_npz, "csv": write_csv}
FORMATS = tuple(WRITERS)

__all__ = ["FORMATS", "PointSet", "cloud_names", "export_format", "export_points", "export_result",
           "make_point_set", "result_point_set", "write_point_set"]


def export_format(path: str | os.PathLike, format: str | None = None) -> str:
    """``format`` checked, or the one ``path``'s extension names."""
    fmt = (format or Path(path).suffix.lstrip(".")).lower()
    if fmt not in WRITERS:
        given = f"format '{format}'" if format else f"{path}: the extension '{Path(path).suffix}'"
        raise DataError(f"{given} is not an export format; choose one of {', '.join(FORMATS)}.")
    return fmt


def write_point_set(ps: PointSet, path: str | os.PathLike, format: str | None = None) -> str:
    """Write ``ps``; returns the format used."""
    fmt = export_format(path, format)
    WRITERS[fmt](ps, path)
    return fmt


def export_points(path: str | os.PathLike, points, fields: Mapping[str, np.ndarray] | None = None,
                  colors=None, format: str | None = None, name: str = "points") -> str:
    """Write ``points`` (N, 3) with per-point ``fields`` (name -> (N,) or (N, K)) and optional
    colours; the format from ``format`` or the file's extension. Returns the format used."""
    fmt = export_format(path, format)      # checked before any array work
    return write_point_set(make_point_set(name, points, fields, colors), path, fmt)


def export_result(result: Result, path: str | os.PathLike, format: str | None = None,
                  cloud: str | None = None, source: str = "result") -> PointSet:
    """Write one cloud of ``result`` (default its main one) with every per-point array of it.
    Returns what was written."""
    fmt = export_format(path, format)
    ps = result_point_set(result, cloud, source)
    write_point_set(ps, path, fmt)
    return ps
