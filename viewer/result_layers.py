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

from engine import Result

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
    # Gradient norms are heavy-tailed (after a max-pool most points get none): no fixed range
    # here, so the scene's default applies (percentile-clipped, or rank when clipping is not
    # enough; viewer/colour_norm.py), the user may change it, and the colour bar says which.
    sal = Scalar(values, kind="continuous", title=f"{SALIENCY_TITLE} for '{pred}'", normalisation="")
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


@register("serp-explain")
def serp_layers(res: Result) -> list[Layer]:
    """SeRP (issue 8): original by error, perturbed (highlighted), reconstruction, detection probability."""
    a = res.arrays
    orig = np.asarray(a["original"], np.float32)
    pert = np.asarray(a["perturbed"], np.float32)
    rec = np.asarray(a["reconstructed"], np.float32)
    mask = np.asarray(a["perturbed_mask"]).astype(np.int32)
    err = Scalar(np.asarray(a["error"], np.float32), title="reconstruction error |x - x̂|",
                 normalisation="raw distance (unit-sphere coordinates)")
    flag = Scalar(mask, kind="categorical", title="SeRP perturbation", names=("clean", "perturbed"))
    det = Scalar(np.asarray(a["detection_probability"], np.float32), title="P(perturbed) from the detection head",
                 normalisation="probability", clim=(0.0, 1.0))
    size = dict(point_size=6.0, style="spheres")
    layers = [
        PointsLayer("serp.original", points=orig, scalars={"error": err, "perturbed": flag}, active="error",
                    view=0, title="original · reconstruction error", **size),
        PointsLayer("serp.perturbed", points=pert, scalars={"perturbed": flag, "detection": det},
                    active="perturbed", view=1, title="perturbed input", **size),
    ]
    if "reconstructed_patch" in a:
        patch = np.asarray(a["reconstructed_patch"], np.int64)
        g = int(patch.max()) + 1 if patch.size else 0
        rs = {"patch": Scalar(patch, kind="categorical", title="transformer patch",
                              names=tuple(f"patch {i}" for i in range(g)))}
        active, title = "patch", "reconstruction · coloured by patch"
    else:
        rs = {"error": err}
        active, title = "error", "reconstruction · error of its point"
    layers.append(PointsLayer("serp.reconstructed", points=rec, scalars=rs, active=active, view=2, title=title,
                              **size))
    layers.append(PointsLayer("serp.detection", points=pert, scalars={"detection": det, "perturbed": flag},
                              active="detection", view=3, title="perturbed input · detection probability", **size))
    return layers


@register("parae")
def parae_layers(result: Result) -> list[Layer]:
    """ParAE (issue 6): cloud by part (categorical), 1-sigma ellipsoids of mu/Sigma, isosurface."""
    a = result.arrays
    if "points" not in a or "partition" not in a:
        return generic_layers(result)
    parts = int(result.metrics.get("parts", len(np.asarray(a.get("pi", [])))))
    part = Scalar(np.asarray(a["partition"]), kind="categorical", title="ParAE part (argmax responsibility)",
                  names=tuple(f"part {j}" for j in range(parts)))
    layers: list[Layer] = [PointsLayer("parae.points", points=a["points"], scalars={"partition": part},
                                       active="partition", point_size=7.0, style="spheres", title="ParAE parts")]
    if "mu" in a and "sigma" in a:
        layers.append(EllipsoidsLayer("parae.ellipsoids", centres=a["mu"], axes=covariance_axes(a["sigma"]),
                                      opacity=0.35, title="1-sigma ellipsoids"))
    if "iso_vertices" in a and "iso_faces" in a:
        level = result.metrics.get("level")
        layers.append(SurfaceLayer("parae.surface", vertices=a["iso_vertices"], faces=a["iso_faces"], opacity=0.35,
                                   title="ParAE isosurface" + (f" g(x) = {float(level):.3g}" if level else "")))
    return layers


# ---- PointMask / PointMap explanations (viewer/panels/pointmask.py draws these too) -----------
KEPT_MASKED_BIAS = ("kept", "masked", "bias (letter)")


def mask_categories(mask_probability: np.ndarray, threshold: float, is_bias: np.ndarray | None = None) -> np.ndarray:
    """0 kept / 1 masked / 2 bias per point: kept <=> M = clamp(sigmoid(J) - t, 0, 1) > 0 at eps = 0
    <=> sigmoid(J) > t, so a new threshold needs only the stored probabilities."""
    cat = np.where(np.asarray(mask_probability) > threshold, 0, 1).astype(np.int64)
    if is_bias is not None and np.asarray(is_bias).shape == cat.shape:
        cat[np.asarray(is_bias, bool)] = 2
    return cat


