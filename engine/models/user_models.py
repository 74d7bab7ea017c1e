"""Your own architecture: a model class from a Python file the user names, or from an installed
package's ``pointlens.models`` entry point.

Both RUN THE USER'S CODE, and only because the user asked for it (``--model-file`` on the command
line, the file chooser in the GUI, or installing the package). A checkpoint alone never runs code:
it can only name a model that is already registered.

A class that is not a ``PointModel`` is taken as a plain classifier: ``forward`` on a (B, N, 3)
cloud returns (B, C) logits. It is given PointModel's habits (config, cross-entropy training
loss) by subclassing, so its state-dict names stay exactly the user's own.
"""
from __future__ import annotations

import hashlib
import importlib.util
import inspect
import logging
import sys
from pathlib import Path
from typing import Any

import torch

from engine.core.errors import ModelError, ParameterError
from engine.core.registry import MODELS
from engine.models.base import PointModel, classification_loss
from engine.models.checkpoint_options import constructor_options

log = logging.getLogger("pointlens")
ENTRY_POINT_GROUP = "pointlens.models"
PROBE_SHAPE = (2, 64, 3)          # a tiny batch: enough points for k-nearest-neighbour models

_FILES: dict[str, str] = {}        # registry key -> resolved file it came from
_entry_points_loaded = False


def split_model_file(text: str) -> tuple[Path, str]:
    """``"my_net.py:MyNet"`` -> (path, class name). The last colon splits, so ``C:\\x.py:Net`` works."""
    path, colon, name = str(text).strip().rpartition(":")
    if not colon or not path or not name.isidentifier():
        raise ParameterError(f"model file '{text}': give it as PATH.py:CLASS (e.g. my_net.py:MyNet).")
    return Path(path).expanduser(), name


def load_model_file(text: str, options: dict | None = None) -> str:
    """Import the file named in ``"PATH.py:CLASS"`` (running its code), register the class and
    return its registry key ``file:<stem>.<CLASS>``. ``options`` are constructor settings used to
    try the model once on a tiny cloud; a model that does not give (B, C) logits is refused."""
    path, name = split_model_file(text)
    if not path.is_file():
        raise ModelError(f"model file '{path}' does not exist.", hint="Check the path given as PATH.py:CLASS.")
    resolved = str(path.resolve())
    key = f"file:{path.stem}.{name}"
    if key in MODELS:
        if _FILES.get(key) == resolved:
            return key
        raise ModelError(f"model '{key}' is already registered from {_FILES.get(key, 'elsewhere')}; "
                         f"{path} would register the same name.", hint="Rename the file or the class.")
    module = _import_file(path, resolved)
    cls = getattr(module, name, None)
    if not inspect.isclass(cls):
        here = sorted(n for n, v in vars(module).items()
                      if inspect.isclass(v) and v.__module__ == module.__name__)
        raise ModelError(f"{path} has no class '{name}'; classes defined there: {', '.join(here) or '(none)'}.",
                         hint="Give the class as PATH.py:CLASS.")
    if not issubclass(cls, torch.nn.Module):
        raise ModelError(f"{path}: {name} is not a torch.nn.Module.", hint="Give the model's class.")
    model_cls = _as_point_model(cls, key)
    if model_cls is not cls or getattr(cls, "task", "classification") == "classification":
        _probe(model_cls, dict(options or {}), path, name)
    MODELS.register(key)(model_cls)
    _FILES[key] = resolved
    return key


