"""The main window: data browser (left), viewports (centre), method panels (right, one page per
method, picked from buttons that wrap instead of scrolling), Jobs / Log / Plots docks (bottom,
hidden until they have something to show: the Jobs dock folds into a status-bar button), menus
and a view toolbar.

Default layout (fresh settings, 1500 x 900): the Data dock ``DATA_WIDTH`` and the Methods dock
``METHODS_WIDTH`` px wide and nothing below the views, which then take over 60 % of the window
(tests/viewer/test_layout.py). Every panel fits its dock at that width: form rows wrap their
field under the label, button rows and two-column grids reflow (``viewer.flow_layout``)."""
from __future__ import annotations

import importlib
import logging
import os
import sys
import time

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (QComboBox, QDockWidget, QFileDialog, QFormLayout, QLabel, QMainWindow,
                               QMessageBox, QScrollArea, QToolBar, QToolButton)

from engine import CHECKPOINT_SUFFIXES   # one list with the loader (torch-free)

from . import export_figure, export_view, extensions, panels, sample_extras_menu
from .engine_client import EngineClient
from .panels.base import PanelContext
from .panels.data_browser import DataBrowser
from .method_tabs import MethodTabs, methods_pane
from .panels.jobs_dock import JobsIndicator, JobsView
from .panels.layers_panel import LayersPanel
from .panels.log_dock import LogView
from .panels.plots_dock import PlotsDock
from .scene import Scene
from .session import Session
from .settings import Settings
from .viewport import ViewportGrid
from .window_screenshots import WindowScreenshots

log = logging.getLogger("pointlens")
DATA_FILTER = ("Point clouds and datasets (*.h5 *.hdf5 *.txt *.off *.ply *.obj *.stl *.pcd *.xyz *.npy *.npz);;"
               "All files (*)")
DATA_WIDTH, METHODS_WIDTH = 195, 295     # default dock widths (px)


def is_result_file(path: str) -> bool:
    """A PointLens result (HDF5 with the result marker), as opposed to a dataset file."""
    if not path.lower().endswith((".h5", ".hdf5")):
        return False
    try:
        import h5py

        from engine import RESULT_FORMAT as FORMAT
        from engine import check_input

        # Only the root's attributes are read (they follow no link), so the full content check
        # is left to the reader that opens the file next; a FIFO must not be opened at all.
        with h5py.File(check_input(path, "result"), "r") as f:
            return f.attrs.get("format") == FORMAT
    except Exception:  # not readable here: let the dataset reader report it properly
        return False


def _scrolled(widget) -> QScrollArea:
    """Panels scroll instead of being cut when the window is short; they are never cut or
    scrolled sideways: a form row too wide for the dock puts its field under its label."""
    for form in widget.findChildren(QFormLayout):
        form.setRowWrapPolicy(QFormLayout.WrapLongRows)
    area = QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
    return area


class _DeviceBox(QComboBox):
    """Lists devices on first use (listing imports torch, which the GUI never waits for)."""

    def __init__(self, on_open):
        super().__init__()
        self._on_open = on_open

    def showPopup(self):
        self._on_open()
        super().showPopup()


