"""Open user HDF5 files so that nothing outside the opened file is read, and no lying header
makes a reader allocate memory for data that is not there.

HDF5 can make a file read other files behind the reader's back: an external link (an object
that lives in another file), external raw storage (a dataset's bytes kept in other files) and
virtual datasets (a dataset stitched from datasets of other files). ``open_h5`` walks every
link and dataset once, after opening and before any data is read, and refuses the file naming
the object and where it points. A soft link that loops is reported once, plainly.

Datasets whose declared shape is larger than the storage actually present (chunks never
written, a contiguous block of 0 bytes, compression beyond what zlib can reach) are refused
too: reading them would allocate the declared size and fill it with made-up values.
Every HDF5 reader (engine/data/h5.py, engine/results.py, the built-in cache) opens through here.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import h5py

from engine.core.errors import DataError
from engine.fsguard import check_input

# zlib cannot compress better than about 1032:1; anything beyond is a header that lies.
MAX_RATIO = 1100
SMALL = 1 << 20          # datasets below 1 MiB are not worth checking for ratio


def _error(path, msg: str, hint: str | None = None) -> DataError:
    return DataError(f"{path}: {msg}", hint=hint or "PointLens reads only what is inside the file you opened; "
                     "export the data into one self-contained HDF5 file.")


def _check_links(f: h5py.File, path) -> None:
    names: list[str] = []
    f.visit_links(names.append)
    for name in names:
        link = f.get(name, getlink=True)
        if isinstance(link, h5py.ExternalLink):
            raise _error(path, f"'/{name}' is an external link to {link.filename}:{link.path}; refused.")
        if isinstance(link, h5py.SoftLink):
            try:
                f.get(name)
            except (RuntimeError, KeyError, OSError) as e:
                if "too many links" in str(e) or "loop" in str(e):
                    raise DataError(f"{path}: soft link '/{name}' -> '{link.path}' loops back on itself.",
                                    hint="The file is damaged or crafted; export it again.") from None
                raise _error(path, f"soft link '/{name}' -> '{link.path}' cannot be followed ({e}).") from None


def _same_file(src: str, path) -> bool:
    if src == ".":
        return True
    base = os.path.dirname(os.path.realpath(path))
    return os.path.realpath(os.path.join(base, src)) == os.path.realpath(path)


def declared_bytes(d: h5py.Dataset) -> int:
    return int(math.prod(d.shape or ())) * int(d.dtype.itemsize) if d.shape is not None else 0


def check_storage(d: h5py.Dataset, path) -> None:
    """Refuse a dataset whose shape declares more bytes than its storage can give."""
    need = declared_bytes(d)
    if need == 0:
        return
    layout = d.id.get_create_plist().get_layout()
    stored = d.id.get_storage_size()
    what = f"dataset '{d.name}' declares shape {d.shape} ({need:,} bytes)"
    if layout == h5py.h5d.CONTIGUOUS and stored < need:
        raise DataError(f"{path}: {what} but stores only {stored:,} bytes.",
                        hint="The file is truncated or its header lies; export it again.")
    if layout == h5py.h5d.CHUNKED:
        want = math.prod(math.ceil(s / c) for s, c in zip(d.shape, d.chunks))
        have = d.id.get_num_chunks()
        if have < want:
            raise DataError(f"{path}: {what} but only {have:,} of its {want:,} chunks are stored.",
                            hint="The file is truncated or its header lies; export it again.")
        if need > SMALL and need > stored * MAX_RATIO:
            raise DataError(f"{path}: {what} from {stored:,} stored bytes, more than any compression gives.",
                            hint="The file is crafted or damaged; refused before reading it.")


def check_file(f: h5py.File, path) -> None:
    """Refuse links and datasets that reach outside the file, loops, and lying dataset shapes."""
    _check_links(f, path)
    problems: list[DataError] = []

    def visit(name, obj):
        if problems or not isinstance(obj, h5py.Dataset):
            return None
        try:
            ext = obj.external
            if ext:
                problems.append(_error(path, f"dataset '/{name}' keeps its data in external file(s) "
                                             f"{', '.join(str(e[0]) for e in ext[:3])}; refused."))
            elif obj.is_virtual:
                for src in obj.virtual_sources():
                    if not _same_file(src.file_name, path):
                        problems.append(_error(path, f"virtual dataset '/{name}' reads "
                                                     f"{src.file_name}:{src.dset_name}; refused."))
                        break
            else:
                check_storage(obj, path)
        except DataError as e:
            problems.append(e)
        return 1 if problems else None

    f.visititems(visit)
    if problems:
        raise problems[0]


def open_h5(path: str | os.PathLike, what: str = "dataset") -> h5py.File:
    """Open ``path`` read-only after checking it is a regular file, then check its contents."""
    p = check_input(Path(path), f"HDF5 {what}")
    try:
        f = h5py.File(p, "r")
    except FileNotFoundError:
        raise DataError(f"{p}: file not found.", hint="Check the path.") from None
    except PermissionError:
        raise DataError(f"{p}: cannot open the file: permission denied.") from None
    except OSError as e:
        raise DataError(f"{p}: not a readable HDF5 file ({str(e).split(';')[0].split('(')[0].strip()}).",
                        hint="The file is truncated, damaged or not HDF5; download or export it again.") from None
    try:
        check_file(f, p)
    except BaseException:
        f.close()
        raise
    return f
