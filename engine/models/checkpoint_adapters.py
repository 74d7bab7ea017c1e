"""Make sense of checkpoints PointLens did not write: containers, prefixes, which model, report.

Public PointNet checkpoints come in a few shapes: fxia22 saves
the bare state_dict; yanx27 saves ``{"epoch", ..., "model_state_dict": ...}``; code that trained
through ``nn.DataParallel`` prefixes every key with ``module.``; other repositories use
``state_dict``, ``model``, ``model_wts`` or ``best_model_wts``. Both PointNet layouts use the same
key names as ``engine.models.pointnet``, so after unwrapping they load by name. The same holds
for DGCNN (WangYueFt/AnTao97 ``model.t7``: a bare DataParallel state dict) and PointNet++
(yanx27 ``best_model.pth``), recognised from their keys: ``conv5.0``/``linear3`` is DGCNN,
``sa1.conv_blocks`` PointNet++ MSG, ``sa1.mlp_convs`` SSG; sizes come from the tensors' shapes.
SeRP-PointNet (``model_wts``) uses ``engine.models.serp_pointnet``'s names but also stores its
training loss's class-weight buffer, dropped here with a note. Point-MAE and Point-BERT fine-tuned
classifiers (``base_model``) are renamed into ``serp-transformer-cls``
(``checkpoint_layouts_transformer``).

The mismatch report is written for a person: which tensors are missing, which are unexpected,
which differ in shape, and how many classes the file was trained for.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from engine.core.errors import CheckpointError
from engine.models.checkpoint_layouts_transformer import (file_name, transformer_cls_config,
                                                        translate_point_mae)
from engine.models.state_dims import dim_of as _dim

# Container keys that hold the weights, in the order they are tried.
CONTAINER_KEYS = ("model_state_dict", "state_dict", "model", "model_wts", "best_model_wts", "net",
                  "base_model")
# Tensors some public code keeps in the state dict that belong to its training loss, not to the
# network: dropped on load with a note, so the file still loads strictly.
TRAINING_BUFFERS = {
    "cls_loss_func.weight": "SeRP-PointNet's cross-entropy class weights, a training-loss buffer",
}
PREFIXES = ("module.", "_orig_mod.")  # DataParallel/DDP, torch.compile


@dataclass
class Unwrapped:
    state: dict[str, torch.Tensor]
    notes: list[str] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)   # epoch, accuracy ... from the container


def _is_state_dict(obj: Any) -> bool:
    return (isinstance(obj, dict) and len(obj) > 0
            and all(isinstance(k, str) for k in obj)
            and all(isinstance(v, torch.Tensor) for v in obj.values()))


def _plain(v: Any) -> Any:
    if isinstance(v, torch.Tensor) and v.numel() == 1:
        return v.item()
    if isinstance(v, (int, float, str, bool)):
        return v
    return None


def unwrap(obj: Any, where: str) -> Unwrapped:
    """Find the state dict inside what ``torch.load`` returned and strip wrapper prefixes."""
    notes: list[str] = []
    extras: dict[str, Any] = {}
    if _is_state_dict(obj):
        state = dict(obj)
        notes.append("bare state_dict (as fxia22 PointNet and WangYueFt DGCNN save)")
    elif isinstance(obj, dict):
        state = None
        for key in CONTAINER_KEYS:
            if key in obj and _is_state_dict(obj[key]):
                state = dict(obj[key])
                label = " (yanx27 layout)" if key == "model_state_dict" else ""
                notes.append(f"weights taken from the '{key}' entry{label}")
                break
        if state is None:
            keys = ", ".join(repr(k) for k in list(obj)[:8])
            raise CheckpointError(
                f"{where}: no model weights found in this checkpoint (top-level keys: {keys}).",
                hint=f"PointLens reads a bare state_dict or one stored under "
                     f"{', '.join(repr(k) for k in CONTAINER_KEYS)}.")
        for k, v in obj.items():
            if k not in CONTAINER_KEYS and _plain(v) is not None:
                extras[str(k)] = _plain(v)
            elif isinstance(v, dict) and k not in CONTAINER_KEYS:   # Point-MAE's metrics {"acc": ..}
                extras.update({f"{k}.{kk}": _plain(vv) for kk, vv in v.items()
                               if isinstance(kk, str) and _plain(vv) is not None})
    else:
        raise CheckpointError(f"{where}: the file holds a {type(obj).__name__}, not model weights.",
                              hint="Save the model's state_dict() (a dict of tensors) and open that.")
    for prefix in PREFIXES:
        if all(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
            notes.append(f"stripped the '{prefix}' prefix")
    for name, what in TRAINING_BUFFERS.items():
        if name in state:
            value = state.pop(name)
            shown = f" {[round(x, 4) for x in value.flatten().tolist()]}" if value.numel() <= 8 else ""
            notes.append(f"dropped '{name}'{shown} ({what}, not a weight of the network)")
    translated = translate_point_mae(state, where)
    if translated is not None:
        state, more = translated
        notes += more
    return Unwrapped(state, notes, extras)


# --- which model does a foreign state dict belong to -------------------------------------------

def pointnet_config(state: dict[str, torch.Tensor]) -> dict | None:
    """Config of a PointNet classifier state dict in the public layout, or None if it is not one."""
    need = ("feat.stn.conv1.weight", "feat.conv1.weight", "fc1.weight", "fc3.weight")
    if not all(k in state for k in need):
        return None
    in_channels = int(state["feat.conv1.weight"].shape[1])
    if in_channels != 3:
        raise CheckpointError(
            f"this PointNet checkpoint expects {in_channels} input channels per point "
            f"(xyz + normals in the yanx27 layout); PointLens PointNet reads xyz only.",
            hint="Train the public model with normal_channel=False, or retrain with `pointlens train`.")
    width = float(state["feat.conv1.weight"].shape[0]) / 64.0
    return {"num_classes": int(state["fc3.weight"].shape[0]), "width": width,
            "feature_transform": any(k.startswith("feat.fstn.") for k in state)}


_DGCNN_SIGNATURE = ("conv1.0.weight", "conv2.0.weight", "conv3.0.weight", "conv4.0.weight",
                    "conv5.0.weight", "linear1.weight", "linear2.weight", "linear3.weight",
                    "bn6.weight", "bn7.weight")


def dgcnn_config(state: dict[str, torch.Tensor]) -> dict | None:
    """Config of a DGCNN classifier state dict (WangYueFt/dgcnn ``DGCNN``, AnTao97 ``DGCNN_cls``,
    SageMix), or None. Classes from the head, width from the first EdgeConv, emb_dims from
    conv5; k and dropout leave no trace in the weights (the public defaults, 20 and 0.5)."""
    if sum(k in state for k in _DGCNN_SIGNATURE) < 6 or "conv5.0.weight" not in state and "linear3.weight" not in state:
        return None
    config: dict[str, Any] = {}
    c1 = _dim(state, ("conv1.0.weight", 0), ("bn1.weight", 0), ("conv1.1.weight", 0))
    width = c1 / 64.0 if c1 else 1.0
    config["width"] = width
    emb = _dim(state, ("conv5.0.weight", 0), ("bn5.weight", 0), ("conv5.1.weight", 0))
    if emb is None:
        two_e = _dim(state, ("linear1.weight", 1))
        emb = two_e // 2 if two_e else None
    if emb is not None:
        config["emb_dims"] = emb if width == 1.0 else max(1, int(round(emb / width)))
    classes = _dim(state, ("linear3.weight", 0), ("linear3.bias", 0))
    if classes is not None:
        config["num_classes"] = classes
    return config


def _pointnet2_config(state: dict[str, torch.Tensor], first: str, base: int, extra_in: int) -> dict:
    """Classes, width and normals of a PointNet++ state dict whose sa1 starts with ``first``:
    ``base`` is that layer's paper width, ``extra_in`` its input channels without normals."""
    config: dict[str, Any] = {}
    out, cin = _dim(state, (first, 0)), _dim(state, (first, 1))
    if out:
        config["width"] = out / float(base)
    if cin is not None:
        if cin not in (extra_in, extra_in + 3):
            raise CheckpointError(
                f"this PointNet++ checkpoint's first layer ({first}) takes {cin} channels per "
                f"point; the public models take {extra_in} (xyz) or {extra_in + 3} (xyz + normals).",
                hint="Check that the file is a yanx27 PointNet++ classifier.")
        config["normal_channel"] = cin == extra_in + 3
    classes = _dim(state, ("fc3.weight", 0), ("fc3.bias", 0))
    if classes is not None:
        config["num_classes"] = classes
    return config


