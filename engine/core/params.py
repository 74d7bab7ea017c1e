"""Parameters as frozen dataclasses whose fields carry range, choices, unit, scale and help text.

``param(default, lo=, hi=, choices=, unit=, scale=, help=)`` declares a field; ``validate(params)`` checks every
field and raises a ParameterError naming the field, the value and the allowed range. The viewer
builds its controls from the same metadata, so a range lives in exactly one place.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

from engine.core.errors import ParameterError

SCALES = ("linear", "log")


def param(default: Any, *, lo: float | None = None, hi: float | None = None,
          lo_open: bool = False, hi_open: bool = False, choices: tuple | None = None,
          unit: str = "", scale: str = "linear", help: str = "") -> Any:
    """A Params field. ``scale`` ("linear" or "log") is how a slider moves through the range;
    a log scale needs a positive lower bound."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    if scale == "log" and not (lo is not None and lo > 0 or lo == 0 and lo_open):
        raise ValueError("a log-scale parameter needs a range above 0")
    meta = {"lo": lo, "hi": hi, "lo_open": lo_open, "hi_open": hi_open,
            "choices": choices, "unit": unit, "scale": scale, "help": help}
    if isinstance(default, (list, dict, set)):
        raise TypeError("mutable defaults are not allowed in Params; use a tuple")
    return dataclasses.field(default=default, metadata=meta)


def _range_text(meta: dict) -> str:
    lo, hi = meta.get("lo"), meta.get("hi")
    left = "(" if meta.get("lo_open") else "["
    right = ")" if meta.get("hi_open") else "]"
    return f"{left}{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}{right}"


def validate(params: Any, owner: str = "") -> Any:
    """Check every field of a Params dataclass against its metadata; return it unchanged."""
    where = f"{owner} " if owner else ""
    for f in dataclasses.fields(params):
        value = getattr(params, f.name)
        meta = f.metadata or {}
        choices = meta.get("choices")
        if choices is not None and value not in choices:
            raise ParameterError(
                f"{where}parameter '{f.name}' = {value!r} is not one of {list(choices)}.",
                hint="Pick one of the listed values.")
        lo, hi = meta.get("lo"), meta.get("hi")
        if lo is None and hi is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParameterError(f"{where}parameter '{f.name}' must be a number, got {value!r}.")
        if isinstance(value, float) and not math.isfinite(value):
            raise ParameterError(f"{where}parameter '{f.name}' must be finite, got {value!r}.")
        bad = ((lo is not None and (value < lo or (meta.get("lo_open") and value == lo))) or
               (hi is not None and (value > hi or (meta.get("hi_open") and value == hi))))
        if bad:
            raise ParameterError(
                f"{where}parameter '{f.name}' = {value!r} is outside {_range_text(meta)}.",
                hint="Choose a value inside the range.")
    return params


def describe(params_cls: type) -> list[dict]:
    """Field descriptions for building controls: name, default, type, lo, hi, choices, help."""
    out = []
    for f in dataclasses.fields(params_cls):
        d = dict(f.metadata or {})
        d.update(name=f.name, default=f.default, type=type(f.default).__name__)
        out.append(d)
    return out


def as_dict(params: Any) -> dict:
    return dataclasses.asdict(params)
