"""Limits a checkpoint must respect before any model is built from it.

A checkpoint's metadata says how large a model to build (``width``, ``num_classes``,
``parts``); a file that lies ("num_classes": 10**9) would make the constructor allocate
gigabytes before the shapes are ever compared. And a ``.pth`` can hold a tensor whose shape is
huge over a tiny storage (stride 0, or a view larger than its bytes): harmless until something
touches every element. Both are refused here, with the file and the field named.
"""
from __future__ import annotations

from typing import Any

import torch

from engine.core.errors import CheckpointError

from engine.models.config_bounds import out_of_bounds
MAX_CLASS_NAMES = 100_000
MAX_ELEMENTS = 1 << 30          # 4 GiB of float32 in one tensor: no PointLens model comes close
MAX_DEPTH = 6


def check_meta(meta: dict, path) -> None:
    """Bounds on the metadata's config numbers and class list."""
    config = meta.get("config") or {}
    if not isinstance(config, dict):
        raise CheckpointError(f"{path}: metadata 'config' is not an object.")
    bad = out_of_bounds(config)
    if bad is not None:
        key, value, lo, hi = bad
        raise CheckpointError(f"{path}: metadata config '{key}' = {value} is out of range ({lo}..{hi}).",
                              hint="The file is damaged or was not written by PointLens; save it again.")
    classes = meta.get("classes")
    if classes is not None and (not isinstance(classes, list) or len(classes) > MAX_CLASS_NAMES):
        n = len(classes) if isinstance(classes, list) else type(classes).__name__
        raise CheckpointError(f"{path}: metadata 'classes' must be a list of at most "
                              f"{MAX_CLASS_NAMES:,} names (got {n}).")


def check_tensor(name: str, t: torch.Tensor, path) -> None:
    """A tensor must own the bytes its shape needs: no stride-0 broadcast, no view larger than
    its storage, no absurd element count."""
    n = t.numel()
    if n > MAX_ELEMENTS:
        raise CheckpointError(f"{path}: tensor '{name}' declares shape {tuple(t.shape)} "
                              f"({n:,} elements); refused.", hint="The file is crafted or damaged.")
    if n > 1 and any(st == 0 and sz > 1 for sz, st in zip(t.shape, t.stride())):
        raise CheckpointError(f"{path}: tensor '{name}' of shape {tuple(t.shape)} has stride 0 "
                              f"(one stored value repeated); refused.", hint="The file is crafted or damaged.")
    if n and n * t.element_size() > t.untyped_storage().nbytes():
        raise CheckpointError(f"{path}: tensor '{name}' of shape {tuple(t.shape)} needs "
                              f"{n * t.element_size():,} bytes but its storage holds "
                              f"{t.untyped_storage().nbytes():,}; refused.", hint="The file is crafted or damaged.")


def check_loaded(obj: Any, path, name: str = "", depth: int = 0) -> None:
    """Check every tensor in what ``torch.load`` returned (nested dicts and lists)."""
    if depth > MAX_DEPTH:
        return
    if isinstance(obj, torch.Tensor):
        check_tensor(name or "(top level)", obj, path)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            check_loaded(v, path, f"{name}.{k}" if name else str(k), depth + 1)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            check_loaded(v, path, f"{name}[{i}]", depth + 1)


def check_shapes_first(key: str, config: dict, state: dict, path, config_text: str) -> None:
    """Build the model on the 'meta' device (no memory) and compare shapes with the file's
    tensors, so a config that does not match the weights fails before a real model exists.
    A model that cannot be built on 'meta' is left to the normal build and comparison."""
    from engine.models import checkpoint_adapters as adapters
    from engine.models.base import build_model

    try:
        with torch.device("meta"):
            probe = build_model(key, **config)
        mismatch = adapters.compare(probe, state)
    except Exception:   # noqa: BLE001 - meta construction unsupported by this model: skip
        return
    if not mismatch.ok:
        raise CheckpointError(f"{path} does not fit model '{key}' ({config_text}): "
                              + "; ".join(mismatch.lines()) + ".",
                              hint="Check that the file is a checkpoint of this model and configuration.")


def check_float_weights(state: dict, model, path) -> None:
    """Float weights stored as integers (a quantised or corrupted file) would load silently,
    cast to float, and give a model that only looks right: refuse them by name."""
    own = model.state_dict()
    bad = [f"{k} ({str(v.dtype).replace('torch.', '')})" for k, v in state.items()
           if k in own and own[k].is_floating_point() and not v.is_floating_point()]
    if bad:
        raise CheckpointError(f"{path}: {len(bad)} float weight(s) are stored as integers "
                              f"({', '.join(bad[:3])}{' ...' if len(bad) > 3 else ''}).",
                              hint="PointLens opens float checkpoints; export the model unquantised "
                                   "(float32, float16 or bfloat16).")
