"""A checkpoint together with what the user said about it, and the models a user can name.

Above the loader (``engine.models.checkpoints``) and the option parsers
(``engine.models.checkpoint_options``): ``CheckpointChoice`` loads itself through the loader, so it
lives here rather than beside the parsers the loader uses.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from engine.models.checkpoint_options import DESCRIPTIONS, parse_classes, parse_model_options, typed_options
from engine.models.checkpoints import _import_models, load_checkpoint_cached


def classifier_models() -> list[tuple[str, str]]:
    """(registry key, one-line description) of every model a classifier checkpoint can be for."""
    from engine.core.registry import MODELS

    _import_models()
    out = []
    for key in MODELS.names():
        cls = MODELS.get(key)
        if getattr(cls, "task", "classification") != "classification":
            continue
        text = DESCRIPTIONS.get(key) or getattr(cls, "description", "") or \
            ((cls.__doc__ or "").strip().splitlines() or [cls.__name__])[0]
        out.append((key, text))
    return out


@dataclass(frozen=True)
class CheckpointChoice:
    """A checkpoint and what the user said about it. ``model_options`` is a tuple of (name, value)
    pairs and ``classes`` a tuple of names, so the choice is hashable and can key caches."""

    spec: str
    model: str | None = None
    model_options: tuple = ()
    classes: tuple | None = None

    @classmethod
    def make(cls, spec: str | os.PathLike, model: str | None = None, model_options: dict | str | None = None,
             classes: list[str] | str | None = None) -> "CheckpointChoice":
        """Build a choice from user text or plain values (options dict or "k=v,...", names list or
        "a,b,c"/file)."""
        opts = parse_model_options(model_options) if isinstance(model_options, str) else typed_options(model_options)
        names = parse_classes(classes) if isinstance(classes, str) else classes
        return cls(str(spec), model or None, tuple(sorted(opts.items())),
                   None if names is None else tuple(str(n) for n in names))

    def load(self, device: Any = "cpu", expect: str | None = None):
        """The checkpoint loaded with this choice (cached; the model is shared: do not modify it)."""
        return load_checkpoint_cached(self.spec, device, expect, model=self.model,
                                      model_options=dict(self.model_options) or None,
                                      classes=None if self.classes is None else list(self.classes))

    def __str__(self) -> str:
        return self.spec
