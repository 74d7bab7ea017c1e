"""The bias alphabet: letters A-Z as 3D strokes, sampled at any number of points.

The PointMask paper injects a class-specific "point cloud alphabet" letter into every training
cloud to create a spurious cue, then tests on clean clouds (its Fig. 5). Its letters are not
published; ours are polyline glyphs (straight strokes and elliptic arcs on a 0.8 x 1 grid) given
a stroke thickness in the glyph plane and a depth across it, so each letter is a thin solid.
The glyph lies in the x-y plane (x right, y up) with its depth along z, centred at 0 inside the
unit box [-0.5, 0.5]^3. Points are spread uniformly along the stroke length.
"""
from __future__ import annotations

import math

import numpy as np

from engine.core.errors import ParameterError

THICKNESS = 0.08   # stroke width in the glyph plane (glyph units: height 1)
DEPTH = 0.15       # extent across the glyph plane


def _arc(cx, cy, rx, ry, a0, a1, steps=24):
    t = np.radians(np.linspace(a0, a1, steps))
    return [(cx + rx * np.cos(a), cy + ry * np.sin(a)) for a in t]


def _glyphs() -> dict[str, list[list[tuple[float, float]]]]:
    bowl_top = [(0, 0.5), (0.45, 0.5)] + _arc(0.45, 0.75, 0.3, 0.25, -90, 90)[1:-1] + [(0.45, 1), (0, 1)]
    o = _arc(0.4, 0.5, 0.4, 0.5, 0, 360, 48)
    return {
        "A": [[(0, 0), (0.4, 1), (0.8, 0)], [(0.16, 0.4), (0.64, 0.4)]],
        "B": [[(0, 0), (0, 1)], bowl_top, [(0, 0.5), (0.5, 0.5)] + _arc(0.5, 0.25, 0.3, 0.25, 90, -90)[1:-1] + [(0.5, 0), (0, 0)]],
        "C": [_arc(0.45, 0.5, 0.45, 0.5, 40, 320, 40)],
        "D": [[(0, 0), (0, 1), (0.3, 1)] + _arc(0.3, 0.5, 0.5, 0.5, 90, -90)[1:-1] + [(0.3, 0), (0, 0)]],
        "E": [[(0.8, 1), (0, 1), (0, 0), (0.8, 0)], [(0, 0.5), (0.6, 0.5)]],
        "F": [[(0.8, 1), (0, 1), (0, 0)], [(0, 0.5), (0.6, 0.5)]],
        "G": [_arc(0.45, 0.5, 0.45, 0.5, 40, 360, 44) + [(0.5, 0.5)]],
        "H": [[(0, 0), (0, 1)], [(0.8, 0), (0.8, 1)], [(0, 0.5), (0.8, 0.5)]],
        "I": [[(0.4, 0), (0.4, 1)], [(0.15, 1), (0.65, 1)], [(0.15, 0), (0.65, 0)]],
        "J": [[(0.8, 1), (0.8, 0.3)] + _arc(0.5, 0.3, 0.3, 0.3, 0, -180)[1:], [(0.45, 1), (0.8, 1)]],
        "K": [[(0, 0), (0, 1)], [(0.8, 1), (0, 0.45), (0.8, 0)]],
        "L": [[(0, 1), (0, 0), (0.7, 0)]],
        "M": [[(0, 0), (0, 1), (0.4, 0.4), (0.8, 1), (0.8, 0)]],
        "N": [[(0, 0), (0, 1), (0.8, 0), (0.8, 1)]],
        "O": [o],
        "P": [[(0, 0), (0, 1)], bowl_top],
        "Q": [o, [(0.5, 0.25), (0.85, 0)]],
        "R": [[(0, 0), (0, 1)], bowl_top, [(0.3, 0.5), (0.8, 0)]],
        "S": [_arc(0.4, 0.75, 0.38, 0.25, 20, 270, 30) + _arc(0.4, 0.25, 0.38, 0.25, 90, -160, 30)[1:]],
        "T": [[(0, 1), (0.8, 1)], [(0.4, 1), (0.4, 0)]],
        "U": [[(0, 1), (0, 0.35)] + _arc(0.4, 0.35, 0.4, 0.35, 180, 360)[1:-1] + [(0.8, 0.35), (0.8, 1)]],
        "V": [[(0, 1), (0.4, 0), (0.8, 1)]],
        "W": [[(0, 1), (0.2, 0), (0.4, 0.6), (0.6, 0), (0.8, 1)]],
        "X": [[(0, 0), (0.8, 1)], [(0, 1), (0.8, 0)]],
        "Y": [[(0, 1), (0.4, 0.5), (0.8, 1)], [(0.4, 0.5), (0.4, 0)]],
        "Z": [[(0, 1), (0.8, 1), (0, 0), (0.8, 0)]],
    }


