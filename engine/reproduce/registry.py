"""The reproductions by name. The shipped ones are registered on first use (each module is
torch-free to import); tests and plug-ins add their own with ``register``."""
from __future__ import annotations

import importlib

from engine.core.errors import RegistryError
from engine.reproduce.declaration import Reproduction

# One module per paper result, each holding REPRODUCTION (flowam holds three).
SHIPPED = (("engine.reproduce.pointmask_fig4", "REPRODUCTION"), ("engine.reproduce.flowam", "TABLE1_REPRO"),
           ("engine.reproduce.flowam", "FIG2_REPRO"), ("engine.reproduce.flowam", "SANITY_REPRO"),
           ("engine.reproduce.parae_table1", "REPRODUCTION"), ("engine.reproduce.sagemix_table3", "REPRODUCTION"),
           ("engine.reproduce.serp_finetune", "REPRODUCTION"))

_REGISTRY: dict[str, Reproduction] = {}
_loaded = False


def _load_shipped() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module, attr in SHIPPED:
        repro = getattr(importlib.import_module(module), attr)
        _REGISTRY.setdefault(repro.name, repro)


def register(repro: Reproduction, replace: bool = False) -> Reproduction:
    _load_shipped()
    if repro.name in _REGISTRY and not replace:
        raise RegistryError(f"reproduction '{repro.name}' is registered twice.")
    _REGISTRY[repro.name] = repro
    return repro


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def names() -> list[str]:
    _load_shipped()
    return list(_REGISTRY)


def get(name: str) -> Reproduction:
    _load_shipped()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise RegistryError(f"no reproduction named '{name}'; known: {', '.join(_REGISTRY)}.",
                            hint="`pointlens reproduce --list` lists them.") from None
