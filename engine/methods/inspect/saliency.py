"""Per-point saliency for SageMix: the norm of the loss gradient w.r.t. each input point.

S_i = ||d loss / d p_i|| (paper section 3.1). As the public code the pass runs
with the model in eval mode on plain cross-entropy against the true labels, and it leaves the
parameters' gradients alone; here the parameters do not even require grad during the pass, so
no weight gradient is computed (cheaper), and both the mode and the flags are restored after.

The loss is summed over the batch (the public code averages it): the scale is irrelevant for the
sampling, which normalises, and a cloud's saliency then does not depend on
what else is in its batch. A tiny floor keeps every entry positive so that sampling never fails on
an all-zero (or NaN) row: such a row samples uniformly.

PointNet classifiers run the channels-last forward of models/pointnet_fast.py, whose widest
layers are fused with the max over points (models/pool_fused.py): in eval mode their input
gradient reaches only the arg-max points, so no large matrix product runs backward. Other models:
in eval mode a BatchNorm is an affine map, so the pass runs on a view of the model with each
BatchNorm folded into the Conv/Linear before it (the same function up to rounding; two passes
less over every large activation, forward and backward). The traced view is built once per model
and shares every other layer, so it always sees the live weights; the folded layers are
recomputed from the live Conv/Linear and BatchNorm values on every call.
"""
from __future__ import annotations

import copy
import weakref

import torch
from torch import nn

from engine.core.errors import ModelError
from engine.models import pointnet_fast
from engine.models.base import require_classifier
from engine.models.pool_fused import bn_eval_affine

SALIENCY_FLOOR = 1e-12
_PAIRS = ((nn.Conv1d, nn.BatchNorm1d), (nn.Conv2d, nn.BatchNorm2d), (nn.Linear, nn.BatchNorm1d))
_VIEWS: "weakref.WeakKeyDictionary[nn.Module, _FoldedView | None]" = weakref.WeakKeyDictionary()


class _FoldedView:
    """The model traced by torch.fx with every (Conv|Linear) -> BatchNorm pair folded."""

    def __init__(self, model: nn.Module):
        from torch import fx

        gm = fx.symbolic_trace(model)        # leaf modules are shared with ``model``, not copied
        modules = dict(gm.named_modules())
        self.pairs: list[tuple[nn.Module, nn.Module, nn.Module]] = []
        for node in list(gm.graph.nodes):
            if node.op != "call_module" or not node.args or not isinstance(node.args[0], fx.Node):
                continue
            prev = node.args[0]
            if prev.op != "call_module" or len(prev.users) > 1:
                continue
            first, bn = modules.get(prev.target), modules.get(node.target)
            if not any(type(first) is f and type(bn) is b for f, b in _PAIRS):
                continue
            if not bn.track_running_stats or bn.running_mean is None:
                continue
            fused = copy.deepcopy(first)
            if fused.bias is None:
                fused.bias = nn.Parameter(torch.zeros_like(bn.running_mean))
            for p in fused.parameters():
                p.requires_grad_(False)
            name = f"_folded_{len(self.pairs)}"
            gm.add_submodule(name, fused)     # a new top-level name: the shared modules stay untouched
            prev.target = name
            node.replace_all_uses_with(prev)
            gm.graph.erase_node(node)
            self.pairs.append((fused, first, bn))
        gm.graph.lint()
        gm.recompile()
        self.module = gm
        self.signature = _signature(model)

    def refresh(self) -> nn.Module:
        with torch.no_grad():
            for fused, first, bn in self.pairs:
                scale, shift = bn_eval_affine(bn)
                shape = (-1,) + (1,) * (first.weight.dim() - 1)
                fused.weight.copy_(first.weight * scale.reshape(shape))
                fused.bias.copy_(shift if first.bias is None else first.bias * scale + shift)
        return self.module


def _signature(model: nn.Module) -> tuple:
    p = next(model.parameters())
    return p.device, p.dtype


def folded_view(model: nn.Module) -> nn.Module:
    """The BatchNorm-folded view of ``model`` (for eval mode), or ``model`` if it cannot be traced."""
    if not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        return model
    view = _VIEWS.get(model, False)
    if view is False or (view is not None and view.signature != _signature(model)):
        try:
            view = _FoldedView(model)
        except Exception:                      # control flow torch.fx cannot trace: no folding
            view = None
        _VIEWS[model] = view
    return model if view is None else view.refresh()


def _logits(model, x: torch.Tensor) -> torch.Tensor:
    out = model(x)
    if isinstance(out, dict):
        out = out.get("logits")
    if not isinstance(out, torch.Tensor) or out.ndim != 2:
        raise ModelError(f"model '{getattr(model, 'key', type(model).__name__)}' does not return class "
                         f"logits (B, K); saliency needs a classifier.",
                         hint="Use a classification checkpoint (e.g. demo:pointnet).")
    return out


def point_saliency(model: torch.nn.Module, points: torch.Tensor, labels: torch.Tensor,
                   floor: float = SALIENCY_FLOOR, fold: bool = True) -> torch.Tensor:
    """Saliency (B, N), detached float32 on the points' device, every entry >= ``floor``
    (computed in the model's precision).

    ``points`` (B, N, 3) on the model's device, ``labels`` (B,) class indices; ``fold``: run on
    PointNet's fused forward or, for other models, the BatchNorm-folded view (same values up to
    rounding, faster).
    """
    require_classifier(model, "saliency")
    params = list(model.parameters())
    flags = [p.requires_grad for p in params]
    was_training = model.training
    try:
        model.eval()
        for p in params:
            p.requires_grad_(False)
        # fold: PointNet's fused channels-last forward (its widest layers' input gradient is a
        # scatter to the arg-max points), else the BatchNorm-folded view; off: the plain module
        net = pointnet_fast.logits_fn(model) if fold else model
        if net is None:
            net = folded_view(model)
        dtype = params[0].dtype if params and params[0].is_floating_point() else torch.float32
        x = points.detach().to(dtype).clone().requires_grad_(True)
        with torch.enable_grad():
            logits = _logits(net, x)
            labels = labels.to(device=logits.device, dtype=torch.long).reshape(-1)
            if labels.numel() != logits.shape[0]:
                raise ModelError(f"saliency: {labels.numel()} labels for {logits.shape[0]} clouds.")
            if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= logits.shape[1]):
                raise ModelError(f"saliency: labels must lie in 0..{logits.shape[1] - 1} for this "
                                 f"{logits.shape[1]}-class model, got {int(labels.min())}..{int(labels.max())}.",
                                 hint="Use a checkpoint trained on this dataset's classes.")
            loss = torch.nn.functional.cross_entropy(logits, labels, reduction="sum")
            (grad,) = torch.autograd.grad(loss, x)
        s = torch.linalg.vector_norm(grad, dim=-1)
        s = torch.nan_to_num(s, nan=0.0, posinf=0.0, neginf=0.0)
        return s.clamp_min(floor).detach().to(torch.float32)
    finally:
        for p, f in zip(params, flags):
            p.requires_grad_(f)
        model.train(was_training)
