"""Atomic writes: write to a temporary file beside the target, fsync, then rename over it.

A crash or a kill mid-write leaves the previous file intact (rename is atomic on POSIX and,
via os.replace, on Windows).
"""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def temp_beside(target: str | os.PathLike, suffix: str = ".tmp") -> Path:
    """A new hidden temporary file next to ``target`` (same file system, so the final rename is
    atomic) with normal file permissions. ``suffix`` may carry the real extension for writers
    that pick the format from it (ffmpeg, imageio)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a saved file gets normal permissions
    return Path(tmp)


def replace_durably(tmp: str | os.PathLike, target: str | os.PathLike) -> None:
    """fsync the finished temporary file, then rename it over ``target`` in one step."""
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, target)


@contextmanager
def atomic_path(target: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``target`` in one step."""
    tmp_path = temp_beside(target, suffix)
    try:
        yield tmp_path
        replace_durably(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()
