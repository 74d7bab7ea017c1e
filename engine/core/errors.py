"""Errors the engine raises. Each message names the file, field or value and says what to do.

The viewer's worker and the CLI catch ``EngineError`` and show ``str(error)`` as is, so the
message must be complete on its own: what was wrong, where, and how to fix it.
"""
from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def safe_text(text: object) -> str:
    """``text`` with every control character written as an escape (``\\x1b``, ``\\n``).

    File names and file contents end up in messages; a name holding ESC sequences or a newline
    must not drive the user's terminal or split a one-line message. Plain text passes unchanged.
    """
    s = str(text)
    if not _CONTROL.search(s):
        return s
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), s)


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""

    kind = "error"

    def __init__(self, message: str, *, hint: str | None = None):
        message, hint = safe_text(message), None if hint is None else safe_text(hint)
        self.message = message
        self.hint = hint
        super().__init__(message if not hint else f"{message} {hint}")


class DataError(EngineError):
    """A dataset or point-cloud file is missing, unreadable or malformed."""

    kind = "data"


class CheckpointError(EngineError):
    """A checkpoint cannot be read, is unsafe, or does not fit the model."""

    kind = "checkpoint"


class ParameterError(EngineError):
    """A parameter is out of range or of the wrong type."""

    kind = "parameter"


class ModelError(EngineError):
    """A model cannot be built or does not offer what a method needs (a layer, a head)."""

    kind = "model"


class RegistryError(EngineError):
    """A name is unknown to a registry, or registered twice."""

    kind = "registry"
