"""Checkpoints: safetensors with JSON metadata; public ``.pt/.pth`` files read without running code.

A PointLens checkpoint is a ``.safetensors`` file whose metadata entry ``pointlens`` holds JSON:
``model`` (registry key), ``config`` (constructor kwargs), ``classes``, ``normalisation``,
``data_fingerprint``, ``metrics``, ``version``, ``created`` and whatever the trainer adds
(``params``, ``command``). ``build_model(meta["model"], **meta["config"])`` rebuilds the model.

``.pt/.pth`` files are opened only with ``torch.load(weights_only=True)``: a pickle that names
any Python callable (the way a malicious file runs code) is refused before anything runs.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from engine.atomic import atomic_path
from engine.assets import TORCH_SUFFIXES, demo_path
from engine.core.errors import CheckpointError, EngineError
from engine.fsguard import check_input
from engine.inputs import record_input
from engine.models import checkpoint_adapters as adapters
from engine.models import checkpoint_limits as limits
from engine.models import checkpoint_options as user_opts
from engine.models.base import PointModel, build_model

FORMAT = "pointlens-checkpoint/1"
META_KEY = "pointlens"
_DEMO = re.compile(r"^demo:([A-Za-z0-9_.-]+)$")


@dataclass
class Loaded:
    """A loaded checkpoint: the model (eval mode, on the device), its metadata and a report."""

    model: PointModel
    meta: dict
    key: str
    report: list[str] = field(default_factory=list)
    path: str = ""

    @property
    def classes(self) -> list[str]:
        return list(self.meta.get("classes") or [])


# --- where a spec points -------------------------------------------------------------------------

def resolve_spec(spec: str | os.PathLike) -> Path:
    """A checkpoint path, or ``demo:<key>`` for a bundled demo model; must exist."""
    text = str(spec).strip()
    m = _DEMO.match(text)
    if m:
        path = demo_path(m.group(1))
        if not path.is_file():
            raise CheckpointError(f"demo model '{m.group(1)}' is not bundled (no {path}).",
                                  hint="Run `make demo-models` to train it, or give a checkpoint path.")
        return path
    if text.startswith("demo:"):
        raise CheckpointError(f"'{text}' is not a demo model name.", hint="Use demo:<model-key>, e.g. demo:pointnet.")
    path = Path(text).expanduser()
    if not path.exists() and not path.is_symlink():
        raise CheckpointError(f"checkpoint '{text}' does not exist.", hint="Check the path.")
    if path.is_dir():
        raise CheckpointError(f"checkpoint '{text}' is a folder, not a file.",
                              hint="Give the .safetensors or .pth file inside it.")
    return check_input(path, "checkpoint", error=CheckpointError)   # FIFOs, devices, loops refused


# --- saving --------------------------------------------------------------------------------------

def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def save_checkpoint(path: str | os.PathLike, model: torch.nn.Module, meta: dict | None = None) -> Path:
    """Write ``model``'s weights and ``meta`` as a safetensors file, atomically. Returns the path."""
    from safetensors.torch import save_file

    import engine

    inner = getattr(model, "module", model)          # unwrap DistributedDataParallel
    full = {"format": FORMAT, "model": getattr(inner, "key", ""),
            "config": dict(getattr(inner, "config", {})), "version": engine.__version__,
            "created": _now()}
    full.update(meta or {})
    try:
        text = json.dumps(full, sort_keys=True, allow_nan=False, default=_json_default)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"checkpoint metadata for {path} is not JSON-serialisable ({e}).") from None
    # clone: safetensors refuses tensors that share storage, and we never write views of live weights
    tensors = {k: v.detach().to("cpu").clone().contiguous() for k, v in inner.state_dict().items()}
    path = Path(path)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={META_KEY: text, "format": FORMAT})
    return path


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (Path, torch.device)):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON-serialisable")


# --- reading raw files ---------------------------------------------------------------------------

