"""Tick numbers a reader can read: 1-2-5 steps and labels rounded to the step (Qt-free, VTK-free).

A colour bar labelled at five evenly spaced points of its range reads 0.0111 / 0.0221 / 0.0332;
one labelled at multiples of a 1, 2 or 5 step reads 0.00 / 0.01 / 0.02 / 0.03. Every label of an
axis uses one printf format (VTK's scalar bar formats its custom labels with a single format),
so the labels are ``[fmt % t for t in ticks]`` both here and on screen.
"""
from __future__ import annotations

import math

MANTISSAS = (1.0, 2.0, 5.0)


def _steps_around(span: float, max_ticks: int):
    """Candidate 1-2-5 steps from small to large, starting a decade below span / max_ticks."""
    e = math.floor(math.log10(span / max_ticks)) - 1
    while True:
        for m in MANTISSAS:
            yield m, e
        e += 1


def nice_ticks(lo: float, hi: float, max_ticks: int = 6) -> tuple[list[float], str]:
    """(ticks, printf format): the multiples of the smallest 1-2-5 step that puts at most
    ``max_ticks`` ticks in [lo, hi] (at least two when the range is not degenerate)."""
    lo, hi = float(min(lo, hi)), float(max(lo, hi))
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [], "%g"
    span = hi - lo
    if span <= abs(hi) * 1e-12 or span == 0.0:
        return [lo], "%g"
    for m, e in _steps_around(span, max_ticks):
        step = m * 10.0 ** e
        first, last = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
        if last - first + 1 <= max_ticks:
            decimals = max(0, -e)
            # k * step carries float noise (3 * 0.1 = 0.30000000000000004): round to the step
            ticks = [_clean(round(k * step, decimals)) for k in range(first, last + 1)]
            return ticks, _format(ticks, e)
    raise AssertionError("unreachable: steps grow without bound")


def _clean(x: float) -> float:
    return 0.0 if x == 0 else x        # no "-0.00"


def _format(ticks: list[float], e: int) -> str:
    """One format for every label: fixed decimals down to the step's decade; scientific when
    fixed notation would need more than 4 decimals or 6 digits before the point."""
    biggest = max((abs(t) for t in ticks), default=0.0)
    if e < -4 or biggest >= 1e6:
        top = math.floor(math.log10(biggest)) if biggest > 0 else e
        return f"%.{max(0, top - e)}e"
    return f"%.{max(0, -e)}f"


def log_ticks(lo: float, hi: float, max_ticks: int = 6) -> tuple[list[float], str]:
    """(ticks, format) for a log axis over [lo, hi] (both > 0): 1-2-5 of each decade while they
    fit in ``max_ticks``, else 1 x 10^k, thinned to every 2nd, 3rd ... decade."""
    lo, hi = float(min(lo, hi)), float(max(lo, hi))
    if lo <= 0 or not (math.isfinite(lo) and math.isfinite(hi)):
        return [], "%g"
    if hi < 10 * lo:        # less than a decade: plain 1-2-5 steps read better than one power of 10
        return nice_ticks(lo, hi, max_ticks)
    d0, d1 = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    for mantissas in (MANTISSAS, (1.0, 3.0), (1.0,)):
        ticks = [float(f"{m}e{d}") for d in range(d0, d1 + 1) for m in mantissas]
        ticks = [t for t in ticks if lo * (1 - 1e-9) <= t <= hi * (1 + 1e-9)]
        if 2 <= len(ticks) <= max_ticks:
            return ticks, "%g"
    decades = [10.0 ** d for d in range(d0, d1 + 1) if lo * (1 - 1e-9) <= 10.0 ** d <= hi * (1 + 1e-9)]
    every = max(1, math.ceil(len(decades) / max_ticks))
    ticks = decades[::every] or [lo, hi]
    return [float(f"{t:.3g}") for t in ticks], "%g"


def max_ticks_for(width_px: float, font_px: float) -> int:
    """How many labels fit side by side along ``width_px``: a label of up to five characters
    is about 3 font sizes wide, plus 1.5 font sizes of gap (2 to 6 ticks)."""
    return max(2, min(6, int(width_px // (4.5 * max(font_px, 1.0)))))


def labels(ticks: list[float], fmt: str) -> list[str]:
    """The label text of each tick, as the colour bar draws it."""
    return [fmt % t for t in ticks]
