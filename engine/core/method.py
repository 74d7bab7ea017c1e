"""The base of every method implementation and the decorator that registers it against its spec.

An implementation's ``run(params, *, model=..., device=..., **inputs)`` is a generator: it yields
``Progress`` at least every ~100 ms of work and returns a ``Result``. ``model`` (a
``models.checkpoints.Loaded``) is passed only when the spec ``needs_model``, ``device`` only when
it ``uses_device``; every other keyword is one of the spec's declared inputs. Cancelling is closing
the generator; state changes (hooks, train/eval mode, grad mode) are undone in ``finally``.
"""
from __future__ import annotations

from typing import Any, Callable, Generator

from engine.core.registry import METHODS
from engine.core.spec import MethodSpec
from engine.core.types import Progress, Result

JobGenerator = Generator[Progress, None, Result]


class Method:
    spec: MethodSpec
    Params: type          # the spec's params dataclass, set by ``implements``
    title: str = ""

    def run(self, params: Any, **inputs: Any) -> JobGenerator:  # pragma: no cover - abstract
        raise NotImplementedError


def implements(spec: MethodSpec) -> Callable[[type], type]:
    """Class decorator: register a ``Method`` subclass as the implementation of ``spec``."""

    def decorate(cls: type) -> type:
        if not issubclass(cls, Method):
            raise TypeError(f"{cls.__name__} implements '{spec.key}' but is not a core.method.Method")
        cls.spec = spec
        cls.Params = spec.params
        cls.title = spec.title
        return METHODS.register(spec.key)(cls)

    return decorate
