"""Resolve the model a method runs on: a loaded module (tests, GUI cache) or a checkpoint spec."""
from __future__ import annotations

from typing import Any

import numpy as np

from engine.core.errors import DataError, ModelError
from engine.data.dataset import check_points


def load_model(model: Any = None, checkpoint: str | None = None, device: str = "cpu"):
    """Return (model, class names or None). ``model`` wins; else the checkpoint (cached) is loaded."""
    if model is None:
        if not checkpoint:
            raise ModelError("No model: open a checkpoint (a path, or a demo model such as demo:pointnet).")
        from engine.models.checkpoints import load_checkpoint_cached

        loaded = load_checkpoint_cached(checkpoint, device)
        model = loaded.model
        classes = loaded.meta.get("classes") if isinstance(loaded.meta, dict) else None
    else:
        classes = getattr(model, "classes", None)
    return model, (list(classes) if classes else None)


def resolve_model(model: Any = None, checkpoint: str | None = None, device: str = "cpu"):
    """Return (model, classes); without names in the checkpoint, classes are "class 0" ..."""
    model, classes = load_model(model, checkpoint, device)
    if classes is None:
        n = model.config.get("num_classes") if hasattr(model, "config") else None
        classes = [f"class {i}" for i in range(int(n))] if n else []
    return model, classes


def as_points(points: Any, name: str = "points") -> np.ndarray:
    """Validate an (N, 3) input cloud given to a method (finite, non-empty)."""
    if points is None:
        raise DataError(f"No {name} given: pick a sample first.")
    return check_points(np.asarray(points), name)


def model_device(model) -> "torch.device":  # noqa: F821
    import torch

    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")