def _segments() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per letter: segment starts (m, 2) and vectors (m, 2), in glyph units centred at 0."""
    out = {}
    for k, strokes in _glyphs().items():
        a = np.concatenate([np.asarray(s[:-1], float) for s in strokes])
        b = np.concatenate([np.asarray(s[1:], float) for s in strokes])
        keep = np.linalg.norm(b - a, axis=1) > 1e-9
        out[k] = (a[keep] - (0.4, 0.5), (b - a)[keep])
    return out


_SEGMENTS = _segments()
LETTERS = "".join(sorted(_SEGMENTS))
# glyph units -> unit box: the tallest glyph plus its stroke thickness spans exactly 1
_SCALE = 1.0 / (1.0 + THICKNESS)


def letter_points(letter: str, n: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """n points of ``letter`` (A-Z, any case) in the unit box centred at 0: (n, 3) float32."""
    key = str(letter).upper()
    if key not in _SEGMENTS:
        raise ParameterError(f"letter '{letter}' is not one of A-Z.")
    if int(n) != n or n < 0:
        raise ParameterError(f"number of letter points n = {n} must be a whole number >= 0.")
    rng = rng if rng is not None else np.random.default_rng(0)
    start, vec = _SEGMENTS[key]
    length = np.linalg.norm(vec, axis=1)
    cdf = np.cumsum(length)
    seg = np.minimum(np.searchsorted(cdf, rng.random(int(n)) * cdf[-1], side="right"), len(vec) - 1)
    t = rng.random(int(n))[:, None]
    unit = vec[seg] / length[seg, None]
    across = np.stack([-unit[:, 1], unit[:, 0]], 1)   # in-plane perpendicular: stroke width
    xy = start[seg] + t * vec[seg] + across * (rng.random((int(n), 1)) - 0.5) * THICKNESS
    z = (rng.random(int(n)) - 0.5) * DEPTH
    pts = np.column_stack([xy, z]) * _SCALE
    return np.clip(pts, -0.5, 0.5).astype(np.float32)


def place_letter(points: np.ndarray, letter: str, n: int, position=(0.0, 0.0, 0.0), scale: float = 1.0,
                 rng: np.random.Generator | None = None) -> np.ndarray:
    """``points`` (N, 3) with n points of ``letter`` appended, the letter's box centred at
    ``position`` and ``scale`` wide: (N + n, 3) float32."""
    pts = np.asarray(points, np.float32).reshape(-1, 3)
    if not np.isfinite(scale) or scale <= 0:
        raise ParameterError(f"letter scale = {scale} must be a positive number.")
    pos = np.asarray(position, np.float32).reshape(3)
    letter_pts = letter_points(letter, n, rng) * np.float32(scale) + pos
    return np.concatenate([pts, letter_pts.astype(np.float32)], axis=0)


# Where the bias lab (PointMask paper Fig. 5) puts each class's letter; here, not under
# engine.methods, so the GUI thread can place letters without importing torch.
PLACEMENTS = ("per-class", "fixed")


def class_letter(c: int) -> str:
    return chr(ord("A") + int(c) % 26)


def letter_anchor(c: int, num_classes: int, placement: str = "per-class",
                  distance: float = 1.5) -> np.ndarray:
    """Centre of class ``c``'s letter (3,) float32."""
    if placement == "per-class":
        a = 2.0 * math.pi * int(c) / max(int(num_classes), 1)
        return np.array([distance * math.cos(a), distance * math.sin(a), 0.0], np.float32)
    if placement == "fixed":
        return np.array([distance, 0.0, 0.0], np.float32)
    raise ParameterError(f"letter placement '{placement}' is unknown; use one of {', '.join(PLACEMENTS)}.")
