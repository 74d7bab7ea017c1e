"""Atomic writes: write to a temporary file beside the target, fsync, then rename over it.

A crash or a kill mid-write leaves the previous file intact (rename is atomic on POSIX and,
via os.replace, on Windows). The temporary file has one fixed name per target,
``.<name>.pointlens-tmp``: a killed write leaves at most that one file, and the next write to
the same target removes it. It is created with mode 0666 minus the umask (a normal file, not
mkstemp's 0600).

Before anything is written the target is checked: not a folder, its parent a folder, and not
one of the command's inputs (engine.inputs). Failures while writing (disk full, read-only file
system, permission denied) become one DataError naming the target.
"""
from __future__ import annotations

import errno
import os
import re
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from engine.core.errors import DataError, EngineError
from engine.fsguard import os_problem
from engine.inputs import check_output, record_output

TEMP_MARK = ".pointlens-tmp"


class OutputError(DataError, OSError):
    """An output cannot be written. Also an OSError, so callers that treat a failed write as
    optional (caches) keep catching it as before; the CLI shows it as one line."""


def temp_name(target: str | os.PathLike, suffix: str = ".tmp") -> Path:
    """The one temporary name used for ``target`` (``suffix`` kept when it carries an extension)."""
    target = Path(target)
    return target.parent / f".{target.name}{TEMP_MARK}{'' if suffix == '.tmp' else suffix}"


def check_target(target: str | os.PathLike) -> Path:
    """Refuse a target that is a folder, lies under a file, or is one of the command's inputs."""
    target = Path(target)
    if target.is_dir():
        raise OutputError(f"{target} is a folder; choose an output file name (e.g. {target / 'out.h5'}).")
    for parent in target.parents:
        if parent.exists() or parent.is_symlink():
            if not parent.is_dir():
                raise OutputError(f"{target}: cannot write it: {parent} is a file, not a folder.",
                                hint="Choose an output path inside a folder.")
            break
    check_output(target)
    return target


def temp_beside(target: str | os.PathLike, suffix: str = ".tmp") -> Path:
    """The fresh temporary file for ``target`` (same folder, so the final rename is atomic),
    empty and with normal permissions; a stale one from a killed write is replaced. ``suffix``
    may carry the real extension for writers that pick the format from it (ffmpeg, imageio)."""
    target = check_target(target)
    tmp = temp_name(target, suffix)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o666)
        os.close(fd)
    except OSError as e:
        raise OutputError(f"{target}: cannot write it: {os_problem(e)}.",
                          hint="Choose a writable folder for the output.") from None
    return tmp


def replace_durably(tmp: str | os.PathLike, target: str | os.PathLike) -> None:
    """fsync the finished temporary file, then rename it over ``target`` in one step."""
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, target)
    record_output(target)


def _disk_full(e: BaseException, folder: Path) -> bool:
    if isinstance(e, OSError) and e.errno == errno.ENOSPC:
        return True
    if re.search(r"No space left|errno = 28|ENOSPC", str(e)):
        return True
    try:
        return shutil.disk_usage(folder).free == 0
    except OSError:
        return False


def write_failure(target: str | os.PathLike, e: BaseException, tmp: Path | None = None) -> OutputError | None:
    """The error for a failed write of ``target``, or None if ``e`` is not about writing it
    (an OSError about some other file raised inside the ``with`` block passes unchanged)."""
    target = Path(target)
    if _disk_full(e, target.parent):
        return OutputError(f"{target}: cannot write it: disk full (no space left on device).",
                           hint="Free some space or choose another disk; the previous file is unchanged.")
    name = getattr(e, "filename", None)
    if isinstance(e, OSError) and e.errno is not None and (name is None or str(name) in (str(tmp), str(target))):
        return OutputError(f"{target}: cannot write it: {os_problem(e)}.", hint="Choose a writable output file.")
    return None


@contextmanager
def atomic_path(target: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``target`` in one step."""
    tmp_path = temp_beside(target, suffix)
    try:
        yield tmp_path
        replace_durably(tmp_path, target)
    except EngineError:
        raise
    except (OSError, RuntimeError) as e:
        err = write_failure(target, e, tmp_path)
        if err is None:
            raise
        raise err from None
    finally:
        if tmp_path.exists():
            tmp_path.unlink()