def pointnet2_ssg_config(state: dict[str, torch.Tensor]) -> dict | None:
    """yanx27 ``pointnet2_cls_ssg``: ``sa1.mlp_convs...``; sa1 takes xyz-centre (3) + normals."""
    if not any(k.startswith("sa1.mlp_convs.") for k in state) or any(k.startswith("sa1.conv_blocks.") for k in state):
        return None
    return _pointnet2_config(state, "sa1.mlp_convs.0.weight", 64, 3)


def pointnet2_msg_config(state: dict[str, torch.Tensor]) -> dict | None:
    """yanx27 ``pointnet2_cls_msg``: ``sa1.conv_blocks...``; sa1 takes normals (0 or 3) + xyz."""
    if not any(k.startswith("sa1.conv_blocks.") for k in state):
        return None
    return _pointnet2_config(state, "sa1.conv_blocks.0.0.weight", 32, 3)


def serp_pointnet_config(state: dict[str, torch.Tensor]) -> dict | None:
    """SeRP-PointNet (``SerpPointNet``, file entry ``model_wts``): the PointNet encoder
    ``feat.*`` plus per-point ``cls_head`` and ``reconstruction_head``. Width from the encoder's
    first layer. Whether the head learnt displacements or coordinates is not in the weights:
    our default (delta, the paper's delta-learning) is used."""
    if not (any(k.startswith("cls_head.") for k in state)
            and any(k.startswith("reconstruction_head.") for k in state)
            and any(k.startswith("feat.") for k in state)):
        return None
    c1 = _dim(state, ("feat.conv1.weight", 0), ("feat.bn1.weight", 0), ("feat.conv1.bias", 0))
    return {"width": c1 / 64.0 if c1 else 1.0,
            "feature_transform": any(k.startswith("feat.fstn.") for k in state)}


