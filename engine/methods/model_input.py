"""Inputs every method checks the same way: the cloud it is given, the device its model is on.

(The model itself reaches a method through one door: engine.catalog.start resolves the job's
model once and passes a loaded checkpoint.)
"""
from __future__ import annotations

from typing import Any

import numpy as np

from engine.core.errors import DataError, ModelError
from engine.data.dataset import check_points


def as_points(points: Any, name: str = "points") -> np.ndarray:
    """Validate an (N, 3) input cloud given to a method (finite, non-empty)."""
    if points is None:
        raise DataError(f"No {name} given: pick a sample first.")
    return check_points(np.asarray(points), name)


def model_device(model) -> "torch.device":  # noqa: F821
    import torch

    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def require_classifier(loaded: Any, method: str) -> None:
    """One clear message when a job that reads class scores gets a self-supervised model (a ParAE
    or SeRP checkpoint opened as the window's model used to fail deep in the saliency code with
    numpy's "only one element tensors can be converted to Python scalars")."""
    model = getattr(loaded, "model", loaded)
    task = getattr(model, "task", "classification")
    if task != "classification":
        name = getattr(loaded, "path", None) or getattr(loaded, "key", None) or getattr(model, "key", "")
        raise ModelError(f"{method} needs a classifier; {name} is a {task} "
                         f"'{getattr(model, 'key', type(model).__name__)}' model.",
                         hint="Open a classification checkpoint (e.g. demo:pointnet) as the model; "
                              "self-supervised models have their own panels (ParAE, SeRP).")
