"""Which clouds a result holds, and which of its arrays are per-point fields of each.

A result (engine.core.types.Result) is a bag of named arrays; its spec says which exist but not
which belong to which cloud, so export follows one rule, written here once:

- a **cloud** is an (N, 3) float array (``points``, ``original``, ``mixed`` ...), or one member
  of a (K, N, 3) float stack (``history[0]`` .. ``history[K-1]``); arrays named like vectors or
  colours (``normals``, ``colors`` ...) are fields, not clouds;
- the **main** cloud is ``points`` when there is one, else the first by name (a result file
  lists its arrays by name, so a result in memory and the same result saved agree);
- a cloud's **fields** are the numeric arrays with N rows, (N,) or (N, K), other than the clouds.
  Two exceptions: per-cloud arrays whose length may equal N by chance (class probabilities,
  ParAE's global feature), and arrays that name another cloud by their suffix: with clouds
  ``source_a`` and ``source_b``, ``saliency_b`` belongs to ``source_b`` only.
- an (N, 3) array named like colours (``colors``, ``rgb`` ...) with values 0..255 or 0..1 becomes
  the cloud's colours.
"""
from __future__ import annotations

import re
from typing import Mapping

import numpy as np

from engine.core.errors import DataError
from engine.core.types import Result
from engine.export.pointset import PointSet, as_colors, make_point_set

COLOUR_NAMES = ("colors", "colours", "color", "colour", "rgb")
VECTOR_NAMES = ("normals", "vectors", "displacement", *COLOUR_NAMES)
# One value per class or per cloud: never per point, whatever its length.
PER_CLOUD = re.compile(r"^(probabilities.*|logits?|global_feature)$")
_STACK = re.compile(r"^(.*)\[(\d+)\]$")


def _is_cloud(name: str, a: np.ndarray) -> bool:
    return a.ndim == 2 and a.shape[1] == 3 and a.shape[0] > 0 and a.dtype.kind == "f" and name not in VECTOR_NAMES


def cloud_names(arrays: Mapping[str, np.ndarray]) -> list[str]:
    """The clouds of a result's arrays, main first, then by name."""
    names = []
    for name, a in arrays.items():
        a = np.asarray(a)
        if _is_cloud(name, a):
            names.append(name)
        elif a.ndim == 3 and a.shape[2] == 3 and a.shape[1] > 0 and a.dtype.kind == "f":
            names += [f"{name}[{k}]" for k in range(a.shape[0])]
    def order(name: str):               # a file's arrays come back sorted: memory and file agree
        m = _STACK.match(name)
        return (name != "points", m.group(1) if m else name, int(m.group(2)) if m else -1)

    return sorted(names, key=order)


def _suffix(name: str) -> str | None:
    base = name.split("[")[0]
    return base.rsplit("_", 1)[1] if "_" in base else None


def _cloud_points(arrays: Mapping[str, np.ndarray], name: str) -> np.ndarray:
    m = _STACK.match(name)
    if m and m.group(1) in arrays and np.asarray(arrays[m.group(1)]).ndim == 3:
        return np.asarray(arrays[m.group(1)])[int(m.group(2))]
    return np.asarray(arrays[name])


def fields_of(arrays: Mapping[str, np.ndarray], cloud: str, clouds: list[str]) -> tuple[dict, np.ndarray | None]:
    """(fields, colours) of ``cloud`` by the rule above."""
    n = _cloud_points(arrays, cloud).shape[0]
    bases = {c.split("[")[0] for c in clouds}
    others = {_suffix(c) for c in clouds if c != cloud and c.split("[")[0] != cloud.split("[")[0]}
    others.discard(_suffix(cloud))
    others.discard(None)
    fields, colours = {}, None
    for name, a in arrays.items():
        a = np.asarray(a)
        if name in bases or PER_CLOUD.match(name) or a.dtype.kind not in "fiub":
            continue
        if a.ndim not in (1, 2) or a.shape[0] != n or _suffix(name) in others:
            continue
        if name in COLOUR_NAMES and colours is None and as_colors(a) is not None:
            colours = a
            continue
        fields[name] = a
    return fields, colours


def result_point_set(result: Result, cloud: str | None = None, source: str = "result") -> PointSet:
    """The cloud ``cloud`` (default: the main one) of ``result`` with its fields. ``source`` names
    the result in messages (its file)."""
    arrays = {k: np.asarray(v) for k, v in result.arrays.items()}
    names = cloud_names(arrays)
    if not names:
        raise DataError(f"{source}: this '{result.kind}' result holds no point cloud (no (N, 3) array); "
                        f"nothing to export.", hint="Export a result of a method that draws points.")
    if cloud is None:
        cloud = names[0]
    elif cloud not in names:
        raise DataError(f"{source}: no cloud '{cloud}' in this '{result.kind}' result; "
                        f"choose one of: {', '.join(names)}.")
    fields, colours = fields_of(arrays, cloud, names)
    return make_point_set(cloud, _cloud_points(arrays, cloud), fields, colours)
