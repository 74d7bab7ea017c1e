"""The "mix" method: mix two clouds with SageMix, PointMixup or RSMix and show every step.

Spec: engine.specs.mix.MIX (parameters, inputs). Inputs: ``a``, ``b`` (N, 3) clouds of equal size;
``label_a``, ``label_b`` (class indices; from the model's prediction when left out); ``classes``
(names; else the model's); optionally ``assignment`` (N,) and ``queries`` (2,) to keep them fixed.
The job's model (optional; SageMix needs it for saliency) arrives as ``model`` (a ``Loaded``).

Result arrays: ``source_a``, ``source_b`` (N, 3); ``assignment`` (N,) partner index in b of each
point of a (-1 where RSMix keeps a's point); ``queries`` (2,) index of q_a in a and q_b in b (-1
for PointMixup); ``lambda`` (N,) share of a per point; ``mixed`` (N, 3); ``saliency_a``,
``saliency_b`` (N,) when a model is given. Params ``sigma`` and ``pi`` (the value used, after a
draw) are saved as attributes. Metrics: ``label`` (class name -> weight), ``lambda`` (mean share
of a), ``queries``, ``assignment_cost`` (sum of Euclidean pair distances), ``pi``, ``sigma``.

The viewer's sliders then call ``engine.numeric.mix_blend.blend(a, b[assignment], a[q_a],
b[q_b], sigma, pi)`` directly: the assignment and the queries are kept, only weights change.
"""
from __future__ import annotations

import numpy as np
import torch

from engine.core.errors import DataError, ParameterError
from engine.core.method import JobGenerator, Method, implements
from engine.core.params import as_dict
from engine.core.types import Progress, Result
from engine.methods.inspect.saliency import point_saliency
from engine.methods.mix import pointmixup, rsmix, sagemix
from engine.methods.model_input import as_points, model_device
from engine.ops.assignment import _pool, assign_pair, assignment_cost, is_bijection
from engine.specs import mix as spec

DEFAULT_THETA = {"sagemix": spec.DEFAULT_THETA, "pointmixup": spec.DEFAULT_ALPHA, "rsmix": spec.DEFAULT_BETA}


def _wait_assignment(a: np.ndarray, b: np.ndarray, exact: bool) -> JobGenerator:
    """Solve in the pool while yielding progress every 0.1 s (a 2,048-point pair takes ~1 s)."""
    future = _pool().submit(assign_pair, a, b, "exact" if exact else "warm")
    while True:
        try:
            perm, cost = future.result(timeout=0.1)
            return np.asarray(perm, np.int64), float(cost)
        except TimeoutError:
            yield Progress(0.4, 1, "optimal assignment")


def class_name(i: int, classes: list[str]) -> str:
    return classes[i] if 0 <= i < len(classes) else f"class {i}"


def label_weights(lam_mean: float, label_a: int, label_b: int, classes: list[str]) -> dict[str, float]:
    """Eq. 8 as {class name: weight} (one entry when both clouds share a class)."""
    out: dict[str, float] = {}
    for label, w in ((label_a, float(lam_mean)), (label_b, float(1.0 - lam_mean))):
        out[class_name(label, classes)] = out.get(class_name(label, classes), 0.0) + w
    return out