# Model key -> function recognising its public layout. Models registered elsewhere may instead
# define a classmethod ``config_from_state_dict(state) -> dict | None``.
RECOGNISERS: dict[str, Callable[[dict], dict | None]] = {
    "pointnet": pointnet_config, "dgcnn": dgcnn_config,
    "pointnet2-ssg": pointnet2_ssg_config, "pointnet2-msg": pointnet2_msg_config,
    "serp-pointnet": serp_pointnet_config, "serp-transformer-cls": transformer_cls_config}


def recognise(state: dict[str, torch.Tensor], expect: str | None) -> tuple[str, dict] | None:
    """(model key, config) for a foreign state dict, trying ``expect`` first; None if unknown."""
    from engine.core.registry import MODELS

    keys = [expect] if expect else []
    keys += [k for k in RECOGNISERS if k not in keys]
    keys += [k for k in MODELS.names() if k not in keys]
    for key in keys:
        fn = RECOGNISERS.get(key)
        if fn is None and key in MODELS:
            fn = getattr(MODELS.get(key), "config_from_state_dict", None)
        if fn is None:
            continue
        config = fn(state)
        if config is not None:
            return key, config
    return None


# --- plain-language mismatch report ------------------------------------------------------------

def _names(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


@dataclass
class Mismatch:
    missing: list[str]
    unexpected: list[str]
    shapes: list[tuple[str, tuple, tuple]]     # name, file shape, model shape
    file_classes: int | None
    model_classes: int | None

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.shapes)

    def lines(self) -> list[str]:
        """Tensors named as the file names them (a renamed public layout keeps its names)."""
        out = []
        if self.missing:
            out.append(f"{len(self.missing)} tensor(s) the model needs are missing from the file: "
                       f"{_names(self.missing)}")
        if self.unexpected:
            out.append(f"{len(self.unexpected)} tensor(s) in the file are not part of the model: "
                       f"{_names(self.unexpected)}")
        if self.shapes:
            parts = [f"{n} is {tuple(a)} in the file but {tuple(b)} in the model"
                     for n, a, b in self.shapes[:5]]
            more = f" and {len(self.shapes) - 5} more" if len(self.shapes) > 5 else ""
            out.append(f"{len(self.shapes)} tensor(s) differ in shape: {'; '.join(parts)}{more}")
        if self.file_classes is not None and self.file_classes != self.model_classes:
            out.append(f"the file expects {self.file_classes} classes, the model has "
                       f"{self.model_classes}")
        return out


def compare(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> Mismatch:
    """Compare a state dict with a model's own, by name and shape."""
    own = model.state_dict()
    missing = [file_name(state, k) for k in own if k not in state]
    unexpected = [file_name(state, k) for k in state if k not in own]
    shapes = [(file_name(state, k), tuple(state[k].shape), tuple(own[k].shape))
              for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    head = getattr(model, "head_weight", None) or _classifier_head(own)
    head = head if head in own else None
    file_classes = int(state[head].shape[0]) if head and head in state and state[head].dim() >= 1 else None
    model_classes = int(own[head].shape[0]) if head else None
    return Mismatch(missing, unexpected, shapes, file_classes, model_classes)


def _classifier_head(own: dict[str, torch.Tensor]) -> str | None:
    """The last Linear weight of a classifier (fc3 in PointNet), used to count classes; a model
    names its own with a ``head_weight`` attribute (``linear3.weight`` in DGCNN)."""
    if "fc3.weight" in own:
        return "fc3.weight"
    return None


def nonfinite(state: dict[str, torch.Tensor]) -> list[str]:
    return [k for k, v in state.items()
            if v.is_floating_point() and v.numel() and not bool(torch.isfinite(v).all())]


def head_classes(key: str, config: dict, state: dict[str, torch.Tensor]) -> int | None:
    """How many classes the file's head has, for model ``key`` built with ``config`` (on torch's
    'meta' device: no memory), or None when the model has no head this can find in the file."""
    from engine.models.base import build_model

    try:
        with torch.device("meta"):
            model = build_model(key, **config)
    except Exception:  # noqa: BLE001 - a model that cannot be built on 'meta': the normal check reports
        return None
    own = model.state_dict()
    head = getattr(model, "head_weight", None) or _classifier_head(own)
    t = state.get(head) if head else None
    return int(t.shape[0]) if isinstance(t, torch.Tensor) and t.dim() >= 1 else None
