"""What every PointLens model offers the training loop, checkpoints and methods.

Models take clouds as (B, N, 3) float tensors (channels last) and keep their construction
arguments in ``self.config`` so a checkpoint can rebuild them through the registry.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from engine.core.errors import ModelError, ParameterError
from engine.core.registry import MODELS
from engine.models.config_bounds import out_of_bounds


def scaled(channels: int, width: float) -> int:
    """A layer width scaled by the model's width multiplier (never below 4)."""
    return max(4, int(round(channels * width)))


class PointModel(nn.Module):
    key: str = ""
    # "classification": forward gives logits and labels are used;
    # "self-supervised": labels are ignored by training_loss.
    task: str = "classification"
    # Friendly layer names (as the papers use them) -> module paths, for taps.
    layer_aliases: dict[str, str] = {}

    def __init__(self, **config: Any):
        super().__init__()
        self.config = dict(config)

    def training_loss(self, points: torch.Tensor, labels: torch.Tensor | None,
                      soft_labels: torch.Tensor | None = None) -> tuple[torch.Tensor, dict]:
        """Loss for one batch and a dict of float statistics (may hold 'logits' tensor)."""
        raise NotImplementedError

    def resolve_layer(self, name: str) -> nn.Module:
        path = self.layer_aliases.get(name, name)
        try:
            return self.get_submodule(path)
        except AttributeError:
            known = ", ".join(sorted(self.layer_aliases)) or "(none)"
            raise ModelError(f"Model '{self.key}' has no layer '{name}'. Named layers: {known}.") from None


def require_classifier(model: Any, needs: str, name: str = "") -> None:
    """One clear message when a job that reads class scores gets a self-supervised model (a ParAE
    or SeRP checkpoint opened as a classifier). ``model``: the module or a ``Loaded`` checkpoint;
    ``needs``: what needs the classifier (a method, a table); ``name``: the file, if known."""
    module = getattr(model, "model", model)
    task = getattr(module, "task", "classification")
    if task != "classification":
        key = getattr(module, "key", "") or type(module).__name__
        name = name or getattr(model, "path", "") or key
        raise ModelError(f"{needs} needs a classifier; {name} is a {task} '{key}' model.",
                         hint="Open a classification checkpoint (e.g. demo:pointnet); self-supervised "
                              "models have their own panels (ParAE, SeRP) and `pointlens train --init` "
                              "fine-tunes them into classifiers.")


def eval_affine(bn: nn.Module, *others: nn.Module) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(scale, shift) per channel of an eval-mode BatchNorm with running statistics, so a model
    can fold it into the layer before; None in training mode, without running statistics, or when
    ``bn`` or one of ``others`` (the layers the fold skips) has a hook that expects them to run."""
    if bn.training or getattr(bn, "running_var", None) is None:
        return None
    if any(m._forward_hooks or m._forward_pre_hooks for m in (bn, *others)):
        return None
    from engine.models.pool_fused import bn_eval_affine

    return bn_eval_affine(bn)


def build_model(key: str, **config: Any) -> PointModel:
    cls = MODELS.get(key)
    bad = out_of_bounds(config, too_large_only=True)
    if bad is not None:
        name, value, lo, hi = bad
        raise ParameterError(f"model '{key}': {name} = {value} is outside {lo}..{hi}.",
                             hint=f"Choose a {name} inside the range.")
    try:
        return cls(**config)
    except TypeError as e:
        raise ModelError(f"Cannot build model '{key}' with {config}: {e}.") from None


def soft_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against a probability vector per sample (mixup-style labels), batch mean."""
    return -(target * torch.log_softmax(logits, dim=-1)).sum(-1).mean()


def classification_loss(logits: torch.Tensor, labels: torch.Tensor | None,
                        soft_labels: torch.Tensor | None = None) -> tuple[torch.Tensor, dict]:
    """A plain classifier's ``training_loss`` result: cross-entropy against the soft labels (mix
    augmentations) when given, else the hard labels; with the statistics the loop reads."""
    ce = (soft_cross_entropy(logits, soft_labels) if soft_labels is not None
          else nn.functional.cross_entropy(logits, labels))
    return ce, {"ce": float(ce.detach()), "logits": logits.detach()}
