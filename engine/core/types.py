"""Frozen values that cross the thread line between the engine and the viewer.

Only numpy arrays, plain Python values and these dataclasses cross it: never tensors, Qt or VTK
objects. Arrays inside are treated as read-only by convention.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np


@dataclass(frozen=True)
class PointCloud:
    """One cloud of a dataset or a result. ``points`` is (N, 3) float32."""

    points: np.ndarray
    label: int | None = None
    normals: np.ndarray | None = None
    part_ids: np.ndarray | None = None
    source: str = ""
    # How the cloud was normalised (centre, scale) so a result can be mapped back.
    centre: tuple[float, float, float] = (0.0, 0.0, 0.0)
    scale: float = 1.0
    # Number of points in the source before fixed-N sampling (for "1,024 of 113,662 used").
    original_count: int | None = None
    # (N, 3) uint8 0..255 colours from the file, if it had any (PLY/PCD/LAS/ASCII r g b).
    colors: np.ndarray | None = None
    # Every other per-point scalar from the file by name, (N,) each: intensity, classification ...
    fields: Mapping[str, np.ndarray] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.points.shape[0])


@dataclass(frozen=True)
class Progress:
    """A step of a running job. ``preview`` is a small dict of numpy arrays / floats, or None."""

    done: float
    total: float
    message: str = ""
    preview: Mapping[str, Any] | None = None

    @property
    def fraction(self) -> float:
        return 0.0 if self.total <= 0 else min(1.0, max(0.0, self.done / self.total))


@dataclass(frozen=True)
class Result:
    """What a job returns.

    ``arrays``: named numpy arrays (points, scalars, ...); ``metrics``: JSON-able numbers and
    strings; ``params``: the parameters used; ``provenance``: seed, dataset and checkpoint
    fingerprints, versions. Everything needed to save the result and draw it again.
    """

    kind: str
    arrays: Mapping[str, np.ndarray] = field(default_factory=dict)
    metrics: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    provenance: Mapping[str, Any] = field(default_factory=dict)
