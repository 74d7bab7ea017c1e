"""The non-generative AM baselines of the Flow AM paper (Fig. 1, Table I), in point-cloud form.

Supplement S1-A gives the image forms; on an unordered cloud "neighbouring pixels" become the
k nearest points (re-found every time, without autograd):

- vanilla: L_AM only (equation (2)).
- L2-norm (S1): after each gradient step the input decays, x <- (1 - theta) x (Yosinski et al.'s
  L2 decay, the weight-decay reading of S1).
- Gaussian blur (S2): every ``blur_every`` steps each point is replaced by the Gaussian-weighted
  mean of its k nearest points (itself included), weights exp(-d^2 / 2 sigma^2): the image
  filter with the pixel grid replaced by the kNN graph.
- total variation (S3): the loss gets + lambda * sum_i sum_{j in kNN(i)} |p_i - p_j|_1 (see
  flowam_objective.total_variation_loss).

Flow AM itself is ``flow``; its terms can be switched off one at a time for the ablations.
"""
from __future__ import annotations

import torch

from engine.ops.geometry import gather_points
from engine.methods.flowam.neighbours import neighbour_indices
from engine.methods.flowam.objective import (AUTO_LAYERS, ObjectiveConfig, parse_layer_weights,
                                             resolve_layer_weights)


def gaussian_blur(points: torch.Tensor, k: int = 8, sigma: float = 0.05) -> torch.Tensor:
    """Each point -> Gaussian-weighted mean of its k nearest points (self included). (B,N,3)."""
    k = max(1, min(k, points.shape[1]))
    nb = gather_points(points, neighbour_indices(points, k, include_self=True))    # (B, N, k, 3)
    d = ((nb - points.unsqueeze(2)) ** 2).sum(-1)
    w = torch.exp(-d / (2.0 * sigma * sigma))
    w = w / w.sum(-1, keepdim=True)          # self has weight exp(0) = 1, so the sum is >= 1
    return (w.unsqueeze(-1) * nb).sum(-2)


def aligned_layer_weights(params, model=None) -> str:
    """The layer weights the run actually aligns: ``params.layer_weights`` with 'auto' replaced by
    ``model``'s own layers (the paper's PointNet layers when no model is given); '' when nothing
    is aligned (a baseline, or L_LA off), so 'auto' never fails on a model without such layers."""
    text = params.layer_weights
    if params.method == "flow" and params.use_la:
        return resolve_layer_weights(model, text)
    return "" if text.strip().lower() == AUTO_LAYERS else text


def objective_config(params, model=None) -> ObjectiveConfig:
    """The loss terms for ``params.method`` (flow: the paper's (6); baselines: L_AM [+ TV])."""
    flow = params.method == "flow"
    return ObjectiveConfig(
        beta=params.beta, boundary=params.boundary, legal_limit=params.legal_limit,
        use_la=flow and params.use_la, use_c=flow and params.use_c, use_lr=flow and params.use_lr,
        tv_weight=params.tv_weight if params.method == "tv" else 0.0, tv_k=params.tv_k,
        layer_weights=parse_layer_weights(aligned_layer_weights(params, model)),
        activation=params.activation)


class StepRule:
    """What a method does to the cloud after each optimiser step (L2 decay, periodic blur)."""

    def __init__(self, params):
        self.method = params.method
        self.decay = params.l2_decay
        self.blur_every, self.blur_k, self.blur_sigma = params.blur_every, params.blur_k, params.blur_sigma

    @torch.no_grad()
    def __call__(self, points: torch.Tensor, step: int) -> None:
        if self.method == "l2":
            points.mul_(1.0 - self.decay)
        elif self.method == "blur" and (step + 1) % self.blur_every == 0:
            points.copy_(gaussian_blur(points, self.blur_k, self.blur_sigma))
