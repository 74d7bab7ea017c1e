"""``serp-explain``: perturb one clean cloud as SeRP does and show what the model makes of it.

Arrays of the Result:
- ``original``, ``perturbed`` (N, 3), ``perturbed_mask`` (N,) bool, ``centres`` (the perturbation
  centres' indices);
- ``reconstructed``: SeRP-PointNet gives one point per input point (N, 3); the transformers
  predict ``n`` points for each of their ``G`` patches, an unordered set (trained with Chamfer),
  so ``reconstructed`` is (G*n, 3) with ``reconstructed_patch`` (G*n,) naming each point's patch;
- ``error`` (N,): Euclidean distance of each original point to its reconstruction (PointNet: the
  same index; transformer: the nearest reconstructed point);
- ``detection_probability`` (N,): the perturbed-point head's probability (transformer: averaged
  over the patches that contain the point; 0 where no patch does, see ``covered``);
- transformer only: ``patch_index`` (N,) the patch each point belongs to (the nearest-centre
  patch among those that contain it, -1 for none), ``covered`` (N,) bool, ``patch_centres``
  (G, 3) and ``patch_centre_index`` (G,); VASP also ``patch_codes`` (G,), each patch token's
  codebook index.

Metrics: ``chamfer_perturbed`` (CD-L2 original vs perturbed), ``chamfer_reconstructed`` (original
vs reconstructed), ``detection_accuracy`` (threshold 0.5). For the transformer both Chamfer values
use the clean points of its patches as the reference set, the set it is trained to rebuild.
"""
from __future__ import annotations

import numpy as np

from engine.core.errors import DataError, ModelError
from engine.core.method import Method, implements
from engine.core.types import Progress, Result
from engine.fingerprint import array_fingerprint
from engine.methods.model_input import as_points, model_device
from engine.ops.perturb import perturb
from engine.specs import serp as spec
from engine.specs.serp import SERP_MODELS


def chamfer_np(a: np.ndarray, b: np.ndarray) -> float:
    """CD-L2 (Point-MAE convention): mean squared NN distance a->b plus b->a."""
    import torch

    from engine.ops.geometry import chamfer_l2

    with torch.no_grad():
        return float(chamfer_l2(torch.as_tensor(a[None]), torch.as_tensor(b[None])))


def check_serp_model(model) -> str:
    key = getattr(model, "key", "")
    if key not in SERP_MODELS:
        raise ModelError(f"serp-explain needs a SeRP model ({', '.join(SERP_MODELS)}); "
                         f"this checkpoint holds a '{key or type(model).__name__}' model.",
                         hint="Open a SeRP checkpoint, e.g. demo:serp-pointnet.")
    return key


def load_cloud(points=None, data: str | None = None, index: int = 0, split: str = "test",
               n_points: int | None = 1024) -> tuple[np.ndarray, dict]:
    """The clean cloud: ``points`` if given, else sample ``index`` of a dataset split
    (``n_points`` per cloud, 1024 as in the paper; None keeps all)."""
    if points is not None:
        return as_points(points)[:, :3].astype(np.float32), {}
    if not data:
        raise DataError("No cloud: give points, or a dataset (--data PATH|builtin) and --index.")
    from engine.data.open import open_sample

    cloud, ds = open_sample(data, index, split, n_points)
    info = {"data": str(data), "split": split, "index": int(index), "label": cloud.label,
            "class": ds.class_name(cloud.label) if cloud.label is not None else None}
    return cloud.points[:, :3].astype(np.float32), info


def explain_pointnet(model, original, perturbed, mask):
    import torch

    with torch.no_grad():
        x = torch.as_tensor(perturbed[None], device=model_device(model))
        out = model.forward_all(x)
        rec = out["reconstructed"][0].cpu().numpy().astype(np.float32)
        prob = torch.softmax(out["detection_logits"][0], -1)[:, 1].cpu().numpy()
    arrays = {"reconstructed": rec, "error": np.linalg.norm(rec - original, axis=1).astype(np.float32),
              "detection_probability": prob.astype(np.float32)}
    metrics = {"chamfer_perturbed": chamfer_np(original, perturbed),
               "chamfer_reconstructed": chamfer_np(original, rec),
               "detection_accuracy": float(((prob > 0.5) == mask).mean()),
               "reconstruction": model.config.get("reconstruction", "")}
    return arrays, metrics


