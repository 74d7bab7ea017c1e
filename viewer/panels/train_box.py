"""TrainBox: a reusable "train a model" group for method panels (PointMask, ParAE, SeRP, Mix).

The box runs the engine's "train" method (engine/training/train.py) on the session's current dataset
(builtin if none is open) through ``panel.run_method`` and draws LIVE CURVES in the Plots dock
tab ``f"{panel.name}.train"``: the training loss of every step (left axis) and the test accuracy
after every epoch (right axis, %). Self-supervised models have no accuracy: their mean training
loss per epoch is drawn on the loss axis instead (same units). The x axis is in epochs for both,
so a step's loss sits at its fractional epoch and lines up with the accuracy of that epoch.

The chosen model's ``cli_options`` (PointMask alpha/threshold, ParAE parts/eps, ...) become extra
fields. They are read from the model registry ON THE ENGINE THREAD (it imports torch; the GUI
thread never does) once per box, and only values changed from the model's default are sent as
``model_options``, so the model's own default applies otherwise.

When the job ends OK the box keeps the Result (``last_result``), hands it to the session
(``session.add_result``) and emits ``trained(path)`` with the checkpoint written.
"""
from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Sequence

import numpy as np
from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QGroupBox,
                               QHBoxLayout, QLabel, QLineEdit, QPushButton, QSpinBox, QToolButton, QWidget)

from engine import describe
from engine.specs.training import TrainParams

from ..work import Request
from .base import MethodPanel

# The fields shown, with the box's own defaults where they differ from the spec's (a small, quick
# network); ranges, defaults and help come from engine.specs.training.TrainParams (torch-free).
SHOWN = ("epochs", "width", "points", "batch_size", "lr", "seed", "limit")
BOX_DEFAULTS = {"width": 0.25}
LR_FLOOR = 1e-5          # the smallest step the learning-rate box shows (the spec's range is open at 0)


def _fields() -> dict:
    """{name: (kind, default, lo, hi, tooltip)} from the train spec."""
    out = {}
    for d in describe(TrainParams):
        if d["name"] not in SHOWN:
            continue
        kind = type(d["default"])
        lo = d["lo"] if d["lo"] is not None else 0
        if d.get("lo_open") and kind is float:
            lo = max(lo, LR_FLOOR)
        hi = d["hi"] if d["hi"] is not None else (10**9 if kind is int else 1e9)
        out[d["name"]] = (kind, BOX_DEFAULTS.get(d["name"], d["default"]), lo, hi, d.get("help") or d["name"])
    return {k: out[k] for k in SHOWN}


FIELDS = _fields()
LABELS = {"batch_size": "batch size", "lr": "learning rate", "limit": "limit per split"}


_HANDED_OUT: set[str] = set()


def default_out(model: str) -> str:
    """A new file under the user data dir: PointLens/checkpoints/<model>-<time>.safetensors
    (never one that exists or was already proposed: two runs in one second get -2, -3...)."""
    import platformdirs

    root = Path(platformdirs.user_data_dir("PointLens", appauthor=False)) / "checkpoints"
    stem = f"{model}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = root / f"{stem}.safetensors", 1
    while str(path) in _HANDED_OUT or path.exists():
        n += 1
        path = root / f"{stem}-{n}.safetensors"
    _HANDED_OUT.add(str(path))
    return str(path)


def model_options(models: Sequence[str]) -> dict:
    """Engine thread: {model: {option: (type name, default, help)}} from the model registry."""
    from engine import model_options as options

    return options(models)


def check_out_path(text: str) -> str:
    """'' if ``text`` can take a checkpoint, else what is wrong and what to do."""
    if not text.strip():
        return "the output path is empty: give a file to write the checkpoint to (…)."
    path = Path(text).expanduser()
    if path.is_dir():
        return f"output {path} is a folder: give a file name ending in .safetensors."
    if path.suffix != ".safetensors":
        return f"output {path} must end in .safetensors (the checkpoint format)."
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        return f"output {path}: cannot create the folder {parent} ({e.strerror or e}): choose another path."
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return f"cannot write to {path} (no permission): choose another output path."
    return ""


