"""The Flow AM objective (Tan, "Flow AM", equations (2)-(6)) and the baselines' loss terms.

    L_Flow = L_AM + (1 - beta) L_LA + beta L_C + L_LR                                   (6)

- L_AM = -logit_c, the pre-softmax output of the target class (2).
- L_LA = -sum_l alpha_l SC(omega_c^l, omega~^l): cosine similarity between the class-mean
  activation of real objects and the explanation's activation at each aligned layer l (3).
- L_C  = sum_i |B - (min_{j!=i} ||p_i - p_j||_2 + ||p_i||_2)|, B the legal boundary (4).
- L_LR = sum_i ReLU(|p_i| - C) (5). The paper writes single bars on the point p_i (while (4)
  writes ||.||_2) and calls the legal space "the interval [-1, 1]", so |p_i| is taken per
  coordinate: the sum runs over points and their three coordinates.

Every term is computed per cloud (shape (B,)) so a batch of explanations (several seeds or
classes) optimises independently; the total is summed over the batch.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import torch

from engine.core.errors import ModelError, ParameterError
from engine.models.taps import tap
from engine.ops.geometry import gather_points
from engine.methods.flowam.neighbours import neighbour_indices
# The paper's layer weights (section IV) and the activation points are declared in the spec.
from engine.specs.flowam import ACTIVATION_POINTS, AUTO_LAYERS, PAPER_LAYER_WEIGHTS  # noqa: F401

# Squared distance floor under the square root: keeps the gradient finite for coincident points.
_SQRT_FLOOR = 1e-12
_COS_EPS = 1e-8          # a zero activation vector has cosine 0 with anything


@dataclass(frozen=True)
class LayerWeight:
    layer: str          # the alias as the paper names it (fT1.fc1 ...), without ".act"
    factor: float
    per_activation: bool = False   # weight = factor * N_l

    def weight(self, n_activations: int) -> float:
        return self.factor * n_activations if self.per_activation else self.factor


def parse_layer_weights(spec: str) -> list[LayerWeight]:
    """'fT1.fc1=N*1e-9, fc2=1' -> [LayerWeight]. An empty string means no aligned layer."""
    out: list[LayerWeight] = []
    for item in (s.strip() for s in spec.replace(";", ",").split(",")):
        if not item:
            continue
        name, eq, value = item.partition("=")
        name, value = name.strip(), value.strip().replace(" ", "")
        per = False
        for prefix in ("N*", "n*"):
            if value.startswith(prefix):
                value, per = value[len(prefix):], True
        for suffix in ("*N", "*n"):
            if value.endswith(suffix):
                value, per = value[: -len(suffix)], True
        try:
            factor = float(value)
        except ValueError:
            factor = float("nan")
        if not eq or not name or not (factor == factor) or abs(factor) == float("inf"):
            raise ParameterError(
                f"layer weights: '{item}' is not 'layer=weight'.",
                hint=f"Write e.g. '{PAPER_LAYER_WEIGHTS}' ('N*' multiplies by the layer's size).")
        if any(w.layer == name for w in out):
            raise ParameterError(f"layer weights: layer '{name}' is listed twice.")
        out.append(LayerWeight(name, factor, per))
    return out


def default_layer_weights(model) -> str:
    """The aligned layers a model declares (``flowam_layer_weights``), else the paper's PointNet
    layers when the model names them all; a ModelError naming its layers otherwise.

    The paper aligns the layers that see the whole cloud (fully-connected layers after a global
    pooling) and skips point-wise convolutions, which differ even between objects of one class.
    Each architecture states its own such layers next to its aliases."""
    declared = getattr(model, "flowam_layer_weights", None)
    if declared:
        return str(declared)
    try:
        for lw in parse_layer_weights(PAPER_LAYER_WEIGHTS):
            model.resolve_layer(lw.layer)
    except ModelError:
        known = ", ".join(sorted(getattr(model, "layer_aliases", {}) or {})) or "(none)"
        raise ModelError(
            f"model '{getattr(model, 'key', type(model).__name__)}' declares no Flow AM layers to align "
            f"and lacks the paper's PointNet layers.",
            hint=f"Give layer_weights as 'layer=weight, ...' naming layers of the model: {known}.") from None
    return PAPER_LAYER_WEIGHTS


def resolve_layer_weights(model, text: str) -> str:
    """``text`` as given, or the model's default when it is 'auto' (the spec's default)."""
    if text.strip().lower() != AUTO_LAYERS:
        return text
    return default_layer_weights(model) if model is not None else PAPER_LAYER_WEIGHTS


def tap_name(layer: str, activation: str) -> str:
    """The tapped layer for an aligned layer and activation point ('linear' or 'act')."""
    if activation not in ACTIVATION_POINTS:
        raise ParameterError(f"activation point '{activation}' is not one of {list(ACTIVATION_POINTS)}.")
    if activation == "act" and not layer.endswith(".act"):
        return layer + ".act"
    return layer


# ----------------------------------------------------------------------------- loss terms


def am_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(2): -logit of each cloud's target class. logits (B, K), target (B,) -> (B,)."""
    return -logits.gather(1, target.view(-1, 1)).squeeze(1)


