"""Occlusion saliency: remove each neighbourhood of points in turn, record the target class's
probability drop; a point's importance is the mean drop over the neighbourhoods containing it.

Removal overwrites the removed points with copies of a kept one (see predict.keep_only): for a
max-pooling network that equals deleting them, and every occluded cloud keeps the same size, so
they batch.
"""
from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from engine.core.errors import ParameterError
from engine.core.jobs import Ticker
from engine.core.method import Method, implements
from engine.core.types import Progress, Result
from engine.data.dataset import farthest_point_indices
from engine.methods.inspect.predict import keep_only, probabilities
from engine.methods.model_input import as_points
from engine.specs import inspect as spec


def occlusion_patches(points: np.ndarray, patches: int, patch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(centre indices (P,), member indices (P, k)): P farthest-point centres and each one's k
    nearest points (itself first), k = min(patch_size, N - 1) so a point always stays."""
    n = len(points)
    if n < 2:
        raise ParameterError("occlusion needs a cloud of at least 2 points.")
    p = min(int(patches), n)
    k = min(int(patch_size), n - 1)
    centres = farthest_point_indices(points.astype(np.float64), p)
    _, members = cKDTree(points).query(points[centres], k=k)
    return centres, np.asarray(members, dtype=np.int64).reshape(p, k)


@implements(spec.OCCLUSION)
class Occlusion(Method):
    def run(self, params, *, model, points, target=None):
        net, classes = model.model, model.classes
        pts = as_points(points)
        base = probabilities(net, pts[None])[0]
        t = int(base.argmax()) if target is None else int(target)
        if not 0 <= t < base.shape[0]:
            raise ParameterError(f"target class {t} is outside the model's {base.shape[0]} classes.")
        centres, members = occlusion_patches(pts, params.patches, params.patch_size)
        drops = np.zeros(len(centres))
        ticker = Ticker()
        for start in range(0, len(centres), params.batch_size):
            chunk = members[start:start + params.batch_size]
            batch = np.empty((len(chunk), len(pts), 3), np.float32)
            for j, idx in enumerate(chunk):
                keep = np.ones(len(pts), bool)
                keep[idx] = False
                batch[j] = keep_only(pts, keep)
            drops[start:start + len(chunk)] = base[t] - probabilities(net, batch)[:, t]
            if ticker.due():
                yield Progress(start + len(chunk), len(centres), "occluding neighbourhoods")
        total = np.zeros(len(pts))
        count = np.zeros(len(pts))
        np.add.at(total, members.reshape(-1), np.repeat(drops, members.shape[1]))
        np.add.at(count, members.reshape(-1), 1.0)
        importance = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
        name = classes[t] if t < len(classes) else str(t)
        return Result("occlusion",
                      arrays={"points": pts, "importance": importance.astype(np.float32),
                              "probabilities": base.astype(np.float32), "drops": drops.astype(np.float32),
                              "centres": centres.astype(np.int64)},
                      metrics={"target": t, "target_name": name, "probability": float(base[t]),
                               "largest_drop": float(drops.max()), "covered": int((count > 0).sum()),
                               "total": len(pts)},
                      params={"patches": params.patches, "patch_size": params.patch_size,
                              "batch_size": params.batch_size},
                      provenance={"checkpoint": model.path})
