"""Table I metrics of Flow AM: target logit, softmax, Chamfer to real objects, FID, legality.

- Representativity: the target's pre-softmax logit and its softmax probability. The paper's
  table prints negative "Sftmax" values, i.e. log-probabilities; both are reported
  (``softmax`` and ``log_softmax``).
- Chamfer: ``chamfer`` is CD-L2 (engine.ops.chamfer_l2, the pytorch3d convention the authors'
  scripts use) averaged over 5 real objects of the class drawn with the seed;
  ``chamfer_eq7`` is the paper's equation (7), the one-sided mean Euclidean distance from each
  explanation point to its nearest real point.
- FID (8) between SETS of features (REFERENCES 3.3: the authors' script fed single vectors, which
  yields NaN; never do that): mean and covariance of the explanations' features against those of
  real objects of the class. A set of one explanation has zero covariance, so its FID is the
  Frechet distance between that point and the real Gaussian, ||mu_r - x||^2 + Tr(Sigma_r); with
  several explanations (seeds or classes) the set covariance enters as usual. Features are the
  two layers of the authors' FID_eval (global feature and fc2 after BN/ReLU); ``fid`` is their
  mean, as coded there, and each layer's value is reported too.
- Legality: a point is legal when every coordinate lies in [-C, C] (the paper's "legal interval
  [-1, 1]" of ModelNet40). ``legality`` is the fraction of legal points, ``legal`` whether the
  whole explanation is (Table III's Legality% counts legal explanations).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from engine.specs.flowam import FID_LAYERS  # noqa: F401  (declared in the spec)

CHAMFER_REALS = 5


def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    """Symmetric square root of a covariance (eigenvalues below 0 are round-off: clipped)."""
    w, v = np.linalg.eigh((s + s.T) / 2.0)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^1/2).

    Tr((S1 S2)^1/2) = sum of sqrt(eigenvalues of R S2 R) with R = S1^1/2: S1 S2 is similar to the
    symmetric PSD matrix R S2 R, so two symmetric eigendecompositions give the trace exactly, also
    when a covariance is singular (a set of one). This replaces pytorch-fid's scipy.linalg.sqrtm,
    which holds the GIL for ~1 s at 1,024 dimensions and froze the GUI thread meanwhile.
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    diff = mu1 - mu2
    r = _psd_sqrt(s1)
    inner = r @ s2 @ r
    eig = np.linalg.eigvalsh((inner + inner.T) / 2.0)
    tr_covmean = float(np.sqrt(np.clip(eig, 0.0, None)).sum())
    value = float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * tr_covmean)
    return max(value, 0.0)   # tiny negative values are round-off of equal distributions


def set_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of an (n, d) feature set; a set of one has zero covariance."""
    f = np.asarray(features, np.float64)
    if f.ndim != 2 or f.shape[0] == 0:
        raise ValueError(f"a feature set must be (n >= 1, d), got {f.shape}")
    mu = f.mean(0)
    cov = np.cov(f, rowvar=False) if f.shape[0] > 1 else np.zeros((f.shape[1], f.shape[1]))
    return mu, np.atleast_2d(cov)


def fid_sets(generated: np.ndarray, real: np.ndarray) -> float:
    """FID between two feature sets (n, d) and (m, d)."""
    return frechet_distance(*set_statistics(generated), *set_statistics(real))


