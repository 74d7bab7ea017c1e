"""The 3D viewports: one VTK render window split into 1, 2 or 2x2 views (one GL context, so a
linked camera costs one render), picking, box/lasso selection, camera presets, screenshots.

Scene events only mark the window dirty; one render per event-loop turn draws everything.
Layers whose ``view`` has no viewport in the current layout are drawn in the last viewport,
shifted sideways, so nothing silently disappears.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget
from vtkmodules.qt.QVTKRenderWindowInteractor import QVTKRenderWindowInteractor
from vtkmodules.util.numpy_support import numpy_to_vtk, numpy_to_vtkIdTypeArray
from vtkmodules.vtkCommonCore import vtkPoints
from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkPolyData
from vtkmodules.vtkInteractionStyle import vtkInteractorStyleTrackballCamera
from vtkmodules.vtkRenderingCore import vtkActor2D, vtkCamera, vtkPolyDataMapper2D, vtkRenderer

from . import render, render_eyedome, render_offscreen, selection
from .scene import PointsLayer, Scene, Selection, format_pick

LAYOUTS = {1: [(0.0, 0.0, 1.0, 1.0)],
           2: [(0.0, 0.0, 0.5, 1.0), (0.5, 0.0, 1.0, 1.0)],
           4: [(0.0, 0.5, 0.5, 1.0), (0.5, 0.5, 1.0, 1.0), (0.0, 0.0, 0.5, 0.5), (0.5, 0.0, 1.0, 0.5)]}
SELECTION_LAYER = "_selection"
SELECTION_COLOR = "#e6007e"   # magenta: distinct from viridis/cividis and the categorical palettes


class _VtkWidget(QVTKRenderWindowInteractor):
    """Lets the grid take mouse events first (selection mode, click picking)."""

    def __init__(self, parent, grid: "ViewportGrid"):
        super().__init__(parent)
        self._grid = grid

    def _gone(self) -> bool:
        return self.__dict__.get("_Iren") is None   # not getattr: the base __getattr__ recurses

    def closeEvent(self, ev):
        if not self._gone():
            super().closeEvent(ev)

    def paintEvent(self, ev):
        if not self._gone():
            super().paintEvent(ev)

    def resizeEvent(self, ev):
        if not self._gone():
            super().resizeEvent(ev)

    def wheelEvent(self, ev):
        if not self._gone():
            super().wheelEvent(ev)

    def keyPressEvent(self, ev):
        if not self._gone():
            super().keyPressEvent(ev)

    def keyReleaseEvent(self, ev):
        if not self._gone():
            super().keyReleaseEvent(ev)

    def enterEvent(self, ev):
        if not self._gone():
            super().enterEvent(ev)

    def leaveEvent(self, ev):
        if not self._gone():
            super().leaveEvent(ev)

    def _display(self, ev) -> tuple[float, float]:
        dpr = self.devicePixelRatioF()
        p = ev.position()
        return p.x() * dpr, (self.height() - p.y()) * dpr - 1

    def mousePressEvent(self, ev):
        if self._gone():
            return
        if not self._grid._mouse("press", self._display(ev), ev):
            super().mousePressEvent(ev)

    def mouseMoveEvent(self, ev):
        if self._gone():
            return
        if not self._grid._mouse("move", self._display(ev), ev):
            super().mouseMoveEvent(ev)

    def mouseReleaseEvent(self, ev):
        if self._gone():
            return
        if not self._grid._mouse("release", self._display(ev), ev):
            super().mouseReleaseEvent(ev)


class ViewportGrid(QWidget):
    picked = Signal(object)          # dict from Scene.describe_point, or None
    selected = Signal(str, object)   # layer name, indices
    first_frame = Signal()

    def __init__(self, scene: Scene, parent: QWidget | None = None, up_axis: str = "z"):
        super().__init__(parent)
        self.scene = scene
        self.up_axis = up_axis
        self.parallel = False
        self.linked = True
        # Eye-dome lighting (render_eyedome.EyeDome) draws depth edges darker. Off until asked for: on a
        # sparse 2,048-point sample every gap gets a dark ring (the cloud reads darker, not
        # deeper), and on software GL it adds ~50 ms a frame (tests/bench/test_bench_edl.py).
        self.edl = False
        self.count = 1
        self.select_mode: str | None = None     # None, "box" or "lasso"
        self.select_layer: str | None = None    # layer that box/lasso selects from
        self._press = None
        self._path: list[tuple[float, float]] = []
        self._stale = False                 # the scene changed since the last frame drawn
        self._scheduled = False             # a render is queued (request_render)
        self._drawn_once = False
        self.frames = 0
        self.vtk = _VtkWidget(self, self)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.vtk)
        self.window = self.vtk.GetRenderWindow()
        self.window.SetMultiSamples(0)      # MSAA costs ~6x per frame on software GL
        self.window.AddObserver("EndEvent", self._on_rendered)
        self.window.AddObserver("StartEvent", lambda *a: self._sync_cameras())
        # Each view has its own camera; "linked" keeps their orientation (and relative zoom) in
        # step, while each view stays fitted to what it shows (a T-Net output three times
        # larger than its input would otherwise shrink the input to a speck).
        self.cameras = [vtkCamera() for _ in range(4)]
        self._synced: list[tuple] = [()] * 4
        self.views: list[render.ViewContent] = []
        self.eye_domes: list[render_eyedome.EyeDome] = []
        for i in range(4):
            ren = vtkRenderer()
            ren.SetActiveCamera(self.cameras[i])
            content = render.ViewContent(ren, scene, i)
            content.add_border()
            content.add_triad()
            self.views.append(content)
            self.eye_domes.append(render_eyedome.EyeDome(ren))
            self.eye_domes[-1].set_enabled(self.edl)
        self._overlay = self._make_overlay()
        iren = self.window.GetInteractor()
        iren.SetInteractorStyle(vtkInteractorStyleTrackballCamera())
        iren.AddObserver("StartInteractionEvent", lambda *a: self._lod(True))
        iren.AddObserver("EndInteractionEvent", lambda *a: self._lod(False))
        self._empty = [True] * 4
        # Until the user moves a camera, the views stay fitted when they change size (docks
        # filling in, presenter mode, a resized window): a fit is made for one aspect ratio, and
        # a view made narrower afterwards cut the cloud off at its sides.
        self._user_camera = False
        self._refit_timer = QTimer(self, singleShot=True, interval=30, timeout=self._refit_after_resize)
        self.set_layout(1)
        scene.subscribe(self._on_scene)
        self.reset_camera()

    # ---- layout and cameras ------------------------------------------------------------------
    def set_layout(self, count: int) -> None:
        if self.window is None:
            return
        if count not in LAYOUTS:
            count = 1
        for ren in [v.renderer for v in self.views]:
            if self.window.HasRenderer(ren):
                self.window.RemoveRenderer(ren)
        self.count = count
        for view, rect in zip(self.views, LAYOUTS[count]):
            view.renderer.SetViewport(*rect)
            self.window.AddRenderer(view.renderer)

        self._apply_edl()
        self._sync_all()
        self.request_render()

    def set_edl(self, on: bool) -> None:
        """Eye-dome lighting in the window's view while it shows one view (exports of a view
        follow the setting in every layout)."""
        self.edl = bool(on)
        self._apply_edl()
        self.request_render()

    def _apply_edl(self, moving: bool = False) -> None:
        # VTK's EDL pass draws a renderer's frame as if its viewport started at the window's
        # corner: with two or four views in one window the second view came out blank. Off-
        # screen exports have one renderer each, so they keep it.
        on = self.edl and self.count == 1 and not moving
        for dome in getattr(self, "eye_domes", []):
            dome.set_enabled(on)

    def set_linked(self, linked: bool) -> None:
        if linked == self.linked:
            return
        self.linked = linked
        if linked:   # line the others up with view 1
            self._remember()
            self._sync_from(0)
        self.request_render()

    def _state(self, i: int) -> tuple:
        c = self.cameras[i]
        return (c.GetPosition(), c.GetFocalPoint(), c.GetViewUp(), c.GetParallelScale(),
                c.GetParallelProjection())

    def _remember(self) -> None:
        self._synced = [self._state(i) for i in range(4)]

    def _sync_cameras(self) -> None:
        """Before each render: if linked and one view's camera moved, move the others alike."""
        if not self.linked:
            return
        moved = [i for i in range(self.count) if self._state(i) != self._synced[i]]
        if moved:
            self._sync_from(moved[0])
        self._remember()

    def _sync_from(self, src: int) -> None:
        """Copy view ``src``'s direction and view-up to the other views, and scale their
        distance (and parallel scale) by the zoom ``src`` just made."""
        s = self.cameras[src]
        old = self._synced[src]
        d = np.array(s.GetDirectionOfProjection())
        zoom = 1.0
        if old:
            old_dist = float(np.linalg.norm(np.subtract(old[0], old[1])))
            zoom = s.GetDistance() / old_dist if old_dist > 0 else 1.0
            pzoom = s.GetParallelScale() / old[3] if old[3] > 0 else 1.0
        else:
            pzoom = 1.0
        for i in range(self.count):
            if i == src:
                continue
            c = self.cameras[i]
            f = np.array(c.GetFocalPoint())
            c.SetPosition(*(f - d * c.GetDistance() * zoom))
            c.SetViewUp(*s.GetViewUp())
            c.SetParallelProjection(s.GetParallelProjection())
            c.SetParallelScale(c.GetParallelScale() * pzoom)
            c.SetWindowCenter(*s.GetWindowCenter())
            self.views[i].renderer.ResetCameraClippingRange()

    def _targets(self, view: int | None) -> list[render.ViewContent]:
        shown = self.views[:self.count]
        return shown if view is None or self.linked else [shown[min(view, self.count - 1)]]


    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        if not self._user_camera:
            self._refit_timer.start()

    def _refit_after_resize(self) -> None:
        if self._user_camera or self.window is None:
            return
        for i, v in enumerate(self.views[:self.count]):
            if not self._empty[i]:
                render.reset(v.renderer)       # keeps the direction; fits the new aspect ratio
        self._remember()
        self.request_render()

    def set_view(self, preset: str, view: int | None = None) -> None:
        self._user_camera = False              # a preset is a fit: resizes keep it fitted
        for v in self._targets(view):
            render.set_camera(v.renderer, preset, self.up_axis, self.parallel)
        self._remember()
        self.request_render()

    def reset_camera(self, view: int | None = None) -> None:
        self.set_view("iso", view)

    def set_parallel(self, parallel: bool) -> None:
        self.parallel = parallel
        for v in self.views:
            v.renderer.GetActiveCamera().SetParallelProjection(parallel)
            render.reset(v.renderer)
        self._remember()
        self.request_render()

    def view_size(self, view: int = 0) -> tuple[int, int]:
        """Pixel size of one view (movies default to it)."""
        return tuple(self.views[view].renderer.GetSize())

    def on_interaction(self, start, end, rendered=None) -> None:
        """Call ``start()`` / ``end()`` when the user starts / ends a mouse interaction in the
        views, and ``rendered()`` after each frame (undo records a camera move at its end)."""
        iren = self.window.GetInteractor()
        style = iren.GetInteractorStyle()
        for src in {id(x): x for x in (iren, style) if x is not None}.values():
            src.AddObserver("StartInteractionEvent", lambda *a: start())
            src.AddObserver("EndInteractionEvent", lambda *a: end())
        if rendered is not None:
            self.window.AddObserver("EndEvent", lambda *a: rendered())

    def camera_states(self) -> list[dict]:
        """Every view's camera as plain values (sessions save them; undo restores them)."""
        return [{"position": list(c.GetPosition()), "focal_point": list(c.GetFocalPoint()),
                 "view_up": list(c.GetViewUp()), "view_angle": float(c.GetViewAngle()),
                 "parallel_scale": float(c.GetParallelScale()),
                 "parallel_projection": bool(c.GetParallelProjection())} for c in self.cameras]

    def set_camera_states(self, states: list[dict]) -> None:
        """Put cameras back as ``camera_states`` gave them (linked views are not re-synced)."""
        self._user_camera = True               # a saved or undone view: resizes leave it alone
        for c, s, v in zip(self.cameras, states, self.views):
            c.SetPosition(*s["position"])
            c.SetFocalPoint(*s["focal_point"])
            c.SetViewUp(*s["view_up"])
            c.SetViewAngle(float(s["view_angle"]))
            c.SetParallelScale(float(s["parallel_scale"]))
            c.SetParallelProjection(bool(s["parallel_projection"]))
            v.renderer.ResetCameraClippingRange()
        self._remember()
        self.request_render()

    def set_up_axis(self, axis: str) -> None:
        self.up_axis = axis if axis in ("x", "y", "z") else "z"
        self.reset_camera()

    # ---- scene -> actors ----------------------------------------------------------------------
    def _sync_all(self) -> None:
        """Every view draws its own layers; layers of views beyond the layout wait, undrawn, until
        the layout has their view again (they never move to another view)."""
        for view in self.views:
            view.sync()

    def _on_scene(self, event: str, name: str) -> None:
        if event == "selection":
            self._show_selection()
        elif event in ("added", "geometry", "removed"):
            layer = self.scene.get(name) if name in self.scene else None
            for v in self.views:
                v.sync(name)
            drawn = layer is not None and layer.view < self.count and self.scene.on_stage(layer)
            if drawn and not name.startswith("_"):
                # Fit the camera to a view's first layer, and again whenever a new layer
                # would reach outside the view (the direction the user chose is kept). A layer
                # added where nothing of the stage is shown is a first layer too: the view kept
                # the zoom of another panel's content (Inspect's stretched T-Net output left
                # PointMask's mask cloud a third of the view's size).
                v = self.views[layer.view]
                first = self._empty[layer.view] or (event == "added" and self._alone(layer))
                self._empty[layer.view] = False
                if first or (event == "added" and render.outside(v.renderer)):
                    render.reset(v.renderer)   # keeps the direction: linked views stay lined up
                    self._synced[v.view] = self._state(v.view)
        else:   # values / style: in place
            for v in self.views:
                if name in v.actors:
                    v.sync(name)
                else:
                    v.sync_decorations()
        self.request_render()

    def _alone(self, layer) -> bool:
        """No other layer shown now (on this stage, visible) is in ``layer``'s view."""
        return not any(l.name != layer.name and not l.name.startswith("_") and self.scene.shown(l)
                       for l in self.scene.layers(layer.view))

    def _show_selection(self) -> None:
        sel = self.scene.selection
        if sel is None or sel.layer not in self.scene or len(sel.indices) == 0:
            self.scene.remove(SELECTION_LAYER)
            return
        src = self.scene.get(sel.layer)
        self.scene.add(PointsLayer(SELECTION_LAYER, points=src.points[sel.indices], view=src.view, offset=src.offset,
                                   color=SELECTION_COLOR, point_size=src.point_size + 3, style="spheres",
                                   pickable=False, title="", note=f"{len(sel.indices):,} selected"))

    # ---- rendering ------------------------------------------------------------------------------
    def request_render(self) -> None:
        self._stale = True
        if not self._scheduled:
            self._scheduled = True
            QTimer.singleShot(0, self._render_requested)

    def _render_requested(self) -> None:
        """The render asked for by ``request_render``, unless a frame was drawn since (a paint
        after a resize draws the window too: a second frame of the same scene cost another
        15-35 ms on software GL when a dock appeared mid-run) and no caption needs re-wrapping."""
        self._scheduled = False
        if self.window is None or not self.isVisible():
            return
        refitted = any([v.fit_caption() for v in self.views[:self.count]])
        if self._stale or refitted:
            self.render_now()

    def render_now(self) -> None:
        if self.window is not None and self.isVisible():
            for v in self.views[:self.count]:
                v.fit_caption()
            self.window.Render()

    def paint_into(self, pixmap, owner) -> None:
        """Draw the 3D views' current frame into ``pixmap`` (a grab of ``owner``, an ancestor
        widget) where this widget sits: Qt's grab() leaves the GL area blank, and a grab of
        the screen would also catch whatever lies over the window."""
        from PySide6.QtCore import QPoint, QRect
        from PySide6.QtGui import QImage, QPainter

        if self.window is None:
            return
        self.render_now()
        img = render_offscreen.grab(self.window)
        h, w = img.shape[:2]
        qimg = QImage(img.data, w, h, 3 * w, QImage.Format_RGB888).copy()
        top_left = self.vtk.mapTo(owner, QPoint(0, 0))
        painter = QPainter(pixmap)
        painter.drawImage(QRect(top_left, self.vtk.size()), qimg)
        painter.end()

    def _on_rendered(self, *args) -> None:
        self.frames += 1
        self._stale = False                 # any frame shows every change made before it
        if not self._drawn_once and any(v.actors for v in self.views[:self.count]):
            self._drawn_once = True
            self.first_frame.emit()

    def _lod(self, on: bool) -> None:
        if on:
            self._user_camera = True           # the user orbits or zooms: keep their camera
        for v in self.views:
            v.set_lod(on)
        # EDL's screen passes cost ~50 ms a frame on software GL whatever the cloud's size
        # (tests/bench/test_bench_edl.py): orbiting goes without, the still frame has it.
        self._apply_edl(moving=on)
        if not on:
            self.request_render()

    # ---- picking and selection -------------------------------------------------------------------
    def view_at(self, x: float, y: float) -> render.ViewContent | None:
        for v in self.views[:self.count]:
            if v.renderer.IsInViewport(int(x), int(y)):
                return v
        return None

    def _projection(self, v: render.ViewContent):
        ren = v.renderer
        w, h = ren.GetSize()
        ox, oy = ren.GetOrigin()
        m = ren.GetActiveCamera().GetCompositeProjectionTransformMatrix(ren.GetTiledAspectRatio(), -1, 1)
        mat = np.array([[m.GetElement(i, j) for j in range(4)] for i in range(4)])
        return mat, w, h, ox, oy

    def pick_at(self, x: float, y: float) -> dict | None:
        """Front-most point of a pickable points layer near display position (x, y)."""
        v = self.view_at(x, y)
        if v is None:
            return None
        mat, w, h, ox, oy = self._projection(v)
        best = None
        for layer in v.layers():
            if not isinstance(layer, PointsLayer) or not layer.pickable or not self.scene.shown(layer) or layer.n == 0:
                continue
            xy, depth = selection.project(layer.points + np.asarray(v.offset(layer), np.float32), mat, w, h)
            i = selection.pick(xy, depth, (x - ox, y - oy), max(4.0, layer.point_size / 2 + 2))
            if i is not None and (best is None or depth[i] < best[0]):
                best = (depth[i], layer.name, i)
        info = self.scene.describe_point(best[1], best[2]) if best else None
        v.readout.SetInput(format_pick(info) if info else "")
        self.picked.emit(info)
        self.request_render()
        return info

    def select_path(self, shape: str, path: list[tuple[float, float]]) -> np.ndarray:
        """Indices of ``select_layer`` inside a box (2 corners) or lasso drawn in display coords."""
        name = self.select_layer
        if not name or name not in self.scene:
            return np.zeros(0, np.int64)
        layer = self.scene.get(name)
        v = next((c for c in self.views[:self.count] if name in c.actors), None)
        if v is None or not isinstance(layer, PointsLayer):
            return np.zeros(0, np.int64)
        mat, w, h, ox, oy = self._projection(v)
        local = [(px - ox, py - oy) for px, py in path]
        pts = layer.points + np.asarray(v.offset(layer), np.float32)
        return selection.select(pts, mat, w, h, shape, local)

    def _mouse(self, kind: str, pos: tuple[float, float], ev) -> bool:
        from PySide6.QtCore import Qt

        if kind == "press" and ev.button() == Qt.LeftButton:
            self._press = pos
            if self.select_mode:
                self._path = [pos]
                return True
            return False
        if kind == "move" and self.select_mode and self._press is not None:
            if self.select_mode == "box":
                self._path = [self._press, pos]
            else:
                self._path.append(pos)
            self._draw_overlay()
            return True
        if kind == "release" and ev.button() == Qt.LeftButton and self._press is not None:
            start, self._press = self._press, None
            if self.select_mode:
                path, self._path = self._path, []
                self._draw_overlay()
                if len(path) >= 2:
                    idx = self.select_path(self.select_mode, path)
                    self.scene.set_selection(Selection(self.select_layer, idx) if idx.size else None)
                    self.selected.emit(self.select_layer or "", idx)
                return True
            if abs(pos[0] - start[0]) + abs(pos[1] - start[1]) < 4:
                self.pick_at(*pos)
        return False

    def _make_overlay(self) -> vtkActor2D:
        self._ov_pd = vtkPolyData()
        mapper = vtkPolyDataMapper2D()
        mapper.SetInputData(self._ov_pd)
        actor = vtkActor2D()
        actor.SetMapper(mapper)
        actor.GetProperty().SetColor(0.9, 0.0, 0.5)
        actor.GetProperty().SetLineWidth(2)
        self._ov_renderer = vtkRenderer()
        self._ov_renderer.SetLayer(1)
        self._ov_renderer.InteractiveOff()
        self._ov_renderer.AddViewProp(actor)
        self.window.SetNumberOfLayers(2)
        self.window.AddRenderer(self._ov_renderer)
        return actor

    def _draw_overlay(self) -> None:
        path = self._path
        if self.select_mode == "box" and len(path) == 2:
            (x0, y0), (x1, y1) = path
            path = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
        pd = vtkPolyData()
        if len(path) >= 2:
            pts = vtkPoints()
            pts.SetData(numpy_to_vtk(np.array([(x, y, 0.0) for x, y in path], np.float32), deep=True))
            n = len(path)
            lines = vtkCellArray()
            lines.SetData(numpy_to_vtkIdTypeArray(np.array([0, n + 1], np.int64), deep=True),
                          numpy_to_vtkIdTypeArray(np.r_[np.arange(n), 0].astype(np.int64), deep=True))
            pd.SetPoints(pts)
            pd.SetLines(lines)
        self._ov_pd.ShallowCopy(pd)
        self._ov_pd.Modified()
        self.request_render()

    # ---- images ------------------------------------------------------------------------------------
    def grab_window_image(self) -> np.ndarray:
        self.render_now()
        return render_offscreen.grab(self.window)

    def view_image(self, view: int = 0, scale: int = 1, transparent: bool = False) -> np.ndarray:
        """One view drawn again at ``scale`` times its size; text grows with it (a 9-px label in
        a 2x image would read as half its size on the page)."""
        v = self.views[min(view, self.count - 1)]
        w, h = v.renderer.GetSize()
        return render_offscreen.render_view(self.scene, v.view, v.renderer.GetActiveCamera(), (w * scale, h * scale),
                                  transparent, text_scale=scale * v.text_scale, edl=self.edl)

    def shutdown(self) -> None:
        """Release the GL context and the X connection now, not at interpreter exit.

        The render window and its interactor reference each other; unless the cycle is broken
        the window outlives the app and closes its X connection after the X server may be gone
        (a fatal Xlib error, e.g. when a virtual X server stops first).
        """
        window = self.window
        if window is None:
            return
        self.window = None
        try:
            iren = window.GetInteractor()
            window.Finalize()
            if iren is not None:
                iren.SetRenderWindow(None)
            window.SetInteractor(None)
        except Exception:
            pass
        self.vtk._RenderWindow = None
        self.vtk._Iren = None
