"""Panels. Method panels are listed here, one per line: a module name (the module defines
``PANEL``, a ``MethodPanel`` subclass) or ``generated("<method>")`` for a panel made from the
method's spec alone (see panels/generated.py). Fixed panels (data browser, layers, jobs, log,
plots) are built by the window directly."""
from __future__ import annotations

import importlib


def generated(key: str) -> tuple[str, str]:
    """A panel made from method ``key``'s spec (panels/generated.py)."""
    return ("generated", key)


METHOD_PANELS = [
    "inspect",
    "pointmask",
    "sagemix",
    "parae",
    "serp",
    "flowam",
    generated("occlusion"),
]


def load_method_panels() -> tuple[list[type], list[str]]:
    """(panel classes in order, error lines): a panel that fails to import is reported, not fatal."""
    out, errors = [], []
    for entry in METHOD_PANELS:
        try:
            if isinstance(entry, tuple):
                from .generated import generated as make

                out.append(make(entry[1]))
            else:
                out.append(importlib.import_module(f"{__name__}.{entry}").PANEL)
        except Exception as e:  # noqa: BLE001 - one broken panel must not stop the app
            errors.append(f"panel '{entry}' could not be loaded: {type(e).__name__}: {e}")
    return out, errors
