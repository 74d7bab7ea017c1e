""""Scratch vs pre-trained": the SeRP panel's fine-tuning comparison (paper Tables 1-2).

Runs the engine method ``finetune-compare`` (engine/training/finetune_compare.py): the same
classifier trained twice with identical settings and seed, once from random weights and once
initialised from a SeRP pre-trained encoder. While it runs, the test accuracy after every epoch
of both runs is drawn in the Plots dock (two named curves), the scratch row of the table is
filled as soon as that run ends, and both rows are set from the Result's metrics at the end.
The classifier's architecture and width follow the pre-trained checkpoint (the engine picks
them), so there is no width control here.
"""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtWidgets import (QComboBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton,
                               QSpinBox, QToolButton)

from engine import checkpoint_problem

from ..provenance import describe
from .base import button_row, two_columns
from .compare_table import Column, CompareTable

METHOD = "finetune-compare"
RUNS = ("scratch", "pretrained")
COLUMNS = [
    Column("final", "test acc. (last epoch)", help="accuracy on the test split after the last epoch"),
    Column("best", "best test acc.", help="best test accuracy over the epochs"),
    Column("loss", "train loss (last epoch)", unit="", better="low", decimals=4,
           help="mean training loss (cross-entropy) of the last epoch"),
]
COLOURS = {"scratch": "#0072B2", "pretrained": "#D55E00"}


def run_summary(test_acc, loss) -> dict:
    """Table values of one run from its per-epoch curves (as the engine's ``_final`` does)."""
    acc = np.asarray(test_acc, np.float64)
    acc = acc[np.isfinite(acc)]
    loss = np.asarray(loss, np.float64)
    return {"final": float(acc[-1]) if acc.size else math.nan, "best": float(acc.max()) if acc.size else math.nan,
            "loss": float(loss[-1]) if loss.size else math.nan}


