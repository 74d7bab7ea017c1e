"""A row of small interactive 3D views with ONE camera (the Flow AM compare view).

Each view is a one-viewport ``viewport.ViewportGrid`` with its own ``Scene`` holding one points
layer, so it looks and behaves like the main viewport (trackball orbit, wheel zoom, axis triad,
click picking). All views render through the SAME ``vtkCamera`` object: orbiting or zooming any
one moves them all, and one fit over the union of the clouds (and the legal cube, when a cloud
leaves it) makes sizes and positions comparable across views. A camera change made in one view
asks all views to redraw, one view per event-loop turn (five renders in one turn would freeze the
GUI for their sum), and each view sets the shared camera's clipping range from the union before
it draws, so a large cloud in one view is never clipped by the near/far planes fitted to a small
one in another.

The GL windows are made by ``build()`` and released by ``release()`` (a window's closeEvent): a
hidden window holds no GL context and the X connection closes while the display is up. The
clouds are kept as numpy arrays, so a rebuilt set shows the same thing.

Software GL (llvmpipe) is the target: no multi-sampling (ViewportGrid turns it off), small views.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

from . import render
from .scene import PointsLayer, Scene
from .thumbnails import shared_bounds

LAYER = "cloud"
RENDER_GAP_MS = 1          # between two views' renders: one view per turn of the event loop


class LinkedViews(QObject):
    """``len(holders)`` linked 3D views, view i drawn inside ``holders[i]`` (any QWidget)."""

    clicked = Signal(int)        # a click (press and release without a drag) in view i

    def __init__(self, holders: list[QWidget], up_axis: str = "z", color: str = "#0072B2",
                 point_size: float = 4.0, parent: QObject | None = None):
        super().__init__(parent)
        self.holders = list(holders)
        self.up_axis, self.color, self.point_size = up_axis, color, float(point_size)
        self.points: list[np.ndarray | None] = [None] * len(self.holders)
        self.legal: float | None = None
        self.grids: list = []
        self._camera = None
        self._cam_state: tuple = ()
        self._outlines: list = []
        self._fitted = False                    # the camera was fitted to something already
        self._pending: set[int] = set()         # views still to redraw (request_render)
        self._last = -1
        for h in self.holders:
            if h.layout() is None:
                lay = QVBoxLayout(h)
                lay.setContentsMargins(0, 0, 0, 0)

    # ---- GL windows ------------------------------------------------------------------------------
    @property
    def built(self) -> bool:
        return bool(self.grids)

    def build(self) -> None:
        """Make the views (no-op when they exist) and show the clouds kept so far."""
        from .viewport import ViewportGrid

        if self.grids:
            return
        for i, holder in enumerate(self.holders):
            grid = ViewportGrid(Scene(), holder, up_axis=self.up_axis)
            holder.layout().addWidget(grid)
            view = grid.views[0]
            view.show_caption(False)     # titles and metrics are Qt text around the view
            if self._camera is None:
                self._camera = grid.cameras[0]
            else:            # one camera object for all: an orbit in one view is an orbit in all
                render.share_camera(view.renderer, self._camera)
                grid.cameras[0] = self._camera
            render.before_render(view.renderer, lambda r=view.renderer: self._clip(r))
            grid.picked.connect(lambda _info, i=i: self.clicked.emit(i))
            self.grids.append(grid)
        render.on_modified(self._camera, self._camera_moved)
        self._fitted = False
        self._cam_state = ()
        outline, self.legal = self.legal, None
        self.set_legal(outline)
        for i, pts in enumerate(self.points):
            if pts is not None:
                self._draw(i, pts)
        if any(p is not None for p in self.points):
            self.fit()
        QTimer.singleShot(0, lambda: self._warm(0, 0))

    def _warm(self, i: int, tries: int) -> None:
        """Draw the views once each, one per event-loop turn, as soon as they are on screen.
        A GL window's first real frame costs 60-150 ms on software GL (buffers at full size,
        text textures); paid here, at opening, it does not land on the first live preview (all
        five at once: ~0.7 s of frozen GUI)."""
        if i >= len(self.grids):
            return
        grid = self.grids[i]
        if not grid.isVisible():       # shown by the layout a turn later
            if tries < 50:
                QTimer.singleShot(10, lambda: self._warm(i, tries + 1))
            return
        grid.render_now()
        QTimer.singleShot(0, lambda: self._warm(i + 1, 0))

    def release(self) -> None:
        """Free every GL window now; the clouds are kept for the next ``build()``."""
        grids, self.grids = self.grids, []
        for grid in grids:
            # the Qt side may be gone already (the panel was deleted with its children): the GL
            # window is still freed, and a dead wrapper is skipped
            try:
                grid.shutdown()
            except RuntimeError:
                pass
            try:
                grid.setParent(None)
                grid.deleteLater()
            except RuntimeError:
                pass
        self._camera = None
        self._outlines = []

    # ---- content ---------------------------------------------------------------------------------
    def _draw(self, i: int, pts: np.ndarray) -> None:
        scene = self.grids[i].scene
        if LAYER in scene and scene.get(LAYER).n == len(pts):
            scene.update_points(LAYER, points=pts)          # same actor, new coordinates
        else:
            scene.add(PointsLayer(LAYER, points=pts, color=self.color, point_size=self.point_size,
                                  style="spheres", title=""))

    def set_points(self, i: int, points, refit: str = "grow") -> None:
        """Show ``points`` in view i. refit: "grow" re-fits (direction kept) only when a cloud
        would leave the picture or on the first cloud; "all" always re-fits; "none" never."""
        pts = np.asarray(points, np.float32).reshape(-1, 3)
        self.points[i] = pts
        if not self.grids:
            return
        # a view's first cloud: its grid fits the camera to that cloud alone, so fit the union
        first = LAYER not in self.grids[i].scene
        self._draw(i, pts)
        if refit == "all" or (refit == "grow" and (first or not self._fitted or self._leaves_view())):
            self.fit()

    def clear(self, i: int) -> None:
        self.points[i] = None
        if self.grids:
            self.grids[i].scene.remove(LAYER)

    def set_legal(self, limit: float | None) -> None:
        """Outline the legal cube [-limit, limit]^3 in every view (None: no outline)."""
        if limit == self.legal and (limit is None or self._outlines):
            return
        self.legal = limit
        if not self.grids:
            return
        for outline in self._outlines:
            outline.remove()
        self._outlines = []
        if limit is not None:
            for grid in self.grids:
                self._outlines.append(render.CubeOutline(grid.views[0].renderer, render.cube_bounds(limit)))
        self.request_render()

    def bounds(self, pad: float = 0.02) -> tuple[float, ...]:
        """The union of the clouds shown (and the legal cube when outlined), padded."""
        clouds = [p for p in self.points if p is not None]
        lim = self.legal
        return shared_bounds(clouds, pad=pad, include=None if lim is None else (-lim, lim))

    # ---- camera ----------------------------------------------------------------------------------
    def fit(self, bounds=None) -> tuple[float, ...]:
        """Fit the shared camera to ``bounds`` (default: the union), keeping its direction."""
        b = tuple(bounds) if bounds is not None else self.bounds()

        if self.grids:
            # 90 % of the view, centred: no colour bar to clear here (unlike the viewport's fit);
            # no clipping either: each view clips to the union before it draws (_clip)
            render.reset(self.grids[0].views[0].renderer, b, clip=False, width=0.9, height=0.9, lift=0.0)
            self._fitted = True
            self.request_render()
        return b

    def _leaves_view(self) -> bool:
        b = self.bounds(pad=0.0)
        return render.outside(self.grids[0].views[0].renderer, b)

    def set_view(self, preset: str) -> None:
        """A camera preset (iso, +x, ...) for all views, fitted to the union."""
        if self.grids:
            render.set_camera(self.grids[0].views[0].renderer, preset, self.up_axis)
            self.fit()

    def set_up_axis(self, axis: str) -> None:
        if axis in ("x", "y", "z") and axis != self.up_axis:
            self.up_axis = axis
            for g in self.grids:
                g.up_axis = axis
            self.set_view("iso")

    def camera_state(self) -> tuple:
        return () if self._camera is None else render.camera_state(self._camera)

    def _camera_moved(self, *_a) -> None:
        # Clipping-range updates also mark the camera modified; redraw only for a real move,
        # or every render would schedule five more.
        state = self.camera_state()
        if state != self._cam_state:
            self._cam_state = state
            QTimer.singleShot(0, self.request_render)

    def _clip(self, renderer) -> None:
        # every cloud shown now (also those that arrived after the last fit), a few µs of numpy
        if any(p is not None for p in self.points) or self.legal is not None:
            render.clip(renderer, self.bounds())

    # ---- drawing and images ----------------------------------------------------------------------
    def request_render(self) -> None:
        """Redraw every view, ONE view per event-loop turn (round robin): five renders in one
        turn would hold the GUI for their sum (~5 x 10 ms on a busy machine with software GL)."""
        start = not self._pending
        self._pending = set(range(len(self.grids)))
        if start and self._pending:
            QTimer.singleShot(RENDER_GAP_MS, self._render_next)

    def _render_next(self) -> None:
        n = len(self.grids)
        self._pending = {i for i in self._pending if i < n}
        if not self._pending:
            return
        i = min(self._pending, key=lambda k: (k - self._last - 1) % n)    # next after the last drawn
        self._pending.discard(i)
        self._last = i
        self.grids[i].render_now()
        if self._pending:
            # A real timer, not 0 ms: a 0 ms single shot is a posted call, and Qt delivers the
            # calls posted meanwhile in the same pass, so the five renders still ran back to
            # back (gaps of 40-60 ms in the GUI, make bench). A timer lets other work in between.
            QTimer.singleShot(RENDER_GAP_MS, self._render_next)

    def frames(self) -> list[int]:
        return [g.frames for g in self.grids]

    def image(self, i: int) -> np.ndarray:
        """View i's pixels now, (H, W, 3) uint8."""
        return self.grids[i].grab_window_image()
