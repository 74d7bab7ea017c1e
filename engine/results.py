"""Save any job Result to an HDF5 file and read it back.

Layout: every array is a root dataset under its own name (``points``, ``lambda``, ...);
the attributes hold ``kind`` and JSON strings ``metrics``, ``params``, ``provenance``; scalar
parameters are also plain attributes (``sigma``, ``pi``) for readers that do not parse JSON.
Writes are atomic.
"""
from __future__ import annotations

import json
import os

import numpy as np

from .atomic import atomic_path
from .errors import DataError
from .types import Result

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


def save_result(result: Result, path: str | os.PathLike) -> None:
    import h5py

    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = FORMAT
            f.attrs["kind"] = result.kind
            f.attrs["metrics"] = to_json(result.metrics)
            f.attrs["params"] = to_json(result.params)
            f.attrs["provenance"] = to_json(result.provenance)
            for k, v in result.params.items():
                if isinstance(v, (int, float, str, bool, np.generic)) and k not in f.attrs:
                    f.attrs[k] = v
            for name, arr in result.arrays.items():
                arr = np.asarray(arr)
                if arr.dtype.kind in "UO":
                    arr = arr.astype("S")
                f.create_dataset(name, data=arr, compression="gzip" if arr.size > 4096 else None)


def load_result(path: str | os.PathLike) -> Result:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("format") != FORMAT:
                raise DataError(f"{path}: not a PointLens result file (no '{FORMAT}' marker).",
                                hint="Open it as a dataset instead, or save the result again.")
            arrays = {k: f[k][()] for k in f.keys() if isinstance(f[k], h5py.Dataset)}
            return Result(kind=str(f.attrs["kind"]), arrays=arrays,
                          metrics=json.loads(f.attrs["metrics"]), params=json.loads(f.attrs["params"]),
                          provenance=json.loads(f.attrs["provenance"]))
    except OSError as e:
        raise DataError(f"{path}: cannot read this result file ({e}).",
                        hint="The file may be truncated; save the result again.") from None
