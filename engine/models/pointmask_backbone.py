"""The classifier behind PointMask, PointMap and RandMask: PointNet (the paper's) or any other
registered classifier, chosen with the ``backbone`` constructor option.

PointMask and PointMap hold the backbone as their classifier G (``classifier.*`` tensors), so
the mask encoder F and G train together under eq. 3 whatever G is. RandMask is a training
procedure, not a layer: it is built as the backbone's own class with random masking put in front
of its loss, so its state dict is exactly the backbone's and loads into the plain classifier.
"""
from __future__ import annotations

import torch

from engine.core.errors import ParameterError
from engine.core.registry import MODELS
from engine.models.base import PointModel, build_model
from engine.models.pointnet import PointNetClassifier

POINTNET = "pointnet"
BACKBONE_HELP = ("PointMask / PointMap / RandMask: the classifier behind the mask, any registered "
                 "classifier (pointnet, dgcnn, pointnet2-ssg, pointnet2-msg, ...); its own options "
                 "(e.g. k, emb_dims of dgcnn) go in --model-options")


def backbone_choices() -> list[str]:
    """Registered classifiers that can sit behind a mask: the classification models that are not
    themselves a mask in front of a backbone (``wraps_backbone``)."""
    return sorted(k for k in MODELS.names()
                  if getattr(MODELS.get(k), "task", "") == "classification"
                  and not getattr(MODELS.get(k), "wraps_backbone", False))


def check_backbone(name: object, owner: str) -> str:
    choices = backbone_choices()
    if not isinstance(name, str) or name not in choices:
        raise ParameterError(f"model '{owner}': backbone = {name!r} is not a registered classifier; "
                             f"choose one of {', '.join(choices)}.",
                             hint="Use e.g. --backbone dgcnn, or leave it out for PointNet.")
    return name


def build_backbone(name: str, num_classes: int, width: float, options: dict) -> PointModel:
    """The classifier G, built through the registry with the wrapper's class count and width."""
    return build_model(name, num_classes=num_classes, width=width, **options)


def backbone_options(model: PointModel) -> dict:
    """A built backbone's own constructor settings, less the two the wrapper sets itself, so the
    wrapper's config rebuilds the same backbone from a checkpoint."""
    return {k: v for k, v in getattr(model, "config", {}).items() if k not in ("num_classes", "width")}


def head_path(model: PointModel, prefix: str) -> str | None:
    """The backbone's class-count tensor under ``prefix`` (checkpoints count classes from it)."""
    head = getattr(model, "head_weight", None) or ("fc3.weight" if isinstance(model, PointNetClassifier) else None)
    return f"{prefix}{head}" if head else None


class RandomMasking:
    """Mixin in front of a classifier: ``training_loss`` masks a random 10-70 % of each cloud's
    points (paper section 4.2) and then calls the classifier's own loss; ``forward`` is untouched.

    Masked means multiplied by 0 (moved to the origin), as PointMask's mask does, so the two
    differ only in how the mask is chosen.
    """

    key = "randmask"
    wraps_backbone = True
    cli_options = {"min_drop": (float, 0.1, "RandMask: least fraction of points masked per cloud"),
                   "max_drop": (float, 0.7, "RandMask: largest fraction of points masked per cloud"),
                   "backbone": (str, POINTNET, BACKBONE_HELP)}

    def __init__(self, num_classes: int = 10, width: float = 1.0, min_drop: float = 0.1,
                 max_drop: float = 0.7, backbone: str = POINTNET, **extra):
        if not 0.0 <= float(min_drop) <= float(max_drop) < 1.0:
            raise ParameterError(f"model 'randmask': need 0 <= min_drop <= max_drop < 1, got "
                                 f"min_drop={min_drop}, max_drop={max_drop}.")
        if backbone != POINTNET:        # the PointNet case keeps today's config exactly
            extra["backbone"] = backbone
        super().__init__(num_classes=num_classes, width=width, min_drop=float(min_drop),
                         max_drop=float(max_drop), **extra)

    def random_keep(self, points: torch.Tensor) -> torch.Tensor:
        """(B, N) 0/1 mask: each sample drops round(f * N) points, f ~ U(min_drop, max_drop)."""
        b, n = points.shape[:2]
        lo, hi = self.config["min_drop"], self.config["max_drop"]
        frac = lo + (hi - lo) * torch.rand(b, 1, device=points.device)
        drop = torch.round(frac * n)
        rank = torch.argsort(torch.rand(b, n, device=points.device), dim=1).argsort(dim=1)
        return (rank >= drop).to(points.dtype)  # the `drop` lowest random ranks are masked

    def training_loss(self, points, labels, soft_labels=None):
        if self.training:
            points = points * self.random_keep(points).unsqueeze(-1)
        return super().training_loss(points, labels, soft_labels)


@MODELS.register("randmask")
class RandMask(RandomMasking, PointNetClassifier):
    """PointNet trained with random point masking (paper section 4.2); its state dict is a
    PointNet's (it loads into "pointnet").

    With ``backbone`` another classifier, constructing RandMask gives an instance of that
    classifier's class with the same masking mixed in (see ``_over``): the state dict is then the
    backbone's own, and the config (``backbone`` plus the backbone's options) rebuilds it.
    """

    # Same parameters as __init__, so that inspect.signature(RandMask) names the real settings.
    def __new__(cls, num_classes: int = 10, width: float = 1.0, min_drop: float = 0.1,
                max_drop: float = 0.7, backbone: str = POINTNET, **extra):
        if cls is not RandMask or backbone == POINTNET:
            return super().__new__(cls)
        composed = _over(check_backbone(backbone, "randmask"))
        model = composed.__new__(composed)
        # Python runs __init__ itself only on an instance of cls, which this one is not.
        model.__init__(num_classes=num_classes, width=width, min_drop=min_drop, max_drop=max_drop,
                       backbone=backbone, **extra)
        return model


_COMPOSED: dict[str, type] = {}


def _over(backbone: str) -> type:
    """The backbone's class with RandomMasking in front (one class per backbone, kept so that
    two RandMask models over the same backbone share a type)."""
    if backbone not in _COMPOSED:
        base = MODELS.get(backbone)
        name = f"RandMask_{base.__name__}"
        _COMPOSED[backbone] = type(name, (RandomMasking, base), {
            "__doc__": f"RandMask over {backbone}: random point masking in front of its training loss.",
            "__module__": __name__, "__qualname__": name})
    return _COMPOSED[backbone]