def _import_file(path: Path, resolved: str) -> Any:
    # a unique module name per file, so two files called net.py do not replace each other
    mod_name = f"pointlens_user_{path.stem}_{hashlib.sha1(resolved.encode()).hexdigest()[:8]}"
    spec = importlib.util.spec_from_file_location(mod_name, resolved)
    if spec is None or spec.loader is None:
        raise ModelError(f"{path}: not a Python file PointLens can import.", hint="Give a .py file.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module            # dataclasses and pickling look the module up here
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        sys.modules.pop(mod_name, None)
        raise ModelError(f"{path}, line {e.lineno}: syntax error ({e.msg}).", hint="Fix the file and try again.") from None
    except Exception as e:  # noqa: BLE001 - the user's code may fail in any way; say how, in one line
        sys.modules.pop(mod_name, None)
        raise ModelError(f"{path}: running the file failed ({type(e).__name__}: {_short(e)}).",
                         hint="Fix the file so that `python PATH.py` runs, then try again.") from None
    return module


def _as_point_model(cls: type, key: str) -> type:
    """A PointModel subclass registered under ``key``. A plain module gets PointModel as a second
    base: its own __init__ runs (its ``super().__init__()`` reaches PointModel), the constructor
    settings are kept for checkpoints, and the training loss is cross-entropy on its logits."""
    if issubclass(cls, PointModel):
        return type(cls.__name__, (cls,), {"key": key, "__module__": cls.__module__, "__doc__": cls.__doc__})

    takes = constructor_options(cls)

    def __init__(self, **config: Any) -> None:
        config = _own_settings(cls, takes, config)
        cls.__init__(self, **config)
        self.config = dict(config)

    def training_loss(self, points, labels, soft_labels=None):
        return classification_loss(self(points), labels, soft_labels)

    body = {"__init__": __init__, "training_loss": training_loss, "key": key, "task": "classification",
            "constructor_settings": takes,
            "__module__": cls.__module__, "__doc__": cls.__doc__,
            "description": f"your own {cls.__name__} from {Path(inspect.getfile(cls)).name}"}
    return type(cls.__name__, (cls, PointModel), body)


def _own_settings(cls: type, takes: list[str] | None, config: dict) -> dict:
    """The settings the user's constructor names. PointLens's trainer passes ``width`` to every
    model (a multiplier of its own architectures): dropped for a class that does not take it.
    Anything else it does not take is an error naming the setting."""
    if takes is None:
        return dict(config)
    extra = [k for k in config if k not in takes and k != "width"]
    if extra:
        hint = ("Give its __init__ a num_classes argument: PointLens sizes the head from the dataset."
                if "num_classes" in extra else "Pass only settings its __init__ names.")
        raise ModelError(f"{cls.__name__} takes no setting {', '.join(repr(e) for e in extra)}; "
                         f"its settings are {', '.join(takes) or '(none)'}.", hint=hint)
    return {k: v for k, v in config.items() if k in takes}


def _probe(model_cls: type, options: dict, path: Path, name: str) -> None:
    """Build the model and run it once on a tiny random cloud: (B, C) logits or a clear refusal."""
    try:
        model = model_cls(**options)
    except Exception as e:  # noqa: BLE001 - the user's constructor
        raise ModelError(f"{path}: building {name}({_kw(options)}) failed ({type(e).__name__}: {_short(e)}).",
                         hint="Pass its constructor settings with --model-options k=v,...") from None
    b = PROBE_SHAPE[0]
    try:
        with torch.no_grad():
            out = model.eval()(torch.rand(*PROBE_SHAPE, generator=torch.Generator().manual_seed(0)))
    except Exception as e:  # noqa: BLE001 - the user's forward
        raise ModelError(f"{path}: {name} failed on a ({b}, {PROBE_SHAPE[1]}, 3) cloud "
                         f"({type(e).__name__}: {_short(e)}).",
                         hint="forward must take clouds as (B, N, 3) tensors, channels last.") from None
    if not isinstance(out, torch.Tensor) or out.dim() != 2 or out.shape[0] != b:
        got = f"a tensor of shape {tuple(out.shape)}" if isinstance(out, torch.Tensor) else f"a {type(out).__name__}"
        raise ModelError(f"{path}: {name} returned {got} for a ({b}, {PROBE_SHAPE[1]}, 3) cloud; "
                         f"PointLens needs (B, C) logits, one row per cloud.",
                         hint="Return only the logits from forward (no tuple, no per-point output).")
    if getattr(model_cls, "head_weight", None) is None:
        head = _last_linear(model, int(out.shape[1]))
        if head:
            model_cls.head_weight = head          # lets a checkpoint's class count be read


def _last_linear(model: torch.nn.Module, classes: int) -> str | None:
    names = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and m.out_features == classes]
    return f"{names[-1]}.weight" if names else None


def _kw(options: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in options.items())


def _short(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= 160 else text[:157] + "..."


# --- installed packages --------------------------------------------------------------------------

def load_entry_points(force: bool = False) -> list[str]:
    """Register the models of installed packages (group ``pointlens.models``), once. Each entry
    point is a PointModel subclass (registered under its ``key`` or the entry point's name) or a
    callable that registers models itself. A broken one is one warning line, never a crash.
    Returns the keys registered now."""
    global _entry_points_loaded
    if _entry_points_loaded and not force:
        return []
    _entry_points_loaded = True
    from importlib import metadata

    try:
        eps = list(metadata.entry_points(group=ENTRY_POINT_GROUP))
    except Exception as e:  # noqa: BLE001 - broken installed metadata must not stop the engine
        log.warning("pointlens: could not list installed model plug-ins (%s); none loaded.", _short(e))
        return []
    added = []
    for ep in eps:
        dist = getattr(getattr(ep, "dist", None), "name", None) or "an unknown distribution"
        try:
            added += _load_one(ep)
        except Exception as e:  # noqa: BLE001 - someone else's package
            log.warning("pointlens: model plug-in '%s' from %s was skipped: %s: %s",
                        ep.name, dist, type(e).__name__, _short(e))
    return added


def _load_one(ep: Any) -> list[str]:
    obj = ep.load()
    if inspect.isclass(obj):
        if not issubclass(obj, PointModel):
            raise TypeError(f"{obj.__name__} is not a PointModel subclass")
        key = obj.key or ep.name
        if key in MODELS:
            if MODELS.get(key) is obj:
                return []
            raise ValueError(f"model '{key}' is already registered")
        if not obj.key:
            obj.key = key
        MODELS.register(key)(obj)
        return [key]
    if callable(obj):
        before = set(MODELS.names())
        obj()
        return sorted(set(MODELS.names()) - before)
    raise TypeError(f"{ep.value} is neither a PointModel subclass nor a callable")