def explain_transformer(model, original, perturbed, mask, anchor: str):
    import torch

    from engine.ops.geometry import pairwise_sq_dist

    with torch.no_grad():
        x = torch.as_tensor(perturbed[None], device=model_device(model))
        out = model.forward_all(x)
        cidx = out["centre_idx"][0].cpu().numpy()
        pidx = out["patch_idx"][0].cpu().numpy()                          # (G, n)
        pred = out["patches"][0].cpu().numpy()                            # (G, n, 3) centre-relative
        prob = torch.softmax(out["detection_logits"][0], -1)[..., 1].cpu().numpy()
        codes = out["codes"][0, 1:].cpu().numpy() if "codes" in out else None    # VASP
    g, n = pidx.shape
    centres = (original if anchor == "clean" else perturbed)[cidx]
    rec = (pred + centres[:, None, :]).reshape(-1, 3).astype(np.float32)
    n_pts = original.shape[0]
    flat = pidx.reshape(-1)
    hits = np.bincount(flat, minlength=n_pts)
    covered = hits > 0
    det = np.bincount(flat, weights=prob.reshape(-1), minlength=n_pts) / np.maximum(hits, 1)
    # Each point's patch: the one with the nearest centre among the patches containing it.
    member = np.zeros((g, n_pts), bool)
    member[np.repeat(np.arange(g), n), flat] = True
    dc = ((perturbed[None, :, :] - perturbed[cidx][:, None, :]) ** 2).sum(-1)
    dc[~member] = np.inf
    patch_index = np.where(covered, dc.argmin(0), -1)
    with torch.no_grad():
        d = pairwise_sq_dist(torch.as_tensor(original[None]), torch.as_tensor(rec[None]))[0]
        err = d.min(dim=1).values.sqrt().numpy()
    clean_set = original[flat]
    arrays = {"reconstructed": rec, "reconstructed_patch": np.repeat(np.arange(g), n).astype(np.int64),
              "error": err.astype(np.float32), "detection_probability": det.astype(np.float32),
              "patch_index": patch_index.astype(np.int64), "covered": covered,
              "patch_centres": perturbed[cidx].astype(np.float32),
              "patch_centre_index": cidx.astype(np.int64)}
    metrics = {"chamfer_perturbed": chamfer_np(clean_set, perturbed[flat]),
               "chamfer_reconstructed": chamfer_np(clean_set, rec),
               "detection_accuracy": float(((det[covered] > 0.5) == mask[covered]).mean()),
               "coverage": float(covered.mean()), "patches": int(g), "patch_size": int(n),
               "anchor": anchor, "detection_trained": bool(model.config.get("cls_weight", 0) > 0)}
    if codes is not None:
        arrays["patch_codes"] = codes.astype(np.int64)
        metrics["distinct_codes"] = int(len(np.unique(codes)))
    return arrays, metrics


@implements(spec.SERP_EXPLAIN)
class SerpExplain(Method):
    def run(self, params, *, model, points=None, data=None, index=0, split="test", n_points=1024):
        loaded, model = model, model.model
        key = check_serp_model(model)
        original, source = load_cloud(points, data, index, split, n_points)
        yield Progress(0, 2, "perturbing")
        pert = perturb(original, params.centres, params.neighbours, params.std, params.mode,
                       rng=np.random.default_rng(params.seed))
        perturbed, mask = pert.points.astype(np.float32), pert.mask
        yield Progress(1, 2, "reconstructing")
        was_training = model.training
        model.eval()
        try:
            if key == "serp-pointnet":
                arrays, metrics = explain_pointnet(model, original, perturbed, mask)
            else:
                arrays, metrics = explain_transformer(model, original, perturbed, mask, params.anchor)
        finally:
            model.train(was_training)
        arrays.update(original=original, perturbed=perturbed, perturbed_mask=mask,
                      centres=pert.centre_idx.astype(np.int64))
        metrics.update(model=key, perturbed_points=int(mask.sum()), points=int(len(original)), **source)
        return Result("serp-explain", arrays=arrays, metrics=metrics,
                      params={"centres": params.centres, "neighbours": params.neighbours,
                              "std": params.std, "mode": params.mode, "seed": params.seed,
                              "anchor": params.anchor},
                      provenance={"seed": params.seed, "model": key, "checkpoint": loaded.path or "",
                                  "points": array_fingerprint(original)})