def _read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict | None]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            raw_meta = f.metadata() or {}
            state = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # SafetensorError, OSError, ...: a damaged file, whatever the cause
        raise CheckpointError(f"{path}: not a readable safetensors file ({_short(e)}).",
                              hint="The file may be truncated or not a checkpoint; save or download it again.") from None
    meta = None
    if META_KEY in raw_meta:
        try:
            meta = json.loads(raw_meta[META_KEY])
        except json.JSONDecodeError:
            raise CheckpointError(f"{path}: the PointLens metadata in this file is not valid JSON.",
                                  hint="Save the checkpoint again.") from None
        if not isinstance(meta, dict):
            raise CheckpointError(f"{path}: the PointLens metadata is not a JSON object.")
    return state, meta


def _read_torch(path: Path) -> Any:
    import pickle

    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        text = str(e)
        m = re.search(r"(?:GLOBAL|global)\s+([\w.]+)", text)
        what = f" (it names {m.group(1)})" if m else ""
        raise CheckpointError(
            f"{path}: refused to load: the file holds Python objects that would run code when "
            f"opened{what}; PointLens reads only tensors from .pt/.pth files.",
            hint="Re-save just the weights (torch.save(model.state_dict(), ...)) from trusted code.") from None
    except Exception as e:
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({_short(e)}).",
                              hint="The file may be truncated or not a checkpoint.") from None
    limits.check_loaded(obj, path)   # stride-0 / larger-than-storage tensors, before any use
    return obj


