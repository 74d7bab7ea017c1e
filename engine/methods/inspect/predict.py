"""Inspect a prediction: class probabilities, gradient saliency, the input T-Net's view,
the prediction without (or with only) chosen points, and deletion curves.

Deleting points from a PointNet is done by overwriting them with copies of a kept point: the
network is a symmetric function that max-pools per-point features, so duplicates change nothing
and the result equals removing the points, while every curve step keeps the same N and batches.
"""
from __future__ import annotations

import numpy as np

from engine.core.errors import ParameterError
from engine.core.jobs import Ticker
from engine.core.method import Method, implements
from engine.core.types import Progress, Result
from engine.methods.model_input import as_points, model_device
from engine.models.base import require_classifier
from engine.specs import inspect as spec


def probabilities(model, clouds: np.ndarray) -> np.ndarray:
    """Class probabilities of a batch of clouds (B, N, 3), in eval mode (the model's own mode is
    restored: a model in train mode would use batch statistics and give batch-dependent answers)."""
    import torch

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            x = torch.as_tensor(clouds, dtype=torch.float32, device=model_device(model))
            return torch.softmax(model(x), dim=-1).cpu().numpy()
    finally:
        model.train(was_training)


def saliency_and_probs(model, points: np.ndarray):
    """Gradient norm of the predicted class's cross-entropy w.r.t. each point, and probabilities."""
    import torch

    was_training = model.training
    model.eval()
    try:
        x = torch.as_tensor(points[None], dtype=torch.float32, device=model_device(model))
        x.requires_grad_(True)
        with torch.enable_grad():
            out = model.forward_all(x) if hasattr(model, "forward_all") else {"logits": model(x)}
            logits = out["logits"]
            pred = int(logits.argmax(-1))
            loss = torch.nn.functional.cross_entropy(logits, torch.tensor([pred], device=x.device))
            (grad,) = torch.autograd.grad(loss, x)
        probs = torch.softmax(logits.detach(), -1)[0].cpu().numpy()
        trans = out.get("trans")
        moved = (x.detach() @ trans.detach())[0].cpu().numpy() if trans is not None else None
        return grad[0].norm(dim=-1).cpu().numpy(), probs, pred, moved
    finally:
        model.train(was_training)


def _top(probs: np.ndarray, classes: list[str], k: int = 5) -> list[list]:
    order = np.argsort(-probs)[:k]
    return [[classes[i] if i < len(classes) else str(i), float(probs[i])] for i in order]


@implements(spec.INSPECT)
class Inspect(Method):
    def run(self, params, *, model, points, label=None):
        require_classifier(model, "Inspect")
        model, classes = model.model, model.classes
        pts = as_points(points)
        yield Progress(0, 1, "classifying")
        sal, probs, pred, moved = saliency_and_probs(model, pts)
        arrays = {"probabilities": probs.astype(np.float32), "saliency": sal.astype(np.float32)}
        if moved is not None:
            arrays["transformed"] = moved.astype(np.float32)
        metrics = {"predicted": pred, "predicted_name": classes[pred] if pred < len(classes) else str(pred),
                   "top5": _top(probs, classes), "classes": classes}
        if label is not None:
            metrics["label"] = int(label)
        return Result("inspect", arrays=arrays, metrics=metrics)


@implements(spec.PREDICT_SUBSET)
class PredictSubset(Method):
    def run(self, params, *, model, points, indices):
        require_classifier(model, "predict-subset")
        model, classes = model.model, model.classes
        pts = as_points(points)
        sel = np.zeros(len(pts), bool)
        idx = np.asarray(indices if indices is not None else [], dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= len(pts)):
            raise ParameterError(f"selected point indices must lie in [0, {len(pts) - 1}].")
        sel[idx] = True
        keep = ~sel if params.mode == "without" else sel
        if not keep.any():
            raise ParameterError(f"'{params.mode}' the selection leaves no points to classify; "
                                 "select fewer (or more) points.")
        yield Progress(0, 1, "classifying")
        p_all, p_sub = probabilities(model, np.stack([pts, keep_only(pts, keep)]))
        pred, orig = int(p_sub.argmax()), int(p_all.argmax())
        return Result("predict-subset", arrays={"probabilities": p_sub.astype(np.float32)},
                      metrics={"predicted": pred, "predicted_name": classes[pred] if pred < len(classes) else str(pred),
                               "original_predicted": orig, "probability_of_original": float(p_sub[orig]),
                               "kept": int(keep.sum()), "total": len(pts), "mode": params.mode},
                      params={"mode": params.mode})


def keep_only(points: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Same-size cloud equal (for max-pooling models) to ``points[keep]``."""
    out = points.copy()
    out[~keep] = points[np.flatnonzero(keep)[0]]
    return out


@implements(spec.DELETION_CURVE)
class DeletionCurve(Method):
    def run(self, params, *, model, points, scalar, target=None):
        model, classes = model.model, model.classes
        pts = as_points(points)
        s = np.asarray(scalar, dtype=np.float64).reshape(-1)
        if s.shape[0] != len(pts) or not np.isfinite(s).all():
            raise ParameterError(f"the scalar must have one finite value per point ({len(pts)}), got {s.shape[0]}.")
        if target is None:
            target = int(probabilities(model, pts[None])[0].argmax())
        ks = np.unique(np.linspace(0, len(pts) - 1, params.steps).round().astype(int))
        rng = np.random.default_rng(params.seed)
        orders = [np.argsort(-s, kind="stable")] + [rng.permutation(len(pts)) for _ in range(params.random_orders)]
        curves = np.zeros((len(orders), len(ks)))
        ticker, total = Ticker(), len(orders)
        for o, order in enumerate(orders):
            batch = np.empty((len(ks), len(pts), 3), np.float32)
            for j, k in enumerate(ks):
                keep = np.ones(len(pts), bool)
                keep[order[:k]] = False
                batch[j] = keep_only(pts, keep)
            curves[o] = probabilities(model, batch)[:, target]
            if ticker.due():
                yield Progress(o + 1, total, "deleting points", preview={"k": ks, "probability": curves[0]})
        return Result("deletion-curve",
                      arrays={"k": ks.astype(np.int64), "probability": curves[0].astype(np.float32),
                              "probability_random": curves[1:].mean(0).astype(np.float32)},
                      metrics={"target": int(target), "target_name": classes[target] if target < len(classes) else str(target),
                               "area_scalar": float(np.trapezoid(curves[0], ks) / ks[-1]),
                               "area_random": float(np.trapezoid(curves[1:].mean(0), ks) / ks[-1])},
                      params={"steps": params.steps, "random_orders": params.random_orders, "seed": params.seed})
