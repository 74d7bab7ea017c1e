"""The SeRP panel (issue 8, Viewer): perturb the current sample as SeRP does and look at what the
self-supervised model makes of it.

Four linked viewports (2x2): the original cloud coloured by per-point reconstruction error, the
perturbed cloud with the perturbed points highlighted (categorical), the reconstruction (the
transformer's points coloured by patch), and the perturbed cloud coloured by the detection
head's probability. The noise controls (centres, neighbours, std, mode, seed) re-perturb and
re-run at once: every change submits a job with one target, so a newer request cancels the older
one and only the newest result is drawn; the layers keep their shapes, so the actors are updated
in place. Metrics: Chamfer distance (perturbed, reconstructed) and detection accuracy.

Below the explanation: "Pre-train a SeRP model" (``TrainBox``, self-supervised training; the new
checkpoint is used at once) and "Scratch vs pre-trained" (``FinetuneBox``: the engine's
``finetune-compare``, live curves and a comparison table).

Engine methods: ``serp-explain``, ``train``, ``finetune-compare``.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox, QLabel, QPushButton, QSpinBox,
                               QVBoxLayout)

from engine import checkpoint_problem
from engine.specs.serp import MODES  # torch-free: the perturbation modes of serp-explain

from .. import tasks
from ..result_layers import layers_for
from ..session import with_points
from ..value_histogram import ValueHistogram
from .base import MethodPanel
from .finetune_box import FinetuneBox
from .focus import hide_others
from .train_box import TrainBox

DEMOS = ("demo:serp-pointnet", "demo:serp-transformer")


def demo_missing(spec: str) -> str:
    """A line saying how to build a missing demo checkpoint ('' if present or not a demo)."""
    return checkpoint_problem(spec) if spec.startswith("demo:") else ""


class SerpPanel(MethodPanel):
    name = "serp"
    title = "SeRP"
    EXPLAIN = "serp-explain"
    DEBOUNCE_MS = 60      # coalesce a burst of spin-box steps into one request

    def __init__(self, ctx, parent=None):
        super().__init__(ctx, parent)
        self.sample = None
        self.result = None
        self.requests = 0                 # jobs submitted (tests: each control change re-runs)

        self.ckpt = QComboBox()
        self.ckpt.setEditable(True)
        self.ckpt.addItems(DEMOS)
        self.ckpt.setToolTip("SeRP checkpoint: demo:serp-pointnet, demo:serp-transformer or a path")
        self.ckpt_note = QLabel(demo_missing(DEMOS[0]))
        self.ckpt_note.setWordWrap(True)
        self.ckpt_note.setStyleSheet("color: #a0522d;")
        self.points = QSpinBox()
        self.points.setRange(16, 1_000_000)
        self.points.setValue(512)
        self.points.setToolTip("points given to the model, a fixed random subset of the sample, normalised as the "
                               "loader does (the demo models were trained on 512)")
        self.centres = QSpinBox()
        self.centres.setRange(1, 1000)
        self.centres.setValue(20)
        self.centres.setToolTip("number of random perturbation centres (paper: 20)")
        self.neighbours = QSpinBox()
        self.neighbours.setRange(1, 1000)
        self.neighbours.setValue(20)
        self.neighbours.setToolTip("points per perturbed patch, the centre included (paper: 20)")
        self.std = QDoubleSpinBox()
        self.std.setDecimals(3)
        self.std.setRange(0.0, 1.0)
        self.std.setSingleStep(0.005)
        self.std.setValue(0.03)
        self.std.setToolTip("standard deviation of the Gaussian noise (paper: 0.03)")
        # how far the perturbed points actually moved, against the std asked for (per coordinate:
        # a 3D Gaussian offset is ~1.6 std long on average, one offset per patch in per-patch mode)
        self.std_hist = ValueHistogram(words=("beyond std", "within"), label=lambda v: f"std = {v:.3f}",
                                       about="lengths of the perturbed points' offsets |p' - p|; the line is the std")
        self.std_hist.setVisible(False)
        self.mode = QComboBox()
        self.mode.addItems(list(MODES))
        self.mode.setToolTip("per-point: each point its own noise; per-patch: one offset per patch")
        self.seed = QSpinBox()
        self.seed.setRange(0, 10**6)
        self.seed.setToolTip("seed of the centres and the noise")
        self.run_btn = QPushButton("Explain")
        self.run_btn.setToolTip("Perturb the current sample and run the model (controls re-run by themselves)")
        self.metrics = QLabel("")
        self.metrics.setWordWrap(True)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(self.DEBOUNCE_MS)
        self._timer.timeout.connect(self.run_explain)

        form = QFormLayout()
        form.addRow("checkpoint", self.ckpt)
        form.addRow(self.ckpt_note)
        form.addRow("points", self.points)
        noise = QGroupBox("Noise (re-runs on change)")
        nf = QFormLayout(noise)
        nf.addRow("centres", self.centres)
        nf.addRow("neighbours", self.neighbours)
        std_col = QVBoxLayout()
        std_col.setSpacing(2)
        std_col.addWidget(self.std_hist)
        std_col.addWidget(self.std)
        nf.addRow("std", std_col)
        nf.addRow("mode", self.mode)
        nf.addRow("seed", self.seed)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(noise)
        lay.addWidget(self.run_btn)
        lay.addWidget(self.metrics)
        self.train_box = TrainBox(self, ("serp-pointnet", "serp-transformer"), title="Pre-train SeRP (self-supervised)",
                                  allow_init=False,
                                  defaults={"epochs": 10, "width": 0.25, "points": 512})
        self.train_box.trained.connect(self.use_checkpoint)
        lay.addWidget(self.train_box)
        self.finetune = FinetuneBox(self, DEMOS)
        lay.addWidget(self.finetune)
        lay.addStretch(1)

        self.ckpt.currentTextChanged.connect(lambda t: self.ckpt_note.setText(demo_missing(t.strip())))
        self.run_btn.clicked.connect(self.run_explain)
        for w in (self.points, self.centres, self.neighbours, self.seed):
            w.valueChanged.connect(self._changed)
        self.std.valueChanged.connect(self._changed)
        self.std.valueChanged.connect(self.std_hist.set_value)
        self.mode.currentIndexChanged.connect(self._changed)
        self._update_buttons()

    # ---- session -----------------------------------------------------------------------------
    def on_session(self, event: str, payload) -> None:
        if event == "sample":
            self.sample = payload
            # keep showing the method on the new sample, but only while this tab is shown:
            # a hidden panel must not draw over the panel the user is looking at
            if self.result is not None and self.isVisible():
                self._timer.start()
        elif event == "checkpoint" and payload is not None and str(getattr(payload, "model", "")).startswith(
                ("serp", "vasp")):
            self.ckpt.setCurrentText(payload.spec)
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.run_btn.setEnabled(self.sample is not None)

    def use_checkpoint(self, path: str) -> None:
        """A model pre-trained from the panel: explain with it and offer it for fine-tuning."""
        if self.ckpt.findText(path) < 0:
            self.ckpt.addItem(path)
        self.ckpt.setCurrentText(path)
        self.finetune.add_checkpoint(path)
        self.log(f"SeRP: using the new checkpoint {path}")
        if self.sample is not None and self.isVisible():
            self.run_explain()

    def _changed(self, *_):
        if self.sample is not None and self.result is not None:
            self._timer.start()

    def params(self) -> dict:
        p = {"centres": int(self.centres.value()), "neighbours": int(self.neighbours.value()),
             "std": float(self.std.value()), "seed": int(self.seed.value())}
        p["mode"] = self.mode.currentText()
        return p

    def model_points(self, s) -> np.ndarray:
        """A fixed random subset of the sample (the same one for every noise setting, so the
        layers keep their shapes and update in place), normalised as the data loader does."""
        n = int(self.points.value())
        pts = s.cloud.points
        if n < len(pts):
            pts = pts[np.sort(np.random.default_rng(0).choice(len(pts), n, replace=False))]
        return tasks.normalise(pts)

    # ---- run ---------------------------------------------------------------------------------
    def run_explain(self):
        s = self.sample
        if s is None:
            return None
        spec = self.ckpt.currentText().strip() or DEMOS[0]
        missing = demo_missing(spec)
        if missing:
            self.metrics.setText(missing)
            return None
        pts = self.model_points(s)
        params = self.params()
        self.requests += 1

        def done(res) -> None:
            if self.sample is s:
                self.show_result(with_points(res, pts, self.session.provenance(), sample=s.name))

        return self.run_method(self.EXPLAIN, {"points": pts}, params, model=spec, target="serp.explain",
                               name=f"SeRP {s.name}", on_result=done,
                               on_error=lambda msg: self.failed(self.metrics, "SeRP", msg))

    def show_result(self, res) -> None:
        self.result = res
        self.session.add_result(f"serp {res.metrics.get('sample', '')}".strip(), res, show=False)
        vp = self.ctx.viewports
        fresh = vp is not None and getattr(vp, "count", 4) < 4
        if fresh:
            vp.set_layout(4)
        hide_others(self.scene, "serp.", range(4))
        for layer in layers_for(res):
            self.scene.add(layer)
        if fresh:   # the views just shown start with their own cameras: one view for all four
            vp.reset_camera()
        self._show_offsets(res)
        m = res.metrics
        lines = [f"model <b>{m.get('model', '?')}</b> · {m.get('perturbed_points', 0):,} of "
                 f"{m.get('points', 0):,} points perturbed",
                 f"Chamfer (L2) original vs perturbed: <b>{m['chamfer_perturbed']:.5f}</b>",
                 f"Chamfer (L2) original vs reconstructed: <b>{m['chamfer_reconstructed']:.5f}</b>",
                 f"detection accuracy (p &gt; 0.5): <b>{100 * m['detection_accuracy']:.1f} %</b>"]
        if "coverage" in m:
            lines.append(f"{m['patches']} patches of {m['patch_size']} points cover "
                         f"{100 * m['coverage']:.1f} % of the cloud")
        if m.get("detection_trained") is False:
            lines.append("(this transformer was trained without the detection loss)")
        self.metrics.setText("<br>".join(lines))

    def _show_offsets(self, res) -> None:
        a = res.arrays
        if not {"perturbed", "original", "perturbed_mask"} <= set(a):
            return
        off = np.linalg.norm(np.asarray(a["perturbed"], np.float64) - np.asarray(a["original"], np.float64), axis=1)
        off = off[np.asarray(a["perturbed_mask"]).astype(bool)]
        std = float(res.params.get("std", self.std.value()))
        # from 0, and wide enough for the line even when nothing moved as far as the std
        self.std_hist.set_values(off, 0.0, max(float(off.max()) if off.size else 0.0, 1.5 * std, 1e-6))
        self.std_hist.set_value(self.std.value())
        self.std_hist.setVisible(True)


PANEL = SerpPanel
