"""What the Flow AM methods run on: the model (frozen while they run), the dataset, the class.

``frozen(model)`` is the guarantee that gradients flow only to the points: every parameter's
requires_grad is switched off and every module put in eval mode for the block, and both are
restored exactly in ``finally`` (normal end, error, or a closed generator).
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from engine.core.errors import DataError, ParameterError


@contextmanager
def frozen(model) -> Iterator[Any]:
    flags = [(p, p.requires_grad) for p in model.parameters()]
    modes = [(m, m.training) for m in model.modules()]
    try:
        for p, _ in flags:
            p.requires_grad_(False)
        model.eval()
        yield model
    finally:
        for p, f in flags:
            p.requires_grad_(f)
        for m, t in modes:      # set each flag directly: m.train() would recurse into children
            m.training = t


def resolve_dataset(dataset=None, data: str | None = None):
    if dataset is not None:
        return dataset
    if not data:
        raise DataError("No dataset: give --data (a path or 'builtin').",
                        hint="Flow AM needs real objects for the class statistics and the metrics.")
    from engine.data import open_dataset

    return open_dataset(data)


def source_label(loaded) -> str:
    """What the provenance names as the model: the checkpoint's path, else 'model'."""
    return str(getattr(loaded, "path", "") or "model")


def resolve_inputs(loaded, dataset=None, data: str | None = None):
    """(model, dataset, class names, checkpoint label) for the Flow AM methods, checked to agree.

    ``loaded`` is the job's model as the catalog resolved it (a models.checkpoints.Loaded)."""
    model = loaded.model
    ds = resolve_dataset(dataset, data)
    return model, ds, check_classes(model, loaded.classes or None, ds), source_label(loaded)


def num_classes(model) -> int | None:
    n = (getattr(model, "config", {}) or {}).get("num_classes")
    return int(n) if n is not None else None


def check_classes(model, model_classes, dataset) -> list[str]:
    """The class names to use; errors if the model and the dataset disagree."""
    from engine.models.base import require_classifier    # (torch: not at this module's import)

    require_classifier(model, "activation maximisation")
    classes = list(dataset.classes)
    n = num_classes(model)
    if n is not None and n != len(classes):
        raise DataError(f"the model predicts {n} classes but dataset '{dataset.path}' has "
                        f"{len(classes)} ({', '.join(classes[:6])}...).",
                        hint="Use the dataset the checkpoint was trained on.")
    # A checkpoint without names gets placeholders "class 0".. (checkpoints.py): nothing to compare.
    named = model_classes and any(str(c) != f"class {i}" for i, c in enumerate(model_classes))
    if named and [str(c) for c in model_classes] != classes:
        raise DataError(f"the checkpoint's classes ({', '.join(map(str, model_classes[:4]))}...) differ "
                        f"from dataset '{dataset.path}' ({', '.join(classes[:4])}...).",
                        hint="Use the dataset the checkpoint was trained on.")
    return classes


def class_index(target: Any, classes: list[str]) -> int:
    """A class given by name (any case) or index -> its index."""
    if target is None or (isinstance(target, str) and not target.strip()):
        raise ParameterError(f"No class given; pick one of {', '.join(classes)}.")
    if isinstance(target, (int,)) and not isinstance(target, bool):
        idx = int(target)
    elif isinstance(target, str) and target.strip().lstrip("-").isdigit():
        idx = int(target.strip())
    else:
        names = [c.lower() for c in classes]
        t = str(target).strip().lower()
        if t not in names:
            import difflib

            close = difflib.get_close_matches(t, names, n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise ParameterError(f"class '{target}' is not in the dataset.{hint} "
                                 f"Classes: {', '.join(classes)}.")
        return names.index(t)
    if not 0 <= idx < len(classes):
        raise ParameterError(f"class index {idx} is outside 0..{len(classes) - 1}.")
    return idx
