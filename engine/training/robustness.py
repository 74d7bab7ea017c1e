"""The "robustness" method: the SageMix paper's Table 3 for several checkpoints at once
(spec: engine.specs.training.ROBUSTNESS; the checkpoints are a parameter: rows to compare).

For every checkpoint: accuracy on the clean split and under each corruption (engine.numeric.corruptions:
Gaussian noise 0.01 / 0.05, rotation 180 degrees about x / z, scaling x0.6 / x2.0, dropout 25 % /
50 %), and the expected calibration error on the clean split (the paper reports ECE "in the same
setting as the robustness test", 15 bins, engine.metrics). Every cell is the "evaluate" method
on the same clouds (loaded once, with the same corruption seed for every checkpoint), so the
rows differ only by the model.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.numeric import corruptions
from engine.core.errors import DataError, ParameterError
from engine.models.base import require_classifier
from engine.training.evaluate import Evaluate
from engine.core.method import JobGenerator, Method, implements
from engine.core.params import as_dict
from engine.core.types import Progress, Result
from engine.specs.training import ROBUSTNESS
from engine.specs.training import SAMPLINGS

CLEAN = "clean"


def checkpoint_list(text: str) -> list[str]:
    specs = [s.strip() for s in str(text).split(",") if s.strip()]
    if not specs:
        raise ParameterError("robustness needs at least one checkpoint.",
                             hint="E.g. --checkpoints base.safetensors,sagemix.safetensors.")
    return specs


def named(spec: str, params):
    """``spec`` with what the user said about every checkpoint (model, options, class names)."""
    from engine.models.checkpoint_choice import CheckpointChoice

    return CheckpointChoice.make(spec, params.model or None, params.model_options or None,
                                 params.classes or None)


def row_name(spec: str) -> str:
    """A short row label: 'demo:pointnet' as is, a path by its file name without suffix."""
    return spec if spec.startswith("demo:") else Path(spec).stem


@implements(ROBUSTNESS)
class Robustness(Method):
    def run(self, params, *, device: str = "cpu", data="builtin") -> JobGenerator:
        from engine.data import Loading, open_dataset
        from engine.models.checkpoint_options import with_dataset_classes
        from engine.training.batches import spread_indices

        specs = checkpoint_list(params.checkpoints)
        columns = [corruptions.parse(c).spec for c in params.corruptions.split(",") if c.strip()]
        yield Progress(0, 1, "loading checkpoints")
        loaded = [named(s, params).load(device) for s in specs]   # nothing named: a plain cached load
        for spec, ld in zip(specs, loaded):
            require_classifier(ld, "the robustness table", name=str(spec))
        norm = loaded[0].meta.get("normalisation") or {}
        n_points = params.points or int(norm.get("points") or 1024)
        sampling = norm.get("sampling") if norm.get("sampling") in SAMPLINGS else "first"
        yield Progress(0, 1, "loading data")
        ds = open_dataset(str(data), Loading(points=n_points, sampling=sampling, seed=0))
        split = ds.split(params.split)
        x, y = split.arrays(indices=spread_indices(len(split), params.limit))
        if len(y) == 0:
            raise DataError(f"{ds.path}: split '{params.split}' is empty; nothing to evaluate.")
        classes = list(ds.classes)
        loaded = [with_dataset_classes(ld, classes) for ld in loaded]   # as for any job
        cols = [CLEAN] + columns
        acc = np.full((len(specs), len(cols)), np.nan)
        ece = np.full((len(specs), len(cols)), np.nan)
        total = len(specs) * len(cols)
        evaluate = Evaluate()
        for i, spec in enumerate(specs):
            for j, col in enumerate(cols):
                cell = i * len(cols) + j
                ep = Evaluate.Params(corrupt="" if col == CLEAN else col, corrupt_seed=params.seed,
                                     batch_size=params.batch_size)
                gen = evaluate.run(ep, model=loaded[i], device=device, data=(x, y, classes))
                while True:
                    try:
                        p = next(gen)
                    except StopIteration as stop:
                        res = stop.value
                        break
                    yield Progress(cell + p.fraction, total, f"{row_name(spec)}: {col}")
                acc[i, j] = res.metrics["accuracy"]
                ece[i, j] = res.metrics["ece"]
        table = []
        for i, spec in enumerate(specs):
            row = {"checkpoint": spec, "name": row_name(spec), "model": loaded[i].key}
            row.update({c: float(acc[i, j]) for j, c in enumerate(cols)})
            row["ece"] = float(ece[i, 0])
            table.append(row)
        metrics = {"columns": cols, "table": table, "n": int(len(y)), "points": int(x.shape[1]),
                   "data": str(ds.path), "split": params.split, "seed": params.seed}
        return Result(kind="robustness", arrays={"accuracy": acc, "ece": ece},
                      metrics=metrics, params=as_dict(params),
                      provenance={"checkpoints": [ld.path for ld in loaded], "data": str(ds.path)})
