"""METHOD "parae-explain": what a ParAE network makes of one cloud (paper Fig. 3).

For the cloud: the mixture (pi, mu, Sigma), each point's responsibilities Gamma and partition
(argmax over J), the mixture density g on a grid and its isosurface g = c (marching cubes),
per-point and global features. The drawing helpers (``isosurface`` re-contours a cached grid
without running the network, ``ellipsoid`` builds 1-sigma glyphs) live in engine/numeric/gmm_geometry.py and are
re-exported here.

Result arrays (saved as root datasets by engine.results.save_result): points (N, 3), pi (J,),
mu (J, 3), sigma (J, 3, 3), sigma_eigvals (J, 3), partition (N,), responsibilities (N, J),
point_features (N, C), global_feature (G,), point_density (N,), density (grid, float32),
grid_origin (3,), iso_vertices (V, 3), iso_faces (F, 3). Metrics hold nll, level, grid_spacing,
density_floor, parts, eps.
"""
from __future__ import annotations

import numpy as np

from engine.core.errors import DataError, ModelError
from engine.core.method import Method, implements
from engine.core.types import Progress, Result
from engine.methods.model_input import model_device
from engine.specs import parae as spec
from engine.numeric.gmm_geometry import (DensityGrid, Gmm, default_level, density_grid, density_grid_steps,  # noqa: F401
                             ellipsoid, ellipsoid_axes, isosurface, mixture_density)


def load_cloud(points=None, data: str | None = None, index: int = 0, split: str = "test",
               n_points: int | None = None) -> tuple[np.ndarray, dict]:
    """The cloud to explain: given points, or sample ``index`` of a dataset split."""
    from engine.data.dataset import check_points
    from engine.data.open import open_sample

    if points is not None:
        return check_points(np.asarray(points), "points"), {}
    if not data:
        raise DataError("No cloud: give points or a dataset (--data PATH|builtin) and --index.")
    cloud, ds = open_sample(data, index, split, n_points)
    label = cloud.label
    return cloud.points, {"data": str(data), "split": split, "index": int(index),
                          "label": label, "class": ds.class_name(label) if label is not None else None,
                          "source": cloud.source}


def gmm_from_result(result: Result) -> Gmm:
    a = result.arrays
    return Gmm.of(a["pi"], a["mu"], a["sigma"])


def grid_from_result(result: Result) -> DensityGrid:
    """The cached density grid of a result, for re-contouring on a level slider."""
    return DensityGrid(np.asarray(result.arrays["density"], np.float32),
                       np.asarray(result.arrays["grid_origin"], np.float64),
                       float(result.metrics["grid_spacing"]), float(result.metrics["density_floor"]))


def feature_distances(features: np.ndarray, index: int) -> np.ndarray:
    """Euclidean distance of every point's feature from point ``index``'s (paper Fig. 3 bottom)."""
    f = np.asarray(features, np.float64)
    return np.linalg.norm(f - f[int(index)], axis=1)


def provenance(model) -> dict:
    """Where the model came from: its checkpoint (``Loaded.path``) and the checkpoint's metadata."""
    net = model.model
    out = {"checkpoint": model.path or None, "model": getattr(net, "key", "") or model.key,
           "config": getattr(net, "config", {})}
    meta = {k: model.meta[k] for k in ("model", "fingerprint", "data") if k in (model.meta or {})}
    if meta:
        out["checkpoint_meta"] = meta
    return out


@implements(spec.PARAE_EXPLAIN)
class ParaeExplain(Method):
    def run(self, params, *, model, points=None, data=None, index=0, split="test", n_points=None):
        import torch

        loaded, model = model, model.model
        if not hasattr(model, "gmm"):
            raise ModelError(f"Model '{getattr(model, 'key', type(model).__name__)}' is not a ParAE "
                             f"model (it has no Gaussian parts).",
                             hint="Open a checkpoint trained with --model parae (e.g. demo:parae).")
        yield Progress(0, 4, "loading cloud")
        pts, where = load_cloud(points, data, index, split, n_points)
        yield Progress(1, 4, "Gaussian parts")
        dev = model_device(model)
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                g = model.gmm(torch.as_tensor(pts[None], dtype=torch.float32, device=dev))
        finally:
            model.train(was_training)
        gamma = g["gamma"][0].float().cpu().numpy()
        gmm = Gmm.of(*(g[k][0].cpu().numpy() for k in ("pi", "mu", "sigma")))
        yield Progress(2, 4, "density grid")
        grid = None
        for done, total, grid in density_grid_steps(gmm, params.resolution, points=pts,
                                                    margin=params.margin):
            if grid is None and done % 8 == 0:
                yield Progress(2 + done / total, 4, f"density grid: part {done} of {total}")
        point_density = mixture_density(gmm, pts)
        level = float(np.quantile(point_density, params.level_quantile)) if params.auto_level else params.level
        yield Progress(3, 4, "isosurface")
        verts, faces = isosurface(gmm, level, grid)
        radii, _ = ellipsoid_axes(gmm.sigma)
        arrays = {
            "points": pts.astype(np.float32),
            "pi": gmm.pi, "mu": gmm.mu, "sigma": gmm.sigma, "sigma_eigvals": radii ** 2,
            "partition": gamma.argmax(1).astype(np.int32),
            "responsibilities": gamma.astype(np.float32),
            "point_features": g["features"][0].float().cpu().numpy(),
            "global_feature": g["global_"][0].float().cpu().numpy(),
            "point_density": point_density,
            "density": grid.values, "grid_origin": grid.origin,
            "iso_vertices": verts, "iso_faces": faces,
        }
        metrics = {"nll": float(g["nll"][0]), "level": float(level), "grid_spacing": grid.spacing,
                   "density_floor": grid.floor, "parts": gmm.parts, "eps": float(model.eps),
                   "used_parts": int(len(np.unique(arrays["partition"]))),
                   "iso_vertices": int(len(verts)), "iso_faces": int(len(faces))}
        metrics.update({k: v for k, v in where.items() if v is not None})
        yield Progress(4, 4, "done")
        return Result("parae", arrays=arrays, metrics=metrics,
                      params={"resolution": params.resolution, "margin": params.margin,
                              "auto_level": params.auto_level, "level": float(level),
                              "level_quantile": params.level_quantile},
                      provenance=provenance(loaded))