class MainWindow(WindowScreenshots, QMainWindow):
    sample_drawn = Signal()        # first frame with a sample
    prediction_shown = Signal()    # first inspect result drawn

    def __init__(self, data: str | None = None, checkpoint: str | None = None, settings: Settings | None = None,
                 client: EngineClient | None = None, session: Session | None = None):
        """``client``/``session``: made by the caller when it started opening the dataset early
        (app.main does, so the engine reads data while VTK is still importing)."""
        super().__init__()
        self.t0 = time.perf_counter()
        self.settings = settings or Settings()
        self.setWindowTitle("PointLens")
        self.setAcceptDrops(True)
        self.client = client or EngineClient(self)
        self.session = session or Session(self.client, Scene())
        self.scene = self.session.scene
        self.error_dialogs: list[QMessageBox] = []
        self._closing = False
        self._first_sample = False
        self._first_prediction = False
        self._pending_checkpoint = None
        self._devices_queried = False

        # The engine thread starts reading the dataset while the widgets are being built.
        data = data or self.settings.get("data/last_dataset") or "builtin"
        self._pending_checkpoint = checkpoint if checkpoint is not None else self.settings.get("model/checkpoint")
        if session is None or not (session.opening or session.datasets):
            if is_result_file(data):   # `pointlens RESULT.h5`, pl.show(result): it opens over the last data
                self.session.open_dataset(self.settings.get("data/last_dataset") or "builtin")
                self.session.open_result(data)
            else:
                self.session.open_dataset(data)

        up = self.settings.get("layout/up_axis")
        self.viewports = ViewportGrid(self.scene, self, up_axis="z" if up == "auto" else up)
        self.setCentralWidget(self.viewports)
        self.log_view = LogView()
        self.plots = PlotsDock()
        self.jobs = JobsView(self.client)
        self.browser = DataBrowser(self.session)
        self.layers = LayersPanel(self.scene)
        self.ctx = PanelContext(self.session, self.scene, self.viewports, self.plots, log.info, self.settings)
        self.tabs = MethodTabs()       # a QTabWidget; its names show as wrapping buttons (method_tabs)
        self.method_panels = []
        self._tab_panels: list = []           # tab index -> method panel (None: the Layers tab)
        self._stage_views: dict = {}          # stage -> the viewport count it last used
        classes, errors = panels.load_method_panels()
        for cls in classes:
            try:
                panel = cls(self.ctx)
            except Exception as e:  # noqa: BLE001 - a broken panel is reported, the app goes on
                errors.append(f"panel '{getattr(cls, 'name', cls)}' failed to start: {type(e).__name__}: {e}")
                continue
            self.method_panels.append(panel)
            self._tab_panels.append(panel)
            self.tabs.addTab(_scrolled(panel), panel.title)
        self._tab_panels.append(None)
        self.tabs.addTab(_scrolled(self.layers), "Layers")
        self.tabs.currentChanged.connect(self._tab_changed)
        if self.method_panels:
            self.scene.set_stage(self.method_panels[0].name)
        for e in errors:
            log.error(e)

        self._docks()
        self._toolbar()
        self._menus()
        self.extensions = extensions.install_all(self)
        self.status = QLabel("")
        self.statusBar().addWidget(self.status, 1)
        self.log_button = QToolButton()
        self.log_button.setDefaultAction(self.log_dock.toggleViewAction())
        self.log_button.setAutoRaise(True)
        self.statusBar().addPermanentWidget(self.log_button)
        self.jobs_indicator = JobsIndicator(self.jobs, self.jobs_dock,
                                            lambda dock, h: self.resizeDocks([dock], [h], Qt.Vertical))
        self.statusBar().addPermanentWidget(self.jobs_indicator)

        self.session.listen(self._on_session)
        self.browser.sample_chosen.connect(self.session.select_sample)
        self.browser.open_requested.connect(self.open_dataset_dialog)
        self.browser.predict_requested.connect(lambda split: self.session.predict_split(split))
        self.client.job_failed.connect(self._job_failed)
        self.viewports.first_frame.connect(self._first_frame)
        self.viewports.picked.connect(self._picked)
        self._restore()
        log.info("PointLens started; opening %s", data)
        self._mark("window built")

    # ---- building ------------------------------------------------------------------------------
    def _dock(self, title: str, widget, area, name: str) -> QDockWidget:
        d = QDockWidget(title, self)
        d.setObjectName(name)
        d.setWidget(widget)
        self.addDockWidget(area, d)
        return d

    def _docks(self) -> None:
        self.browser_dock = self._dock("Data", self.browser, Qt.LeftDockWidgetArea, "data")
        self.methods_pane, self.method_switcher = methods_pane(self.tabs)
        self.panels_dock = self._dock("Methods", self.methods_pane, Qt.RightDockWidgetArea, "methods")
        # The side docks run the full height and the bottom ones sit under the views only: a
        # Plots or Jobs dock appearing mid-run then resizes the views alone, not the method
        # panel and the data browser too (each a 20-40 ms repaint on software rendering).
        self.setCorner(Qt.BottomLeftCorner, Qt.LeftDockWidgetArea)
        self.setCorner(Qt.BottomRightCorner, Qt.RightDockWidgetArea)
        self.jobs_dock = self._dock("Jobs", self.jobs, Qt.BottomDockWidgetArea, "jobs")
        self.log_dock = self._dock("Log", self.log_view, Qt.BottomDockWidgetArea, "log")
        self.plots_dock = self._dock("Plots", self.plots, Qt.BottomDockWidgetArea, "plots")
        self.tabifyDockWidget(self.jobs_dock, self.log_dock)
        self.tabifyDockWidget(self.log_dock, self.plots_dock)
        # Nothing below the views until there is something to show: the Jobs dock opens when a
        # job runs or fails (JobsIndicator), the Plots dock with the first plot, the Log from
        # View > Log or the status bar.
        for d in (self.jobs_dock, self.log_dock, self.plots_dock):
            d.hide()
        self.resizeDocks([self.browser_dock, self.panels_dock], [DATA_WIDTH, METHODS_WIDTH], Qt.Horizontal)

    def _toolbar(self) -> None:
        tb = QToolBar("View")
        tb.setObjectName("view-toolbar")
        self.addToolBar(tb)
        group = QActionGroup(self)
        self.layout_actions = {}
        for n, text in ((1, "1 view"), (2, "2 views"), (4, "2×2")):
            a = QAction(text, self, checkable=True)
            a.triggered.connect(lambda _=False, n=n: self.set_layout(n))
            group.addAction(a)
            tb.addAction(a)
            self.layout_actions[n] = a
        tb.addSeparator()
        self.link_action = QAction("Link cameras", self, checkable=True)
        self.link_action.setToolTip("All viewports share one camera")
        self.link_action.toggled.connect(self.set_linked)
        tb.addAction(self.link_action)
        for preset in ("iso", "+x", "-x", "+y", "-y", "+z", "-z"):
            a = QAction(preset, self)
            a.setToolTip(f"Look from {preset}" if preset != "iso" else "Isometric view")
            a.triggered.connect(lambda _=False, p=preset: self.viewports.set_view(p))
            tb.addAction(a)
        reset = QAction("Reset", self)
        reset.setToolTip("Reset the camera (isometric, fit all)")
        reset.triggered.connect(lambda: self.viewports.reset_camera())
        tb.addAction(reset)
        self.parallel_action = QAction("Parallel", self, checkable=True)
        self.parallel_action.setToolTip("Parallel (orthographic) projection instead of perspective")
        self.parallel_action.toggled.connect(self.set_parallel)
        tb.addAction(self.parallel_action)
        self.edl_action = QAction("Eye-dome lighting", self, checkable=True)
        self.edl_action.setToolTip("Eye-dome lighting: darken depth edges (best on dense clouds; slower on software GL)")
        self.edl_action.toggled.connect(self.set_edl)
        tb.addSeparator()
        tb.addWidget(QLabel(" device "))
        self.device_box = _DeviceBox(self._query_devices)
        self.device_box.addItem("cpu")
        self.device_box.setToolTip("Where models run (CUDA / MPS appear when present)")
        self.device_box.currentTextChanged.connect(self._device_chosen)
        tb.addWidget(self.device_box)

    def _menus(self) -> None:
        m = self.file_menu = self.menuBar().addMenu("&File")
        self._act(m, "Open dataset &file…", self.open_dataset_dialog, QKeySequence.Open)
        self._act(m, "Open dataset f&older…", self.open_folder_dialog)
        self._act(m, "Open &built-in dataset", lambda: self.open_path("builtin"))
        self.recent_menu = m.addMenu("Open &recent")
        self._fill_recent()
        m.addSeparator()
        self._act(m, "Open &checkpoint…", self.open_checkpoint_dialog)
        self._act(m, "Use the &demo PointNet", lambda: self.session.open_checkpoint("demo:pointnet"))
        m.addSeparator()
        self._act(m, "Open r&esult…", self.open_result_dialog)
        self._act(m, "&Save result…", self.save_result_dialog, QKeySequence.Save)
        m.addSeparator()
        self._act(m, "Screenshot of &viewport…", self.screenshot_viewport_dialog)
        self._act(m, "Screenshot of &window…", self.screenshot_window_dialog)
        self._act(m, "Export &figure…", lambda: export_figure.open_dialog(self))   # size, DPI, crop, PDF/SVG
        export_view.attach(m.addMenu("E&xport points of view"), self)   # PLY / VTP / NPZ / CSV
        self.transparent_action = QAction("Transparent background in viewport screenshots", self, checkable=True)
        self.transparent_action.setChecked(bool(self.settings.get("screenshot/transparent")))
        self.transparent_action.toggled.connect(lambda v: self.settings.set("screenshot/transparent", bool(v)))
        m.addAction(self.transparent_action)
        m.addSeparator()
        self._act(m, "&Quit", self.close, QKeySequence.Quit)
        self.edit_menu = self.menuBar().addMenu("&Edit")
        v = self.view_menu = self.menuBar().addMenu("&View")
        for n, a in self.layout_actions.items():
            v.addAction(a)
        v.addAction(self.link_action)
        v.addAction(self.parallel_action)
        v.addAction(self.edl_action)
        up = v.addMenu("Up axis")
        ups = QActionGroup(self)
        self.up_actions = {}
        for axis in ("auto", "x", "y", "z"):
            a = QAction(axis if axis != "auto" else "auto (from the dataset)", self, checkable=True)
            a.triggered.connect(lambda _=False, ax=axis: self.set_up_axis(ax))
            ups.addAction(a)
            up.addAction(a)
            self.up_actions[axis] = a
        self.up_actions[self.settings.get("layout/up_axis")].setChecked(True)
        v.addSeparator()
        self.extra_actions = sample_extras_menu.add_toggles(v, self.session.extras)   # surface, normals
        v.addSeparator()
        for dock in (self.browser_dock, self.panels_dock, self.jobs_dock, self.log_dock, self.plots_dock):
            v.addAction(dock.toggleViewAction())
        self.tools_menu = self.menuBar().addMenu("&Tools")
        h = self.help_menu = self.menuBar().addMenu("&Help")
        self._act(h, "About PointLens", self._about)

    def _act(self, menu, text, fn, shortcut=None) -> QAction:
        a = QAction(text, self)
        if shortcut is not None:
            a.setShortcut(shortcut)
        a.triggered.connect(lambda _=False: fn())
        menu.addAction(a)
        return a

    def _restore(self) -> None:
        s = self.settings
        geo, state = s.get("window/geometry"), s.get("window/state")
        if geo is None or not self.restoreGeometry(geo):
            self.resize(1500, 900)
        if state is not None:
            self.restoreState(state)
        self.jobs_indicator.update_now()     # no job runs yet: a saved layout's Jobs dock folds away
        self.set_layout(s.get("layout/viewports"))
        self.link_action.setChecked(s.get("layout/linked"))
        self.set_linked(s.get("layout/linked"))
        self.parallel_action.setChecked(s.get("layout/parallel"))
        self.edl_action.setChecked(s.get("view/eye_dome"))
        self.set_edl(s.get("view/eye_dome"))

    # ---- view settings --------------------------------------------------------------------------
    # ---- stages: each method panel shows only its own layers ------------------------------------
    def _panel_at(self, index: int):
        return self._tab_panels[index] if 0 <= index < len(self._tab_panels) else None

    def _tab_changed(self, index: int) -> None:
        panel = self._panel_at(index)
        if panel is not None:          # the Layers tab keeps the stage it was opened on
            self.show_stage(panel.name)

    def current_panel_stage(self) -> str | None:
        panel = self._panel_at(self.tabs.currentIndex())
        return panel.name if panel is not None else self.scene.stage

    def show_stage(self, stage: str | None, empty: bool = False) -> None:
        """Show ``stage``'s layers (hiding, not removing, the others') with the viewport count it
        last used; ``empty`` starts it without the shared sample cloud (demo, presenter)."""
        self._stage_views[self.scene.stage] = self.viewports.count
        self.scene.set_stage(stage, empty=empty)
        n = self._stage_views.get(stage)
        if n and n != self.viewports.count:
            self.set_layout(n)

    def set_layout(self, n: int) -> None:
        self.viewports.set_layout(n)
        self.layout_actions.get(self.viewports.count, self.layout_actions[1]).setChecked(True)
        self.settings.set("layout/viewports", self.viewports.count)

    def set_linked(self, on: bool) -> None:
        self.viewports.set_linked(bool(on))
        self.settings.set("layout/linked", bool(on))

    def set_edl(self, on: bool) -> None:
        self.viewports.set_edl(bool(on))
        self.settings.set("view/eye_dome", bool(on))

    def set_parallel(self, on: bool) -> None:
        self.viewports.set_parallel(bool(on))
        self.settings.set("layout/parallel", bool(on))

    def set_up_axis(self, axis: str) -> None:
        self.settings.set("layout/up_axis", axis)
        if axis == "auto":
            info = self.session.current
            axis = str(info.info.get("up_axis", "z")) if info else "z"
        self.viewports.set_up_axis(axis)

    def _device_chosen(self, name: str) -> None:
        if name:
            self.settings.set("model/device", name)
            self.session.set_device(name)

    # ---- session events -----------------------------------------------------------------------
    def _on_session(self, event: str, payload) -> None:
        self.browser.on_session(event, payload)
        for p in self.method_panels:
            try:
                p.on_session(event, payload)
            except Exception:   # a panel bug must not stop the others
                log.exception("panel %s failed on event %s", p.name, event)
        if event == "status":
            self.status.setText(payload)
            log.info(payload)
        elif event == "error":
            log.error(payload)
            self.status.setText(payload.splitlines()[0][:200])
        elif event == "sample" and not self._first_sample:
            self._mark("sample loaded")
        elif event == "dataset":
            self._mark("dataset opened")
            self.setWindowTitle(f"PointLens — {payload.spec}")
            if self.settings.get("layout/up_axis") == "auto":
                self.viewports.set_up_axis(str(payload.info.get("up_axis", "z")))
            self.settings.set("data/last_dataset", payload.spec)
            if not payload.spec.startswith("builtin"):
                self.settings.add_recent(payload.spec)
                self._fill_recent()
        elif event == "checkpoint" and payload is not None:
            self.settings.set("model/checkpoint", payload.spec)
            self._query_devices()   # torch is loaded now, so listing devices costs nothing
            if "pyqtgraph" not in sys.modules:    # imported at the first run, it froze it ~0.5 s
                QTimer.singleShot(300, lambda: importlib.import_module("pyqtgraph"))
        elif event == "devices":
            self.device_box.blockSignals(True)
            self.device_box.clear()
            self.device_box.addItems(payload)
            want = self.settings.get("model/device")
            self.device_box.setCurrentText(want if want in payload else "cpu")
            self.device_box.blockSignals(False)
            self._device_chosen(self.device_box.currentText())
        elif event == "result":
            title, res = payload
            if res.kind == "inspect" and not self._first_prediction:
                self._first_prediction = True
                self._mark("first prediction")
                QTimer.singleShot(0, self.prediction_shown.emit)

    def _query_devices(self) -> None:
        if not self._devices_queried:
            self._devices_queried = True
            self.session.query_devices()

    def _first_frame(self) -> None:
        if self._first_sample:
            return
        self._first_sample = True
        self._mark("first frame")
        self.sample_drawn.emit()
        # Only now start the model (torch import takes seconds and competes with drawing).
        spec = self._pending_checkpoint
        self._pending_checkpoint = None
        if spec and spec.lower() != "none":
            self.session.open_checkpoint(spec, quiet=True)

    def _mark(self, what: str) -> None:
        log.info("%s after %.2f s (window created at %.2f s of process time)", what,
                 time.perf_counter() - self.t0, time.process_time())
        if os.environ.get("POINTLENS_TIMING"):
            # torch=... lets tests check that the GUI path did not import torch before this point
            print(f"pointlens-timing {what} {time.time():.3f} torch={'torch' in sys.modules}", flush=True)

    def _picked(self, info) -> None:
        if info is None:
            self.status.setText("no point there")
            return
        vals = ", ".join(f"{k} = {v}" for k, v in info["scalars"].items())
        x, y, z = info["xyz"]
        self.status.setText(f"{info['layer']} point {info['index']:,}: ({x:.4f}, {y:.4f}, {z:.4f})"
                            + (f"; {vals}" if vals else ""))

    def _job_failed(self, handle) -> None:
        if not self._closing:
            self.show_error(f"{handle.name} failed", handle.error or "unknown error")

    def show_error(self, title: str, text: str) -> QMessageBox:
        box = QMessageBox(QMessageBox.Warning, title, text, QMessageBox.Ok, self)
        box.setModal(False)
        box.finished.connect(lambda _=0, b=box: self.error_dialogs.remove(b) if b in self.error_dialogs else None)
        self.error_dialogs.append(box)
        box.show()
        return box

    def _about(self) -> None:
        from .bundle_info import bundle_lacks   # a light installer says what it left out

        QMessageBox.about(self, "PointLens", "\n\n".join(filter(None, (
            "PointLens — a workbench for studying deep point-cloud models.", bundle_lacks()))))

    # ---- opening ---------------------------------------------------------------------------------
    def open_path(self, path: str) -> None:
        """Open whatever a path is: checkpoint, result or dataset."""
        if path.lower().endswith(CHECKPOINT_SUFFIXES):
            self.session.open_checkpoint(path)
        elif is_result_file(path):
            self.session.open_result(path)
        else:
            self.session.open_dataset(path)

    def open_dataset_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a dataset or point-cloud file", "", DATA_FILTER)
        if path:
            self.open_path(path)

    def open_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a dataset folder")
        if path:
            self.session.open_dataset(path)

    def open_checkpoint_dialog(self) -> None:
        from .checkpoint_dialog import open_dialog   # path, and the model / classes where needed

        open_dialog(self)

    def open_result_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a result", "", "PointLens results (*.h5);;All files (*)")
        if path:
            self.session.open_result(path)

    def save_result_dialog(self) -> None:
        res = self.session.last_result
        if res is None:
            self.show_error("Nothing to save", "There is no result yet: run a method (e.g. Inspect) first.")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save result", f"{res.kind}.h5", "PointLens results (*.h5)")
        if path:
            self.session.save_result(path if path.endswith(".h5") else path + ".h5")

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        recent = self.settings.get("data/recent")
        for spec in recent:
            a = QAction(spec, self)
            a.triggered.connect(lambda _=False, s=spec: self.open_path(s))
            self.recent_menu.addAction(a)
        self.recent_menu.setEnabled(bool(recent))

    def dragEnterEvent(self, ev) -> None:
        if ev.mimeData().hasUrls():
            ev.acceptProposedAction()

    def dropEvent(self, ev) -> None:
        for url in ev.mimeData().urls():
            if url.isLocalFile():
                self.open_path(url.toLocalFile())
        ev.acceptProposedAction()

    # ---- closing ------------------------------------------------------------------------------------
    def closeEvent(self, ev) -> None:
        self._closing = True
        s = self.settings
        s.set("window/geometry", self.saveGeometry())
        s.set("window/state", self.saveState())
        s.sync()
        if not self.client.shutdown(timeout=5.0):
            log.error("the engine thread did not stop within 5 s")
        self.log_view.detach()
        self.viewports.shutdown()
        for b in list(self.error_dialogs):
            b.close()
        super().closeEvent(ev)
