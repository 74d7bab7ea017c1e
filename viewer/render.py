"""Layers -> VTK actors, shared by the interactive viewports and off-screen rendering.

With ``render_actors.py``, ``render_offscreen.py``, ``render_eyedome.py`` and ``viewport.py`` this is
the only code that touches VTK. Raw VTK
modules (not pyvista) are used so the GUI starts without importing matplotlib and pyvista
(about 1 s saved here).

- ``render_actors.LayerActor`` builds the props of one layer once and later changes arrays IN
  PLACE (``update``): a slider or a live preview never re-creates an actor.
- ``ViewContent`` keeps one renderer in step with the scene's layers for one view, with the
  colour bar (continuous) or legend (categorical), a caption and a pick read-out.
- Off-screen images (``OffscreenView``, ``render_view``, ``render_layers``, ``grab``) live in
  ``render_offscreen.py``, eye-dome lighting (``EyeDome``) in ``render_eyedome.py``; both draw
  through ``ViewContent``.
- Other viewer modules (movie, linked views, thumbnails, presenter) make no VTK call: they use
  the named helpers here (``orbit``, ``camera_state``, ``share_camera``, ``clip``, ``CubeOutline``,
  ``ViewContent.look/set_look``, ...). pyproject's import-linter contract keeps their imports out.
"""
from __future__ import annotations

import numpy as np
import vtkmodules.vtkInteractionStyle  # noqa: F401 - registers the default interactor style
import vtkmodules.vtkRenderingFreeType  # noqa: F401 - text rendering
import vtkmodules.vtkRenderingOpenGL2  # noqa: F401 - the OpenGL backend
from vtkmodules.util.numpy_support import numpy_to_vtk, numpy_to_vtkIdTypeArray
from vtkmodules.vtkCommonCore import vtkDoubleArray
from vtkmodules.vtkCommonDataModel import vtkCellArray, vtkPolyData
from vtkmodules.vtkRenderingAnnotation import vtkLegendBoxActor, vtkScalarBarActor
from vtkmodules.vtkRenderingCore import vtkRenderer, vtkTextActor, vtkTextRenderer

from . import caption_text, colormaps, ticks
from .render_actors import (LOD_POINTS, CubeOutline, LayerActor, _copy_into, _polydata,  # noqa: F401 (re-exported)
                            _square, cube_bounds, hex_rgb, lookup_table, make_actor)
from .scene import ColorScale, Layer, PointsLayer, Scene

TEXT = (0.1, 0.1, 0.1)
BACKGROUND = (1.0, 1.0, 1.0)
AXIS_COLOURS = ("#D55E00", "#009E73", "#0072B2")   # x, y, z (Okabe-Ito vermillion, green, blue)
TRIAD_ORIGIN, TRIAD_ARM, TRIAD_LABEL = 34.0, 24.0, 33.0   # px from the bottom-left corner
TRIAD_RIGHT = TRIAD_ORIGIN + TRIAD_LABEL + 8.0            # right edge of the triad's x/y/z labels
CAPTION_MARGIN = 0.015                                    # caption and read-out inset, of the view's width


# ---- camera -------------------------------------------------------------------------------------
VIEWS = ("iso", "+x", "-x", "+y", "-y", "+z", "-z")


def view_direction(view: str, up_axis: str = "z") -> tuple[np.ndarray, np.ndarray]:
    """(direction from the focal point to the camera, view-up) for a preset."""
    up = np.eye(3)["xyz".index(up_axis)]
    if view in ("x", "y", "z"):
        view = "+" + view
    if view == "iso":
        d = {"z": (1.0, -1.0, 0.8), "y": (1.0, 0.8, 1.0), "x": (0.8, 1.0, 1.0)}[up_axis]
        return np.asarray(d) / np.linalg.norm(d), up
    if view not in VIEWS:
        raise ValueError(f"unknown view '{view}'; use one of {', '.join(VIEWS)}")
    axis = "xyz".index(view[1])
    d = np.eye(3)[axis] * (1.0 if view[0] == "+" else -1.0)
    if axis == "xyz".index(up_axis):   # a top/bottom view: keep x running left-right
        up = {"z": np.array([0.0, 1.0, 0.0]), "y": np.array([0.0, 0.0, -1.0]),
              "x": np.array([0.0, 1.0, 0.0])}[up_axis]
    return d, up


