"""Make sense of checkpoints PointLens did not write: containers, prefixes, which model, report.

Public PointNet checkpoints come in a few shapes: fxia22 saves
the bare state_dict; yanx27 saves ``{"epoch", ..., "model_state_dict": ...}``; code that trained
through ``nn.DataParallel`` prefixes every key with ``module.``; other repositories use
``state_dict``, ``model``, ``model_wts`` or ``best_model_wts``. Both PointNet layouts use the same
key names as ``engine.models.pointnet``, so after unwrapping they load by name.

The mismatch report is written for a person: which tensors are missing, which are unexpected,
which differ in shape, and how many classes the file was trained for.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from engine.core.errors import CheckpointError

# Container keys that hold the weights, in the order they are tried.
CONTAINER_KEYS = ("model_state_dict", "state_dict", "model", "model_wts", "best_model_wts", "net")
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
        notes.append("bare state_dict (fxia22 layout)")
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
    else:
        raise CheckpointError(f"{where}: the file holds a {type(obj).__name__}, not model weights.",
                              hint="Save the model's state_dict() (a dict of tensors) and open that.")
    for prefix in PREFIXES:
        if all(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
            notes.append(f"stripped the '{prefix}' prefix")
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


# Model key -> function recognising its public layout. Models registered elsewhere may instead
# define a classmethod ``config_from_state_dict(state) -> dict | None``.
RECOGNISERS: dict[str, Callable[[dict], dict | None]] = {"pointnet": pointnet_config}


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
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [(k, tuple(state[k].shape), tuple(own[k].shape))
              for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    head = _classifier_head(own)
    file_classes = int(state[head].shape[0]) if head and head in state and state[head].dim() >= 1 else None
    model_classes = int(own[head].shape[0]) if head else None
    return Mismatch(missing, unexpected, shapes, file_classes, model_classes)


def _classifier_head(own: dict[str, torch.Tensor]) -> str | None:
    """The last Linear weight of a classifier (fc3 in PointNet), used to count classes."""
    if "fc3.weight" in own:
        return "fc3.weight"
    return None


def nonfinite(state: dict[str, torch.Tensor]) -> list[str]:
    return [k for k, v in state.items()
            if v.is_floating_point() and v.numel() and not bool(torch.isfinite(v).all())]
