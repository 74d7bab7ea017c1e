"""Explain one cloud with a trained PointMask or PointMap model (METHOD "pointmask-explain").

PointMask result arrays (N = points of the cloud):
- ``points`` (N, 3): the cloud explained;
- ``mask_probability`` (N,): sigmoid(J) with eps = 0, i.e. sigmoid(mu) (paper Fig. 2's field);
- ``mask`` (N,): M = clamp(relu(sigmoid(J) - t), 0, 1) at the threshold t used;
- ``kept`` (N,) bool: M > 0, i.e. mask_probability > t;
- ``mu``, ``sigma`` (N,): the per-point normal of J;
- ``probabilities`` (K,): the model's own prediction (sampled masks, as ``forward`` in eval mode);
- ``probabilities_unmasked``, ``probabilities_masked`` (K,).
PointMap: ``mapped`` (N, 3) = P + mu, ``displacement`` (N, 3) = mu, ``displacement_norm`` (N,),
``sigma`` (N, 3); no mask arrays (PointMap moves points and keeps them all: kept = total).

A new threshold needs no new job: ``mask_at_threshold(mask_probability, t)`` recomputes M and
kept from the saved probability (the viewer's slider uses it).
"""
from __future__ import annotations

import numpy as np

from engine.core.errors import ModelError, ParameterError
from engine.core.method import Method, implements
from engine.core.types import Progress, Result
from engine.methods.model_input import as_points, model_device
from engine.specs import pointmask as spec

# What each prediction in the metrics is; written into the result so the JSON explains itself.
DEFINITIONS = {
    "predicted": "classifier G on the full cloud P, no mask (the model without its mask layer)",
    "predicted_masked": "G on P * M with eps = 0 at threshold t (masked points moved to the "
                        "origin, the paper's masking); PointMap: G on the mapped cloud P + mu",
    "predicted_kept_only": "G on the kept points alone (mask_probability > t), unscaled; "
                           "null when no point is kept",
    "predicted_model": "the model's own prediction: G on P * M averaged over the model's "
                       "eval_samples draws of eps (what `pointlens eval` scores)",
}


