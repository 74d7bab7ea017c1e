"""Panels. Method panels are listed here by module name (one per line, so a method helper adds
its own with a one-line append); each module defines ``PANEL``, a ``MethodPanel`` subclass.
Fixed panels (data browser, layers, jobs, log, plots) are built by the window directly."""
from __future__ import annotations

import importlib

METHOD_PANELS = [
    "inspect",
    "pointmask",
    "sagemix",
    "parae",
    "serp",
    "flowam",
]


def load_method_panels() -> tuple[list[type], list[str]]:
    """(panel classes in order, error lines): a panel that fails to import is reported, not fatal."""
    out, errors = [], []
    for name in METHOD_PANELS:
        try:
            out.append(importlib.import_module(f"{__name__}.{name}").PANEL)
        except Exception as e:  # noqa: BLE001 - one broken panel must not stop the app
            errors.append(f"panel '{name}' could not be loaded: {type(e).__name__}: {e}")
    return out, errors
