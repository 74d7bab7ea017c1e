"""Presenter mode (View > Presenter mode, F11): the window set up for a classroom projector.

On: fonts 1.5x app-wide, points 1.8x in every viewport (also layers drawn later), viewport
captions, colour bars and legends 1.5x, the advanced parts hidden (Methods, Jobs, Log and Plots docks, the
toolbar; the Jobs dock stays folded while a demo job runs), the step-by-step bias-injection demo
(``viewer/bias_demo.py``) shown with the data browser as a second tab of its dock, so the 3D
views keep ``VIEWS_SHARE`` of the window's width. Off: everything goes back exactly as it was:
the application font, each layer's point size, the docks and toolbar (``QMainWindow.saveState``)
and each dock's size, the viewport text and background.

High contrast (View > High-contrast viewports): black viewport background with white text, for
projectors that wash out a white screen; independent of presenter mode, undone the same way.
Categorical colours stay readable on it (PointMask's masked points are grey, not black:
``colormaps.KEPT_MASKED_BIAS``).

The demo is also reachable without presenter mode: Tools > Bias-injection demo.
"""
from __future__ import annotations

import logging

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QDockWidget, QToolBar

from .scene import PointsLayer

log = logging.getLogger(__name__)

FONT_SCALE = 1.5
POINT_SCALE = 1.8
VTK_TEXT_SCALE = 1.5
SHORTCUT = "F11"
DARK, WHITE = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
VIEWS_SHARE = 0.67          # of the window's width, for the 3D views while presenting (test: >= 65 %)