def latent_alignment_loss(acts: Mapping[str, torch.Tensor], means: Mapping[str, torch.Tensor],
                          weights: Mapping[str, float], unit_means: bool = False) -> torch.Tensor:
    """(3): -sum_l alpha_l cos(mean_l, act_l). acts[l] (B, ...), means[l] (B, D) or (D,).

    ``unit_means``: the means are already divided by their norms (FlowObjective does it once,
    so a step only normalises the explanation's activations: three small ops per layer).
    """
    total = None
    for name, w in weights.items():
        a = acts[name].flatten(1)
        m = means[name].to(a).reshape(-1, a.shape[1])
        if not unit_means:
            m = m / m.norm(dim=1, keepdim=True).clamp_min(_COS_EPS)
        term = (a * m).sum(1) * (-w / a.norm(dim=1).clamp_min(_COS_EPS))
        total = term if total is None else total + term
    if total is None:
        raise ParameterError("latent alignment has no layer to align: give at least one layer weight.")
    return total


def nearest_neighbour_distance(points: torch.Tensor, method: str = "auto") -> torch.Tensor:
    """min_{j != i} ||p_i - p_j||_2 for every point: (B, N, 3) -> (B, N).

    The neighbour is found without autograd (flowam_neighbours) and the distance recomputed
    from the coordinate difference: the gradient equals that of the min (which flows to p_i and
    its nearest neighbour only) at O(N) backward cost, with no N x N matrix in the graph.
    """
    if points.shape[1] < 2:
        raise ParameterError("the continuity loss needs at least 2 points per cloud.")
    idx = neighbour_indices(points, 1, include_self=False, method=method)[..., 0]
    diff = points - gather_points(points, idx)
    return torch.sqrt((diff * diff).sum(-1).clamp_min(_SQRT_FLOOR))


def continuity_loss(points: torch.Tensor, boundary: float = 1.0) -> torch.Tensor:
    """(4): sum_i |B - (nn_dist_i + ||p_i||_2)|. (B, N, 3) -> (B,)."""
    norm = torch.sqrt((points * points).sum(-1).clamp_min(_SQRT_FLOOR))
    return (boundary - (nearest_neighbour_distance(points) + norm)).abs().sum(1)


def legal_loss(points: torch.Tensor, limit: float = 1.0) -> torch.Tensor:
    """(5): sum over points and coordinates of ReLU(|p| - C). (B, N, 3) -> (B,)."""
    return torch.relu(points.abs() - limit).sum((1, 2))


def total_variation_loss(points: torch.Tensor, k: int = 4) -> torch.Tensor:
    """kNN total variation: sum_i sum_{j in kNN(i), j != i} |p_i - p_j|_1. (B, N, 3) -> (B,).

    The image form (S3) sums |x^{i+1} - x^i| over neighbouring pixels; on an unordered cloud the
    neighbours are the k nearest points (chosen without autograd, re-chosen every step).
    """
    k = min(k, points.shape[1] - 1)
    if k < 1:
        return points.new_zeros(points.shape[0])
    nb = gather_points(points, neighbour_indices(points, k, include_self=False))
    return (points.unsqueeze(2) - nb).abs().sum((1, 2, 3))


