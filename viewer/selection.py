"""Screen-space geometry for picking and box/lasso selection (numpy only: no Qt, no VTK).

The viewport hands over the camera's 4x4 composite projection matrix (world -> normalised device
coordinates) and the viewport's pixel size; everything else is here so it can be tested exactly.
Display coordinates follow VTK: origin at the bottom-left of the viewport, y up, in pixels.
"""
from __future__ import annotations

import numpy as np


def project(points: np.ndarray, matrix: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """World points (N,3) -> display xy (N,2) in pixels and NDC depth (N,) (smaller = nearer).

    Points behind the camera get depth +inf so no selection or pick ever takes them.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    m = np.asarray(matrix, dtype=np.float64).reshape(4, 4)
    h = pts @ m[:3, :3].T + m[:3, 3]
    w = pts @ m[3, :3] + m[3, 3]
    behind = w <= 1e-12
    w = np.where(behind, 1.0, w)
    ndc = h / w[:, None]
    xy = np.empty((pts.shape[0], 2))
    xy[:, 0] = (ndc[:, 0] + 1.0) * 0.5 * width
    xy[:, 1] = (ndc[:, 1] + 1.0) * 0.5 * height
    depth = np.where(behind, np.inf, ndc[:, 2])
    return xy, depth


def in_box(xy: np.ndarray, corner_a, corner_b) -> np.ndarray:
    """Boolean mask of display points inside the axis-aligned rectangle spanned by two corners."""
    (x0, y0), (x1, y1) = corner_a, corner_b
    lo_x, hi_x = min(x0, x1), max(x0, x1)
    lo_y, hi_y = min(y0, y1), max(y0, y1)
    return (xy[:, 0] >= lo_x) & (xy[:, 0] <= hi_x) & (xy[:, 1] >= lo_y) & (xy[:, 1] <= hi_y)


def in_polygon(xy: np.ndarray, polygon) -> np.ndarray:
    """Even-odd rule (crossing number), vectorised over points; the polygon closes itself."""
    poly = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    inside = np.zeros(xy.shape[0], dtype=bool)
    if poly.shape[0] < 3:
        return inside
    x, y = xy[:, 0], xy[:, 1]
    xj, yj = poly[-1]
    for xi, yi in poly:
        crosses = (yi > y) != (yj > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at = (xj - xi) * (y - yi) / (yj - yi) + xi
        inside ^= crosses & (x < x_at)
        xj, yj = xi, yi
    return inside


def pick(xy: np.ndarray, depth: np.ndarray, at, radius: float) -> int | None:
    """The front-most point within ``radius`` pixels of ``at``; None if there is none."""
    d2 = ((xy - np.asarray(at, dtype=np.float64)) ** 2).sum(1)
    near = np.flatnonzero((d2 <= radius * radius) & np.isfinite(depth))
    if near.size == 0:
        return None
    return int(near[np.argmin(depth[near])])


def select(points: np.ndarray, matrix: np.ndarray, width: int, height: int, shape: str, path) -> np.ndarray:
    """Indices of points whose projection falls in a box (two corners) or lasso (polygon)."""
    xy, depth = project(points, matrix, width, height)
    if shape == "box":
        mask = in_box(xy, path[0], path[-1])
    else:
        mask = in_polygon(xy, path)
    return np.flatnonzero(mask & np.isfinite(depth))
