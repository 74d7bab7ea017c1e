"""Window-wide features that are not method panels (sessions, undo, movies, presenter mode ...).

Each module listed here (one per line, so a feature adds itself with a one-line append) defines
``install(window) -> object``: it adds its menu entries to ``window.file_menu``, ``edit_menu``,
``view_menu``, ``tools_menu`` or ``help_menu`` and returns the object that runs the feature; the
window keeps these in ``window.extensions[name]``. A feature that fails to install is logged and
the app goes on without it, the same rule as for panels.
"""
from __future__ import annotations

import importlib
import logging

log = logging.getLogger(__name__)

EXTENSIONS: list[str] = [
    "workspace_ui",
    "history",
    "movie_dialog",
    "presenter",
    "reproduce_dialog",
    "checkpoint_dialog",
]


def install_all(window) -> dict:
    out = {}
    for name in EXTENSIONS:
        try:
            out[name] = importlib.import_module(f"{__package__}.{name}").install(window)
        except Exception as e:  # noqa: BLE001 - one broken feature must not stop the app
            log.error("feature '%s' could not be installed: %s: %s", name, type(e).__name__, e)
    return out
