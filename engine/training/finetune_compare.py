"""``finetune-compare``: a classifier trained from scratch vs the same classifier initialised from
a SeRP pre-trained encoder (paper Tables 1-2).

Both runs go through the one training loop (METHOD "train") with identical settings and seed; the
only difference is ``init``: the pre-trained checkpoint's ``encoder_state_dict()`` copied into
the classifier by name. The downstream classifier follows the pre-trained model:

- SeRP-PointNet -> ``pointnet`` at the same width without the feature T-Net (the pre-trained
  encoder has none), so every ``feat.*`` tensor is initialised;
- SeRP-Transformer / VASP -> ``serp-transformer-cls`` with the encoder's sizes.

The pre-trained checkpoint is the job's model (a ``Loaded``); the pre-trained run initialises
from its file (``Loaded.path``), and both runs train on the job's device.
"""
from __future__ import annotations

import dataclasses
import json
import math

import numpy as np

from engine.core.errors import ModelError
from engine.core.jobs import make_params
from engine.core.method import JobGenerator, Method, implements
from engine.core.types import Progress, Result
from engine.specs import serp as spec

PRETRAINED = spec.SERP_MODELS
ENCODER_CONFIG = ("size", "dim", "depth", "heads", "groups", "group_size", "skip_near_origin")


def downstream(key: str, config: dict) -> tuple[str, float, dict]:
    """(classifier key, width, model options) matching the pre-trained encoder."""
    if key == "serp-pointnet":
        return "pointnet", float(config.get("width", 1.0)), {"feature_transform": False}
    if key in ("serp-transformer", "vasp"):
        return "serp-transformer-cls", 1.0, {k: config[k] for k in ENCODER_CONFIG if k in config}
    raise ModelError(f"finetune-compare needs a SeRP pre-trained checkpoint ({', '.join(PRETRAINED)}); "
                     f"this one holds a '{key}' model.", hint="Pre-train with `pointlens train --model serp-pointnet ...`.")


def _final(result: Result) -> dict:
    acc = np.asarray(result.arrays.get("test_acc", []), dtype=np.float64)
    finite = acc[np.isfinite(acc)]
    return {"final": float(finite[-1]) if finite.size else math.nan,
            "best": float(finite.max()) if finite.size else math.nan, "curve": acc,
            "loss": np.asarray(result.arrays.get("loss", []), dtype=np.float64),
            "init": result.metrics.get("init", "")}


@implements(spec.FINETUNE_COMPARE)
class FinetuneCompare(Method):
    def run(self, params, *, model, device, data, test=None) -> JobGenerator:
        from engine.training.train import Train

        pretrained = model
        if not pretrained.path:
            raise ModelError("finetune-compare initialises from the pre-trained checkpoint's file; this "
                             "model was not loaded from one.",
                             hint="Give the pre-trained SeRP checkpoint as the model, e.g. demo:serp-pointnet.")
        meta = dict(pretrained.meta or {})
        config = meta.get("config") or dict(getattr(pretrained.model, "config", {}) or {})
        key = str(meta.get("model") or pretrained.key)
        cls_key, width, options = downstream(key, config)
        # Train takes the device as a parameter or (converted to the method contract) as a keyword.
        device_is_param = "device" in {f.name for f in dataclasses.fields(Train.Params)}
        runs = {}
        for i, (label, init) in enumerate((("scratch", ""), ("pretrained", str(pretrained.path)))):
            out = f"{params.out_prefix}_{label}.safetensors" if params.out_prefix else ""
            values = {
                "model": cls_key, "width": width, "model_options": json.dumps(options),
                "epochs": params.epochs, "lr": params.lr, "batch_size": params.batch_size,
                "points": params.points, "limit": params.limit, "seed": params.seed,
                "scheduler": params.scheduler, "augmentations": params.augmentations,
                "init": init, "out": out}
            extra = {}
            if device_is_param:
                values["device"] = device
            else:
                extra["device"] = device
            tp = make_params(Train.Params, values, owner="method 'train'")
            gen = Train().run(tp, data=data, test=test, **extra)
            try:
                while True:
                    try:
                        p = next(gen)
                    except StopIteration as stop:
                        runs[label] = _final(stop.value)
                        break
                    preview = dict(p.preview or {})
                    preview["run"] = float(i)
                    yield Progress(i + p.fraction, 2, f"{label}: {p.message}", preview)
            finally:
                gen.close()
        s, p = runs["scratch"], runs["pretrained"]
        metrics = {"scratch_accuracy": s["final"], "pretrained_accuracy": p["final"],
                   "gain": p["final"] - s["final"], "scratch_best_accuracy": s["best"],
                   "pretrained_best_accuracy": p["best"], "best_gain": p["best"] - s["best"],
                   "classifier": cls_key, "pretrained_model": key, "init": p["init"]}
        arrays = {"scratch_test_acc": s["curve"], "pretrained_test_acc": p["curve"],
                  "scratch_loss": s["loss"], "pretrained_loss": p["loss"]}
        return Result("finetune-compare", arrays=arrays, metrics=metrics,
                      params=dataclasses.asdict(params),
                      provenance={"seed": params.seed, "checkpoint": str(pretrained.path), "device": str(device),
                                  "data": str(data) if isinstance(data, str) else "arrays",
                                  "classifier_options": options, "width": width})
