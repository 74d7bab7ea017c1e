"""Torch-free method specs, one module per family. The GUI and CLI read them; implementations
register against them. ``all_specs()`` lists every declared method."""
from __future__ import annotations

from engine.core.spec import MethodSpec
from engine.specs import flowam, inspect, mix, parae, pointmask, serp, training

FAMILIES = (inspect, pointmask, flowam, parae, mix, serp, training)


def all_specs() -> list[MethodSpec]:
    return [s for family in FAMILIES for s in family.SPECS]


def get(key: str) -> MethodSpec:
    """The spec of ``key``: a built-in one, else that of a method registered at run time (a
    plugin or a test's method)."""
    from engine.core.errors import RegistryError
    from engine.core.registry import METHODS

    for s in all_specs():
        if s.key == key:
            return s
    if key in METHODS:
        return METHODS.get(key).spec
    raise RegistryError(f"Unknown method '{key}'. Known: {', '.join(sorted(s.key for s in all_specs()))}.")