def _short(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _sniff(path: Path) -> str:
    """'safetensors' or 'torch' from the suffix, else from the first bytes."""
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        return "safetensors"
    if suffix in TORCH_SUFFIXES:
        return "torch"
    with open(path, "rb") as f:
        head = f.read(16)
    if head[:2] == b"PK" or head[:1] == b"\x80":   # zip (torch >= 1.6) or a legacy pickle
        return "torch"
    if len(head) >= 9 and head[8:9] == b"{":       # 8-byte header length, then JSON
        return "safetensors"
    raise CheckpointError(f"{path}: unknown checkpoint type '{suffix or '(no suffix)'}'.",
                          hint="Use a .safetensors, .pt or .pth file.")


def read_meta(spec: str | os.PathLike) -> dict:
    """The PointLens metadata of a safetensors checkpoint without building the model ({} if none)."""
    from safetensors import safe_open

    path = resolve_spec(spec)
    record_input(path, "checkpoint")
    if _sniff(path) != "safetensors":
        return {}
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            raw = (f.metadata() or {}).get(META_KEY)
    except Exception as e:
        raise CheckpointError(f"{path}: not a readable safetensors file ({_short(e)}).") from None
    try:
        return json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        raise CheckpointError(f"{path}: the PointLens metadata in this file is not valid JSON.") from None


# --- loading -------------------------------------------------------------------------------------

def load_checkpoint(spec: str | os.PathLike, device: Any = "cpu", expect: str | None = None, *,
                    model: str | None = None, model_options: dict | None = None,
                    classes: list[str] | None = None) -> Loaded:
    """Load a checkpoint into a fresh model in eval mode on ``device``.

    ``expect``: the model key the caller needs; a checkpoint of another model is an error saying
    which model it is. Any mismatch between file and model is a CheckpointError with the report.
    What the user says about the file (see ``checkpoint_options``): ``model`` names the registry
    key of a foreign file instead of detecting it; ``model_options`` are constructor settings
    merged over the detected or saved config; ``classes`` names the outputs, one per class.
    """
    from engine.device import resolve_device
    from engine.core.registry import MODELS

    _import_models()
    chosen = model                    # the user's name; ``model`` is the built network further down
    options = user_opts.typed_options(model_options)
    if model is not None and model not in MODELS:
        raise CheckpointError(f"{spec}: model '{model}' is not a registered model "
                              f"(known: {', '.join(MODELS.names())}).", hint=_unknown_hint(model))
    path = resolve_spec(spec)
    record_input(path, "checkpoint")
    dev = resolve_device(device)
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: the file is empty.", hint="Save or download the checkpoint again.")
    kind = _sniff(path)
    report: list[str] = []
    if kind == "safetensors":
        state, meta = _read_safetensors(path)
    else:
        state, meta = _read_torch(path), None
    if meta is not None:                                   # written by PointLens
        key = str(meta.get("model", ""))
        config = meta.get("config") or {}
        if model is not None and model != key:
            raise CheckpointError(f"{path}: the file's metadata says it is a '{key}' checkpoint, "
                                  f"but model '{model}' was named for it.",
                                  hint="Drop the model name: PointLens checkpoints say which model they are for.")
        limits.check_meta(meta, path)
        if not state:
            raise CheckpointError(f"{path}: the checkpoint holds no tensors.")
        adapted = adapters.unwrap(state, str(path))
        state = adapted.state
    else:                                                  # a public/foreign file
        try:
            adapted = adapters.unwrap(state, str(path))
        except CheckpointError:
            raise
        state = adapted.state
        report += adapted.notes
        try:
            found = _named(model, state) if model is not None else adapters.recognise(state, expect)
        except CheckpointError as e:
            raise CheckpointError(f"{path}: {e.message}", hint=e.hint) from None
        if model is not None:
            key, config = found
            report.append(f"model '{key}' as named by the user, with {_config_text(config)}")
        elif found is None:
            if expect is None:
                raise CheckpointError(
                    f"{path}: cannot tell which model these {len(state)} tensors belong to "
                    f"(first keys: {', '.join(list(state)[:4])}).",
                    hint="Name the model the checkpoint is for (--model NAME, or the model picker "
                         "when opening it), or open a PointLens .safetensors checkpoint.")
            key, config = expect, {}
        else:
            key, config = found
            report.append(f"recognised as '{key}' with {_config_text(config)}")
        meta = {"model": key, "config": config, "classes": None, "source_format": kind}
        meta.update({f"file_{k}": v for k, v in adapted.extras.items()})
    if key not in MODELS:
        raise CheckpointError(f"{path}: the checkpoint is for model '{key}', which this PointLens "
                              f"does not have (known: {', '.join(MODELS.names())}).",
                              hint=_unknown_hint(key))
    if expect is not None and key != expect:
        raise CheckpointError(f"{path}: this is a '{key}' checkpoint, not '{expect}'.",
                              hint=f"Open a '{expect}' checkpoint here, or use this one with a '{key}' method.")
    if options:
        user_opts.check_options(key, MODELS.get(key), options, str(path))
        config = {**config, **options}
        meta["config"] = config
        report.append(f"model options given: {_config_text(options)}")
    if chosen and meta.get("source_format") and "num_classes" not in config:
        # a model the user named for a foreign file: its class count is the file's head, not the
        # constructor's default (a 3-class PointMask named 'pointmask' must not build 10 outputs)
        n = adapters.head_classes(key, config, state)
        if n:
            config = {**config, "num_classes": n}
            meta["config"] = config
            report.append(f"{n} classes, read from the file's output layer")
    limits.check_meta(meta, path)
    try:
        limits.check_shapes_first(key, config, state, path, _config_text(config))
    except CheckpointError as e:
        raise _with_choice_hint(e, chosen, options) from None
    bad = adapters.nonfinite(state)
    if bad:
        raise CheckpointError(f"{path}: {len(bad)} tensor(s) hold NaN or Inf values "
                              f"({', '.join(bad[:4])}); the training run diverged.",
                              hint="Use an earlier checkpoint or retrain with a lower learning rate.")
    try:
        model = build_model(key, **config)
    except EngineError as e:
        raise CheckpointError(f"{path}: cannot rebuild model '{key}' from the checkpoint's config: {e.message}") from None
    except Exception as e:  # a model constructor rejecting a bad value in ways of its own
        raise CheckpointError(f"{path}: cannot rebuild model '{key}' from the checkpoint's config "
                              f"({type(e).__name__}: {_short(e)}).") from None
    mismatch = adapters.compare(model, state)
    if not mismatch.ok:
        raise _with_choice_hint(CheckpointError(
            f"{path} does not fit model '{key}' ({_config_text(config)}): " + "; ".join(mismatch.lines()) + ".",
            hint="Check that the file is a checkpoint of this model and configuration."), chosen, options)
    limits.check_float_weights(state, model, path)
    model.load_state_dict(state, strict=True)
    n_out = mismatch.model_classes
    if classes is not None:
        _check_given_classes(classes, n_out or config.get("num_classes"), path, key)
        meta["classes"], meta["classes_from"] = list(classes), "the names given for the checkpoint"
        report.append(f"class names given by the user ({len(classes)})")
    classes = meta.get("classes")
    if not classes and n_out:
        meta["classes_from"] = "generic"
        meta["classes"] = [f"class {i}" for i in range(n_out)]
        report.append(f"the file names no classes; they are called class 0..class {n_out - 1}")
    elif classes and n_out and len(classes) != n_out:
        raise CheckpointError(f"{path}: metadata lists {len(classes)} class names but the model "
                              f"has {n_out} outputs.", hint="Save the checkpoint again.")
    model.to(dev).eval()
    return Loaded(model=model, meta=meta, key=key, report=report, path=str(path))


def _named(model: str, state: dict) -> tuple[str, dict]:
    """The user-named model with the config its own recogniser reads from the tensors (or its
    defaults), never another model's."""
    from engine.core.registry import MODELS

    fn = adapters.RECOGNISERS.get(model) or getattr(MODELS.get(model), "config_from_state_dict", None)
    config = fn(state) if fn is not None else None
    if fn is None:
        # A variant without a recogniser of its own (RandMask is PointNet's layout): take the
        # settings read for the look-alike model, those the named model's constructor accepts.
        found = adapters.recognise(state, None)
        if found is not None:
            takes = user_opts.constructor_options(MODELS.get(model))
            config = {k: v for k, v in found[1].items() if takes is None or k in takes}
    return model, dict(config or {})


def _unknown_hint(key: str) -> str:
    if key.startswith("file:"):
        return "This model comes from your own file: give it again with --model-file PATH.py:CLASS."
    return "Pick a known model (see the list), update PointLens, or install the package that provides it."


def _with_choice_hint(e: CheckpointError, model: str | None, options: dict) -> CheckpointError:
    """The mismatch error, with a hint that points at the user's own choice when there was one."""
    if model is None and not options:
        return e
    said = " and ".join(x for x in (f"model '{model}'" if model else "",
                                     f"options {_config_text(options)}" if options else "") if x)
    return CheckpointError(e.message, hint=f"You chose {said}: check that choice against the file, "
                                            "or leave the model out to let PointLens detect it.")


def _check_given_classes(classes: list[str], n_out: int | None, path: Path, key: str) -> None:
    if n_out is None:
        raise CheckpointError(f"{path}: class names were given, but model '{key}' has no classifier "
                              f"head PointLens can count.", hint="Drop the class names for this model.")
    if len(classes) != int(n_out):
        raise CheckpointError(f"{path}: {len(classes)} class names were given, but the model has "
                              f"{int(n_out)} outputs (one per class).",
                              hint=f"Give exactly {int(n_out)} names, in the order the model was trained.")


def _config_text(config: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(config.items())) or "default settings"


def _import_models() -> None:
    """Make sure every model architecture is registered, installed plug-ins included."""
    import engine.models.zoo  # noqa: F401
    from engine.models.user_models import load_entry_points

    load_entry_points()


# --- cache ---------------------------------------------------------------------------------------

_CACHE: "OrderedDict[tuple, Loaded]" = OrderedDict()
_CACHE_SIZE = 6


def load_checkpoint_cached(spec: str | os.PathLike, device: Any = "cpu", expect: str | None = None, *,
                           model: str | None = None, model_options: dict | None = None,
                           classes: list[str] | None = None) -> Loaded:
    """``load_checkpoint`` memoised on (resolved path, mtime, size, device, expect, and the
    user's model, options and classes).

    The returned model is shared between callers: use it in eval mode and do not modify it.
    """
    from engine.device import resolve_device

    path = resolve_spec(spec).resolve()
    st = path.stat()
    options = user_opts.typed_options(model_options)
    key = (str(path), st.st_mtime_ns, st.st_size, str(resolve_device(device)), expect, model,
           json.dumps(options, sort_keys=True, default=str), None if classes is None else tuple(classes))
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    loaded = load_checkpoint(path, device, expect, model=model, model_options=options or None,
                             classes=None if classes is None else list(classes))
    _CACHE[key] = loaded
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return loaded


def clear_cache() -> None:
    _CACHE.clear()
