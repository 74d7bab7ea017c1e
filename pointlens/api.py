"""open_dataset, load_checkpoint and explain: any catalog method from Python, checked by its spec.

``explain(method, model, sample, **kw)`` is generic over the catalog (``methods()`` lists it):
the sample goes to the method's first cloud input (a dataset item, or an (N, 3) array), or to
its dataset input (a path, 'builtin' or an open Dataset) for methods that read a whole dataset;
the sample's label goes to a ``label`` input. Each keyword is one of the method's other inputs
(``b=`` for mix, ``target=`` for FlowAM) if the spec declares one by that name, else a parameter,
checked against the spec's range before any work starts (``engine.catalog.start``).
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from engine import ParameterError, PointCloud
from engine.core.spec import MethodSpec
from pointlens.dataset import Dataset
from pointlens.result import Result


def methods() -> list[str]:
    """Every method ``explain`` can run (the catalog's)."""
    from engine import method_names

    return sorted(method_names())


def open_dataset(path: str | os.PathLike = "builtin", *, points: int | None = 1024, split: str = "test",
                 sampling: str = "first", normalize: bool = True, seed: int = 0) -> Dataset:
    """A dataset (a file, a folder, or 'builtin'), read lazily; ``ds[i]`` is sample i of ``split``,
    ``points`` points each (None: all)."""
    from engine.data import Loading, open_dataset as engine_open

    ds = engine_open(path, Loading(points=points, sampling=sampling, normalize=normalize, seed=seed))
    ds.split(split)
    return Dataset(ds, split)


def load_checkpoint(spec: str | os.PathLike, device: str = "cpu"):
    """A checkpoint file, or a bundled demo model ('demo:pointnet', 'demo:pointmask', ...), in eval
    mode on ``device``: ``.model``, ``.classes``, ``.meta``, ``.path``."""
    from engine.models.checkpoints import load_checkpoint as engine_load

    return engine_load(spec, device)


def load_result(path: str | os.PathLike) -> Result:
    """A saved result file (``Result.save``, ``pointlens run ... --out``, the GUI's Save result)."""
    from engine import load_result as engine_load

    return Result(engine_load(path))


def _sample_inputs(spec: MethodSpec, sample: Any) -> dict:
    cloud_input = next((i.name for i in spec.inputs if i.kind == "points"), None)
    data_inputs = [i.name for i in spec.inputs if i.kind == "dataset"]
    # FlowAM takes an open dataset ('dataset') or a spec ('data'): a path goes to the spec
    data_input = "data" if "data" in data_inputs else next(iter(data_inputs), None)
    if sample is None:
        return {}
    if data_input and isinstance(sample, (Dataset, str, os.PathLike)):
        # by its path: such methods read the dataset their own way (their `points`, `limit`)
        return {data_input: sample.path if isinstance(sample, Dataset) else os.fspath(sample)}
    if cloud_input is None:
        takes = ", ".join(f"{i.name} ({i.kind})" for i in spec.inputs) or "nothing"
        raise ParameterError(f"method '{spec.key}' takes no single cloud; its inputs: {takes}.")
    if isinstance(sample, PointCloud):
        out = {cloud_input: sample.points}
        if sample.label is not None and any(i.kind == "label" for i in spec.inputs):
            out[next(i.name for i in spec.inputs if i.kind == "label")] = int(sample.label)
        return out
    pts = np.asarray(sample)
    if pts.ndim != 2 or pts.shape[1] != 3 or pts.dtype.kind not in "fiu":
        raise ParameterError(f"method '{spec.key}': the sample must be a dataset item or an (N, 3) array, "
                             f"not {type(sample).__name__} {getattr(pts, 'shape', '')}.")
    return {cloud_input: np.ascontiguousarray(pts, dtype=np.float32)}


def explain(method: str, model: Any = None, sample: Any = None, /, *, device: str = "cpu", progress: bool = False,
            **kwargs) -> Result:
    """Run ``method`` on ``sample`` with ``model`` (a loaded checkpoint, a path or 'demo:<model>';
    None for methods without one) and return its Result. See the module docstring for the
    keywords; ``progress=True`` draws a progress bar on stderr. The first three are positional
    only, so a method's own parameter may be called ``method`` (mix) or ``model`` (train)."""
    from engine import Job, run_sync, start, specs

    spec = specs.get(method)
    inputs = _sample_inputs(spec, sample)
    params = {}
    for key, value in kwargs.items():
        (inputs if key in spec.input_names else params)[key] = value
    if model is not None and not spec.needs_model:
        raise ParameterError(f"method '{method}' takes no model; call explain('{method}', None, ...).")
    job = Job(method, inputs, params, model=model, device=device)
    return Result(run_sync(start(job), progress_bar=progress))
