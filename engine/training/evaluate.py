"""The "evaluate" method: a classifier checkpoint (the job's model) on a dataset split, optionally
corrupted. Spec: engine.specs.training.EVALUATE.

Reports overall, per-class and top-k accuracy, the confusion matrix and the expected calibration
error (engine.metrics), and returns the logits, labels and sample indices so they can be saved.
Inference runs on an eval-only copy with batch norm folded into the layers before it.
"""
from __future__ import annotations

import numpy as np
import torch

from engine import metrics
from engine.numeric import corruptions
from engine.core.errors import DataError
from engine.core.jobs import Ticker
from engine.core.method import JobGenerator, Method, implements
from engine.core.params import as_dict
from engine.core.types import Progress, Result
from engine.specs import training as spec
from engine.specs.training import SAMPLINGS
from engine.models.base import require_classifier
from engine.training.batches import spread_indices


@implements(spec.EVALUATE)
class Evaluate(Method):
    def run(self, params, *, model, device: str = "cpu", data="builtin") -> JobGenerator:
        """``model``: the job's checkpoint (a ``Loaded``, already on ``device``)."""
        from engine.data import Loading, open_dataset

        corruption = corruptions.parse(params.corrupt) if params.corrupt else None
        loaded = model
        model = loaded.model
        require_classifier(loaded, "evaluate")
        norm = loaded.meta.get("normalisation") or {}
        n_points = params.points or int(norm.get("points") or 1024)
        sampling = params.sampling if params.sampling != "auto" else (
            norm.get("sampling") if norm.get("sampling") in SAMPLINGS else "first")
        yield Progress(0, 1, "loading data")
        warnings: list[str] = []
        if isinstance(data, (tuple, list)):
            x_all = np.asarray(data[0], np.float32)
            y_all = np.asarray(data[1]).reshape(-1).astype(np.int64)
            classes = list(data[2]) if len(data) > 2 and data[2] is not None else list(loaded.classes)
            idx = spread_indices(len(y_all), params.limit)
            x, y, source = x_all[idx], y_all[idx], "arrays"
        else:
            ds = open_dataset(str(data), Loading(points=n_points, sampling=sampling, seed=0))
            split = ds.split(params.split)
            idx = spread_indices(len(split), params.limit)
            x, y = split.arrays(indices=idx)
            classes, source = list(ds.classes), str(ds.path)
        if len(y) == 0:
            raise DataError(f"{source}: split '{params.split}' is empty; nothing to evaluate.")
        if corruption is not None:
            x = corruptions.apply(x, corruption, seed=params.corrupt_seed)
        device = next(model.parameters()).device        # the catalog loaded it onto the job's device
        net, fold_note = model, "not folded"
        if params.fold_bn:
            net, fold_note = _folded(model, x[:min(len(x), 4)], device)
        ticker = Ticker(0.1)
        parts = []
        with torch.inference_mode():
            for start in range(0, len(y), params.batch_size):
                xb = torch.from_numpy(np.ascontiguousarray(x[start:start + params.batch_size])).to(device)
                parts.append(net(xb).float().cpu().numpy())
                if ticker.due():
                    yield Progress(start + len(xb), len(y), f"evaluating {start + len(xb)}/{len(y)}")
        logits = np.concatenate(parts)
        k = logits.shape[1]
        if y.max() >= k:
            raise DataError(f"{source}: labels go up to {int(y.max())} but checkpoint {loaded.path or loaded.key} "
                            f"has {k} classes.", hint="Evaluate on the dataset the model was trained for.")
        if loaded.classes and classes and list(loaded.classes) != list(classes):
            warnings.append(f"the checkpoint's classes ({', '.join(loaded.classes[:4])}, ...) differ from "
                            f"the dataset's ({', '.join(classes[:4])}, ...); labels are compared by index")
        summary = metrics.summary(logits, y, list(loaded.classes) or classes)
        summary.update(checkpoint=loaded.path, model=loaded.key, data=source, split=params.split,
                       points=int(x.shape[1]), corruption=corruption.spec if corruption else None,
                       warnings=warnings, batch_norm=fold_note, report=loaded.report)
        arrays = {"logits": logits, "labels": y, "indices": np.asarray(idx, np.int64),
                  "confusion": np.asarray(summary["confusion"], np.int64)}
        return Result(kind="evaluation", arrays=arrays, metrics=summary,
                      params=dict(as_dict(params), checkpoint=loaded.path or loaded.key),
                      provenance={"checkpoint": loaded.path, "data": source,
                                  "training_data_fingerprint": loaded.meta.get("data_fingerprint")})


def _folded(model, sample: np.ndarray, device) -> tuple[torch.nn.Module, str]:
    """The batch-norm-folded copy, used only if it reproduces the model's logits on a sample."""
    from engine.perf import fold_batchnorm

    net, note = fold_batchnorm(model)
    if net is model:
        return model, note
    with torch.inference_mode():
        xb = torch.from_numpy(np.ascontiguousarray(sample)).to(device)
        a, b = model(xb), net(xb)
    if a.shape != b.shape or not torch.allclose(a, b, rtol=1e-3, atol=1e-4 * (1 + float(a.abs().max()))):
        return model, "batch norm not folded (the folded copy did not reproduce the logits)"
    return net, note
