"""A channels-last training forward for ``PointNetClassifier``: same weights, same arithmetic.

PointNet's shared MLPs are Conv1d layers with kernel 1 on (B, C, N) tensors. On a CPU the same
layers run faster as matrix products on (B*N, C): batch norm over a 2-D (rows, channels) tensor
is about twice as fast as over (B, C, N), max-pooling with indices back-propagates as a scatter
instead of an equality mask over the whole tensor, and no transposed copies are made. This
module computes ``training_loss`` that way, reading the model's own modules (Conv1d weights,
BatchNorm modules with their running statistics, Dropout, the head), so BN statistics, dropout
draws and the loss match the module forward up to float rounding (tests/engine/test_train.py).

The training loop uses it only for models whose ``forward_all`` and ``training_loss`` are
PointNetClassifier's own (subclasses that change either keep their own path). Forward hooks
(taps) do not fire here: ``classifier_forward_all`` (a PointNet inside another model) keeps the
module path whenever a layer has one.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from engine.models.base import soft_cross_entropy
from engine.models.pool_fused import bn_eval_affine, linear_bn_eval_max, linear_bn_max, usable
from engine.models.pointnet import (FEATURE_TRANSFORM_WEIGHT, PointNetClassifier, PointNetEncoder, TNet,
                       feature_transform_regulariser)


def _pointwise(x: torch.Tensor, conv: nn.Conv1d) -> torch.Tensor:
    """Conv1d(kernel 1) on rows (M, C_in) -> (M, C_out)."""
    return F.linear(x, conv.weight.squeeze(-1), conv.bias)


def _bn_relu(x: torch.Tensor, bn: nn.BatchNorm1d) -> torch.Tensor:
    # BatchNorm1d takes (rows, channels) directly; its backward needs its input, not its output,
    # so the ReLU may overwrite the output in place.
    return torch.relu_(bn(x))


def _conv_bn_relu(x: torch.Tensor, conv: nn.Conv1d, bn: nn.BatchNorm1d) -> torch.Tensor:
    """relu(bn(conv(x))) on rows. In eval mode (saliency, evaluation) BN is an affine map, so it
    is folded into the layer's weights: one product, no pass of BN forward or backward over the
    (B*N, C) activations (the same function up to rounding; gradients reach every parameter
    through the fold)."""
    if bn.training or not bn.track_running_stats or bn.running_mean is None:
        return _bn_relu(_pointwise(x, conv), bn)
    scale, shift = bn_eval_affine(bn)
    bias = shift if conv.bias is None else conv.bias * scale + shift
    return torch.relu_(F.linear(x, conv.weight.squeeze(-1) * scale[:, None], bias))


class _MaxOverPoints(torch.autograd.Function):
    """Max over the points of (B, N, C): a fast contiguous ``amax`` forward; the backward sends
    the gradient to the maximal entries (like ``amax``'s, ties each get it) with one ``where``
    instead of amax's mask / multiply / count passes over the whole tensor."""

    @staticmethod
    def forward(ctx, x):
        out = torch.amax(x, dim=1)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        return torch.where(x == out.unsqueeze(1), grad.unsqueeze(1), grad.new_zeros(()))


def _max_over_points(x: torch.Tensor, b: int) -> torch.Tensor:
    return _MaxOverPoints.apply(x.view(b, -1, x.shape[-1]))


def _last_layer(x: torch.Tensor, conv: nn.Conv1d, bn: nn.BatchNorm1d, b: int, relu: bool) -> torch.Tensor:
    """max over points of relu?(bn(conv(x))), fused (pool_fused) in training and in eval mode."""
    # Under autocast (bf16) the layers run in mixed precision: keep the module path there.
    plain = x.dtype == conv.weight.dtype and not torch.is_autocast_enabled(x.device.type)
    if plain and usable(conv, bn):
        return linear_bn_max(x, conv, bn, b, relu)
    if plain and not bn.training and bn.track_running_stats and bn.running_mean is not None:
        return linear_bn_eval_max(x, conv, bn, b, relu)
    y = bn(_pointwise(x, conv))
    return _max_over_points(torch.relu_(y) if relu else y, b)


def _tnet(t: TNet, rows: torch.Tensor, b: int) -> torch.Tensor:
    x = _conv_bn_relu(rows, t.conv1, t.bn1)
    x = _conv_bn_relu(x, t.conv2, t.bn2)
    x = _last_layer(x, t.conv3, t.bn3, b, relu=True)
    x = t.act4(t.bn4(t.fc1(x)))
    x = t.act5(t.bn5(t.fc2(x)))
    x = t.fc3(x)
    eye = torch.eye(t.k, dtype=x.dtype, device=x.device).flatten()
    return (x + eye).view(-1, t.k, t.k)


def forward_all(model: PointNetClassifier, points: torch.Tensor) -> dict[str, torch.Tensor]:
    """``model.forward_all`` computed channels-last: dict(global, logits, trans, trans_feat)."""
    feat = model.feat
    b, n, _ = points.shape
    trans = _tnet(feat.stn, points.reshape(b * n, -1), b)
    moved = torch.bmm(points, trans)
    x = _conv_bn_relu(moved.reshape(b * n, -1), feat.conv1, feat.bn1)
    trans_feat = None
    if feat.fstn is not None:
        trans_feat = _tnet(feat.fstn, x, b)
        x = torch.bmm(x.view(b, n, -1), trans_feat).view(b * n, -1)
    x = _conv_bn_relu(x, feat.conv2, feat.bn2)
    glob = _last_layer(x, feat.conv3, feat.bn3, b, relu=False)   # no ReLU, as the public code
    h = model.act1(model.bn1(model.fc1(glob)))
    h = model.act2(model.bn2(model.dropout(model.fc2(h))))
    return {"global": glob, "logits": model.fc3(h), "trans": trans, "trans_feat": trans_feat}


def training_loss(model: PointNetClassifier, points, labels, soft_labels=None):
    """Exactly ``PointNetClassifier.training_loss``, computed channels-last."""
    out = forward_all(model, points)
    logits = out["logits"]
    if soft_labels is not None:
        ce = soft_cross_entropy(logits, soft_labels)
    else:
        ce = F.cross_entropy(logits, labels)
    reg = feature_transform_regulariser(out["trans_feat"])
    loss = ce + FEATURE_TRANSFORM_WEIGHT * reg
    return loss, {"ce": float(ce.detach()), "logits": logits.detach()}


def applies_to(model: nn.Module) -> bool:
    """True for PointNetClassifier and subclasses that keep its forward and loss."""
    cls = type(model)
    return (isinstance(model, PointNetClassifier)
            and cls.forward_all is PointNetClassifier.forward_all
            and cls.training_loss is PointNetClassifier.training_loss
            and type(model.feat) is PointNetEncoder and type(model.feat.stn) is TNet
            and (model.feat.fstn is None or type(model.feat.fstn) is TNet))


def _watched(model: nn.Module) -> bool:
    """A forward hook (a tap) sits on one of the model's layers: only the module path fires it."""
    return any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())


def classifier_forward_all(model: nn.Module, points: torch.Tensor) -> dict[str, torch.Tensor]:
    """``model.forward_all(points)``, channels-last where that applies and no tap watches a layer.

    For models that hold a PointNet inside (PointMask's and PointMap's classifier G): the
    training loop's fast path sees only the outer model. Measured on a small bias-lab run
    (PointMask alone, 300 clouds, 2 epochs, 1,024 + 256 points): 27.7 s -> 25.3 s; most of the
    rest is the mask encoder F and the test predictions' eight draws of the mask.
    """
    if applies_to(model) and not _watched(model):
        return forward_all(model, points)
    return model.forward_all(points)


def logits_fn(model: nn.Module):
    """``points -> logits`` through this module's forward where it applies (PointNetClassifier and
    subclasses that keep its forward and loss), else None: callers fall back to ``model``."""
    if not applies_to(model):
        return None
    return lambda points: forward_all(model, points)["logits"]