class PointScaler:
    """Multiplies every points layer's size while on, including layers added or replaced later.

    It remembers, per layer, the size it found and the size it set: a layer whose size is not
    the one we set (new, replaced, or restyled by its panel) is scaled again from its own size;
    switching off puts back the remembered size on layers that still carry ours."""

    def __init__(self, scene, factor: float):
        self.scene, self.factor = scene, factor
        self.sizes: dict[str, tuple[float, float]] = {}   # name -> (original, applied)
        self._unsubscribe = None

    def start(self) -> None:
        self._unsubscribe = self.scene.subscribe(self._on_scene)
        for name in self.scene.names():
            self._scale(name)

    def stop(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()
            self._unsubscribe = None
        for name, (orig, applied) in self.sizes.items():
            if name in self.scene and getattr(self.scene.get(name), "point_size", None) == applied:
                self.scene.set_style(name, point_size=orig)
        self.sizes.clear()

    def _on_scene(self, event: str, name: str) -> None:
        if event == "removed":
            self.sizes.pop(name, None)
        elif event in ("added", "geometry", "style") and name in self.scene:
            self._scale(name)

    def _scale(self, name: str) -> None:
        layer = self.scene.get(name)
        if not isinstance(layer, PointsLayer):
            return
        have = self.sizes.get(name)
        if have is not None and layer.point_size == have[1]:
            return
        new = round(layer.point_size * self.factor, 2)
        self.sizes[name] = (layer.point_size, new)
        self.scene.set_style(name, point_size=new)   # re-enters _on_scene as "style": a no-op


class ViewportStyle:
    """Viewport text size and background (the only VTK state presenter mode changes, through
    ``render.ViewContent.look/set_look``: this module makes no VTK call itself)."""

    def __init__(self, viewports):
        self.viewports = viewports
        self.saved: list | None = None

    def apply(self, text_scale: float, dark: bool) -> None:
        if self.saved is None:     # the first change remembers the original look
            self.saved = [v.look() for v in self.viewports.views]
        for v, look in zip(self.viewports.views, self.saved):
            v.set_look(look, text_scale, background=DARK if dark else None, text_colour=WHITE if dark else None)
            # the legend box fits its text to its size: font sizes alone would not enlarge it;
            # refilling it also passes the new text colour to its entries
            v.set_legend_scale(text_scale)
        if text_scale == 1.0 and not dark:
            self.saved = None
        self.viewports.request_render()


class Presenter(QObject):
    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.on = False
        self._saved: dict | None = None
        self.points = PointScaler(window.scene, POINT_SCALE)
        self.style = ViewportStyle(window.viewports)
        self.demo = None            # viewer.bias_demo.BiasDemo, made on first use
        self.demo_dock: QDockWidget | None = None

        self.action = QAction("&Presenter mode", window, checkable=True)
        self.action.setShortcut(QKeySequence(SHORTCUT))
        self.action.setShortcutContext(Qt.ApplicationShortcut)
        self.action.setToolTip("Large fonts and points, simple panels and the bias-injection demo (for teaching)")
        self.action.toggled.connect(self.set_enabled)
        self.contrast_action = QAction("&High-contrast viewports (black background)", window, checkable=True)
        self.contrast_action.toggled.connect(self.set_high_contrast)
        window.view_menu.addSeparator()
        window.view_menu.addAction(self.action)
        window.view_menu.addAction(self.contrast_action)
        window.addAction(self.action)       # the shortcut works while the menu bar is hidden too
        self.demo_action = QAction("&Bias-injection demo…", window)
        self.demo_action.setToolTip("Step by step: add a letter per class, train, watch the accuracy collapse")
        self.demo_action.triggered.connect(lambda _=False: self.show_demo())
        window.tools_menu.addAction(self.demo_action)
        window.installEventFilter(self)

    def eventFilter(self, obj, ev) -> bool:
        # Leave presenter mode before the window saves its layout on close: the next start must
        # not open with the simplified layout and hidden docks.
        if obj is self.window and ev.type() == QEvent.Close and self.on:
            self.set_enabled(False)
        return False

    # ---- the demo ------------------------------------------------------------------------------
    def ensure_demo(self):
        if self.demo is None:
            from .bias_demo import BiasDemo

            self.demo = BiasDemo(self.window)
            self.demo_dock = QDockWidget("Bias-injection demo", self.window)
            self.demo_dock.setObjectName("bias_demo")
            self.demo_dock.setWidget(self.demo)
            self.window.addDockWidget(Qt.RightDockWidgetArea, self.demo_dock)
            self.demo_dock.hide()
            self.demo_dock.visibilityChanged.connect(self._demo_visibility)
        return self.demo

    def _demo_visibility(self, visible: bool) -> None:
        """The demo draws on its own stage, which starts empty (no start-up sample under its
        chairs); closing it gives the views back to the current panel's stage."""
        w = self.window
        if visible and w.scene.stage != "demo":
            w.show_stage("demo", empty=True)
        elif not visible and w.scene.stage == "demo":
            w.show_stage(w.current_panel_stage())

    def show_demo(self):
        demo = self.ensure_demo()
        self.demo_dock.show()
        self.demo_dock.raise_()
        return demo

    # ---- presenter mode ----------------------------------------------------------------------
    def set_enabled(self, on: bool) -> None:
        on = bool(on)
        if on == self.on:
            return
        if self.action.isChecked() != on:
            self.action.setChecked(on)      # re-enters with self.on unchanged: guarded below
            return
        (self._enter if on else self._leave)()
        self.on = on

    def _enter(self) -> None:
        w, app = self.window, QApplication.instance()
        self.ensure_demo()
        self._saved = {"font": app.font(), "state": w.saveState(), "demo_visible": not self.demo_dock.isHidden(),
                       "toolbars": {tb: tb.isVisible() for tb in w.findChildren(QToolBar)},
                       "sizes": dock_sizes(w)}
        jobs = getattr(w, "jobs_indicator", None)
        if jobs is not None:
            jobs.quiet = True          # the demo's training must not open the Jobs dock over the lesson
        font = app.font()
        if font.pointSizeF() > 0:
            font.setPointSizeF(font.pointSizeF() * FONT_SCALE)
        else:
            font.setPixelSize(round(font.pixelSize() * FONT_SCALE))
        app.setFont(font)
        for d in (w.panels_dock, w.jobs_dock, w.log_dock, w.plots_dock):
            d.hide()
        for tb in self._saved["toolbars"]:
            tb.hide()
        # The demo and the data browser share one dock area as two tabs (the demo in front): side
        # by side at 1.5x fonts they left the views under half the width.
        self.demo_dock.show()
        w.browser_dock.show()
        w.tabifyDockWidget(self.demo_dock, w.browser_dock)
        self.demo_dock.raise_()
        w.resizeDocks([self.demo_dock], [int(w.width() * (1 - VIEWS_SHARE))], Qt.Horizontal)
        self.points.start()
        QTimer.singleShot(100, w.viewports.reset_camera)    # the views changed size: fit them again
        self.style.apply(VTK_TEXT_SCALE, self.contrast_action.isChecked())
        self.demo.set_presenting(True)
        w.status.setText(f"Presenter mode: {SHORTCUT} or View > Presenter mode to leave")

    def _leave(self) -> None:
        w, s = self.window, self._saved
        QApplication.instance().setFont(s["font"])
        # the layouts take the normal font's sizes first: restoring the docks against the large
        # font's minimum sizes left the Data dock 514 px wide instead of 345
        QApplication.sendPostedEvents()
        self.points.stop()
        self.style.apply(1.0, self.contrast_action.isChecked())
        self.demo.set_presenting(False)
        w.restoreState(s["state"])
        for tb, vis in s["toolbars"].items():
            tb.setVisible(vis)
        self.demo_dock.setVisible(s["demo_visible"])
        QApplication.sendPostedEvents()
        restore_dock_sizes(w, s["sizes"])
        self._saved = None
        w.status.setText("")
        jobs = getattr(w, "jobs_indicator", None)
        if jobs is not None:
            jobs.quiet = False
            jobs.update_now()

    def set_high_contrast(self, on: bool) -> None:
        self.style.apply(VTK_TEXT_SCALE if self.on else 1.0, bool(on))


def dock_sizes(window) -> dict:
    """Each shown dock's width (left/right areas) or height (top/bottom) in ``window``."""
    out = {}
    for d in window.findChildren(QDockWidget):
        if d.isVisible() and not d.isFloating():
            side = window.dockWidgetArea(d) in (Qt.LeftDockWidgetArea, Qt.RightDockWidgetArea)
            out[d] = (Qt.Horizontal, d.width()) if side else (Qt.Vertical, d.height())
    return out


def restore_dock_sizes(window, sizes: dict) -> None:
    """Put back what ``dock_sizes`` recorded (``restoreState`` alone is off while the fonts and
    the minimum sizes that came with them are still changing)."""
    for orientation in (Qt.Horizontal, Qt.Vertical):
        docks = [(d, n) for d, (o, n) in sizes.items() if o == orientation and d.isVisible()]
        if docks:
            window.resizeDocks([d for d, _ in docks], [n for _, n in docks], orientation)


def install(window) -> Presenter:
    return Presenter(window)
