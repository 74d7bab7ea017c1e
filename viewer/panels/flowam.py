"""The Flow AM panel (issue 5, Viewer): a global explanation of one class, watched live.

Class, method (flow | vanilla | l2 | blur | tv), beta, steps, points; Run / Cancel. While the
optimiser runs, each ``Progress.preview`` moves the cloud in the viewport IN PLACE (same actor,
new coordinates) and appends the loss terms to a live plot. When it ends, a timeline slider
scrubs the Result's ``history`` (every recorded step); the final cloud can be exported as PLY
(a small ASCII writer, written atomically) or the whole Result saved as HDF5.

Engine method: ``flowam`` (the model is the open checkpoint, the data the open dataset).
Analyses opened from here: the five-method compare view (flowam_compare), the activation-flow
plot of ``flow-layers`` (flowam_flow) and the sanity strip of ``flowam-sanity`` (flowam_sanity).
The timeline slider is named ``flowam.replay`` (the movie recorder sweeps it); "Export replay
movie…" opens Tools > Record movie preset to that replay (one frame per recorded step), and
``record_replay(path)`` records it straight to a file (MP4 or GIF) without the dialog.
"""
from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QLabel,
                               QLineEdit, QPushButton, QSlider, QSpinBox, QVBoxLayout)

from engine import describe
from engine.specs.flowam import FLOWAM, METHOD_CHOICES

from ..scene import PointsLayer, Scalar
from .base import MethodPanel, button_row, show_views
from .focus import hide_others
from .flowam_text import nearest_class_text
from .flowam_loss_plot import start_run as start_loss_plot

METHODS = METHOD_CHOICES        # flow and the paper's baselines, as the spec declares them
FIELDS = {d["name"]: d for d in describe(FLOWAM.params)}    # ranges, defaults and help: the spec's
LAYER = "flowam.cloud"
REAL_LAYER = "flowam.real_example"
PLOT_EVERY_S = 0.25             # the live loss plot redraws at most this often (s)
CLOUD_AFTER_PLOT_MS = 30        # a preview that redraws the plot moves the cloud this much later
NOT_READY = "Open a classifier (File > Open checkpoint) and a dataset."
TERM_NAMES = {"total": "total L", "am": "L_AM (activation)", "la": "L_LA (latent alignment)",
              "c": "L_C (continuity)", "lr": "L_LR (legal restriction)"}


def write_ply(path: str, points: np.ndarray) -> None:
    """ASCII PLY with x, y, z vertices; written to a temp file and renamed (atomic)."""
    from engine import atomic_path

    pts = np.asarray(points, np.float64).reshape(-1, 3)
    header = ("ply\nformat ascii 1.0\ncomment PointLens Flow AM explanation\n"
              f"element vertex {len(pts)}\nproperty float x\nproperty float y\nproperty float z\nend_header\n")
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="ascii") as f:
            f.write(header)
            np.savetxt(f, pts, fmt="%.7g")


def _spin(box, name: str):
    """A spin box with the range, default and help of the spec's parameter ``name``."""
    d = FIELDS[name]
    box.setRange(d["lo"], d["hi"])
    box.setValue(d["default"])
    box.setToolTip(d["help"])
    return box


