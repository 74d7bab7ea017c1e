"""Save any job Result to an HDF5 file and read it back.

Layout: every array is a root dataset under its own name (``points``, ``lambda``, ...);
the attributes hold ``kind`` and JSON strings ``metrics``, ``params``, ``provenance``; scalar
parameters are also plain attributes (``sigma``, ``pi``) for readers that do not parse JSON.
Writes are atomic.
"""
from __future__ import annotations

import json
import os
from typing import Iterator

import numpy as np

from engine.atomic import atomic_path
from engine.core.errors import DataError
from engine.core.types import Result

FORMAT = "pointlens-result/1"


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None  # JSON has no NaN/Inf: "not measured" reads as null
    return obj


def to_json(obj) -> str:
    return json.dumps(_jsonable(obj), sort_keys=True)


RESERVED = ("format", "kind", "metrics", "params", "provenance")   # attributes the file itself uses


def write_result_group(group, result: Result) -> Iterator[str]:
    """Write ``result`` into an HDF5 group (a file's root or a session's sub-group): kind,
    metrics, params and provenance as JSON attributes, each array as a dataset; text arrays as
    UTF-8 bytes marked ``text`` (HDF5 has no unicode arrays). Yields each array's name once it is
    written (sessions report progress between arrays)."""
    group.attrs["kind"] = result.kind
    group.attrs["metrics"] = to_json(result.metrics)
    group.attrs["params"] = to_json(result.params)
    group.attrs["provenance"] = to_json(result.provenance)
    for name, arr in result.arrays.items():
        a = np.asarray(arr)
        text = a.dtype.kind in "UO"
        if text:
            a = np.char.encode(a.astype(str), "utf-8")
        d = group.create_dataset(name, data=a, compression="gzip" if a.size > 4096 else None)
        d.attrs["text"] = text
        yield name


def read_result_group(group) -> Result:
    """The Result ``write_result_group`` wrote (text arrays decoded back to str)."""
    import h5py

    arrays = {}
    for name, d in group.items():
        if isinstance(d, h5py.Dataset):
            a = d[()]
            arrays[name] = np.char.decode(a, "utf-8") if d.attrs.get("text", False) else a
    return Result(kind=str(group.attrs["kind"]), arrays=arrays, metrics=json.loads(group.attrs["metrics"]),
                  params=json.loads(group.attrs["params"]), provenance=json.loads(group.attrs["provenance"]))


def save_result(result: Result, path: str | os.PathLike) -> None:
    import h5py

    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = FORMAT
            for k, v in result.params.items():     # scalar params also as plain attributes
                if isinstance(v, (int, float, str, bool, np.generic)) and k not in RESERVED:
                    f.attrs[k] = v
            for _ in write_result_group(f, result):
                pass


def load_result(path: str | os.PathLike) -> Result:
    from engine.data.h5safe import open_h5
    from engine.inputs import record_input

    try:
        with open_h5(path, "result file") as f:
            record_input(path, "result file")
            if f.attrs.get("format") != FORMAT:
                raise DataError(f"{path}: not a PointLens result file (no '{FORMAT}' marker).",
                                hint="Open it as a dataset instead, or save the result again.")
            return read_result_group(f)
    except OSError as e:
        raise DataError(f"{path}: cannot read this result file ({e}).",
                        hint="The file may be truncated; save the result again.") from None