@implements(spec.MIX)
class Mix(Method):
    def run(self, params, *, model=None, a, b, label_a=None, label_b=None, classes=None, assignment=None,
            queries=None) -> JobGenerator:
        pa = as_points(a, "cloud a").astype(np.float32)
        pb = as_points(b, "cloud b").astype(np.float32)
        if pa.shape != pb.shape:
            raise DataError(f"mix needs two clouds of the same size, got {pa.shape[0]} and {pb.shape[0]} points.",
                            hint="Load both with the same --points.")
        n = pa.shape[0]
        if params.theta != -1.0 and params.theta <= 0:
            raise ParameterError(f"theta = {params.theta} must be positive (or -1 for the default).")
        if params.pi != -1.0 and params.pi < 0:
            raise ParameterError(f"pi = {params.pi} must lie in [0, 1] (or -1 to draw it).")
        if params.radius != -1.0 and params.radius < 0:
            raise ParameterError(f"radius = {params.radius} must be >= 0 (or -1 to draw it).")
        theta = DEFAULT_THETA[params.method] if params.theta == -1.0 else params.theta
        gen = torch.Generator().manual_seed(params.seed)
        net, names = None, list(classes or [])
        if model is not None:
            net = model.model
            names = names or list(model.classes)
        elif params.method == "sagemix":
            raise ParameterError("SageMix needs a classifier for saliency: give a checkpoint.",
                                 hint="E.g. --checkpoint demo:pointnet.")
        arrays: dict[str, np.ndarray] = {"source_a": pa, "source_b": pb}
        sal_a = sal_b = None
        if net is not None:
            yield Progress(0.1, 1, "saliency")
            dev = model_device(net)
            x = torch.from_numpy(np.stack([pa, pb])).to(dev)
            if label_a is None or label_b is None:
                was = net.training
                try:
                    net.eval()
                    with torch.no_grad():
                        pred = net(x).argmax(-1).cpu().numpy()
                finally:
                    net.train(was)
                label_a = int(pred[0]) if label_a is None else label_a
                label_b = int(pred[1]) if label_b is None else label_b
            y = torch.tensor([int(label_a), int(label_b)])
            sal = point_saliency(net, x, y).cpu().numpy().astype(np.float32)
            sal_a, sal_b = sal[0], sal[1]
            arrays["saliency_a"], arrays["saliency_b"] = sal_a, sal_b
        if label_a is None or label_b is None:
            raise ParameterError("mix needs the class of both clouds (label_a, label_b) or a model to predict them.")
        label_a, label_b = int(label_a), int(label_b)

        if params.method == "rsmix":
            result = self._rsmix(params, pa, pb, theta, gen, queries)
        else:
            if assignment is not None:
                perm = np.asarray(assignment, np.int64).reshape(-1)
                if not is_bijection(perm, n):
                    raise ParameterError(f"the given assignment is not a bijection of 0..{n - 1}.")
                cost = assignment_cost(pa, pb, perm)
            else:
                perm, cost = yield from _wait_assignment(pa, pb, params.exact)
            yield Progress(0.8, 1, "mixing")
            b_matched = pb[perm]
            if params.method == "sagemix":
                result = self._sagemix(params, pa, b_matched, perm, sal_a, sal_b, theta, gen, queries)
            else:
                lam = (1.0 - pointmixup.draw_ratio(theta, gen)) if params.pi == -1.0 else params.pi
                mixed = pointmixup.mix_pair(pa, b_matched, lam).astype(np.float32)
                result = {"mixed": mixed, "lambda": np.full(n, lam, np.float32),
                          "queries": np.array([-1, -1], np.int64), "pi": float(lam)}
            result.update(assignment=perm, cost=cost)
        lam_mean = float(np.mean(result["lambda"], dtype=np.float64))
        arrays.update(assignment=result["assignment"].astype(np.int64), queries=result["queries"],
                      mixed=result["mixed"], **{"lambda": result["lambda"].astype(np.float32)})
        label = label_weights(lam_mean, label_a, label_b, names)
        q = [int(v) for v in result["queries"]]
        metrics = {"method": params.method, "label": label, "lambda": lam_mean, "queries": q,
                   "assignment_cost": result["cost"], "pi": result.get("pi"), "sigma": params.sigma,
                   "label_a": class_name(label_a, names), "label_b": class_name(label_b, names), "points": n}
        if "radius" in result:
            metrics["radius"] = result["radius"]
            metrics["case"] = result["case"]
        used = as_dict(params)
        used.update(pi=result.get("pi") if result.get("pi") is not None else params.pi, theta=theta)
        if "radius" in result:
            used["radius"] = result["radius"]
        return Result(kind="mix", arrays=arrays, metrics=metrics, params=used,
                      provenance={"checkpoint": model.path if model is not None else "", "seed": params.seed})

    def _sagemix(self, params, pa, b_matched, perm, sal_a, sal_b, theta, gen, queries) -> dict:
        n = pa.shape[0]
        if queries is not None:
            qa, qb = (int(v) for v in np.asarray(queries).reshape(2))
            if not (0 <= qa < n and 0 <= qb < n):
                raise ParameterError(f"queries ({qa}, {qb}) are outside 0..{n - 1}.")
            qb_m = int(np.flatnonzero(perm == qb)[0])        # position of b's query in matched order
        else:
            ia, ib = sagemix.sample_queries(torch.from_numpy(pa)[None], torch.from_numpy(b_matched)[None],
                                            torch.from_numpy(sal_a)[None], torch.from_numpy(sal_b[perm])[None], gen)
            qa, qb_m = int(ia[0]), int(ib[0])
            qb = int(perm[qb_m])
        pi = float(sagemix.draw_beta(theta, 1, gen)[0]) if params.pi == -1.0 else params.pi
        mixed, lam = sagemix.blend(pa, b_matched, pa[qa], b_matched[qb_m], params.sigma, pi)
        return {"mixed": mixed.astype(np.float32), "lambda": lam, "queries": np.array([qa, qb], np.int64), "pi": pi}

    def _rsmix(self, params, pa, pb, theta, gen, queries) -> dict:
        rng = sagemix.numpy_rng(gen)
        n = pa.shape[0]
        radius = rsmix.draw_radius(theta, rng) if params.radius == -1.0 else params.radius
        if queries is not None:
            qa, qb = (int(v) for v in np.asarray(queries).reshape(2))
        else:
            qa, qb = int(rng.integers(0, n)), int(rng.integers(0, n))
        pair = rsmix.rsmix_pair(pa, pb, qa, qb, radius, params.n_sample, rng)
        # RSMix pairs no points: there is no assignment cost.
        return {"mixed": pair.mixed.astype(np.float32), "lambda": pair.lam, "assignment": pair.source,
                "queries": np.array([qa, qb], np.int64), "cost": None, "radius": radius, "case": pair.case,
                "pi": None}