def set_camera(renderer: vtkRenderer, view: str, up_axis: str = "z", parallel: bool | None = None,
               bounds=None, **fit_args) -> None:
    """Point the camera along a preset and fit ``bounds`` (default: the renderer's props);
    ``fit_args`` (width, height, lift) go to ``fit``."""
    cam = renderer.GetActiveCamera()
    d, up = view_direction(view, up_axis)
    cam.SetFocalPoint(0.0, 0.0, 0.0)
    cam.SetPosition(*d)
    cam.SetViewUp(*up)
    if parallel is not None:
        cam.SetParallelProjection(bool(parallel))
    reset(renderer, bounds, **fit_args)


def reset(renderer: vtkRenderer, bounds=None, clip: bool = True, **fit_args) -> None:
    """ResetCamera + fit, to given bounds (e.g. the union over linked views) or the props';
    ``clip``: also fit the near/far planes to the props (linked views clip before each render)."""
    if bounds is not None:
        renderer.ResetCamera(*bounds)
    else:
        renderer.ResetCamera()
    fit(renderer, bounds=bounds, **fit_args)
    if clip:
        renderer.ResetCameraClippingRange()


def _extent(renderer: vtkRenderer, b) -> tuple[float, float] | None:
    """Largest |NDC x| and |NDC y| of the corners of bounds ``b`` (None if behind the camera)."""
    corners = np.array([[x, y, z] for x in b[0:2] for y in b[2:4] for z in b[4:6]])
    cam = renderer.GetActiveCamera()
    m = cam.GetCompositeProjectionTransformMatrix(renderer.GetTiledAspectRatio() or 1.0, -1, 1)
    mat = np.array([[m.GetElement(i, j) for j in range(4)] for i in range(4)])
    h = corners @ mat[:3, :3].T + mat[:3, 3]
    w = corners @ mat[3, :3] + mat[3, 3]
    if np.any(w <= 1e-9):
        return None
    ndc = h[:, :2] / w[:, None]
    return float(np.abs(ndc[:, 0]).max()), float(np.abs(ndc[:, 1]).max())


def outside(renderer: vtkRenderer, bounds=None) -> bool:
    """True if the props (or ``bounds``) reach beyond the view: time to re-fit."""
    b = bounds if bounds is not None else renderer.ComputeVisiblePropBounds()
    if not b or b[0] > b[1]:
        return False
    ext = _extent(renderer, b)
    return ext is None or max(ext) > 1.0


def fit(renderer: vtkRenderer, width: float = 0.92, height: float = 0.76, lift: float = 0.1,
        bounds=None) -> None:
    """Zoom so the props' bounding box fills ``width`` x ``height`` of the view (in NDC halves),
    then lift the picture by ``lift`` (NDC) so the colour bar along the bottom stays clear.

    ResetCamera fits the bounding box's circumscribed sphere to the vertical angle only: flat
    objects come out small and, in narrow viewports, tall ones get cut.
    """
    b = bounds if bounds is not None else renderer.ComputeVisiblePropBounds()
    if not b or b[0] > b[1]:
        return
    cam = renderer.GetActiveCamera()
    cam.SetWindowCenter(0.0, 0.0)
    ext = _extent(renderer, b)
    if ext is None or ext[0] <= 0 or ext[1] <= 0:
        return
    cam.Zoom(float(min(width / ext[0], height / ext[1])))
    cam.SetWindowCenter(0.0, -lift)   # negative: the picture moves up


# Camera helpers for the viewer modules that must not call VTK themselves (movie, linked views).
CAMERA_FIELDS = ("Position", "FocalPoint", "ViewUp", "ViewAngle", "ParallelScale", "ParallelProjection",
                 "WindowCenter")


def camera_of(renderer: vtkRenderer):
    """The renderer's active camera (a vtkCamera to hand back to these helpers)."""
    return renderer.GetActiveCamera()


def camera_state(camera, fields=CAMERA_FIELDS) -> tuple:
    """The camera's ``fields`` (names of vtkCamera Get/Set pairs) as a comparable tuple."""
    return tuple(getattr(camera, "Get" + f)() for f in fields)


def set_camera_state(camera, state: tuple, fields=CAMERA_FIELDS, renderer: vtkRenderer | None = None) -> None:
    """Put back what ``camera_state(camera, fields)`` returned, in that order; with ``renderer``,
    re-fit its near/far planes to the props."""
    for f, v in zip(fields, state):
        setter = getattr(camera, "Set" + f)
        setter(*v) if isinstance(v, (tuple, list)) else setter(v)
    if renderer is not None:
        renderer.ResetCameraClippingRange()


