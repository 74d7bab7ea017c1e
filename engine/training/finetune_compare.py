"""``finetune-compare``: a classifier trained from scratch vs the same classifier initialised from
a SeRP pre-trained encoder (paper Tables 1-2).

Both runs go through the one training loop (METHOD "train") with identical settings and seed; the
only difference is ``init``: the pre-trained checkpoint's ``encoder_state_dict()`` copied into
the classifier by name. The downstream classifier follows the pre-trained model:

- SeRP-PointNet -> ``pointnet`` at the same width without the feature T-Net (the pre-trained
  encoder has none), so every ``feat.*`` tensor is initialised;
- SeRP-Transformer / VASP -> ``serp-transformer-cls`` with the encoder's sizes.
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass

import numpy as np

from engine.core.errors import ModelError
from engine.core.jobs import make_params
from engine.core.method import JobGenerator, Method
from engine.core.params import param
from engine.core.registry import METHODS
from engine.core.types import Progress, Result

PRETRAINED = ("serp-pointnet", "serp-transformer", "vasp")
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


@METHODS.register("finetune-compare")
class FinetuneCompare(Method):
    name = "finetune-compare"
    title = "SeRP: fine-tune vs scratch"

    @dataclass(frozen=True)
    class Params:
        epochs: int = param(10, lo=1, hi=100000, help="epochs of each classifier run")
        lr: float = param(1e-3, lo=0.0, lo_open=True, hi=10.0, help="learning rate (both runs)")
        batch_size: int = param(32, lo=2, hi=65536, help="clouds per step")
        points: int = param(1024, lo=8, hi=1000000, help="points per cloud")
        limit: int = param(0, lo=0, help="use at most this many clouds per split (0 = all)")
        seed: int = param(0, lo=0, hi=2**31 - 1, help="seed of both runs (same initial head, same batches)")
        scheduler: str = param("step", choices=("step", "cosine", "none"), help="learning-rate schedule")
        augmentations: str = param("scale,shift", help="augmentations of both runs")
        device: str = param("cpu", help="cpu, cuda, cuda:N or mps")
        out_prefix: str = param("", help="write <prefix>_scratch.safetensors and <prefix>_pretrained.safetensors")

    def run(self, params, checkpoint=None, data=None, test=None) -> JobGenerator:
        from engine.models.checkpoints import read_meta
        from engine.training.train import Train

        if not checkpoint:
            raise ModelError("finetune-compare needs the pre-trained SeRP checkpoint.",
                             hint="E.g. demo:serp-pointnet.")
        meta = read_meta(checkpoint)
        cls_key, width, options = downstream(str(meta.get("model", "")), meta.get("config") or {})
        runs = {}
        for i, (label, init) in enumerate((("scratch", ""), ("pretrained", str(checkpoint)))):
            out = f"{params.out_prefix}_{label}.safetensors" if params.out_prefix else ""
            tp = make_params(Train.Params, {
                "model": cls_key, "width": width, "model_options": json.dumps(options),
                "epochs": params.epochs, "lr": params.lr, "batch_size": params.batch_size,
                "points": params.points, "limit": params.limit, "seed": params.seed,
                "scheduler": params.scheduler, "augmentations": params.augmentations,
                "device": params.device, "init": init, "out": out}, owner="method 'train'")
            gen = Train().run(tp, data=data, test=test)
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
                   "classifier": cls_key, "pretrained_model": meta.get("model"), "init": p["init"]}
        arrays = {"scratch_test_acc": s["curve"], "pretrained_test_acc": p["curve"],
                  "scratch_loss": s["loss"], "pretrained_loss": p["loss"]}
        return Result("finetune-compare", arrays=arrays, metrics=metrics,
                      params=dataclasses.asdict(params),
                      provenance={"seed": params.seed, "checkpoint": str(checkpoint),
                                  "data": str(data) if isinstance(data, str) else "arrays",
                                  "classifier_options": options, "width": width})
