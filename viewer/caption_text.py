"""Caption lines broken to fit a width, never cut (Qt-free, VTK-free).

VTK text neither wraps nor clips, and an elided caption ("chair_0941 · true la…") loses exactly
what a figure needs. A line is broken at its " · " separators first, then between words, and a
single word wider than the view is split by characters; nothing is dropped. ``fits(text)`` says
whether a string fits (the renderer measures it with the caption's own font).
"""
from __future__ import annotations

from typing import Callable

SEPARATOR = " · "


def _greedy(pieces: list[str], joiner: str, fits: Callable[[str], bool]) -> list[str]:
    """Join pieces with ``joiner`` into as few lines as fit; a piece that alone does not fit
    stays alone (the caller breaks it further)."""
    out: list[str] = []
    for piece in pieces:
        if out and fits(out[-1] + joiner + piece):
            out[-1] = out[-1] + joiner + piece
        else:
            out.append(piece)
    return out


def _split_word(word: str, fits: Callable[[str], bool]) -> list[str]:
    out, cur = [], ""
    for ch in word:
        if cur and not fits(cur + ch):
            out.append(cur)
            cur = ch
        else:
            cur += ch
    return out + ([cur] if cur else [])


def wrap(line: str, fits: Callable[[str], bool]) -> list[str]:
    """One caption line as lines that each fit (a line that fits comes back unchanged)."""
    if fits(line):
        return [line]
    out: list[str] = []
    for part in _greedy(line.split(SEPARATOR), SEPARATOR, fits):
        if fits(part):
            out.append(part)
            continue
        for words in _greedy(part.split(" "), " ", fits):
            out.extend([words] if fits(words) else _split_word(words, fits))
    return out


def wrap_lines(lines: list[str], fits: Callable[[str], bool]) -> list[str]:
    return [piece for line in lines for piece in wrap(line, fits)]