@register("pointmask-explain")
def pointmask_layers(result: Result) -> list[Layer]:
    a, m = result.arrays, result.metrics
    if "points" not in a:
        return generic_layers(result)
    pts = np.asarray(a["points"], np.float32)
    if "mapped" in a:       # PointMap: original and mapped cloud side by side
        disp = np.asarray(a["displacement_norm"], np.float32)
        return [PointsLayer("pointmask.original", points=pts, point_size=6.0, color="#0072B2",
                            title="PointMap: original cloud P"),
                PointsLayer("pointmask.mapped", view=1, points=a["mapped"], point_size=6.0, active="displacement",
                            scalars={"displacement": Scalar(disp, title="displacement |mu|",
                                                            normalisation="raw distance (unit-sphere cloud)")},
                            title="PointMap: mapped cloud P + mu")]
    prob = np.asarray(a["mask_probability"], np.float32)
    cat = mask_categories(prob, float(m.get("threshold", 0.5)), a.get("is_bias"))
    return [PointsLayer("pointmask.mask", points=pts, point_size=7.0, style="spheres", active="category",
                        scalars={"category": Scalar(cat, kind="categorical", title="PointMask", names=KEPT_MASKED_BIAS)},
                        cmap="kept-masked-bias", title="PointMask: kept (blue) / masked (grey) / bias (red)"),
            PointsLayer("pointmask.probability", view=1, points=pts, point_size=7.0, style="spheres",
                        active="mask_probability",
                        scalars={"mask_probability": Scalar(prob, title="mask probability sigmoid(mu)",
                                                            normalisation="sigmoid, fixed range 0..1",
                                                            clim=(0.0, 1.0))},
                        title="PointMask: mask probability")]


# ---- mixing (viewer/panels/sagemix.py draws these too) -------------------------------------------
QUERY_GREEN = "#009E73"
MIX_TITLES = {"sagemix": "SageMix", "pointmixup": "PointMixup", "rsmix": "RSMix"}


@register("mix")
def mix_layers(result: Result) -> list[Layer]:
    """A and B with saliency and queries (views 0, 1), the blend by lambda (2), mostly A/B (3)."""
    a, m = result.arrays, result.metrics
    if "source_a" not in a or "mixed" not in a:
        return generic_layers(result)
    layers: list[Layer] = []
    for view, key, who in ((0, "a", "A"), (1, "b", "B")):
        sal = a.get(f"saliency_{key}")
        scalars = {}
        if sal is not None:
            scalars["saliency"] = Scalar(np.asarray(sal, np.float32), title="saliency ||dL/dp||",
                                         normalisation="raw gradient norm (shared scale A/B)")
        layers.append(PointsLayer(f"sagemix.{key}", view=view, points=a[f"source_{key}"], scalars=scalars,
                                  active="saliency" if scalars else None, point_size=6.0,
                                  title=f"{who}: {m.get(f'label_{key}', '')}"))
    q = [int(v) for v in np.asarray(a.get("queries", [-1, -1])).reshape(-1)[:2]]
    if len(q) == 2 and q[0] >= 0 and q[1] >= 0:
        for view, key, i in ((0, "a", q[0]), (1, "b", q[1])):
            layers.append(PointsLayer(f"sagemix.query_{key}", view=view, points=np.asarray(a[f"source_{key}"])[i][None],
                                      color=QUERY_GREEN, point_size=18.0, style="spheres", pickable=False,
                                      title=f"query q_{key}"))
    lam = np.asarray(a["lambda"], np.float32)
    layers.append(PointsLayer("sagemix.mix", view=2, points=a["mixed"], point_size=6.0, active="lambda",
                              scalars={"lambda": Scalar(lam, title="lambda: share of A per point",
                                                        normalisation="fraction 0..1", clim=(0.0, 1.0))},
                              title=f"{MIX_TITLES.get(str(m.get('method')), m.get('method', ''))} blend"))
    layers.append(PointsLayer("sagemix.source", view=3, points=a["mixed"], point_size=6.0, active="from",
                              scalars={"from": Scalar((lam < 0.5).astype(np.int64), kind="categorical",
                                                      title="mostly from", names=("A", "B"))},
                              title="blend: mostly A / mostly B (lambda >= 0.5)"))
    return layers
