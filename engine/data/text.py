"""Reading text-based point and mesh files: strict decoding and fast number tables.

Every reader of a text format goes through ``read_text`` so a binary or non-UTF-8 file gives one
clear DataError naming the file instead of a UnicodeDecodeError traceback.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from engine.core.errors import DataError
from engine.fsguard import check_input, os_problem
from engine.inputs import record_input

# Files larger than this are refused by the text readers: a wrong path (a video, a disk image)
# would otherwise be read into memory whole before anything could complain.
MAX_TEXT_BYTES = 2 << 30


def read_bytes(path: str | os.PathLike) -> bytes:
    """The whole file, after checking it is a regular file (not a FIFO or device) of sane size;
    recorded as one of the command's inputs (engine/inputs.py)."""
    p = check_input(Path(path), "file")
    try:
        size = p.stat().st_size
        if size > MAX_TEXT_BYTES:
            raise DataError(f"{p}: the file is {size / 2**30:.1f} GiB, too large to read as text.")
        data = p.read_bytes()
    except DataError:
        raise
    except OSError as e:
        raise DataError(f"{p}: cannot read the file: {os_problem(e)}.",
                        hint="Check that it exists and is readable.") from None
    record_input(p, "dataset")
    return data


def decode_text(data: bytes, path: str | os.PathLike, what: str) -> str:
    """Decode UTF-8 (ASCII is a subset); anything else is reported, never guessed."""
    if b"\x00" in data[:4096]:
        raise DataError(f"{path}: the file is binary, not {what} text.",
                        hint="Check the file extension matches its contents.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start}); "
                        f"expected {what}.", hint="Check the file extension matches its contents.") from None


def read_text(path: str | os.PathLike, what: str) -> str:
    return decode_text(read_bytes(path), path, what)


def parse_floats(tokens: list[str], path, what: str, cols: int = 0) -> np.ndarray:
    """Tokens to float64, naming the first token that is not a number (and its line if the
    tokens are rows of ``cols`` values)."""
    try:
        return np.array(tokens, dtype=np.float64)
    except ValueError:
        for k, t in enumerate(tokens):
            try:
                float(t)
            except ValueError:
                at = f"line {k // cols + 1}" if cols else f"value {k + 1}"
                raise DataError(f"{path}: {what}: '{t[:40]}' ({at}) is not a number.") from None
        raise  # pragma: no cover - np.array failed for another reason


def number_table(lines: list[str], path, what: str, min_cols: int = 3) -> np.ndarray:
    """Parse lines of whitespace/comma separated numbers into a (rows, cols) float64 table.

    The column count is taken from the first line; a line with another count is reported by its
    number. The fast path splits the whole text once (10,000-line files in a few ms).
    """
    lines = [ln for ln in lines if ln.strip()]
    if lines:
        fast = fast_table(lines, len(lines[0].replace(",", " ").split()))
        if fast is not None and fast.shape[1] >= min_cols:
            return fast
    rows = [ln.replace(",", " ").split() for ln in lines]
    if not rows:
        raise DataError(f"{path}: {what}: no numbers found (the file is empty).",
                        hint="A point file needs at least one line 'x y z'.")
    cols = len(rows[0])
    if cols < min_cols:
        raise DataError(f"{path}: {what}: the first line has {cols} value(s); expected at least {min_cols} (x y z).")
    for k, r in enumerate(rows):
        if len(r) != cols:
            raise DataError(f"{path}: {what}: line {k + 1} has {len(r)} values but the first line has {cols}.",
                            hint="Every line must have the same columns.")
    flat = parse_floats([t for r in rows for t in r], path, what, cols)
    return flat.reshape(len(rows), cols)


def content_lines(text: str, comment: str = "#") -> list[str]:
    """Non-empty lines with comments removed."""
    out = []
    for ln in text.splitlines():
        if comment:
            ln = ln.split(comment, 1)[0]
        ln = ln.strip()
        if ln:
            out.append(ln)
    return out


def fast_table(lines: list[str], cols: int, dtype=np.float64) -> np.ndarray | None:
    """(rows, cols) from lines of exactly ``cols`` numbers, parsed in C; None if the text does not
    split into rows*cols numbers (the caller then takes its slow path, which names the bad line)."""
    if not lines or cols < 1:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            arr = np.fromstring(" ".join(lines).replace(",", " "), dtype=dtype, sep=" ")
        except ValueError:
            return None
    if arr.size != len(lines) * cols:
        return None
    return arr.reshape(len(lines), cols)
