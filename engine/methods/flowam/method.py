"""METHOD "flowam": a global explanation of one class by activation maximisation, watched live.

Flow AM (Tan 2024) optimises the point coordinates X of a cloud directly, with no generative
model, to minimise L = L_AM + (1-beta) L_LA + beta L_C + L_LR (flowam_objective), starting from
the class-average cloud (flowam_stats). ``method`` picks Flow AM or a baseline (vanilla, L2,
Gaussian blur, total variation: flowam_baselines). The model is frozen for the run and restored
afterwards; only X receives gradients.

The generator yields a preview every ``preview_every`` steps (and at least every 0.1 s):
{"points": (N, 3) float32, "step", "losses": {term: float}}. The Result keeps the history for
replay: ``history`` (T, N, 3), ``history_steps`` (T,), ``loss_<term>`` (T,), the final cloud
``points`` and the Table I metrics (flowam_metrics).

Initialisation ``auto``: the class average for Flow AM (the paper's "average initialization" is
part of the method) and a uniform random cloud in the unit ball for the baselines, which the
paper describes without any data prior. Every choice can be set explicitly.

Which average: ``average`` (default) puts the clouds in one-to-one correspondence first (the
Wasserstein barycentre, flowam_stats), so the start already has the class outline.
``index-average`` is the literal file-order mean, a small blob near the origin; the paper's
description of L_C ("shifting the rest of points away from the origin"), of its ablation
("the majority of points shrinking") and of the baselines ("common points clustered near the
origin") suggests its start was such a blob. From it, Flow AM with the paper's weights and Adam
inflates a shell of radius about B (L_C drives ||p_i|| + nn_i to B) rather than an object.

Optimiser: the paper names none. With Adam (default) every non-critical point (no gradient
through PointNet's max-pools) moves at the full step size under L_C alone, whatever beta; with
SGD the step scales with beta as the paper's trade-off suggests, but L_AM's large gradients on
critical points need a small rate (about 1e-3 on the demo PointNet). The default lr 0.0005 with
300 Adam steps moves a point at most about 0.15: the class average keeps the look of its class
while the target's softmax still converges (>= 0.88 on every built-in class with demo:pointnet).
At 0.002 (up to 0.6) the critical points ran away and half the classes' explanations lay nearer
to real objects of another class than of their own (the ``nearest_real_class`` metric).
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np

from engine.core.errors import ModelError
from engine.core.jobs import Ticker
from engine.core.method import Method, implements
from engine.core.types import Progress, Result
from engine.methods.flowam.baselines import StepRule, aligned_layer_weights, objective_config
from engine.methods.flowam.inputs import class_index, frozen, resolve_inputs
from engine.methods.flowam.metrics import CHAMFER_REALS, evaluate, nearest_real_class
from engine.methods.flowam.objective import FlowObjective, tap_name
from engine.methods.flowam.stats import (class_average_cloud, class_indices, class_mean_activations,
                                         dataset_fingerprint, load_clouds, model_fingerprint, real_features)
from engine.specs import flowam as spec
from engine.specs.flowam import FlowAMParams  # noqa: F401  (declared in the spec)


def _optimiser(name: str, tensors, lr: float):
    import torch

    if name == "sgd":
        return torch.optim.SGD(tensors, lr=lr)
    if name == "rmsprop":
        return torch.optim.RMSprop(tensors, lr=lr)
    return torch.optim.Adam(tensors, lr=lr)


def step_size(params) -> float:
    """Flow AM's learning rate, or the baselines' own (they start from a random cloud)."""
    return params.lr if params.method == "flow" else params.baseline_lr


def _ticks(gen, done: float, total: float | None):
    """Turn a statistics generator's messages into Progress; return its value."""
    while True:
        try:
            message = next(gen)
        except StopIteration as stop:
            return stop.value
        yield Progress(done, total or 1.0, message)


