"""Kernel fallbacks: where a fast kernel could not be built and a slower equivalent runs instead.

Each fallback is logged once (``logging.getLogger("pointlens").warning``) and kept, so a command
can report it with its results (``pointlens train`` and ``pointlens mix`` do):

- the auction's 8-lane vector scan (ops/simd_scan.py) -> the scalar scan (same results, ~2x slower);
- the auction solver (ops/auction.py, numba) -> the exact solver (the optimum, slower).

Torch-free and cheap to import (the package ``engine.ops`` is not: import this module lazily).
"""
from __future__ import annotations

import logging
import threading

log = logging.getLogger("pointlens")

_LOCK = threading.Lock()
_SEEN: dict[str, str] = {}       # key -> message, in the order they happened


def note_fallback(key: str, message: str) -> None:
    """Record that ``key`` fell back (``message`` says what runs instead and why); warn once."""
    with _LOCK:
        if key in _SEEN:
            return
        _SEEN[key] = message
    log.warning("%s", message)


def kernel_fallbacks() -> list[str]:
    """The fallbacks taken so far in this process, one sentence each (empty: all kernels fast)."""
    with _LOCK:
        return list(_SEEN.values())


def report_fallbacks(out: dict, lines: list[str]) -> None:
    """Add this process's fallbacks to a command's JSON object (``kernel_fallbacks``, a list) and,
    where there are any, one ``fallback:`` line each to its text output."""
    found = kernel_fallbacks()
    out["kernel_fallbacks"] = found
    lines.extend(f"fallback:      {f}" for f in found)


def with_fallbacks(out: dict, text: str) -> tuple[dict, str]:
    """``(out, text)`` with the fallbacks added as by ``report_fallbacks`` (for ``emit(args, *...)``)."""
    lines = [text] if text else []
    report_fallbacks(out, lines)
    return out, "\n".join(lines)


def _reset() -> None:
    """Forget the fallbacks (tests)."""
    with _LOCK:
        _SEEN.clear()
