"""METHOD "flow-layers": the activation-flow analysis of the Flow AM paper (section III-B, Fig. 2).

For every layer: the mean cosine similarity of the activations of two real objects of the SAME
class, of two objects of DIFFERENT classes, and of an explanation (raw = vanilla AM, and/or
Flow AM) against real objects of its class. Layers where same-class pairs agree much more than
different-class pairs carry class outline information; layers where the raw AM explanation
departs most from real objects are the paper's alignment targets (``suggested``).

Layers: ``aliases`` = every layer the model names (forward order), ``modules`` = every Conv1d
and Linear module (the x-axis of Fig. 2, ".c1" ... ".fc3"), ``aligned`` = the layers Flow AM
aligns (``layer_weights``, 'auto' = the model's own), or an explicit comma list.
Point-wise layers are flattened as they are (per point, in input order), as in the paper.
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np

from engine.core.errors import ParameterError
from engine.core.method import Method, implements
from engine.core.types import Progress, Result
from engine.methods.flowam.method import _ticks, class_means_tensors, initial_clouds, optimise
from engine.methods.flowam.baselines import aligned_layer_weights, objective_config
from engine.methods.flowam.inputs import frozen, resolve_inputs
from engine.methods.flowam.objective import (AUTO_LAYERS, FlowObjective, parse_layer_weights,
                                             resolve_layer_weights, tap_name)
from engine.methods.flowam.stats import activations, dataset_fingerprint, load_clouds, model_fingerprint
from engine.specs import flowam as spec
from engine.specs.flowam import FlowLayersParams  # noqa: F401  (declared in the spec)


def forward_order(model, names: list[str], points: int = 32) -> list[str]:
    """``names`` sorted by when their layer runs in a forward pass (hooks removed after)."""
    import torch

    order: list[str] = []
    handles = []
    try:
        for n in names:
            mod = model.resolve_layer(n)
            handles.append(mod.register_forward_hook(lambda _m, _i, _o, _n=n: order.append(_n)))
        with frozen(model), torch.no_grad():
            model(torch.zeros(1, points, 3, device=next(model.parameters()).device))
    finally:
        for h in handles:
            h.remove()
    seen = list(dict.fromkeys(order))
    return seen + [n for n in names if n not in seen]


def layer_names(model, spec: str, layer_weights: str = AUTO_LAYERS, activation: str = "linear") -> list[str]:
    from torch import nn

    if spec == "aligned":
        text = resolve_layer_weights(model, layer_weights)
        names = [tap_name(lw.layer, activation) for lw in parse_layer_weights(text)]
    elif spec == "aliases":
        names = list(getattr(model, "layer_aliases", {}) or {})
    elif spec == "modules":
        names = [n for n, m in model.named_modules() if isinstance(m, (nn.Conv1d, nn.Linear))]
    else:
        names = [s.strip() for s in spec.split(",") if s.strip()]
    if not names:
        raise ParameterError(f"layers '{spec}' name no layer of model '{getattr(model, 'key', '?')}'.")
    return forward_order(model, names)


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of (n, d) arrays (0 where a row is all zero)."""
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    return (a * b).sum(1) / np.maximum(na * nb, 1e-12)


def pair_indices(labels: np.ndarray, pairs: int, same: bool, rng) -> np.ndarray:
    """(P, 2) index pairs: per class ``pairs`` pairs with the partner from the same / another class."""
    out = []
    for c in np.unique(labels):
        mine, other = np.flatnonzero(labels == c), np.flatnonzero(labels != c)
        pool = mine if same else other
        if (same and mine.size < 2) or pool.size == 0:
            continue
        for _ in range(pairs):
            i = rng.choice(mine)
            j = rng.choice(pool[pool != i]) if same else rng.choice(pool)
            out.append((i, j))
    return np.asarray(out, np.int64).reshape(-1, 2)