class FinetuneBox(QGroupBox):
    def __init__(self, panel, demos: tuple[str, ...]):
        super().__init__("Scratch vs pre-trained (Tables 1–2)")     # short: a group title cannot wrap
        self.setToolTip("Fine-tuning from scratch against from a pre-trained SeRP model (paper Tables 1–2)")
        self.panel, self.session = panel, panel.session
        self.plot_key = f"{panel.name}.finetune"
        self.handle = None
        self.result = None
        self.spec = ""
        self.used_data = ""
        self.epochs_run = 0
        self._last: dict[int, dict] = {}      # run index -> newest preview

        self.ckpt = QComboBox()
        self.ckpt.setEditable(True)
        self.ckpt.addItems(list(demos))
        self.ckpt.setToolTip("pre-trained SeRP checkpoint whose encoder initialises the classifier")
        self.data = QLabel()
        self.data.setWordWrap(True)
        self.epochs = self._spin(1, 100000, 10, "epochs of each of the two runs")
        self.points = self._spin(8, 1_000_000, 512, "points per cloud (both runs)")
        self.limit = self._spin(0, 10**9, 0, "at most this many clouds per split (0 = all)")
        self.limit.setSpecialValueText("all")
        self.batch = self._spin(2, 65536, 32, "clouds per training step")
        self.seed = self._spin(0, 2**31 - 1, 0, "seed of both runs (same head initialisation, same batches)")
        self.run_btn = QPushButton("Compare")
        self.run_btn.setToolTip("Train the classifier from scratch, then from the pre-trained encoder")
        self.cancel_btn = QPushButton("Cancel")
        self.show_btn = QPushButton("Show table")
        self.show_btn.setToolTip("The comparison table is a tab of the Plots dock (with Export CSV…)")
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.table = CompareTable(COLUMNS, row_title="initialisation", provenance=self.provenance,
                                  file_name="finetune_compare.csv")

        form = QFormLayout(self)
        row = QHBoxLayout()
        row.addWidget(self.ckpt, 1)
        browse = QToolButton()
        browse.setText("…")
        browse.clicked.connect(self._browse)
        row.addWidget(browse)
        form.addRow("pre-trained", row)
        form.addRow("data", self.data)
        form.addRow(two_columns(("epochs", self.epochs), ("points", self.points), ("limit per split", self.limit),
                                ("batch size", self.batch), ("seed", self.seed)))
        form.addRow(button_row(self.run_btn, self.cancel_btn, self.show_btn))
        form.addRow(self.status)

        self.run_btn.clicked.connect(self.start)
        self.cancel_btn.clicked.connect(self.cancel)
        self.show_btn.clicked.connect(self.show_table)
        self.session.listen(self._on_session)
        self._show_data()
        self._update_buttons()

    @staticmethod
    def _spin(lo, hi, value, tip) -> QSpinBox:
        w = QSpinBox()
        w.setRange(lo, hi)
        w.setValue(value)
        w.setToolTip(tip)
        return w

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Pre-trained SeRP checkpoint", "", "Checkpoints (*.safetensors)")
        if path:
            self.add_checkpoint(path)

    def add_checkpoint(self, spec: str, select: bool = True) -> None:
        if self.ckpt.findText(spec) < 0:
            self.ckpt.addItem(spec)
        if select:
            self.ckpt.setCurrentText(spec)

    # ---- session --------------------------------------------------------------------------------
    def _on_session(self, event: str, payload) -> None:
        if event in ("dataset", "datasets"):
            self._show_data()
        elif event == "checkpoint" and payload is not None and str(payload.model).startswith(("serp", "vasp")) \
                and payload.task != "classification":
            self.add_checkpoint(payload.spec, select=False)     # the open checkpoint is one choice

    def data_spec(self) -> str:
        cur = self.session.current
        return cur.spec if cur is not None else "builtin"

    def _show_data(self) -> None:
        cur = self.session.current
        self.data.setText(f"{cur.spec}: train split, accuracy on its test split" if cur is not None
                          else "builtin (no dataset open)")

    # ---- the job --------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.handle is not None and self.handle.active

    def show_table(self) -> None:
        self.panel.plots.widget_tab(f"{self.plot_key}.table", f"{self.panel.title} fine-tuning table", self.table)

    def _update_buttons(self) -> None:
        self.run_btn.setEnabled(not self.running)
        self.cancel_btn.setEnabled(self.running)

    def params(self) -> dict:
        return {"epochs": self.epochs.value(), "points": self.points.value(), "limit": self.limit.value(),
                "batch_size": self.batch.value(), "seed": self.seed.value()}

    def provenance(self) -> dict:
        res = self.result
        return describe(METHOD, res.params if res is not None else self.params(), self.session.provenance(),
                        pretrained=self.spec, training_data=self.used_data,
                        init=res.metrics.get("init") if res is not None else None)

    def start(self):
        if self.running:
            return None
        spec = self.ckpt.currentText().strip()
        problem = checkpoint_problem(spec)
        if problem:
            self.panel.failed(self.status, "Scratch vs pre-trained", problem)
            return None
        params = self.params()
        self.epochs_run = int(params["epochs"])
        self.spec, self.result, self._last, self.used_data = spec, None, {}, self.data_spec()
        self.table.clear()
        for run in RUNS:
            self.table.pending(self.row_name(run))
        self.table.set_caption(f"Two runs of {params['epochs']} epoch(s) on <b>{self.data_spec()}</b> "
                               f"({params['points']} points, seed {params['seed']}), from scratch and from "
                               f"<b>{spec}</b>…")
        item = self._plot()
        item.clear()
        self.status.setText("starting…")
        self.handle = self.panel.run_method(
            METHOD, {"data": self.data_spec()}, params, model=spec, target=self.plot_key,
            name=f"Scratch vs pre-trained ({spec}, {params['epochs']} epochs)",
            on_progress=self._progress, on_result=self._done, on_error=self._failed,
            on_cancel=self._update_buttons)
        self._update_buttons()
        return self.handle

    def cancel(self) -> None:
        if self.running:
            self.handle.cancel()
            self.table.drop_pending()
            self.status.setText("cancelled; the table keeps what had finished")
            self._update_buttons()

    def _failed(self, msg: str) -> None:
        self.panel.failed(self.status, "Scratch vs pre-trained", msg)
        self._update_buttons()

    def row_name(self, run: str) -> str:
        return "from scratch" if run == "scratch" else f"pre-trained: {self.spec}"

    def _progress(self, p) -> None:
        pv = p.preview or {}
        run = int(pv.get("run", 0)) if "run" in pv else None
        self.status.setText(f"run {1 + (run or 0)} of 2 · {p.message}")
        if run is None or "epoch" not in pv:
            return
        self._last[run] = pv
        first = self._last.get(0)
        if run == 1 and first is not None and len(first["epoch"]) == self.epochs_run \
                and not self.table.filled(self.row_name("scratch")):
            # the scratch run has ended and its last epoch was seen (previews are coalesced): final
            self.table.set_row(self.row_name("scratch"), run_summary(first["test_acc"], first["epoch_loss"]))
        self.redraw()

    def _done(self, res) -> None:
        self.result = res
        m, a = res.metrics, res.arrays
        self.session.add_result(f"{METHOD} {self.spec}", res, show=False)
        for run in RUNS:
            self.table.set_row(self.row_name(run), {"final": m[f"{run}_accuracy"], "best": m[f"{run}_best_accuracy"],
                                                   "loss": run_summary(a[f"{run}_test_acc"], a[f"{run}_loss"])["loss"]},
                               tooltip=m.get("init", "") if run == "pretrained" else "random initial weights")
        self._last = {i: {"epoch": np.arange(1, len(a[f"{r}_test_acc"]) + 1, dtype=np.float64),
                          "test_acc": a[f"{r}_test_acc"]} for i, r in enumerate(RUNS)}
        self.redraw()
        p = res.params
        width = res.provenance.get("width", "")
        limit = f"at most {p['limit']} clouds per split" if p.get("limit") else "all clouds"
        gain = 100 * m["gain"]
        self.table.set_caption(
            f"<b>{m['classifier']}</b> classifier (width {width}) trained twice for {p['epochs']} epoch(s) on "
            f"<b>{self.used_data}</b> ({limit}, {p['points']} points, batch {p['batch_size']}, seed {p['seed']}); "
            f"identical except the start: random weights vs the encoder of <b>{self.spec}</b> "
            f"({m.get('init', '')}). Accuracy on the test split; bold = best per column.<br>"
            f"pre-trained − scratch: <b>{gain:+.1f}</b> points (last epoch), {100 * m['best_gain']:+.1f} (best).")
        self.status.setText(f"done: scratch {100 * m['scratch_accuracy']:.1f} %, pre-trained "
                            f"{100 * m['pretrained_accuracy']:.1f} % ({gain:+.1f} points); the table is in "
                            "the Plots dock")
        self.show_table()
        self._update_buttons()

    # ---- curves ---------------------------------------------------------------------------------
    def _plot(self, front: bool = True):
        return self.panel.plots.plot(self.plot_key, "Test accuracy per epoch: from scratch vs pre-trained",
                                     "epoch", "test accuracy (%)", tab=f"{self.panel.title} fine-tuning",
                                     front=front)

    def redraw(self) -> None:
        item = self._plot(front=False)        # live: the run's start brought the tab forward
        item.clear()
        for i, run in enumerate(RUNS):
            pv = self._last.get(i)
            if pv is None:
                continue
            ep = np.asarray(pv["epoch"], np.float64)
            acc = np.asarray(pv["test_acc"], np.float64)
            ok = np.isfinite(acc)
            if ok.any():
                c = COLOURS[run]
                item.plot(ep[ok], 100 * acc[ok], pen={"color": c, "width": 2}, symbol="o", symbolSize=7,
                          symbolBrush=c, name=self.row_name(run))
        item.setYRange(0, 100, padding=0.02)