def mask_at_threshold(mask_probability: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """(M, kept) at threshold t from sigmoid(J): M = clip(p - t, 0, 1), kept = p > t.

    Equal to the model's ``mask_relu`` on the same J; numpy only, so a slider can call it per frame.
    """
    if not (np.isfinite(threshold) and 0.0 <= threshold < 1.0):
        raise ParameterError(f"threshold t = {threshold} must lie in [0, 1).")
    p = np.asarray(mask_probability, dtype=np.float32)
    m = np.clip(p - np.float32(threshold), 0.0, 1.0)
    return m, m > 0


def _name(classes: list[str], i: int | None) -> str | None:
    if i is None:
        return None
    return classes[i] if 0 <= i < len(classes) else str(i)


def check_variational(model) -> str:
    key = getattr(model, "key", type(model).__name__)
    if key not in ("pointmask", "pointmap") or not hasattr(model, "encoder"):
        raise ModelError(f"pointmask-explain needs a 'pointmask' or 'pointmap' model; this is '{key}'.",
                         hint="Open a PointMask/PointMap checkpoint (e.g. demo:pointmask), or train one "
                              "with `pointlens train --model pointmask`.")
    return key


@implements(spec.EXPLAIN)
class PointMaskExplain(Method):
    def run(self, params, *, model, points=None, label=None, data=None, index=0, split="test", n_points=None):
        import torch

        from engine.models.pointmask import keep_probability

        source = {}
        if points is None and data is not None:
            points, label, source = load_sample(data, index, split, n_points, model.meta)
        checkpoint = model.path
        model, classes = model.model, model.classes
        key = check_variational(model)
        pts = as_points(points)
        t = float(model.threshold) if params.model_threshold else float(params.threshold)
        yield Progress(0, 1, f"explaining with {key}")
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                x = torch.as_tensor(pts[None], dtype=torch.float32, device=model_device(model))
                mu, logvar = model.encoder(x)
                sigma = torch.exp(0.5 * logvar)
                clouds = {"predicted": x, "predicted_model": None}
                if key == "pointmask":
                    prob = torch.sigmoid(mu)[0]
                    m = torch.clamp(torch.relu(prob - t), 0.0, 1.0)
                    kept = m > 0
                    clouds["predicted_masked"] = x * m[None, :, None]
                    clouds["predicted_kept_only"] = x[:, kept] if bool(kept.any()) else None
                    # J = mu + sigma eps is kept when sigmoid(J) > t, i.e. with probability
                    # Phi((mu - logit t) / sigma); one seeded draw shows a mask as training sees it.
                    keep_p = keep_probability(mu[0], sigma[0], t)
                    eps = torch.randn(mu[0].shape, generator=torch.Generator().manual_seed(params.sample_seed))
                    sampled = torch.sigmoid(mu[0] + sigma[0] * eps.to(mu.device)) > t
                    arrays = {"mask_probability": prob, "mask": m, "kept": kept, "mu": mu[0], "sigma": sigma[0],
                              "keep_probability": keep_p, "kept_sampled": sampled}
                else:
                    clouds["predicted_masked"] = x + mu
                    arrays = {"mapped": (x + mu)[0], "displacement": mu[0],
                              "displacement_norm": mu[0].norm(dim=-1), "sigma": sigma[0]}
                    kept = torch.ones(len(pts), dtype=torch.bool)
                probs = {}
                for name, cloud in clouds.items():
                    if name == "predicted_model":
                        probs[name] = torch.exp(model(x))[0]
                    elif cloud is not None:
                        probs[name] = torch.softmax(model.classifier(cloud), -1)[0]
        finally:
            model.train(was_training)
        out = {k: v.cpu().numpy() for k, v in arrays.items()}
        out = {k: (v if v.dtype == bool else v.astype(np.float32)) for k, v in out.items()}
        out["points"] = pts
        out["probabilities"] = probs["predicted_model"].cpu().numpy().astype(np.float32)
        out["probabilities_unmasked"] = probs["predicted"].cpu().numpy().astype(np.float32)
        out["probabilities_masked"] = probs["predicted_masked"].cpu().numpy().astype(np.float32)
        preds = {name: int(probs[name].argmax()) if name in probs else None for name in DEFINITIONS}
        metrics = {"model": key, "threshold": t, "kept": int(kept.sum()), "total": len(pts),
                   **preds, **{f"{k}_name": _name(classes, v) for k, v in preds.items()},
                   "classes": classes, "definitions": dict(DEFINITIONS)}
        if key == "pointmask":
            metrics["kept_sampled"] = int(out["kept_sampled"].sum())
            metrics["mean_keep_probability"] = float(out["keep_probability"].mean())
        if key == "pointmap":
            metrics["mean_displacement"] = float(out["displacement_norm"].mean())
        if label is not None:
            metrics["label"] = int(label)
            metrics["label_name"] = _name(classes, int(label))
        metrics.update(source)
        return Result("pointmask-explain", arrays=out, metrics=metrics,
                      params={"threshold": t, "model_threshold": params.model_threshold,
                              "sample_seed": params.sample_seed},
                      provenance={"checkpoint": str(checkpoint or ""), **source})


def load_sample(data, index: int | None, split: str | None, n_points: int | None, meta: dict | None = None):
    """Sample ``index`` of a dataset split, cut to ``n_points`` (default: the point count the
    checkpoint with metadata ``meta`` was trained at, else 1024). Returns (points, label,
    provenance dict)."""
    from engine.data.open import open_sample

    index = 0 if index is None else index
    split = split or "test"
    if n_points is None:
        n_points = ((meta or {}).get("normalisation") or {}).get("points")
    n_points = int(n_points or 1024)
    cloud, _ = open_sample(data, index, split, n_points)
    return cloud.points, cloud.label, {"data": str(data), "split": split, "index": int(index),
                                       "points_per_cloud": n_points}
