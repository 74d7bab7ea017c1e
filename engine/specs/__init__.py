"""Torch-free method specs, one module per family. The GUI and CLI read them; implementations
register against them. ``all_specs()`` lists every declared method."""
from __future__ import annotations

from engine.core.spec import MethodSpec
from engine.specs import flowam, inspect, mix, parae, pointmask, serp, training

FAMILIES = (inspect, pointmask, flowam, parae, mix, serp, training)


def all_specs() -> list[MethodSpec]:
    return [s for family in FAMILIES for s in family.SPECS]


def get(key: str) -> MethodSpec:
    from engine.core.errors import RegistryError

    for s in all_specs():
        if s.key == key:
            return s
    raise RegistryError(f"Unknown method '{key}'. Known: {', '.join(sorted(s.key for s in all_specs()))}.")