@implements(spec.FLOW_LAYERS)
class FlowLayers(Method):
    def run(self, params: FlowLayersParams, *, model, dataset=None, data: str | None = None):
        import torch

        start = time.perf_counter()
        model, ds, classes, source = resolve_inputs(model, dataset, data)
        kinds = {"none": [], "vanilla": ["vanilla"], "flow": ["flow"], "both": ["vanilla", "flow"]}[params.explanations]
        total = 2 + params.steps * len(kinds)
        yield Progress(0, total, "activations of real objects")
        names = layer_names(model, params.layers, params.layer_weights, params.activation)
        split = ds.split(params.stats_split)
        labels_all = np.asarray(split.labels)
        idx = np.concatenate([np.flatnonzero(labels_all == c)[:params.per_class] for c in range(len(classes))])
        reals = load_clouds(split, idx, params.points)
        labels = labels_all[idx]
        acts = activations(model, reals, names)
        rng = np.random.default_rng(params.seed)
        same, diff = pair_indices(labels, params.pairs, True, rng), pair_indices(labels, params.pairs, False, rng)
        arrays: dict[str, np.ndarray] = {"layers": np.asarray(names, dtype="S")}
        for key, pr in (("same_class", same), ("different_class", diff)):
            sims = np.stack([cosine_rows(acts[n][pr[:, 0]], acts[n][pr[:, 1]]) for n in names])
            arrays[key], arrays[key + "_std"] = sims.mean(1), sims.std(1)
        yield Progress(1, total, "explanations")
        done = 1
        present = [c for c in range(len(classes)) if (labels == c).any()]
        for kind in kinds:
            p = dataclasses.replace(params, method=kind, set_size=1)
            cfg = objective_config(p, model)
            with frozen(model):
                means = None
                target_t = torch.as_tensor(present, device=next(model.parameters()).device)
                if cfg.use_la:
                    lnames = [tap_name(lw.layer, cfg.activation) for lw in cfg.layer_weights]
                    means = {}
                    for c in present:    # checks every class has statistics
                        means = yield from _ticks(class_means_tensors(model, ds, p, c, lnames), done, total)
                x0 = []
                for c in present:
                    x0.append((yield from _ticks(initial_clouds(p, ds, c), done, total))[0])
                objective = FlowObjective(model, target_t, cfg, means)
                final, _ = yield from optimise(model, objective, np.stack(x0), p, done, total, f"{kind}: ")
            done += params.steps
            ex = activations(model, final, names)
            sims = []
            for n in names:
                per = [cosine_rows(np.repeat(ex[n][k:k + 1], (labels == c).sum(), 0), acts[n][labels == c]).mean()
                       for k, c in enumerate(present)]
                sims.append(per)
            sims = np.asarray(sims)
            arrays[f"explanation_{kind}"], arrays[f"explanation_{kind}_std"] = sims.mean(1), sims.std(1)
            arrays[f"explanations_{kind}"] = final
        yield Progress(total, total, "done")
        metrics = {"layers": names, "classes": [classes[c] for c in present],
                   "same_class": arrays["same_class"].tolist(), "different_class": arrays["different_class"].tolist(),
                   "seconds": time.perf_counter() - start}
        for kind in kinds:
            metrics[f"explanation_{kind}"] = arrays[f"explanation_{kind}"].tolist()
        if "flow" in kinds:          # the layers the flow explanation aligned ('auto' resolved)
            metrics["layer_weights"] = aligned_layer_weights(dataclasses.replace(params, method="flow"), model)
        if "vanilla" in kinds:
            gap = arrays["same_class"] - arrays["explanation_vanilla"]
            metrics["suggested"] = [names[i] for i in np.argsort(-gap)[:5]]
        provenance = {"seed": params.seed, "checkpoint": source, "model_fingerprint": model_fingerprint(model),
                      "dataset": str(ds.path), "dataset_fingerprint": dataset_fingerprint(ds),
                      "torch": torch.__version__}
        return Result("flow-layers", arrays=arrays, metrics=metrics, params=dataclasses.asdict(params),
                      provenance=provenance)