def orbit(camera, degrees: float, renderer: vtkRenderer) -> None:
    """Turn ``camera`` by ``degrees`` about the view-up axis through the focal point."""
    camera.Azimuth(float(degrees))
    renderer.ResetCameraClippingRange()


def share_camera(renderer: vtkRenderer, camera) -> None:
    """Draw ``renderer`` through ``camera`` (one object for several views: linked orbits)."""
    renderer.SetActiveCamera(camera)


def clip(renderer: vtkRenderer, bounds) -> None:
    """Fit the near/far planes to ``bounds`` (not to this renderer's props only)."""
    renderer.ResetCameraClippingRange(*bounds)


def before_render(renderer: vtkRenderer, callback) -> None:
    """Call ``callback()`` at the start of each render of ``renderer``."""
    renderer.AddObserver("StartEvent", lambda *_a: callback())


def on_modified(obj, callback) -> None:
    """Call ``callback()`` whenever the VTK object ``obj`` (e.g. a camera) is modified."""
    obj.AddObserver("ModifiedEvent", lambda *_a: callback())


# ---- one view ------------------------------------------------------------------------------------
class ViewContent:
    """Actors of one view (a renderer) kept in step with the scene; colour bar, legend, captions."""

    def __init__(self, renderer: vtkRenderer, scene: Scene, view: int):
        self.renderer, self.scene, self.view = renderer, scene, view
        self.actors: dict[str, LayerActor] = {}
        renderer.SetBackground(*BACKGROUND)
        # A horizontal colour bar along the bottom: room for a two-line title that says what the
        # scalar is and how it was normalised, without covering the cloud.
        self.bar = vtkScalarBarActor()
        self.bar.SetOrientationToHorizontal()
        self.bar.SetNumberOfLabels(5)
        self.bar.SetLabelFormat("%-#.3g")
        self.bar.SetBarRatio(0.28)
        self.bar.SetTitleRatio(0.6)
        self.bar.SetUnconstrainedFontSize(True)
        self.bar.SetTextPositionToPrecedeScalarBar()
        for tp, size, bold in ((self.bar.GetTitleTextProperty(), 12, False), (self.bar.GetLabelTextProperty(), 11, False)):
            tp.SetColor(*TEXT)
            tp.SetFontSize(size)
            tp.SetBold(bold)
            tp.SetItalic(False)
            tp.SetShadow(False)
        self.bar.GetPositionCoordinate().SetCoordinateSystemToNormalizedViewport()
        self.bar.GetPositionCoordinate().SetValue(0.2, 0.01)
        self.bar.SetWidth(0.6)
        self.bar.SetHeight(0.1)
        self.bar.SetBarRatio(0.45)
        self.bar.SetVisibility(False)
        # Ticks at 1-2-5 steps (ticks.py), laid out before each render: how many fit, and where
        # the bar starts so its first label stays clear of the axis triad, depend on pixels.
        self.bar.SetUseCustomLabels(True)
        self._bar_layout_key = None
        self.has_triad = False
        renderer.AddObserver("StartEvent", lambda *a: self._layout_bar())
        self.bar_title = vtkTextActor()     # drawn by us above the bar: VTK's title overlaps labels
        tp = self.bar_title.GetTextProperty()
        tp.SetColor(*TEXT)
        tp.SetFontSize(12)
        tp.SetShadow(False)
        tp.SetJustificationToCentered()
        tp.SetVerticalJustificationToBottom()
        self.bar_title.GetPositionCoordinate().SetCoordinateSystemToNormalizedViewport()
        self.bar_title.GetPositionCoordinate().SetValue(0.5, 0.115)
        renderer.AddViewProp(self.bar_title)
        renderer.AddViewProp(self.bar)
        self.legend = vtkLegendBoxActor()
        self.legend.SetVisibility(False)
        self.legend.BorderOff()
        self.legend.GetEntryTextProperty().SetColor(*TEXT)
        self.legend.GetEntryTextProperty().SetFontSize(12)
        self.legend.GetEntryTextProperty().SetShadow(False)
        renderer.AddViewProp(self.legend)
        self.legend_scale = 1.0     # presenter mode: the legend box grows with the font factor
        self.text_scale = 1.0       # fonts relative to their defaults (presenter mode, exports)
        self.caption = self._text(12, top=True)
        self.caption_lines: list[str] = []
        self.readout = self._text(12, top=False)
        self._scale: ColorScale | None = None

    def add_border(self) -> None:
        """A thin frame so adjacent viewports read as separate panels."""
        from vtkmodules.vtkRenderingCore import vtkActor2D, vtkCoordinate, vtkPolyDataMapper2D

        pd, _ = _polydata(np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], np.float32))
        lines = vtkCellArray()
        lines.SetData(numpy_to_vtkIdTypeArray(np.array([0, 5], np.int64), deep=True),
                      numpy_to_vtkIdTypeArray(np.array([0, 1, 2, 3, 0], np.int64), deep=True))
        pd.SetLines(lines)
        coord = vtkCoordinate()
        coord.SetCoordinateSystemToNormalizedViewport()
        mapper = vtkPolyDataMapper2D()
        mapper.SetInputData(pd)
        mapper.SetTransformCoordinate(coord)
        actor = vtkActor2D()
        actor.SetMapper(mapper)
        actor.GetProperty().SetColor(0.78, 0.78, 0.78)
        actor.GetProperty().SetLineWidth(1)
        self.renderer.AddViewProp(actor)
        self.border = actor

    def add_triad(self) -> None:
        """x/y/z axes in the bottom-left corner that turn with the camera (redrawn before each
        render, also while the mouse orbits)."""
        from vtkmodules.vtkRenderingCore import vtkActor2D, vtkPolyDataMapper2D

        pd, self._triad_pts = _polydata(np.zeros((4, 3), np.float32))
        lines = vtkCellArray()
        lines.SetData(numpy_to_vtkIdTypeArray(np.array([0, 2, 4, 6], np.int64), deep=True),
                      numpy_to_vtkIdTypeArray(np.array([0, 1, 0, 2, 0, 3], np.int64), deep=True))
        pd.SetLines(lines)
        rgb = np.array([colormaps._hex_to_rgb(h) for h in AXIS_COLOURS], np.uint8)
        pd.GetCellData().SetScalars(numpy_to_vtk(rgb, deep=True))
        mapper = vtkPolyDataMapper2D()
        mapper.SetInputData(pd)
        mapper.SetColorModeToDirectScalars()
        actor = vtkActor2D()
        actor.SetMapper(mapper)
        actor.GetProperty().SetLineWidth(2.5)
        self.renderer.AddViewProp(actor)
        self.has_triad = True
        self._triad_pd = pd
        self._triad_labels = []
        for name, colour in zip("xyz", AXIS_COLOURS):
            t = vtkTextActor()
            t.SetInput(name)
            tp = t.GetTextProperty()
            tp.SetColor(*hex_rgb(colour))
            tp.SetFontSize(12)
            tp.SetBold(True)
            tp.SetShadow(False)
            tp.SetJustificationToCentered()
            tp.SetVerticalJustificationToCentered()
            self.renderer.AddViewProp(t)
            self._triad_labels.append(t)
        self.triad_props = [actor, *self._triad_labels]
        self.renderer.AddObserver("StartEvent", lambda *a: self._update_triad())

    def _update_triad(self) -> None:
        m = self.renderer.GetActiveCamera().GetViewTransformMatrix()
        rot = np.array([[m.GetElement(i, j) for j in range(3)] for i in range(2)])   # world -> screen x, y
        origin = np.array([TRIAD_ORIGIN, TRIAD_ORIGIN])
        ends = origin + TRIAD_ARM * rot.T     # row k: where world axis k points on screen
        pts = np.zeros((4, 3), np.float32)
        pts[0, :2] = origin
        pts[1:, :2] = ends
        _copy_into(self._triad_pts.GetData(), pts)
        self._triad_pts.Modified()
        self._triad_pd.Modified()
        for t, e in zip(self._triad_labels, origin + TRIAD_LABEL * rot.T):
            t.SetPosition(float(e[0]), float(e[1]))

    def _layout_bar(self) -> None:
        """Place the colour bar and choose its ticks for the view's current size and font: the
        bar is centred and starts right of the triad plus half a label (a label is centred on
        its tick); as many 1-2-5 ticks as fit side by side."""
        scale = self._scale
        w, h = self.renderer.GetSize()
        if scale is None or scale.kind == "categorical" or w <= 0:
            return
        font = self.bar.GetLabelTextProperty().GetFontSize()
        key = (w, h, font, self.has_triad, scale.clim, scale.log)
        if key == self._bar_layout_key:
            return
        self._bar_layout_key = key
        left = 0.2 * w
        if self.has_triad:
            left = max(left, TRIAD_RIGHT + 1.8 * font)
        x0 = min(left / w, 0.35)
        self.bar.GetPositionCoordinate().SetValue(x0, 0.01)
        self.bar.SetWidth(1.0 - 2 * x0)
        lo, hi = scale.clim
        room = ticks.max_ticks_for((1.0 - 2 * x0) * w, font)
        values, fmt = ticks.log_ticks(lo, hi, room) if scale.log else ticks.nice_ticks(lo, hi, room)
        arr = vtkDoubleArray()
        for v in values:
            arr.InsertNextValue(v)
        self.bar.SetCustomLabels(arr)
        self.bar.SetLabelFormat(fmt)

    def bar_labels(self) -> list[str]:
        """The colour bar's tick labels as drawn (after the next render's layout)."""
        arr = self.bar.GetCustomLabels()
        values = [arr.GetValue(i) for i in range(arr.GetNumberOfTuples())] if arr is not None else []
        return ticks.labels(values, self.bar.GetLabelFormat())

    def show_caption(self, on: bool) -> None:
        """Hide the caption where titles are Qt text around the view (thumbnails, linked views)."""
        self.caption.SetVisibility(bool(on))

    def size(self) -> tuple[int, int]:
        """The view's size in pixels (0, 0 before its window is shown)."""
        return tuple(self.renderer.GetSize())

    def text_properties(self) -> list:
        """The text properties of the caption, read-out, colour bar and legend."""
        props = [self.caption.GetTextProperty(), self.readout.GetTextProperty(),
                 self.bar_title.GetTextProperty(), self.bar.GetTitleTextProperty(),
                 self.bar.GetLabelTextProperty(), self.legend.GetEntryTextProperty()]
        return [p for p in props if p is not None]

    def look(self) -> tuple:
        """(background, [(text property, font size, colour), ...]): what ``set_look`` changes."""
        return (self.renderer.GetBackground(),
                [(p, p.GetFontSize(), p.GetColor()) for p in self.text_properties()])

    def set_look(self, look: tuple, text_scale: float = 1.0, background=None, text_colour=None) -> None:
        """From a saved ``look``: font sizes x ``text_scale``; background and text colour replaced
        when given, else those saved (presenter mode and high contrast)."""
        bg, props = look
        self.text_scale = float(text_scale)
        self.renderer.SetBackground(*(background if background is not None else bg))
        for p, size, colour in props:
            p.SetFontSize(max(1, int(round(size * text_scale))))
            p.SetColor(*(text_colour if text_colour is not None else colour))

    def _text(self, size: int, top: bool) -> vtkTextActor:
        t = vtkTextActor()
        tp = t.GetTextProperty()
        tp.SetColor(*TEXT)
        tp.SetFontSize(size)
        tp.SetShadow(False)
        tp.SetFontFamilyToArial()
        if top:
            tp.SetVerticalJustificationToTop()
        t.GetPositionCoordinate().SetCoordinateSystemToNormalizedViewport()
        t.GetPositionCoordinate().SetValue(CAPTION_MARGIN, 0.975 if top else 0.02)
        self.renderer.AddViewProp(t)
        return t

    def _mine(self, layer: Layer) -> bool:
        """Drawn here: layers of this view on the scene's active stage (never another view's)."""
        return layer.view == self.view and self.scene.on_stage(layer)

    def offset(self, layer: Layer) -> tuple:
        return tuple(layer.offset)

    def sync(self, name: str | None = None) -> None:
        """Bring actors up to date: one layer (by name) or all; rebuild only on shape changes."""
        names = [name] if name else list(set(self.actors) | set(self.scene.names()))
        for n in names:
            layer = self.scene.get(n) if n in self.scene else None
            have = self.actors.get(n)
            if layer is None or not self._mine(layer):
                if have is not None:
                    for p in have.props:
                        self.renderer.RemoveViewProp(p)
                    del self.actors[n]
                continue
            if have is not None and have.shape_key != layer.shape_key():
                for p in have.props:
                    self.renderer.RemoveViewProp(p)
                have = None
            if have is None:
                have = make_actor(layer)
                self.actors[n] = have
                for p in have.props:
                    self.renderer.AddViewProp(p)
            have.update(layer, self.scene, self.offset(layer))
        self.sync_decorations()

    def layers(self) -> list[Layer]:
        return [self.scene.get(n) for n in self.actors if n in self.scene]

    def sync_decorations(self) -> None:
        scale = self.scene.color_scale(self.view)
        self._scale = scale
        self.bar.SetVisibility(scale is not None and scale.kind != "categorical")
        self.bar_title.SetVisibility(scale is not None and scale.kind != "categorical")
        self.legend.SetVisibility(scale is not None and scale.kind == "categorical")
        if scale is not None and scale.kind != "categorical":
            key = (scale.cmap, scale.clim, scale.kind, scale.log)
            if key != getattr(self, "_bar_key", None):   # rebuild only when the scale changed
                self.bar.SetLookupTable(lookup_table(scale))
                self.bar.SetTitle("")
                self._bar_key = key
                self._bar_layout_key = None
            if self.bar_title.GetInput() != scale.title:
                self.bar_title.SetInput(scale.title)
        elif scale is not None:
            self._fill_legend(scale)
        lines = []
        for layer in self.layers():
            if layer.visible and (layer.title or layer.note):
                lines.append(" · ".join(t for t in (layer.title, layer.note) if t))
        if not self.actors:
            lines = [f"view {self.view + 1}: empty (method panels draw here)"]
        self.caption_lines = lines[-4:]
        self.fit_caption()

    def fit_caption(self) -> bool:
        """Wrap caption lines to the viewport's width, measured in the caption's own font (VTK
        text neither wraps nor clips; nothing is elided). True when the caption changed."""
        width = self.renderer.GetSize()[0]
        lines = list(getattr(self, "caption_lines", []))
        tp = self.caption.GetTextProperty()
        window = self.renderer.GetRenderWindow()
        dpi = window.GetDPI() if window is not None else 72
        key = (tuple(lines), width, tp.GetFontSize(), dpi)
        if key == getattr(self, "_caption_key", None):
            return False
        self._caption_key = key
        if width > 0:
            room = width * (1.0 - 2 * CAPTION_MARGIN)
            measure = vtkTextRenderer.GetInstance()
            box = [0, 0, 0, 0]

            def fits(text: str) -> bool:
                return not measure.GetBoundingBox(tp, text, box, dpi) or box[1] - box[0] + 1 <= room

            lines = caption_text.wrap_lines(lines, fits)
        self.caption.SetInput("\n".join(lines))
        return True

    def _fill_legend(self, scale: ColorScale) -> None:
        n = max(int(scale.clim[1]) + 1, len(scale.categories), 1)
        cols = colormaps.categorical_colors(n, scale.cmap if scale.cmap in colormaps.CATEGORICAL else "")
        shown = min(n, 20)
        self.legend.SetNumberOfEntries(shown + 1)
        # The swatch carries its colour as cell scalars so the text can keep the text colour
        # (VTK would otherwise draw each name in its category colour: yellow text on white is
        # unreadable). The entry colour wins over the text property's, so pass that colour
        # (white in presenter's high contrast, dark otherwise).
        text = self.legend.GetEntryTextProperty().GetColor()
        self.legend.ScalarVisibilityOn()
        self.legend.SetEntry(0, vtkPolyData(), scale.title or "categories", text)
        for i in range(shown):
            name = scale.categories[i] if i < len(scale.categories) else str(i)
            self.legend.SetEntry(i + 1, _square(cols[i]), name, text)
        # vtkLegendBoxActor fits its text to the box (font sizes are ignored): a larger legend
        # means a larger box, so presenter mode scales the box, not the text property.
        f = max(0.5, float(self.legend_scale))
        h = min(0.9, 0.045 * (shown + 1) * f)
        w = min(0.45, 0.19 * f)
        self.legend.GetPositionCoordinate().SetCoordinateSystemToNormalizedViewport()
        self.legend.GetPositionCoordinate().SetValue(0.99 - w, 0.95 - h)
        self.legend.GetPosition2Coordinate().SetCoordinateSystemToNormalizedViewport()
        self.legend.GetPosition2Coordinate().SetValue(w, h)

    def set_legend_scale(self, factor: float) -> None:
        """Grow (or shrink back) the categorical legend by ``factor`` (presenter mode); also
        re-applies the entry text colour (high contrast)."""
        self.legend_scale = float(factor)
        if self._scale is not None and self._scale.kind == "categorical":
            self._fill_legend(self._scale)

    def set_lod(self, on: bool) -> None:
        for a in self.actors.values():
            a.set_lod(on)