def initial_clouds(params, dataset, label: int):
    """Generator -> (set_size, N, 3) start clouds: one per seed seed .. seed + set_size - 1."""
    init = params.init
    if init == "auto":
        init = "average" if params.method == "flow" else "random"
    n = params.points
    out = np.empty((params.set_size, n, 3), np.float32)
    for b in range(params.set_size):
        rng = np.random.default_rng((params.seed + b, 17))
        if init in ("average", "index-average"):
            cloud = yield from class_average_cloud(dataset, params.stats_split, label, n,
                                                   "matched" if init == "average" else "index",
                                                   params.init_objects)
        elif init == "real":
            split = dataset.split(params.stats_split)
            idx = class_indices(split, label)
            cloud = load_clouds(split, [int(rng.choice(idx))], n)[0]
        else:   # uniform in the unit ball: a legal, structure-free start
            v = rng.normal(size=(n, 3))
            v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
            cloud = v * rng.random((n, 1)) ** (1.0 / 3.0)
        out[b] = cloud
        if params.init_noise > 0:
            out[b] += rng.normal(scale=params.init_noise, size=(n, 3)).astype(np.float32)
    return out


def optimise(model, objective: FlowObjective, x0: np.ndarray, params, done0: float = 0.0,
             total: float | None = None, label: str = ""):
    """Generator: optimise the clouds x0 (B, N, 3); yields Progress with previews of cloud 0.

    Returns (final clouds (B, N, 3), history dict of cloud 0). The caller freezes the model.
    """
    import torch

    device = next(model.parameters()).device
    x = torch.tensor(x0, dtype=torch.float32, device=device, requires_grad=True)
    lr = step_size(params)
    opt = _optimiser(params.optimiser, [x], lr)
    rule = StepRule(params)
    steps = params.steps
    every = params.history_every or max(1, -(-steps // 200))
    total = total if total is not None else steps
    frames, frame_steps, frame_terms = [], [], {}
    ticker = Ticker(0.1)
    ticker.due()
    from engine.models.taps import tap

    with tap(model, objective.tap_names) as acts, torch.enable_grad():
        for step in range(steps + 1):
            opt.zero_grad(set_to_none=True)
            loss, terms = objective.evaluate(x, acts)
            last = step == steps
            record = last or step % every == 0
            show = not last and (step % params.preview_every == 0 or ticker.due())
            if record or show:
                values = {k: float(v[0].detach()) for k, v in terms.items()}
                if not np.isfinite(values["total"]):
                    raise ModelError(f"the loss became {values['total']} at step {step} "
                                     f"({params.optimiser}, lr {lr:g}).",
                                     hint="Lower the learning rate (or use adam).")
            if record or show:      # the cloud the losses were measured on (before this update)
                cloud = x[0].detach().cpu().numpy().copy()
            if record:
                frames.append(cloud)
                frame_steps.append(step)
                for k, v in values.items():
                    frame_terms.setdefault(k, []).append(v)
            if last:
                break
            loss.backward()
            opt.step()
            rule(x, step)
            if not bool(torch.isfinite(x).all()):     # caught here, not as a k-d tree error later
                raise ModelError(f"the points became NaN or infinite at step {step + 1} "
                                 f"({params.optimiser}, lr {lr:g}).",
                                 hint="Lower the learning rate (or use adam).")
            if show:
                yield Progress(done0 + step + 1, total, f"{label}step {step + 1}/{steps}",
                               {"points": cloud, "step": step, "losses": values})
    history = {"history": np.stack(frames).astype(np.float32),
               "history_steps": np.asarray(frame_steps, np.int64)}
    history.update({f"loss_{k}": np.asarray(v, np.float64) for k, v in frame_terms.items()})
    return x.detach().cpu().numpy().astype(np.float32), history


def class_means_tensors(model, dataset, params, label: int, names):
    """Generator -> {tap name: (K, D) tensor} of class-mean activations (error if none)."""
    import torch

    stats = yield from class_mean_activations(model, dataset, names, params.points,
                                              params.stats_split, params.stats_per_class)
    device = next(model.parameters()).device
    out = {}
    for n in names:
        if not np.isfinite(stats[n][label]).all():
            raise ModelError(f"no class-mean activation of class {label} at '{n}' "
                             f"(split '{params.stats_split}' has {int(stats['counts'][label])} objects).")
        out[n] = torch.as_tensor(np.nan_to_num(stats[n]), dtype=torch.float32, device=device)
    return out


def explain(model, dataset, classes, label: int, params, done0: float = 0.0,
            total: float | None = None, label_text: str = ""):
    """Generator: class statistics, optimisation, metrics -> (final clouds, history, metrics).

    Shared by the flowam, flowam-sanity and flow-layers methods. The model is frozen inside.
    """
    import torch

    cfg = objective_config(params, model)
    fid_layers = [s.strip() for s in params.fid_layers.split(",") if s.strip()]
    for name in fid_layers:
        model.resolve_layer(name)
    with frozen(model):
        means = None
        if cfg.use_la:
            names = [tap_name(lw.layer, cfg.activation) for lw in cfg.layer_weights]
            means = yield from _ticks(class_means_tensors(model, dataset, params, label, names),
                                      done0, total)
        x0 = yield from _ticks(initial_clouds(params, dataset, label), done0, total)
        device = next(model.parameters()).device
        target = torch.full((params.set_size,), label, dtype=torch.long, device=device)
        objective = FlowObjective(model, target, cfg, means)
        final, history = yield from optimise(model, objective, x0, params, done0, total, label_text)
        # Metrics compare with real objects of another split than the one the start cloud and
        # the alignment targets were computed from, so they do not reward copying those objects.
        ref = params.reference_split if params.reference_split in dataset.splits else params.stats_split
        ref_split = dataset.split(ref)
        pick = class_indices(ref_split, label, CHAMFER_REALS, seed=params.seed)
        reals = load_clouds(ref_split, pick, params.points)
        feats = yield from _ticks(real_features(model, dataset, ref, label, params.points,
                                                fid_layers, params.fid_reals), done0 + params.steps, total)
        metrics = evaluate(model, final, [label] * len(final), classes, {label: reals},
                           {label: feats}, params.legal_limit, fid_layers)
        add_nearest_class(metrics["per_cloud"], final, ref_split, label, reals, classes, params)
    history["init"] = x0[0]
    history["real_examples"] = reals
    return final, history, metrics


def add_nearest_class(per_cloud: list[dict], final: np.ndarray, split, label: int, reals: np.ndarray,
                      classes, params) -> None:
    """Add to each explanation's metrics the class whose real objects (CHAMFER_REALS of each class
    in ``split``) it lies nearest to, and its mean CD-L2 to every class."""
    labels = np.asarray(split.labels)
    by_class = {label: reals}
    for c in range(len(classes)):
        if c != label and np.any(labels == c):
            by_class[c] = load_clouds(split, class_indices(split, c, CHAMFER_REALS, seed=params.seed), params.points)
    nearest, table = nearest_real_class(final, by_class)
    keys = sorted(by_class)
    for row, c, dists in zip(per_cloud, nearest, table):
        row.update(nearest_real_class=classes[int(c)], nearest_real_class_index=int(c),
                   looks_like_target=int(c) == label,
                   chamfer_by_class={classes[k]: float(d) for k, d in zip(keys, dists)})


@implements(spec.FLOWAM)
class FlowAM(Method):
    def run(self, params: FlowAMParams, *, model, target, dataset=None, data: str | None = None):
        start = time.perf_counter()
        model, ds, classes, source = resolve_inputs(model, dataset, data)
        label = class_index(target, classes)
        total = params.steps + 2
        yield Progress(0, total, "class statistics")
        final, history, metrics = yield from explain(model, ds, classes, label, params, 1, total)
        yield Progress(total, total, "done")
        first = dict(metrics["per_cloud"][0])
        first.update(metrics["set"][classes[label]])
        layers_used = aligned_layer_weights(params, model)      # 'auto' resolved against the model
        first.update(method=params.method, steps=params.steps, set_size=params.set_size,
                     layer_weights=layers_used, seconds=time.perf_counter() - start)
        first.update({f"final_loss_{k[5:]}": float(v[-1]) for k, v in history.items()
                      if k.startswith("loss_")})
        if params.set_size > 1:
            first["set"] = metrics["per_cloud"]
        arrays = {"points": final[0], **history}
        if params.set_size > 1:
            arrays["set_points"] = final
        import torch

        provenance = {"seed": params.seed, "checkpoint": source, "model_fingerprint": model_fingerprint(model),
                      "dataset": str(ds.path), "dataset_fingerprint": dataset_fingerprint(ds),
                      "class": classes[label], "layer_weights": layers_used, "torch": torch.__version__}
        return Result("flowam", arrays=arrays, metrics=first, params=dataclasses.asdict(params),
                      provenance=provenance)
