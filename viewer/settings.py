"""Persistent settings (QSettings) that tolerate bad or old values.

Every key has a default and a type; a value of the wrong type, out of its choices, or
unreadable falls back to the default (and the bad value is overwritten on the next save).
``POINTLENS_SETTINGS`` names an .ini file to use instead of the user's (tests use a temp file).
"""
from __future__ import annotations

import os
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

SCHEMA: dict[str, tuple[type, Any, tuple | None]] = {
    # key: (type, default, choices or None)
    "layout/viewports": (int, 2, (1, 2, 4)),
    "layout/linked": (bool, True, None),
    "layout/parallel": (bool, False, None),
    "view/eye_dome": (bool, False, None),
    "layout/up_axis": (str, "auto", ("auto", "x", "y", "z")),
    "window/geometry": (QByteArray, None, None),
    "window/state": (QByteArray, None, None),
    "data/last_dataset": (str, "builtin", None),
    "data/recent": (list, [], None),
    "model/checkpoint": (str, "demo:pointnet", None),
    "model/device": (str, "cpu", None),
    "view/point_size": (float, 5.0, None),
    "view/style": (str, "spheres", ("points", "spheres")),
    "view/cmap": (str, "viridis", None),
    "inspect/auto": (bool, True, None),
    "screenshot/transparent": (bool, False, None),
    "screenshot/scale": (int, 2, (1, 2, 3, 4)),
}
MAX_RECENT = 10


def _coerce(kind: type, value: Any, default: Any) -> Any:
    if value is None:
        return default
    try:
        if kind is bool:
            if isinstance(value, str):
                if value.lower() in ("true", "1", "yes", "on"):
                    return True
                if value.lower() in ("false", "0", "no", "off"):
                    return False
                return default
            return bool(value)
        if kind is list:
            if isinstance(value, str):
                return [value] if value else []
            return [str(v) for v in value] if isinstance(value, (list, tuple)) else default
        if kind is QByteArray:
            return value if isinstance(value, QByteArray) else default
        return kind(value)
    except (TypeError, ValueError):
        return default


class Settings:
    def __init__(self, path: str | None = None):
        path = path or os.environ.get("POINTLENS_SETTINGS")
        self.q = QSettings(path, QSettings.IniFormat) if path else QSettings("PointLens", "PointLens")

    def get(self, key: str) -> Any:
        kind, default, choices = SCHEMA[key]
        try:
            raw = self.q.value(key, None)
        except Exception:   # a value QSettings itself cannot decode
            return default
        value = _coerce(kind, raw, default)
        if choices is not None and value not in choices:
            return default
        if kind is float and value != value:   # NaN
            return default
        return value

    def set(self, key: str, value: Any) -> None:
        SCHEMA[key]  # unknown keys are a programming error
        self.q.setValue(key, value)

    def add_recent(self, spec: str) -> list[str]:
        recent = [r for r in self.get("data/recent") if r != spec]
        recent.insert(0, spec)
        recent = recent[:MAX_RECENT]
        self.set("data/recent", recent)
        return recent

    def sync(self) -> None:
        self.q.sync()

    def clear(self) -> None:
        self.q.clear()