class FlowAMPanel(MethodPanel):
    name = "flowam"
    title = "Flow AM"
    METHOD = "flowam"

    def __init__(self, ctx, parent=None):
        super().__init__(ctx, parent)
        self.result = None
        self.handle = None
        self.previews = 0                 # previews drawn (tests: the cloud moved live)
        self.curves: dict[str, tuple[list, list]] = {}
        self._plotted_at = -PLOT_EVERY_S  # when the live loss plot was last redrawn (monotonic s)
        self._planned_steps: int | None = None
        self._pending_cloud: tuple[np.ndarray, str] | None = None   # newest preview cloud not yet drawn
        self._showing = None              # the result being drawn (``result`` once complete)
        self.extra_params: dict = {}      # other flowam parameters (tests use small statistics)

        self.cls = QComboBox()
        self.cls.setToolTip("the class to explain")
        self.method = QComboBox()
        self.method.addItems(list(METHODS))
        self.method.setCurrentText(FIELDS["method"]["default"])
        self.method.setToolTip(FIELDS["method"]["help"])
        self.beta = _spin(QDoubleSpinBox(), "beta")
        self.beta.setSingleStep(0.05)
        self.steps = _spin(QSpinBox(), "steps")
        self.points = _spin(QSpinBox(), "points")
        self.layer_weights = QLineEdit()
        self.layer_weights.setPlaceholderText("auto: the model's own layers")
        self.layer_weights.setToolTip("L_LA " + FIELDS["layer_weights"]["help"] + "; empty = auto (a result records "
                                      "the layers it used in its metrics).")
        self.run_btn = QPushButton("Run")
        self.pause_btn = QPushButton("Pause")
        self.pause_btn.setToolTip("hold the optimisation at its current step (the engine waits); again to go on")
        self.cancel_btn = QPushButton("Cancel")
        self.status = QLabel(NOT_READY)
        self.status.setWordWrap(True)
        self.timeline = QSlider(Qt.Horizontal)
        self.timeline.setEnabled(False)
        self.timeline.setToolTip("scrub the optimisation: the cloud at each recorded step")
        self.timeline.setObjectName("flowam.replay")         # the movie recorder finds it by name
        self.timeline.setAccessibleName("Flow AM replay")
        self.step_label = QLabel("step –")
        self.export_btn = QPushButton("Export PLY…")
        self.save_btn = QPushButton("Save result (HDF5)…")
        self.movie_btn = QPushButton("Export replay movie…")
        self.movie_btn.setToolTip("the run as a movie (MP4 or GIF): one frame per recorded step of the timeline")
        self.movie_dialog = None          # the last Record movie dialog opened from here
        from .flowam_flow import FlowLayersRunner

        self.compare = None               # CompareView, built on first use
        self.sanity = None                # SanityStrip, built on first use
        self.flow = FlowLayersRunner(self)
        self.compare_btn = QPushButton("Compare 5 methods…")
        self.compare_btn.setToolTip("vanilla, L2, blur, TV and Flow AM for this class side by side, "
                                    "with the paper's Table I metrics")
        self.flow_btn = QPushButton("Activation flow")
        self.flow_btn.setToolTip("per-layer cosine similarity of activations (paper Fig. 2), in the Plots dock")
        self.sanity_btn = QPushButton("Sanity check…")
        self.sanity_btn.setToolTip("Flow AM under parameter dropout 0-50 % and with each loss term removed")

        form = QFormLayout()
        form.addRow("class", self.cls)
        form.addRow("method", self.method)
        form.addRow("beta", self.beta)
        form.addRow("steps", self.steps)
        form.addRow("points", self.points)
        form.addRow("layer weights", self.layer_weights)
        row = button_row(self.run_btn, self.pause_btn, self.cancel_btn)     # rows wrap in a narrow dock
        ex = button_row(self.export_btn, self.save_btn)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addLayout(row)
        lay.addWidget(self.status)
        lay.addWidget(QLabel("timeline"))
        lay.addWidget(self.timeline)
        lay.addWidget(self.step_label)
        lay.addLayout(ex)
        lay.addWidget(self.movie_btn)
        analyses = QLabel("analyses (same class, steps and points)")
        analyses.setWordWrap(True)
        lay.addWidget(analyses)
        lay.addLayout(button_row(self.compare_btn, self.sanity_btn, self.flow_btn))
        lay.addStretch(1)

        self.run_btn.clicked.connect(self.run)
        self.cancel_btn.clicked.connect(self.cancel)
        self.pause_btn.clicked.connect(self.toggle_pause)
        self.method.currentTextChanged.connect(lambda m: self.beta.setEnabled(m == "flow"))
        self.timeline.valueChanged.connect(self.show_frame)
        self.export_btn.clicked.connect(self._export_clicked)
        self.save_btn.clicked.connect(self._save_clicked)
        self.movie_btn.clicked.connect(lambda: self.open_movie_dialog())
        self.compare_btn.clicked.connect(lambda: self.open_compare())    # not clicked(bool) as `run`
        self.flow_btn.clicked.connect(lambda: self.flow.start())
        self.sanity_btn.clicked.connect(lambda: self.open_sanity())
        self._update_buttons()

    # ---- session -----------------------------------------------------------------------------
    def on_session(self, event: str, payload) -> None:
        if event in ("dataset", "checkpoint", "sample"):
            self._fill_classes()
        self._update_buttons()

    def _fill_classes(self) -> None:
        ck = self.session.checkpoint
        names = list(ck.classes) if ck is not None and ck.classes else (
            list(self.session.current.classes) if self.session.current is not None else [])
        if names == [self.cls.itemText(i) for i in range(self.cls.count())]:
            return
        keep = self.cls.currentText()
        self.cls.clear()
        self.cls.addItems(names)
        if keep in names:
            self.cls.setCurrentText(keep)

    def _running(self) -> bool:
        return self.handle is not None and not getattr(self.handle, "finished", False)

    def _update_buttons(self) -> None:
        ready = self.session.checkpoint is not None and self.session.current is not None and self.cls.count() > 0
        self.run_btn.setEnabled(ready)
        self.cancel_btn.setEnabled(self.handle is not None)
        self.pause_btn.setEnabled(self.handle is not None)
        self.pause_btn.setText("Resume" if self.handle is not None and self.handle.paused else "Pause")
        has = self.result is not None
        self.export_btn.setEnabled(has)
        self.save_btn.setEnabled(has)
        self.movie_btn.setEnabled(has and self.timeline.maximum() > self.timeline.minimum())
        for b in (self.compare_btn, self.flow_btn, self.sanity_btn):
            b.setEnabled(ready)
        for view in (self.compare, self.sanity):
            if view is not None:
                view._update_buttons()
        if not ready:
            self.status.setText(NOT_READY)
        elif self.status.text() == NOT_READY:
            self.status.setText("Ready: pick a class and a method, then Run (or an analysis below).")

    # ---- run ---------------------------------------------------------------------------------
    def params(self) -> dict:
        out = {"method": self.method.currentText(), "beta": float(self.beta.value()),
               "steps": int(self.steps.value()), "points": int(self.points.value())}
        if self.layer_weights.text().strip():       # the engine checks it (one message if wrong)
            out["layer_weights"] = self.layer_weights.text().strip()
        return {**out, **self.extra_params}

    def toggle_pause(self) -> None:
        """Pause holds the run at its current step (the cloud and the timeline stay as they are);
        Resume goes on from there."""
        if self.handle is None:
            return
        if self.handle.paused:
            self.handle.resume()
            self.status.setText("running…")
        else:
            self.handle.pause()
            self.status.setText("paused: Resume goes on from this step; Cancel stops")
        self._update_buttons()

    def run(self):
        ds = self.session.current
        if ds is None or self.session.checkpoint is None or not self.cls.currentText():
            return None
        cls = self.cls.currentText()
        self.curves = {}
        self.previews = 0
        self._plotted_at = -PLOT_EVERY_S      # the first losses are drawn at once
        self._planned_steps = int(self.params()["steps"])    # the live plot's x axis spans the run
        self.result = self._showing = None
        self.timeline.setEnabled(False)
        self.status.setText(f"explaining '{cls}'…")
        start_loss_plot(self.plots, f"Flow AM losses · {cls}")

        def done(res) -> None:
            self.handle = None
            self.show_result(res)

        def failed(msg) -> None:
            self.handle = None
            self.failed(self.status, "Flow AM", msg)   # on_error replaces the window's dialog: this raises one
            self._update_buttons()

        self.handle = self.run_method(self.METHOD, {"data": ds.spec, "target": cls}, self.params(),
                                      target="flowam.run", name=f"Flow AM {cls}", on_result=done,
                                      on_progress=self.on_progress, on_error=failed)
        self._update_buttons()
        return self.handle

    # ---- analyses (their own windows / the Plots dock) -------------------------------------------
    def open_compare(self, run: bool = True):
        """Show the compare window (built once) and run the five methods; returns the view."""
        from .flowam_compare import CompareView

        if self.compare is None:
            self.compare = CompareView(self, self)
            self.compare.resize(1230, 600)
        self.compare.show()
        self.compare.raise_()
        if run:
            self.compare.start()
        return self.compare

    def open_sanity(self, run: bool = True):
        from .flowam_sanity import SanityStrip

        if self.sanity is None:
            self.sanity = SanityStrip(self, self)
            self.sanity.resize(1450, 760)
        self.sanity.show()
        self.sanity.raise_()
        if run:
            self.sanity.start()
        return self.sanity

    def cancel(self) -> None:
        if self.handle is not None:
            self.session.client.cancel(self.handle)
            self.handle = None
            self.status.setText("cancelled")
        self._update_buttons()

    def on_progress(self, prog) -> None:
        if self.handle is None:          # a preview already queued when the job was cancelled
            return
        pv = prog.preview or {}
        plotted = False
        if "losses" in pv:
            step = int(pv.get("step", 0))
            for k, v in pv["losses"].items():
                xs, ys = self.curves.setdefault(k, ([], []))
                xs.append(step)
                ys.append(float(v))
            # The plot follows a few times a second, not every step: redrawing it (curves, axes,
            # the legend's scales) took ~25 ms of the GUI thread per preview, which on top of the
            # cloud's own frame left the GUI unresponsive for 90-140 ms at a time (make bench).
            # Every value is kept; the result redraws the whole history.
            # The status line follows at the same pace: a new text in the word-wrapped label
            # re-lays the whole panel out (~8 ms a step).
            now = time.monotonic()
            if now - self._plotted_at >= PLOT_EVERY_S:
                self._plotted_at = now
                self._plot_curves(x_max=self._planned_steps)
                self.status.setText(prog.message)
                plotted = True
        else:
            self.status.setText(prog.message)
        if "points" in pv:
            self._pending_cloud = (np.asarray(pv["points"], np.float32), f"Flow AM · step {int(pv.get('step', 0))}")
            if plotted:
                # The plot's redraw and the cloud's frame (~20 ms each on software GL) in one turn
                # of the event loop added up to a 50-60 ms stall: the cloud follows a moment later.
                QTimer.singleShot(CLOUD_AFTER_PLOT_MS, self._draw_pending_cloud)
            else:
                self._draw_pending_cloud()

    def _draw_pending_cloud(self) -> None:
        """Draw the newest preview cloud not drawn yet (none once the job has ended: the result
        draws the final cloud)."""
        if self._pending_cloud is None or self.handle is None:
            return
        pts, title = self._pending_cloud
        self._pending_cloud = None
        self.draw_cloud(pts, title)
        self.previews += 1

    def draw_cloud(self, pts: np.ndarray, title: str) -> None:
        """Move the cloud: in place when the layer exists with as many points (no new actor)."""
        if LAYER in self.scene and self.scene.get(LAYER).n == len(pts):
            self.scene.update_points(LAYER, points=pts)
            self.scene.set_style(LAYER, title=title)
        else:
            hide_others(self.scene, "flowam.", (0,))
            z = Scalar(pts[:, 2].copy(), title="height z", normalisation="raw coordinate")
            self.scene.add(PointsLayer(LAYER, points=pts, scalars={"z": z}, active=None, color="#0072B2",
                                       point_size=6.0, style="spheres", title=title))

    def draw_real_example(self, arrays, metrics: dict) -> None:
        """A real object of the target class in the second view, so a reader judges the
        explanation against the class it should look like (results without one: nothing)."""
        reals = arrays.get("real_examples")
        if reals is None or len(reals) == 0:
            return
        show_views(self.window(), self.scene, 2)     # the explanation and the real object, nothing beside
        hide_others(self.scene, "flowam.", (1,))
        pts = np.asarray(reals[0], np.float32)
        if REAL_LAYER in self.scene:
            self.scene.remove(REAL_LAYER)
        self.scene.add(PointsLayer(REAL_LAYER, points=pts, view=1, color="#7f7f7f", point_size=6.0,
                                   style="spheres", pickable=False,
                                   title=f"a real {metrics.get('class', '')} (reference split), for comparison"))
        # Both views fitted from the same preset: linked cameras share a direction, not a
        # distance, and view 1 kept the zoom of the sample it showed before (the real object
        # came out at half the explanation's size although both span the same box).
        self.ctx.viewports.reset_camera()

    def _plot_curves(self, x_max: float | None = None) -> None:
        from .. import colormaps
        from .flowam_loss_plot import plot_losses

        plot_losses(self.plots, self.curves, TERM_NAMES, colormaps.categorical_colors(len(TERM_NAMES)), x_max=x_max)

    def show_result(self, res) -> None:
        """Draw a finished run in three turns of the event loop, CLOUD_AFTER_PLOT_MS apart: the
        final cloud and the timeline; the loss history and the status; the real object of the
        class. All at once (a frame of the views, the plot's redraw, the panel re-laid out for
        the status, a new layer and a frame of two views) held the GUI 60-70 ms at the end of
        every run (make bench). ``result`` is set, and the buttons that use it come on, once
        all three are drawn."""
        self._showing = res
        m = res.metrics
        self.session.add_result(f"flowam {m.get('class', '')} ({m.get('method', '')})", res, show=False)
        steps = np.asarray(res.arrays["history_steps"])
        self.timeline.blockSignals(True)
        self.timeline.setRange(0, len(steps) - 1)
        self.timeline.setValue(len(steps) - 1)
        self.timeline.blockSignals(False)
        self.timeline.setEnabled(True)
        self.draw_cloud(np.asarray(res.arrays["points"], np.float32), f"Flow AM · {m.get('class', '')} · final")
        self.step_label.setText(f"step {int(steps[-1])} of {int(steps[-1])} (final)")
        self._update_buttons()
        QTimer.singleShot(CLOUD_AFTER_PLOT_MS, lambda r=res: self._result_plot_and_text(r))

    def _result_plot_and_text(self, res) -> None:
        if self._showing is not res:       # a new run began in between
            return
        m, a = res.metrics, res.arrays
        steps = np.asarray(a["history_steps"])
        # the recorded history replaces the (thinner) live curves
        self.curves = {k[5:]: (steps.tolist(), np.asarray(v, float).tolist()) for k, v in a.items()
                       if k.startswith("loss_")}
        self._plot_curves(x_max=float(steps[-1]) if len(steps) else None)
        self.status.setText(f"'{m.get('class')}' ({m.get('method')}): predicted <b>{m.get('predicted')}</b>, "
                            f"softmax {float(m.get('softmax', float('nan'))):.3f}, logit {float(m.get('logit', 0)):.2f}; "
                            f"Chamfer to real {float(m.get('chamfer', float('nan'))):.4f}; "
                            f"{nearest_class_text(m)}; "
                            f"legal {100 * float(m.get('legality', float('nan'))):.0f} %; "
                            f"{float(m.get('seconds', 0)):.1f} s")
        QTimer.singleShot(CLOUD_AFTER_PLOT_MS, lambda r=res: self._complete_result(r))

    def _complete_result(self, res) -> None:
        if self._showing is not res:
            return
        self.draw_real_example(res.arrays, res.metrics)
        self.result = res
        self._update_buttons()

    def show_frame(self, i: int) -> None:
        if self.result is None:
            return
        a = self.result.arrays
        steps = np.asarray(a["history_steps"])
        i = int(np.clip(i, 0, len(steps) - 1))
        self.draw_cloud(np.asarray(a["history"][i], np.float32), f"Flow AM · step {int(steps[i])}")
        self.step_label.setText(f"step {int(steps[i])} of {int(steps[-1])}")

    # ---- export ------------------------------------------------------------------------------
    def _export_clicked(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export Flow AM cloud", "flowam.ply", "PLY (*.ply)")
        if path:
            self.export_ply(path)

    def export_ply(self, path: str) -> None:
        if self.result is None:
            return
        write_ply(path, self.result.arrays["points"])
        self.log(f"exported the Flow AM cloud to {path}")

    # ---- replay movie ------------------------------------------------------------------------------
    def _movies(self):
        """The window's movie feature (Tools > Record movie), or None outside a main window."""
        ext = getattr(self.window(), "extensions", None) or {}
        return ext.get("movie_dialog")

    def _movie_name(self) -> str:
        m = self.result.metrics if self.result is not None else {}
        cls = "".join(c if c.isalnum() or c in "-_" else "_" for c in str(m.get("class", "class")))
        return f"flowam_{cls}_{m.get('method', 'flow')}.gif"

    def open_movie_dialog(self):
        """Tools > Record movie, preset to the Flow AM replay (source, slider, all recorded steps,
        a GIF in the dialog's default folder); returns the dialog."""
        import os

        from ..movie_dialog import SOURCES

        if self.result is None:
            return None
        movies = self._movies()
        if movies is None:       # a panel outside the main window: the recorder needs its viewports
            self.status.setText("movies are recorded from the main window (Tools > Record movie)")
            return None
        d = movies.dialog()
        d.source.setCurrentIndex([k for k, _ in SOURCES].index("replay"))
        d.path.setText(os.path.join(os.path.dirname(d.path.text()) or os.getcwd(), self._movie_name()))
        self.movie_dialog = d
        return d

    def record_replay(self, path: str, fps: float = 12.0, size: tuple[int, int] | None = None):
        """Record the replay to ``path`` now: every recorded step, in order, from viewport 1.
        Returns the MovieRecorder (it runs on the event loop); errors go to the window's dialog."""
        from engine import EngineError

        from ..movie import MovieSpec

        movies = self._movies()
        if self.result is None or movies is None:
            return None
        spec = MovieSpec(path=path, source="slider", view=0, frames=None, fps=float(fps), size=size,
                         slider=self.timeline, extra={"replay": "flowam"})
        try:
            return movies.record(spec)
        except EngineError as e:
            show = getattr(self.window(), "show_error", None)
            if callable(show):
                show("Movie not saved", str(e))
            else:
                self.status.setText(str(e))
            return None

    def _save_clicked(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save Flow AM result", "flowam.h5", "HDF5 (*.h5)")
        if path and self.result is not None:
            self.session.save_result(path, self.result)


PANEL = FlowAMPanel
