"""The files a command opened as inputs, so that none of them is overwritten by its outputs.

Readers and loaders call ``record_input(path, what)`` for every dataset, checkpoint or result
file they open (the resolved real path is kept). ``engine.atomic.atomic_path`` calls
``check_output(target)`` before writing: a target that resolves to a recorded input is refused
with one message. Files the command itself wrote are outputs, not inputs, even if it reads them
back later (a trainer reloading its best checkpoint may then save it again).

The record is active only between ``begin_command()`` and ``end_command()`` (the CLI's ``main``
and ``pointlens render`` call them): library use and the GUI, which legitimately re-save a file
they opened, are not affected.
"""
from __future__ import annotations

import os
import threading

from engine.core.errors import DataError

_LOCK = threading.Lock()
_ACTIVE = False
_INPUTS: dict[str, str] = {}      # real path -> what it was opened as ("dataset", "checkpoint", ...)
_OUTPUTS: set[str] = set()


def _real(path: str | os.PathLike) -> str:
    return os.path.realpath(os.path.expanduser(os.fspath(path)))


def _reset(active: bool) -> None:
    global _ACTIVE
    with _LOCK:
        _INPUTS.clear()
        _OUTPUTS.clear()
        _ACTIVE = active


def begin_command() -> None:
    """Start a fresh record (one command)."""
    _reset(True)


def end_command() -> None:
    _reset(False)


def record_input(path: str | os.PathLike, what: str) -> None:
    """Note that the command opened ``path`` as an input (no-op outside a command)."""
    if not _ACTIVE:
        return
    real = _real(path)
    with _LOCK:
        if real not in _OUTPUTS:
            _INPUTS.setdefault(real, what)


def record_output(path: str | os.PathLike) -> None:
    if not _ACTIVE:
        return
    with _LOCK:
        _OUTPUTS.add(_real(path))


def check_output(target: str | os.PathLike) -> None:
    """Refuse to write ``target`` if it is one of this command's inputs."""
    if not _ACTIVE:
        return
    what = _INPUTS.get(_real(target))
    if what is not None:
        raise DataError(f"{target} is one of this command's inputs ({what}); choose another output file.")
