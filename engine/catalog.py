"""The catalog: the one place that imports every method implementation, and the door jobs start by.

Implementations register against their torch-free specs (engine.specs) when imported; they are
imported here by name so that readers and PyInstaller see every entry. Models are listed once in
``engine.models.zoo`` (checkpoint loading needs them without the methods). ``start(job)`` checks a
job against its spec (inputs, parameters, model) and returns the implementation's generator.
"""
from __future__ import annotations

import os
from typing import Any

from engine import specs
from engine.core.errors import ModelError, ParameterError
from engine.core.jobs import Job, make_params
from engine.core.method import JobGenerator
from engine.core.registry import METHODS, MODELS
from engine.core.spec import MethodSpec

_loaded = False


def load() -> None:
    """Import every implementation once (registers models, methods and augmentations)."""
    global _loaded
    if _loaded:
        return
    # One line per implementation module; adding a method adds one line here.
    import engine.models.zoo  # noqa: F401
    from engine.models.user_models import load_entry_points
    load_entry_points()       # installed packages' models (group pointlens.models)
    import engine.training.evaluate  # noqa: F401
    import engine.training.train  # noqa: F401
    import engine.training.robustness  # noqa: F401
    import engine.training.finetune_compare  # noqa: F401
    import engine.methods.inspect.predict  # noqa: F401
    import engine.methods.inspect.occlusion  # noqa: F401
    import engine.methods.pointmask.explain  # noqa: F401
    import engine.methods.pointmask.bias_lab  # noqa: F401
    import engine.methods.flowam.method  # noqa: F401
    import engine.methods.flowam.layers  # noqa: F401
    import engine.methods.flowam.sanity  # noqa: F401
    import engine.methods.parae.explain  # noqa: F401
    import engine.methods.parae.probe  # noqa: F401
    import engine.methods.mix.method  # noqa: F401
    import engine.methods.mix.augment  # noqa: F401
    import engine.methods.serp.explain  # noqa: F401
    _loaded = True
    missing = [s.key for s in specs.all_specs() if s.key not in METHODS]
    if missing:  # pragma: no cover - a spec without an implementation is a programming error
        raise ModelError(f"specs without an implementation: {', '.join(missing)}")


def method_names() -> list[str]:
    load()
    return METHODS.names()


def model_options(keys) -> dict:
    """{model: {option: (type name, default, help)}}: the extra settings each model takes."""
    load()
    out = {}
    for key in keys:
        opts = getattr(MODELS.get(key), "cli_options", None) or {}
        out[key] = {name: (getattr(s[0], "__name__", "str"), s[1], s[2] if len(s) > 2 else "")
                    for name, s in opts.items()}
    return out


def implementation(key: str) -> type:
    load()
    return METHODS.get(key)


def resolve_model(model: Any, device: str, spec: MethodSpec, dataset_classes: Any = None):
    """The job's model as a ``Loaded`` checkpoint: a spec string or a ``CheckpointChoice`` is
    loaded (cached), a loaded checkpoint passes, a bare module is wrapped with its own class names.

    ``dataset_classes``: the class names of the job's dataset (or a callable giving them, asked
    only when needed). A checkpoint whose file names no classes takes them when its head has as
    many outputs; the result is then a copy, the cached checkpoint keeps its generic names."""
    from engine.models.checkpoint_choice import CheckpointChoice
    from engine.models.checkpoint_options import with_dataset_classes
    from engine.models.checkpoints import Loaded, load_checkpoint_cached

    if model is None:
        raise ModelError(f"{spec.title}: no model. Open a checkpoint (a path, or a demo model such "
                         f"as demo:pointnet).")
    if isinstance(model, CheckpointChoice):
        loaded = model.load(device)
    elif isinstance(model, (str, os.PathLike)):
        loaded = load_checkpoint_cached(str(model), device)
    elif isinstance(model, Loaded):
        loaded = model
    else:
        classes = list(getattr(model, "classes", None) or [])
        meta = {"classes": classes}
        if not classes:
            n = (getattr(model, "config", None) or {}).get("num_classes")
            classes = [f"class {i}" for i in range(int(n))] if n else []
            meta = {"classes": classes, "classes_from": "generic"}
        loaded = Loaded(model=model, meta=meta, key=getattr(model, "key", type(model).__name__))
    if spec.model_kinds and loaded.key not in spec.model_kinds:
        raise ModelError(f"{spec.title} needs a {' or '.join(repr(k) for k in spec.model_kinds)} model; "
                         f"this is '{loaded.key}'.",
                         hint="Open a matching checkpoint (see `pointlens train --help` to make one).")
    if loaded.meta.get("classes_from") == "generic" and dataset_classes is not None:
        names = dataset_classes() if callable(dataset_classes) else dataset_classes   # asked only now
        loaded = with_dataset_classes(loaded, names)
    return loaded


def _dataset_classes(job: Job, spec: MethodSpec):
    """A callable giving the class names of the job's dataset input (None when it has none or
    they cannot be read: the method itself reports a bad dataset)."""
    values = [job.inputs.get(i.name) for i in spec.inputs if i.kind == "dataset"]
    values = [v for v in values if v is not None]
    if not values:
        return None

    def names():
        from engine.core.errors import EngineError

        for v in values:
            if isinstance(v, (tuple, list)) and len(v) > 2 and v[2] is not None:
                return [str(c) for c in v[2]]        # (x, y, classes) arrays
            if isinstance(v, (str, os.PathLike)):
                from engine.data.open import open_dataset

                try:
                    v = open_dataset(v)
                except (EngineError, OSError):      # the method reports a bad dataset itself
                    continue
            classes = getattr(v, "classes", None)
            if classes:
                return list(classes)
        return None

    return names


def start(job: Job) -> JobGenerator:
    """Check ``job`` against its spec and start the implementation's generator."""
    cls = implementation(job.method)
    spec: MethodSpec = cls.spec
    owner = f"method '{job.method}'"
    unknown = [k for k in job.inputs if k not in spec.input_names]
    if unknown:
        raise ParameterError(f"{owner} has no input {', '.join(repr(u) for u in unknown)}; "
                             f"declared: {', '.join(spec.input_names) or 'none'}.")
    missing = [i.name for i in spec.inputs if i.required and job.inputs.get(i.name) is None]
    if missing:
        raise ParameterError(f"{owner} needs {', '.join(repr(m) for m in missing)}.")
    params = make_params(spec.params, job.params, owner=owner)
    extra: dict[str, Any] = {}
    if spec.needs_model:
        optional = job.model is None and not spec.model_required
        extra["model"] = None if optional else resolve_model(job.model, job.device, spec,
                                                             _dataset_classes(job, spec))
    elif job.model is not None:
        raise ParameterError(f"{owner} takes no model; pass checkpoints as its parameters.")
    if spec.uses_device:
        extra["device"] = job.device
    return cls().run(params, **extra, **dict(job.inputs))


def run(job: Job, progress_bar: bool = False, on_progress=None):
    """Start ``job`` and run it to its Result in this thread."""
    from engine.core.jobs import run_sync

    return run_sync(start(job), progress_bar=progress_bar, on_progress=on_progress)
