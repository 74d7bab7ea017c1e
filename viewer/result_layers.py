"""Turn a job ``Result`` into scene layers (Qt-free, VTK-free).

Used by the session (results shown live or re-opened from HDF5) and by ``pointlens render``, so a
saved result is drawn the same way in both. A method registers its own mapping with
``@register("kind")``; everything else goes through ``generic_layers``, which understands the
common array names:

- ``points`` (N,3): the main cloud; every other (N,) array becomes a scalar on it
  (integer arrays -> categorical); other (N,3) / (M,3) float arrays become extra point layers
  in the next viewports;
- ``centres`` or ``means`` (K,3) with ``covariances`` (K,3,3): 1-sigma ellipsoids;
  or ``axes`` (K,3,3) directly;
- ``vertices`` (V,3) with ``faces`` (F,3): a surface;
- ``origins`` with ``vectors`` (N,3): arrows.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from engine.types import Result

from .scene import ArrowsLayer, EllipsoidsLayer, Layer, PointsLayer, Scalar, SurfaceLayer

Mapper = Callable[[Result], list[Layer]]
MAPPERS: dict[str, Mapper] = {}
SPECIAL = {"points", "centres", "means", "covariances", "axes", "vertices", "faces", "origins",
           "vectors", "model_indices", "probabilities"}


def register(kind: str) -> Callable[[Mapper], Mapper]:
    def deco(fn: Mapper) -> Mapper:
        MAPPERS[kind] = fn
        return fn
    return deco


def layers_for(result: Result) -> list[Layer]:
    return MAPPERS.get(result.kind, generic_layers)(result)


def _is_cloud(a: np.ndarray) -> bool:
    return a.ndim == 2 and a.shape[1] == 3 and a.shape[0] > 0 and a.dtype.kind == "f"


def covariance_axes(cov: np.ndarray) -> np.ndarray:
    """(K,3,3) covariances -> (K,3,3) semi-axes as columns (eigenvectors * sqrt(eigenvalues))."""
    cov = np.asarray(cov, dtype=np.float64).reshape(-1, 3, 3)
    vals, vecs = np.linalg.eigh(0.5 * (cov + np.transpose(cov, (0, 2, 1))))
    return vecs * np.sqrt(np.clip(vals, 0.0, None))[:, None, :]


def _scalars_for(arrays, n: int, classes: list[str]) -> dict[str, Scalar]:
    out = {}
    for name, a in arrays.items():
        a = np.asarray(a)
        if name in SPECIAL or a.ndim != 1 or a.shape[0] != n or a.dtype.kind not in "fiub":
            continue
        names = tuple(classes) if a.dtype.kind in "iu" and "label" in name and classes else ()
        out[name] = Scalar.auto(a, title=name, names=names)
    return out


def generic_layers(result: Result) -> list[Layer]:
    arrays = {k: np.asarray(v) for k, v in result.arrays.items()}
    classes = list(result.metrics.get("classes") or []) if isinstance(result.metrics, dict) else []
    layers: list[Layer] = []
    main = arrays.get("points")
    if main is None or not _is_cloud(main):
        main = next((a for k, a in arrays.items() if k not in SPECIAL and _is_cloud(a)), None)
    view = 0
    if main is not None:
        scalars = _scalars_for(arrays, main.shape[0], classes)
        active = next(iter(scalars), None)
        layers.append(PointsLayer(f"{result.kind}.points", points=main, scalars=scalars, active=active,
                                  title=f"{result.kind}: points"))
        for name, a in arrays.items():
            if name in SPECIAL or a is main or not _is_cloud(a):
                continue
            view += 1
            extra = _scalars_for(arrays, a.shape[0], classes)
            layers.append(PointsLayer(f"{result.kind}.{name}", points=a, view=view, scalars=extra,
                                      active=next(iter(extra), None), title=f"{result.kind}: {name}"))
    centres = arrays.get("centres", arrays.get("means"))
    if centres is not None and centres.ndim == 2 and centres.shape[1] == 3:
        if "axes" in arrays:
            axes = arrays["axes"]
        elif "covariances" in arrays:
            axes = covariance_axes(arrays["covariances"])
        else:
            axes = None
        if axes is not None and len(axes) == len(centres):
            layers.append(EllipsoidsLayer(f"{result.kind}.ellipsoids", centres=centres, axes=axes, opacity=0.5,
                                          title=f"{result.kind}: 1-sigma ellipsoids"))
    if "vertices" in arrays and "faces" in arrays:
        layers.append(SurfaceLayer(f"{result.kind}.surface", vertices=arrays["vertices"], faces=arrays["faces"],
                                   opacity=0.6, title=f"{result.kind}: surface"))
    if "origins" in arrays and "vectors" in arrays:
        layers.append(ArrowsLayer(f"{result.kind}.arrows", origins=arrays["origins"], vectors=arrays["vectors"],
                                  title=f"{result.kind}: arrows"))
    return layers


SALIENCY_TITLE = "saliency |∂CE/∂p|"


@register("inspect")
def inspect_layers(result: Result) -> list[Layer]:
    """The model input coloured by saliency (view 0) and the input T-Net's output (view 1)."""
    a = result.arrays
    m = result.metrics
    if "points" not in a:
        return generic_layers(result)
    pts = np.asarray(a["points"], dtype=np.float32)
    pred = m.get("predicted_name", m.get("predicted", "?"))
    values = np.asarray(a["saliency"], dtype=np.float32)
    # Gradient norms are heavy-tailed: a min-max range paints almost every point the darkest
    # colour. Colours span 0 .. the 99th percentile; the few points above are drawn at the top.
    hi = float(np.percentile(values, 99)) if values.size else 1.0
    hi = hi if hi > 0 else float(values.max()) if values.size and values.max() > 0 else 1.0
    sal = Scalar(values, kind="continuous", title=f"{SALIENCY_TITLE} for '{pred}'",
                 normalisation="colours span 0 to the 99th percentile", clim=(0.0, hi))
    note = str(m.get("used_text", ""))
    layers: list[Layer] = [PointsLayer("inspect.input", points=pts, scalars={"saliency": sal}, active="saliency",
                                       point_size=7.0, style="spheres", title=f"model input · predicted {pred}",
                                       note=note)]
    if "transformed" in a:
        moved = np.asarray(a["transformed"], np.float32)
        layers.append(PointsLayer("inspect.transformed", points=moved, scalars={"saliency": sal}, active="saliency",
                                  view=1, point_size=7.0, style="spheres", pickable=True,
                                  title=f"input T-Net output P·T{transform_note(pts, moved)}"))
    return layers


def transform_note(points: np.ndarray, moved: np.ndarray) -> str:
    """The 3x3 transform's stretch, recovered from the clouds (moved = points @ T)."""
    if len(points) < 3 or points.shape != moved.shape:
        return ""
    t, *_ = np.linalg.lstsq(points.astype(np.float64), moved.astype(np.float64), rcond=None)
    sv = np.linalg.svd(t, compute_uv=False)
    return f" · stretch {', '.join(f'{v:.2f}' for v in sv)}, det {np.linalg.det(t):+.2f}"
