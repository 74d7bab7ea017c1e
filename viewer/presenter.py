"""Presenter mode (View > Presenter mode, F11): the window set up for a classroom projector.

On: fonts 1.5x app-wide, points 1.8x in every viewport (also layers drawn later), viewport
captions, colour bars and legends 1.5x, the advanced parts hidden (Methods, Jobs, Log and Plots docks, the
toolbar), the data browser and the step-by-step bias-injection demo (``viewer/bias_demo.py``)
shown. Off: everything goes back exactly as it was: the application font, each layer's point
size, the docks and toolbar (``QMainWindow.saveState``), the viewport text and background.

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
                       "toolbars": {tb: tb.isVisible() for tb in w.findChildren(QToolBar)}}
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
        w.browser_dock.show()
        self.demo_dock.show()
        self.demo_dock.raise_()
        # the demo wider than the data browser: the 3D views and the demo carry the lesson
        w.resizeDocks([w.browser_dock, self.demo_dock], [int(w.width() * 0.17), int(w.width() * 0.36)],
                      Qt.Horizontal)
        self.points.start()
        QTimer.singleShot(100, w.viewports.reset_camera)    # the views changed size: fit them again
        self.style.apply(VTK_TEXT_SCALE, self.contrast_action.isChecked())
        self.demo.set_presenting(True)
        w.status.setText(f"Presenter mode: {SHORTCUT} or View > Presenter mode to leave")

    def _leave(self) -> None:
        w, s = self.window, self._saved
        QApplication.instance().setFont(s["font"])
        self.points.stop()
        self.style.apply(1.0, self.contrast_action.isChecked())
        w.restoreState(s["state"])
        for tb, vis in s["toolbars"].items():
            tb.setVisible(vis)
        self.demo_dock.setVisible(s["demo_visible"])
        self.demo.set_presenting(False)
        self._saved = None
        w.status.setText("")

    def set_high_contrast(self, on: bool) -> None:
        self.style.apply(VTK_TEXT_SCALE if self.on else 1.0, bool(on))


def install(window) -> Presenter:
    return Presenter(window)