def l2_loss(points: torch.Tensor) -> torch.Tensor:
    """Squared L2 norm of the cloud, sum_i ||p_i||^2 (reported for the L2 baseline)."""
    return (points * points).sum((1, 2))


# ----------------------------------------------------------------------------- the objective


@dataclass
class ObjectiveConfig:
    """Which terms are on and their weights. Defaults are the paper's Flow AM."""

    beta: float = 0.1
    boundary: float = 1.0          # B of (4)
    legal_limit: float = 1.0       # C of (5)
    use_la: bool = True
    use_c: bool = True
    use_lr: bool = True
    tv_weight: float = 0.0         # baseline: total variation
    tv_k: int = 4
    layer_weights: Sequence[LayerWeight] = field(default_factory=lambda: parse_layer_weights(PAPER_LAYER_WEIGHTS))
    activation: str = "linear"


class FlowObjective:
    """Evaluates the loss terms for a batch of clouds with per-cloud target classes.

    ``class_means[tap_name]`` is a (K, D) tensor of class-mean activations; row ``target[b]`` is
    cloud b's alignment target. Call with points (B, N, 3); returns (total, terms) where terms
    maps 'am', 'la', 'c', 'lr', 'tv' (those on) to per-cloud (B,) tensors and total is the scalar
    sum over the batch of the weighted sum (6).
    """

    def __init__(self, model, target: torch.Tensor, config: ObjectiveConfig,
                 class_means: Mapping[str, torch.Tensor] | None = None):
        self.model = model
        self.target = target
        self.config = config
        self.taps: dict[str, float] = {}
        self.means: dict[str, torch.Tensor] = {}
        if config.use_la:
            if not config.layer_weights:
                raise ParameterError("latent alignment is on but no layer has a weight.",
                                     hint="Give layer weights or switch latent alignment off.")
            for lw in config.layer_weights:
                name = tap_name(lw.layer, config.activation)
                model.resolve_layer(name)          # ModelError naming the layer if missing
                if class_means is None or name not in class_means:
                    raise ModelError(f"no class-mean activations for layer '{name}'.")
                means = class_means[name]
                rows = means[target].flatten(1)
                self.means[name] = rows / rows.norm(dim=1, keepdim=True).clamp_min(_COS_EPS)
                self.taps[name] = lw.weight(int(means[0].numel()))

    @property
    def tap_names(self) -> list[str]:
        return list(self.taps)

    def __call__(self, points: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """One evaluation with its own hooks (tests, one-off use)."""
        with tap(self.model, self.tap_names) as acts:
            return self.evaluate(points, acts)

    def evaluate(self, points: torch.Tensor, acts: Mapping[str, torch.Tensor]
                 ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Forward ``points``; ``acts`` is the live store of a ``tap`` opened on ``tap_names``
        (kept open over a whole optimisation: no hook set-up per step)."""
        cfg = self.config
        logits = self.model(points)
        terms: dict[str, torch.Tensor] = {"am": am_loss(logits, self.target)}
        total = terms["am"]
        if cfg.use_la:
            terms["la"] = latent_alignment_loss(acts, self.means, self.taps, unit_means=True)
            total = total + (1.0 - cfg.beta) * terms["la"]
        if cfg.use_c:
            terms["c"] = continuity_loss(points, cfg.boundary)
            total = total + cfg.beta * terms["c"]
        if cfg.use_lr:
            terms["lr"] = legal_loss(points, cfg.legal_limit)
            total = total + terms["lr"]
        if cfg.tv_weight > 0:
            terms["tv"] = total_variation_loss(points, cfg.tv_k)
            total = total + cfg.tv_weight * terms["tv"]
        terms["total"] = total
        self.last_logits = logits
        return total.sum(), terms
