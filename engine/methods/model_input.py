"""Inputs every method checks the same way: the cloud it is given, the device its model is on.

(The model itself reaches a method through one door: engine.catalog.start resolves the job's
model once and passes a loaded checkpoint.)
"""
from __future__ import annotations

from typing import Any

import numpy as np

from engine.core.errors import DataError
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