def _alive(widget) -> bool:
    """False once Qt deleted the widget: session events and job callbacks may still arrive."""
    import shiboken6

    return shiboken6.isValid(widget)


def _spin(kind, value, lo, hi, tip):
    w = QSpinBox() if kind is int else QDoubleSpinBox()
    if kind is float:
        w.setDecimals(5 if lo < 1e-3 else 4)   # lr: 0.00001 steps; width: 0.0625
        w.setSingleStep(1e-4 if lo < 1e-3 else 0.0625)
    w.setRange(lo, hi)
    w.setValue(value)
    w.setToolTip(tip)
    return w


class TrainBox(QGroupBox):
    trained = Signal(str)

    def __init__(self, panel: MethodPanel, models: Sequence[str], *, defaults: dict | None = None,
                 title: str = "Train a model", allow_init: bool = True, augment_choices: Sequence[str] = ()):
        super().__init__(title)
        self.panel, self.session, self.models = panel, panel.session, list(models)
        self.plot_key = f"{panel.name}.train"
        self.last_result = None
        self.history: dict = {}
        self.handle = None
        self.options: dict = {}            # model -> {option: (type, default, help)}, from the engine
        self._option_widgets: dict = {}
        self._steps_per_epoch = 1
        self._epochs = 1
        self._title = f"Training ({panel.title})"
        d = dict(defaults or {})

        self.model = QComboBox()
        self.model.addItems(self.models)
        if d.get("model") in self.models:
            self.model.setCurrentText(d["model"])
        self.data = QLabel()
        self.data.setWordWrap(True)
        self.fields = {k: _spin(kind, d.get(k, dv), lo, hi, tip) for k, (kind, dv, lo, hi, tip) in FIELDS.items()}
        self.opt_form = QFormLayout()
        self.opt_form.setContentsMargins(0, 0, 0, 0)
        opt_holder = QWidget()
        opt_holder.setLayout(self.opt_form)
        self.init = QLineEdit(d.get("init", ""))
        self.init.setPlaceholderText("none: random initial weights")
        self.init.setToolTip("fine-tune: copy matching weights from this checkpoint first (a path or demo:KEY)")
        self.augment = QComboBox()
        self.augment.addItems(["none", *augment_choices])
        self.augment.setToolTip("mix augmentation applied to every training batch")
        if d.get("mix") in augment_choices:
            self.augment.setCurrentText(d["mix"])
        self._auto_value = default_out(self.model.currentText())   # replaced per run while untouched
        self.out = QLineEdit(d.get("out") or self._auto_value)
        self.out.setToolTip("checkpoint to write (.safetensors; the best epoch is kept)")
        self.train_btn = QPushButton("Train")
        self.cancel_btn = QPushButton("Cancel")
        self.status = QLabel("")
        self.status.setWordWrap(True)

        form = QFormLayout(self)
        form.addRow("model", self.model)
        form.addRow("data", self.data)
        for k, w in self.fields.items():       # one column: the side tab is narrow
            form.addRow(LABELS.get(k, k), w)
        form.addRow(opt_holder)
        if allow_init:
            form.addRow("initialise from", self._with_button(self.init, self._browse_init))
        if augment_choices:
            form.addRow("augmentation", self.augment)
        form.addRow("output", self._with_button(self.out, self._browse_out))
        buttons = QHBoxLayout()
        buttons.addWidget(self.train_btn)
        buttons.addWidget(self.cancel_btn)
        form.addRow(buttons)
        form.addRow(self.status)
        self.allow_init, self.has_augment = allow_init, bool(augment_choices)

        self.train_btn.clicked.connect(self.start)
        self.cancel_btn.clicked.connect(self.cancel)
        self.model.currentTextChanged.connect(self._model_changed)
        self._redraw_timer = QTimer(self)
        self._redraw_timer.setSingleShot(True)
        self._redraw_timer.setInterval(400)
        self._redraw_timer.timeout.connect(self._redraw_due)
        self._curves: dict | None = None   # the run's curves (made once, then setData)
        self.session.listen(self._on_session)
        self._show_data()
        self._update_buttons()
        self._options_asked = False

    def load_options(self) -> None:
        """Ask the engine for the models' own options, once. Not at construction: reading the
        registry imports torch, and the window must draw its first sample before that
        (tests/viewer/test_window.py); the box asks when it is first shown or used."""
        if self._options_asked:
            return
        self._options_asked = True
        self.session.client.submit(Request("Model options", lambda m=tuple(self.models): model_options(m),
                                           on_result=self._got_options, quiet=True, listed=False,
                                           interactive=True))

    def showEvent(self, ev) -> None:
        self.load_options()
        super().showEvent(ev)

    @staticmethod
    def _with_button(edit: QLineEdit, slot) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(edit, 1)
        b = QToolButton()
        b.setText("…")
        b.clicked.connect(slot)
        row.addWidget(b)
        return row

    # ---- form -----------------------------------------------------------------------------------
    def _on_session(self, event: str, _payload) -> None:
        if event in ("dataset", "datasets") and _alive(self):
            self._show_data()

    def data_spec(self) -> str:
        cur = self.session.current
        return cur.spec if cur is not None else "builtin"

    def _show_data(self) -> None:
        cur = self.session.current
        # short, so the form row keeps one or two lines (a wrapped label in a form row inside a
        # scroll area is not given its wrapped height: the long title was cut mid-line)
        if cur is None:
            self.data.setText("builtin (no dataset open)")
            self.data.setToolTip("")
            return
        name = cur.spec.rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1] or cur.spec
        self.data.setText(f"{name}: trains on train, scores on test")
        self.data.setToolTip(f"{cur.title}: trains on its train split; the accuracy is on its test split")

    def _got_options(self, options: dict) -> None:
        if not _alive(self):
            return
        self.options = options
        self._model_changed(self.model.currentText())

    def _model_changed(self, key: str) -> None:
        while self.opt_form.rowCount():
            self.opt_form.removeRow(0)
        self._option_widgets = {}
        for name, (typ, default, text) in self.options.get(key, {}).items():
            if typ == "bool":
                w = QCheckBox()
                w.setChecked(bool(default))
            elif typ in ("int", "float") and default is not None:
                w = QSpinBox() if typ == "int" else QDoubleSpinBox()
                if typ == "float":
                    w.setDecimals(6)
                w.setRange(-10**9, 10**9)
                w.setValue(default)
            else:       # text, or a number whose default the model derives (None): empty = default
                w = QLineEdit("" if default is None else str(default))
                if default is None:
                    w.setPlaceholderText("model default")
            w.setToolTip(text)
            self._option_widgets[name] = (w, typ, default)
            self.opt_form.addRow(f"{key}: {name.replace('_', ' ')}", w)
        self._new_auto_out(key)

    def _new_auto_out(self, model: str) -> None:
        """A fresh default output path, unless the user (or the embedding panel) set one."""
        if self.out.text() == self._auto_value:
            self._auto_value = default_out(model)
            self.out.setText(self._auto_value)

    def read_options(self) -> tuple[dict, str]:
        """(the model options changed from their defaults, '' or what is wrong); the others are
        left to the model."""
        out, problems = {}, []
        for name, (w, typ, default) in self._option_widgets.items():
            if isinstance(w, QLineEdit):
                text = w.text().strip()
                if typ in ("int", "float"):
                    if not text:
                        continue
                    try:
                        v = int(text) if typ == "int" else float(text)
                    except ValueError:
                        problems.append(f"model option {name} = {text!r} is not a{'n integer' if typ == 'int' else ' number'}")
                        continue
                else:
                    v = text
            else:
                v = w.isChecked() if typ == "bool" else w.value()
            if typ == "float" and default is not None and math.isclose(v, float(default), rel_tol=1e-9, abs_tol=1e-12):
                continue
            if v != default:
                out[name] = v
        return out, "; ".join(problems)

    def values(self) -> dict:
        """The train Params dict that start() submits."""
        v = {k: w.value() for k, w in self.fields.items()}
        opts, _ = self.read_options()
        v.update(model=self.model.currentText(), model_options=json.dumps(opts) if opts else "",
                 out=str(Path(self.out.text().strip()).expanduser()) if self.out.text().strip() else "")
        if self.allow_init:
            v["init"] = self.init.text().strip()
        if self.has_augment:
            v["mix"] = self.augment.currentText()
        return v

    def _browse_init(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Initialise from checkpoint", "",
                                              "Checkpoints (*.safetensors *.pt *.pth)")
        if path:
            self.init.setText(path)

    def _browse_out(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Write the checkpoint to", self.out.text(),
                                              "safetensors (*.safetensors)")
        if path:
            self.out.setText(path)

    # ---- the job --------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.handle is not None and self.handle.active

    def _update_buttons(self) -> None:
        self.train_btn.setEnabled(not self.running)
        self.cancel_btn.setEnabled(self.running)

    def start(self) -> None:
        if self.running:
            return
        self.load_options()
        params = self.values()
        problem = self.read_options()[1] or check_out_path(params["out"])
        if not problem and params.get("init") and not params["init"].startswith("demo:") \
                and not Path(params["init"]).expanduser().is_file():
            problem = f"'initialise from' {params['init']} is not a file: pick a checkpoint or clear the field."
        if problem:
            self.panel.failed(self.status, "Train", problem)
            return
        self.history = {}
        self._epochs = int(params["epochs"])
        self._steps_per_epoch = 1
        self._title = f"Training {params['model']} on {self.data_spec()}"
        self._reset_plot()
        self.panel.plots.raise_dock()
        self.status.setText(f"training {params['model']} on {self.data_spec()}…")
        self.handle = self.panel.run_method(
            "train", {"data": self.data_spec()}, params, target=self.plot_key,
            name=f"Train {params['model']} ({params['epochs']} epochs)",
            on_progress=self._progress, on_result=self._done,
            on_error=self._failed, on_cancel=self._check_job)
        self._new_auto_out(params["model"])     # the next run must not overwrite this one's file
        self._update_buttons()

    def cancel(self) -> None:
        if self.running:
            self.handle.cancel()
            self.status.setText("cancelling…")

    def _failed(self, msg: str) -> None:
        if _alive(self):
            self.panel.failed(self.status, "Train", msg)
            self._update_buttons()
        else:
            self.session.emit("error", f"Train: {msg}")

    def _check_job(self) -> None:
        """A run that ended without a result (cancelled): say so and free the buttons."""
        if not _alive(self):
            return
        if self.handle is not None and self.handle.state == "cancelled":
            ep = int(self.history.get("current_epoch", 0) or 0)
            self.status.setText(f"cancelled (in epoch {ep}); no checkpoint from this run" if ep
                                else "cancelled before training started")
        self._update_buttons()

    def _progress(self, p) -> None:
        if not _alive(self):
            return
        if p.preview and "step" in p.preview:
            self._steps_per_epoch = int(p.preview.get("steps_per_epoch") or 1)   # the engine's count
            self.history = dict(p.preview)
            self._redraw_soon()         # at most ~2.5 redraws a second, whatever the preview rate
        elif self.history:              # e.g. "testing 96/200" after an epoch
            self.status.setText(f"{self.progress_text()} · {p.message}")
        else:
            self.status.setText(p.message)

    def _redraw_due(self) -> None:
        if self.running:
            self.redraw()
            self.status.setText(self.progress_text())

    def progress_text(self) -> str:
        h = self.history
        if not h:
            return ""
        text = f"epoch {int(h.get('current_epoch', 0))}/{self._epochs}, loss {float(h.get('current_loss', math.nan)):.3g}"
        acc = np.asarray(h.get("test_acc", []), np.float64)
        acc = acc[np.isfinite(acc)]
        if acc.size:
            text += f", test {100 * acc[-1]:.0f} %"
        return text

    def _done(self, res) -> None:
        if not _alive(self):
            return
        self.last_result = res
        a = res.arrays
        self._steps_per_epoch = int(res.metrics.get("steps_per_epoch") or self._steps_per_epoch)
        self.history = {"step": a["step"], "loss": a["step_loss"], "epoch": a["epoch"], "epoch_loss": a["loss"],
                        "train_acc": a["train_acc"], "test_acc": a["test_acc"],
                        "current_epoch": float(res.metrics.get("epoch", 0)),
                        "current_loss": float(res.metrics.get("loss", math.nan))}
        self._redraw_timer.stop()
        self.redraw()
        path = res.metrics.get("checkpoint") or ""
        self.session.add_result(f"train {res.params.get('model')}", res, show=False)
        gap = res.metrics.get("assignment_gap_bound")
        self.status.setText(f"done in {res.metrics.get('seconds', 0):.0f} s: {self.progress_text()}"
                            + (f"; assignments within {100 * gap:.2f} % of the optimum (certified)"
                               if gap is not None else "")
                            + (f"; wrote {path}" if path else "; no checkpoint written"))
        self._update_buttons()
        if path:
            self.trained.emit(str(path))

    # ---- curves ---------------------------------------------------------------------------------
    def _plot(self, front: bool = False):
        item = self.panel.plots.plot(self.plot_key, self._title, "epoch (loss: one point per training step)",
                                     "training loss", tab=f"{self.panel.title} training", front=front)
        if not hasattr(item, "_right_vb"):
            import pyqtgraph as pg

            vb = pg.ViewBox()      # second y axis: test accuracy in %, same x
            item.getAxis("left").enableAutoSIPrefix(False)     # no "(x0.001)" scaling of a loss
            item.hideAxis("right")
            item.scene().addItem(vb)
            item.getAxis("right").linkToView(vb)
            vb.setXLink(item)
            item.vb.sigResized.connect(lambda *_: vb.setGeometry(item.vb.sceneBoundingRect()))
            item._right_vb = vb
            if item.legend is not None:     # the curves fill the plot: keep them visible under it
                item.legend.setBrush(pg.mkBrush(255, 255, 255, 210))
        return item

    def _reset_plot(self) -> None:
        item = self._plot(front=True)           # a new run shows its tab; live redraws leave it
        item.clear()
        item._right_vb.clear()
        if item.legend is not None:
            item.legend.clear()
        item.hideAxis("right")
        item.setXRange(0, max(self._epochs, 1), padding=0.02)
        self._curves = {}

    def _redraw_soon(self) -> None:
        if not self._redraw_timer.isActive():
            self._redraw_timer.start()

    def redraw(self) -> None:
        """Both curves from ``history`` (the newest preview carries the whole run so far). The
        curves are made once per run and then only get new data (setData): a live plot must not
        rebuild its items 30 times a second."""
        import pyqtgraph as pg

        h = self.history
        item = self._plot()
        vb = item._right_vb
        c = self._curves
        if c is None:
            self._reset_plot()
            c = self._curves
        step = np.asarray(h.get("step", []), np.float64)
        if step.size:
            if "step" not in c:
                c["step"] = item.plot([], [], pen={"color": "#0072B2", "width": 1.5}, name="training loss (per step)")
            c["step"].setData(step / float(self._steps_per_epoch), np.asarray(h.get("loss", []), np.float64))
        epoch = np.asarray(h.get("epoch", []), np.float64)
        acc = np.asarray(h.get("test_acc", []), np.float64)
        ok = np.isfinite(acc)
        style = dict(symbol="o", symbolSize=7, symbolBrush="#D55E00", pen={"color": "#D55E00", "width": 2})
        if ok.any():        # classifier: test accuracy on its own axis, in %
            if "acc" not in c:
                item.showAxis("right")
                item.getAxis("right").setLabel("test accuracy (%)")
                c["acc"] = pg.PlotDataItem(**style)
                vb.addItem(c["acc"])
                vb.setYRange(0, 100)
                if item.legend is not None:
                    item.legend.addItem(c["acc"], "test accuracy (per epoch, %)")
            c["acc"].setData(epoch[ok], 100 * acc[ok])
        elif epoch.size:    # self-supervised: no accuracy; the epoch's mean loss, same axis and units
            if "epoch_loss" not in c:
                c["epoch_loss"] = item.plot([], [], name="mean training loss (per epoch)", **style)
            c["epoch_loss"].setData(epoch, np.asarray(h.get("epoch_loss", []), np.float64))
        vb.setGeometry(item.vb.sceneBoundingRect())