def chamfer_to_reals(clouds: np.ndarray, reals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per explanation: mean CD-L2 and mean equation-(7) distance over the real clouds."""
    import torch

    from engine.ops.geometry import chamfer_l2, pairwise_sq_dist

    g = torch.as_tensor(np.asarray(clouds, np.float32))
    r = torch.as_tensor(np.asarray(reals, np.float32))
    b, m = g.shape[0], r.shape[0]
    gg = g.unsqueeze(1).expand(b, m, *g.shape[1:]).reshape(b * m, *g.shape[1:])
    rr = r.unsqueeze(0).expand(b, m, *r.shape[1:]).reshape(b * m, *r.shape[1:])
    cd = chamfer_l2(gg, rr, reduce="none").view(b, m).mean(1)
    eq7 = pairwise_sq_dist(gg, rr).min(2).values.sqrt().mean(1).view(b, m).mean(1)
    return cd.numpy().astype(np.float64), eq7.numpy().astype(np.float64)


def nearest_real_class(clouds: np.ndarray, reals_by_class: dict[int, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Which class's real objects each explanation lies nearest to (mean CD-L2 over that class's
    reals): (nearest class index per cloud (B,), mean CD-L2 per cloud and class (B, K) with
    columns in ``sorted(reals_by_class)`` order). An explanation "looks like its class" when the
    nearest class is its target: the check a reader makes by eye, as a number."""
    keys = sorted(reals_by_class)
    table = np.stack([chamfer_to_reals(clouds, reals_by_class[k])[0] for k in keys], axis=1)
    return np.asarray(keys)[table.argmin(1)], table


def legality(clouds: np.ndarray, limit: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Per cloud: the fraction of points inside [-C, C]^3 and whether all are."""
    inside = (np.abs(np.asarray(clouds)) <= limit).all(-1)
    return inside.mean(-1), inside.all(-1)


def evaluate(model, clouds: np.ndarray, targets: Sequence[int], classes: Sequence[str],
             chamfer_reals: dict[int, np.ndarray], fid_reals: dict[int, dict[str, np.ndarray]],
             legal_limit: float = 1.0, fid_layers: Sequence[str] = FID_LAYERS) -> dict:
    """Metrics of a set of explanations (B, N, 3) with their target classes.

    ``chamfer_reals[c]``: (m, N, 3) real clouds; ``fid_reals[c][layer]``: (n, d) real features.
    Returns {"per_cloud": [dict per explanation], "set": dict of set metrics per class}.
    """
    from engine.methods.flowam.stats import activations

    clouds = np.asarray(clouds, np.float32)
    targets = np.asarray(targets, np.int64)
    acts = activations(model, clouds, list(fid_layers))
    logits = acts["logits"].astype(np.float64)
    logp = logits - logits.max(1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(1, keepdims=True))
    frac, legal = legality(clouds, legal_limit)
    per = []
    for b, c in enumerate(targets):
        cd, eq7 = chamfer_to_reals(clouds[b:b + 1], chamfer_reals[int(c)])
        pred = int(logits[b].argmax())
        per.append({
            "class": classes[c], "class_index": int(c), "logit": float(logits[b, c]),
            "softmax": float(np.exp(logp[b, c])), "log_softmax": float(logp[b, c]),
            "chamfer": float(cd[0]), "chamfer_eq7": float(eq7[0]),
            "legality": float(frac[b]), "legal": bool(legal[b]),
            "predicted": classes[pred] if pred < len(classes) else str(pred),
            "predicted_index": pred, "success": pred == int(c),
        })
    sets = {}
    for c in sorted(set(int(t) for t in targets)):
        rows = np.flatnonzero(targets == c)
        fids = {layer: fid_sets(acts[layer][rows], fid_reals[c][layer]) for layer in fid_layers}
        sets[classes[c]] = {"fid": float(np.mean(list(fids.values()))),
                            **{f"fid_{k}": v for k, v in fids.items()},
                            "fid_set_size": int(rows.size),
                            "fid_real_count": int(min(fid_reals[c][l].shape[0] for l in fid_layers))}
    return {"per_cloud": per, "set": sets}


def fid_all_classes(model, clouds: np.ndarray, real_clouds: np.ndarray,
                    fid_layers: Sequence[str] = FID_LAYERS) -> dict:
    """FID between explanations of every class (one set) and real objects of every class."""
    from engine.methods.flowam.stats import activations

    g = activations(model, np.asarray(clouds, np.float32), list(fid_layers))
    r = activations(model, np.asarray(real_clouds, np.float32), list(fid_layers))
    fids = {layer: fid_sets(g[layer], r[layer]) for layer in fid_layers}
    return {"fid": float(np.mean(list(fids.values()))), **{f"fid_{k}": v for k, v in fids.items()},
            "fid_set_size": int(len(clouds)), "fid_real_count": int(len(real_clouds))}
