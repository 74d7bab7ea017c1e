"""Short content fingerprints for files and folders, so results say exactly what they came from."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

CHUNK = 1 << 20


def file_fingerprint(path: str | os.PathLike, full: bool = True) -> str:
    """sha256 of the file (first 16 hex digits). ``full=False`` hashes size + first/last MiB."""
    p = Path(path)
    h = hashlib.sha256()
    size = p.stat().st_size
    with open(p, "rb") as f:
        if full or size <= 2 * CHUNK:
            for block in iter(lambda: f.read(CHUNK), b""):
                h.update(block)
        else:
            h.update(str(size).encode())
            h.update(f.read(CHUNK))
            f.seek(-CHUNK, os.SEEK_END)
            h.update(f.read(CHUNK))
    return h.hexdigest()[:16]


def path_fingerprint(path: str | os.PathLike) -> str:
    """A file's quick fingerprint, or a folder's from its files' names and quick fingerprints."""
    p = Path(path)
    if p.is_file():
        return file_fingerprint(p, full=False)
    h = hashlib.sha256()
    for f in sorted(q for q in p.rglob("*") if q.is_file()):
        h.update(str(f.relative_to(p)).encode())
        h.update(str(f.stat().st_size).encode())
    return h.hexdigest()[:16]


def array_fingerprint(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(memoryview(a).cast("B") if a.flags.c_contiguous else a.tobytes())
    return h.hexdigest()[:16]
