"""Classification metrics on numpy arrays: accuracy, per-class accuracy, confusion, top-k, ECE.

All inputs are numpy: ``logits`` (n, k) and integer ``labels`` (n,). Accuracies are fractions in
[0, 1]. ECE follows Guo et al. 2017 ("On calibration of modern neural networks"), the definition
the SageMix paper cites: confidences (max softmax probability) go into ``bins`` equal-width bins
over [0, 1] (right-closed, the first bin also takes 0); ECE = sum_b |B_b|/n * |acc(B_b) - conf(B_b)|.
"""
from __future__ import annotations

import numpy as np

from engine.core.errors import ParameterError


def _check(logits: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels)
    if logits.ndim != 2 or labels.ndim != 1 or logits.shape[0] != labels.shape[0]:
        raise ParameterError(f"metrics need logits (n, k) and labels (n,); got {logits.shape} and {labels.shape}.")
    if labels.size and (labels.min() < 0 or labels.max() >= logits.shape[1]):
        raise ParameterError(f"labels must lie in 0..{logits.shape[1] - 1} for {logits.shape[1]} "
                             f"classes; got {labels.min()}..{labels.max()}.",
                             hint="The checkpoint may have fewer classes than the dataset.")
    if not np.isfinite(logits).all():
        raise ParameterError("the model produced NaN or Inf logits; metrics cannot be computed.",
                             hint="The checkpoint may be broken (diverged training).")
    return logits, labels.astype(np.int64)


def softmax(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    logits, labels = _check(logits, labels)
    return float((logits.argmax(1) == labels).mean()) if labels.size else float("nan")


def confusion_matrix(logits: np.ndarray, labels: np.ndarray, num_classes: int | None = None) -> np.ndarray:
    """(k, k) int64 counts; row = true class, column = predicted class."""
    logits, labels = _check(logits, labels)
    k = num_classes or logits.shape[1]
    out = np.zeros((k, k), np.int64)
    np.add.at(out, (labels, logits.argmax(1)), 1)
    return out


def per_class_accuracy(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Recall of each class (k,); NaN for classes without samples."""
    cm = confusion_matrix(logits, labels)
    support = cm.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, np.diag(cm) / np.maximum(support, 1), np.nan)


def top_k_accuracy(logits: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Fraction of samples whose label is among the k largest logits (ties: lower index first)."""
    logits, labels = _check(logits, labels)
    if not 1 <= k <= logits.shape[1]:
        raise ParameterError(f"top-k needs 1 <= k <= {logits.shape[1]}, got k = {k}.")
    # stable descending order so ties resolve the same way as argmax (first index wins)
    order = np.argsort(-logits, axis=1, kind="stable")[:, :k]
    return float((order == labels[:, None]).any(1).mean()) if labels.size else float("nan")


def expected_calibration_error(logits: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    logits, labels = _check(logits, labels)
    if labels.size == 0:
        return float("nan")
    probs = softmax(logits)
    conf = probs.max(1)
    correct = (probs.argmax(1) == labels).astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    # bin b holds conf in (edges[b], edges[b+1]]; conf == 0 cannot occur (max prob >= 1/k)
    which = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        sel = which == b
        if sel.any():
            ece += sel.mean() * abs(correct[sel].mean() - conf[sel].mean())
    return float(ece)


def summary(logits: np.ndarray, labels: np.ndarray, classes: list[str] | None = None,
            ks: tuple[int, ...] = (1, 2, 3, 4, 5), bins: int = 15) -> dict:
    """Everything `pointlens eval --json` reports, as plain Python values."""
    logits, labels = _check(logits, labels)
    k = logits.shape[1]
    names = list(classes) if classes else [f"class {i}" for i in range(k)]
    names += [f"class {i}" for i in range(len(names), k)]
    pca = per_class_accuracy(logits, labels)
    return {
        "n": int(labels.size),
        "accuracy": accuracy(logits, labels),
        "per_class_accuracy": {names[i]: (None if np.isnan(v) else float(v)) for i, v in enumerate(pca)},
        "mean_class_accuracy": float(np.nanmean(pca)) if np.isfinite(pca).any() else None,
        "top_k": {str(kk): top_k_accuracy(logits, labels, kk) for kk in ks if kk <= k},
        "ece": expected_calibration_error(logits, labels, bins),
        "confusion": confusion_matrix(logits, labels).tolist(),
        "classes": names[:k],
    }


# --- PointMask paper, Table 2 (appended by the pointmask helper) --------------------------------

def lowest_classes(per_class_accuracy, n: int = 5, classes: list[str] | None = None) -> list[tuple[str, float]]:
    """The ``n`` lowest-scoring classes as (name, accuracy), lowest first (paper Table 2).

    ``per_class_accuracy``: a {name: accuracy} dict (as ``summary`` gives; None = no samples)
    or an array with ``classes``. Classes without samples are skipped; ties keep class order.
    """
    if n < 1:
        raise ParameterError(f"lowest_classes needs n >= 1, got {n}.")
    if isinstance(per_class_accuracy, dict):
        items = list(per_class_accuracy.items())
    else:
        acc = np.asarray(per_class_accuracy, dtype=np.float64).reshape(-1)
        names = list(classes) if classes else [f"class {i}" for i in range(acc.size)]
        if len(names) != acc.size:
            raise ParameterError(f"{acc.size} accuracies but {len(names)} class names.")
        items = list(zip(names, acc.tolist()))
    valid = [(str(k), float(v)) for k, v in items if v is not None and np.isfinite(v)]
    order = sorted(range(len(valid)), key=lambda i: (valid[i][1], i))
    return [valid[i] for i in order[:n]]


def lowest_classes_table(per_model: dict, n: int = 5, by: str | None = None) -> dict:
    """Table 2 across models: the ``n`` lowest classes of model ``by`` (default: the first)
    with every model's accuracy on them. ``per_model``: {model: {class: accuracy}}.
    Returns {"by": model, "classes": [names], "accuracy": {model: [acc or None per class]}}."""
    if not per_model:
        raise ParameterError("lowest_classes_table needs at least one model's per-class accuracy.")
    by = by if by is not None else next(iter(per_model))
    if by not in per_model:
        raise ParameterError(f"model '{by}' is not among {', '.join(per_model)}.")
    names = [name for name, _ in lowest_classes(per_model[by], n)]
    return {"by": by, "classes": names,
            "accuracy": {m: [pca.get(c) for c in names] for m, pca in per_model.items()}}
