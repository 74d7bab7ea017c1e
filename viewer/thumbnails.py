"""Small off-screen renders of point clouds (Flow AM compare view and sanity strip).

One off-screen view (``render_offscreen.OffscreenView``) is kept and reused: a 220 px render of a
1,024-point cloud takes a few milliseconds, so thumbnails are redrawn on the GUI thread from the
result arrays (no VTK object ever crosses the thread line); this module makes no VTK call itself. The layer -> actor mapping is ``render.ViewContent``'s, so a
thumbnail looks like the viewport.

Several thumbnails that are to be compared get the SAME camera: ``shared_bounds`` of all their
clouds is fitted, not each cloud's own box, so sizes and positions compare across thumbnails.
An optional outline of the legal cube [-C, C]^3 (Flow AM's legal restriction) gives the scale.
"""
from __future__ import annotations

import numpy as np

from .render import CubeOutline, cube_bounds, set_camera
from .render_offscreen import OffscreenView
from .scene import PointsLayer, Scene

NAME = "thumb"


def shared_bounds(clouds, pad: float = 0.02, include=None) -> tuple[float, ...]:
    """(xmin, xmax, ymin, ymax, zmin, zmax) over all finite points of ``clouds`` (and the box
    ``include`` = (lo, hi), e.g. the legal cube), padded by ``pad`` of the largest side."""
    pts = [np.asarray(c, np.float64).reshape(-1, 3) for c in clouds]
    pts = [p[np.isfinite(p).all(1)] for p in pts]
    pts = [p for p in pts if len(p)]
    if include is not None:
        lo, hi = include
        pts.append(np.array([[lo] * 3, [hi] * 3], np.float64))
    if not pts:
        return (-1.0, 1.0, -1.0, 1.0, -1.0, 1.0)
    allp = np.concatenate(pts)
    lo, hi = allp.min(0), allp.max(0)
    d = pad * float(max((hi - lo).max(), 1e-6))
    return tuple(float(v) for pair in zip(lo - d, hi + d) for v in pair)


class Thumbnailer:
    """Render clouds to (size, size, 3) uint8 images with one reusable off-screen view."""

    def __init__(self, size: int = 220, view: str = "iso", up_axis: str = "z"):
        self.size, self.view, self.up_axis = int(size), view, up_axis
        self.scene = Scene()
        self.offscreen = OffscreenView(self.scene, 0, (self.size, self.size))
        self.offscreen.content.show_caption(False)     # titles are drawn by the widget, in Qt text
        self.outline: CubeOutline | None = None

    def _set_outline(self, limit: float | None) -> None:
        if limit is None:
            if self.outline is not None:
                self.outline.set_visible(False)
            return
        if self.outline is None:
            self.outline = CubeOutline(self.offscreen.renderer, cube_bounds(limit))
        self.outline.set_bounds(cube_bounds(limit))
        self.outline.set_visible(True)

    def _camera(self, bounds) -> None:
        """Look along the preset and fit ``bounds`` to 90 % of the square, centred (the viewport's
        fit lifts the picture to clear a colour bar; a thumbnail has none)."""
        set_camera(self.offscreen.renderer, self.view, self.up_axis, bounds=bounds,
                   width=0.9, height=0.9, lift=0.0)

    def render(self, points: np.ndarray, bounds=None, color: str = "#0072B2", point_size: float = 4.0,
               legal_limit: float | None = None, up_axis: str | None = None) -> np.ndarray:
        """One cloud; ``bounds`` (shared_bounds of the set) fixes the camera. -> (H, W, 3) uint8."""
        if up_axis in ("x", "y", "z"):
            self.up_axis = up_axis
        pts = np.asarray(points, np.float32).reshape(-1, 3)
        layer = PointsLayer(NAME, points=pts, color=color, point_size=point_size, style="spheres",
                            pickable=False)
        self.scene.add(layer)      # same shape: the actor's arrays are updated in place
        self.offscreen.sync()
        self._set_outline(legal_limit)
        b = bounds if bounds is not None else shared_bounds([pts])
        self._camera(b)
        return self.offscreen.capture()      # through the camera just set

    def close(self) -> None:
        """Release the GL window NOW (its X connection must close while the display is up)."""
        if self.offscreen is not None:
            self.offscreen.close()
        self.scene = self.outline = self.offscreen = None


class LazyThumbnailer:
    """A Thumbnailer made on first use and released by ``close()`` (a widget's closeEvent), so a
    hidden window holds no GL context; the next render makes a new one."""

    def __init__(self, size: int = 220, view: str = "iso", up_axis: str = "z"):
        self.args = (size, view, up_axis)
        self.current: Thumbnailer | None = None

    def render(self, *args, **kw) -> np.ndarray:
        if self.current is None:
            self.current = Thumbnailer(*self.args)
        return self.current.render(*args, **kw)

    def close(self) -> None:
        if self.current is not None:
            self.current.close()
            self.current = None
