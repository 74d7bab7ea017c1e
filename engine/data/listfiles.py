"""List files inside a dataset folder (train_files.txt, modelnet40_train.txt, shape_names.txt):
their entries may name only things inside that folder.

A list is text written by whoever made the dataset; an entry like ``/etc/shadow`` or
``../../home/me/secret.h5`` would make a reader open a file the user never chose. Entries that
are absolute or that climb out of the folder (after resolving ``..``) are refused with the list
file and line. Symlinks inside the folder are followed as usual (shared data is often linked).
"""
from __future__ import annotations

import os
import posixpath
import re
from pathlib import Path

from engine.core.errors import DataError

_DRIVE = re.compile(r"^[A-Za-z]:")


def read_list(path: Path) -> list[tuple[int, str]]:
    """(line number, entry) for each non-blank line of a UTF-8 list file."""
    from engine.data.text import read_bytes   # checks for FIFOs/devices and size first

    try:
        text = read_bytes(path).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"{path}: the list is not UTF-8 text.") from None
    return [(k + 1, ln.strip()) for k, ln in enumerate(text.splitlines()) if ln.strip()]


def relative_entry(entry: str, listfile: Path, line: int) -> str:
    """``entry`` as a clean relative path (``/`` separators); absolute or escaping is an error."""
    e = entry.strip().replace("\\", "/")
    if e.startswith("/") or _DRIVE.match(e):
        raise DataError(f"{listfile}: line {line}: '{entry.strip()}' is an absolute path; "
                        f"list entries must be inside {listfile.parent}.",
                        hint="Write entries relative to the list's folder.")
    norm = posixpath.normpath(e)
    if norm == ".." or norm.startswith("../"):
        raise DataError(f"{listfile}: line {line}: '{entry.strip()}' points outside {listfile.parent}; refused.",
                        hint="List entries must name files inside the dataset's folder.")
    return norm


def within(folder: Path, candidate: Path) -> bool:
    """Whether ``candidate`` lies inside ``folder`` once ``..`` is resolved (lexically)."""
    f = os.path.normpath(os.path.abspath(folder))
    c = os.path.normpath(os.path.abspath(candidate))
    return c == f or c.startswith(f.rstrip(os.sep) + os.sep)


def plain_name(name: str, listfile: Path, line: int) -> str:
    """A class name used as a sub-folder name: no separators, not '.' or '..'."""
    if "/" in name or "\\" in name or name in (".", "..") or "\x00" in name:
        raise DataError(f"{listfile}: line {line}: class name '{name}' is not a plain folder name; refused.",
                        hint="Class names must not contain '/' or be '..'.")
    return name
