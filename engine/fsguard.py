"""Check a path before a reader opens it: it must be a regular file (or a folder where asked).

Opening a FIFO blocks until someone writes to it, a device can be endless (/dev/zero), a socket
cannot be read at all: such paths are refused before any ``open``. A symlink loop and a
permission problem get their own plain words instead of the readers' "truncated or damaged".
"""
from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from engine.core.errors import DataError

_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def os_problem(e: OSError) -> str:
    """Plain words for the OSErrors a reader meets."""
    if isinstance(e, PermissionError) or e.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if e.errno == errno.ELOOP:
        return "symlink loop (the link points back to itself)"
    if e.errno == errno.ENOENT:
        return "no such file or folder"
    if e.errno == errno.ENOTDIR:
        return "a part of the path is a file, not a folder"
    if e.errno == errno.ENOSPC:
        return "disk full (no space left on device)"
    if e.errno == errno.EROFS:
        return "read-only file system"
    if e.errno == errno.ENAMETOOLONG:
        return "the name is too long"
    return e.strerror or str(e)


def check_input(path: str | os.PathLike, what: str = "file", error=DataError, folder_ok: bool = False) -> Path:
    """``path`` if it names a regular file (or, with ``folder_ok``, a folder); else ``error``
    saying what it is instead. Follows symlinks; a loop among them is reported as such."""
    p = Path(path)
    try:
        st = os.stat(p)
    except OSError as e:
        raise error(f"{p}: cannot open the {what}: {os_problem(e)}.",
                    hint="Check the path." if e.errno == errno.ENOENT else None) from None
    if stat.S_ISDIR(st.st_mode):
        if folder_ok:
            return p
        raise error(f"{p}: the {what} is a folder, not a file.", hint="Give a file inside it.")
    for test, name in _KINDS:
        if test(st.st_mode):
            raise error(f"{p}: the {what} is {name}, not a regular file; refused without opening it.",
                        hint="Give a regular file.")
    if not os.access(p, os.R_OK):
        raise error(f"{p}: cannot open the {what}: permission denied.", hint="Check the file's permissions.")
    return p
