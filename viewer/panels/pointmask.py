"""The PointMask panel: which points a PointMask model keeps, and the bias-injection lab.

Explain (METHOD "pointmask-explain", engine/methods/pointmask/explain.py): the current sample
(optionally with its class letter appended as k bias points, as the bias lab does) is run
through a PointMask or PointMap model. PointMask: view 0 shows kept / masked / bias points in
the paper's Fig. 3 colours (blue, black, red; grey for black, so it also shows on the dark
high-contrast background) as a categorical layer; view 1 the mask probability sigmoid(mu).
The threshold slider recolours on the GUI thread from the stored probabilities
(M = clamp(sigmoid(J) - t, 0, 1) > 0  <=>  sigmoid(J) > t), with no job; on release it asks
"predict-subset" (mode "only") for the prediction from the kept points alone.
PointMap: the original cloud in view 0, the mapped cloud P + mu in view 1, optional arrows.

Load or train: a TrainBox (train_box.py) trains a PointMask / PointMap / RandMask model on the
open dataset with live curves; the new checkpoint is added to the model combo, selected, and the
sample is explained with it.

Bias lab (METHOD "bias-lab", bias_lab_box.py): one job trains every model at every bias level;
the accuracy-vs-bias plot (paper Fig. 4) fills in from ``Progress.preview``; a gallery of the
biased training samples; CSV and PNG export with provenance.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QFormLayout, QGridLayout, QGroupBox, QLabel,
                               QPushButton, QSlider, QSpinBox, QVBoxLayout)

from engine import demo_path

from ..result_layers import layers_for, mask_categories
from ..scene import ArrowsLayer
from ..session import with_points
from ..value_histogram import ValueHistogram
from .base import MethodPanel, show_views, views_needed
from .bias_lab_box import BiasLabBox
from .train_box import TrainBox

KEPT, MASKED, BIAS = 0, 1, 2
OPEN = "the open checkpoint"


class PointMaskPanel(MethodPanel):
    name = "pointmask"
    title = "PointMask"
    EXPLAIN = "pointmask-explain"
    SUBSET = "predict-subset"
    LAB = "bias-lab"

    def __init__(self, ctx, parent=None):
        super().__init__(ctx, parent)
        self.sample = None
        self.result = None            # the last pointmask-explain Result
        self.points = None            # what the model saw (with the letter, if any)
        self.is_bias = None

        # ---- explain ----
        self.checkpoint = QComboBox()
        self.checkpoint.setEditable(True)        # a checkpoint path may be typed in
        self.checkpoint.setInsertPolicy(QComboBox.InsertAtTop)
        self.checkpoint.setToolTip("A PointMask or PointMap model (the demo models are built by `make demo-models`)")
        self._fill_checkpoints()
        self.letter = QSpinBox()
        self.letter.setRange(0, 512)
        self.letter.setValue(0)
        self.letter.setToolTip("Append the sample's class letter as k bias points (0 = none), as the bias lab does")
        self.run_btn = QPushButton("Explain sample")
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setRange(0, 99)
        self.slider.setValue(50)
        self.slider.setToolTip("Threshold t: a point is kept when sigmoid(J) > t (recolours at once; "
                               "the kept-only prediction runs on release)")
        self.t_label = QLabel("t = 0.50")
        # where the mask probabilities lie and where t cuts them (binned once per result)
        self.hist = ValueHistogram(words=("kept", "masked"), label=lambda v: f"t = {v:.2f}",
                                   about="mask probabilities sigmoid(J) of this result; the line is t")
        self.hist.setVisible(False)
        self.count = QLabel("")
        self.count.setWordWrap(True)
        self.prediction = QLabel("")
        self.prediction.setWordWrap(True)
        self.kept_pred = QLabel("")
        self.kept_pred.setWordWrap(True)
        self.arrows = QCheckBox("displacement arrows (PointMap)")
        box = QGroupBox("Explain the current sample")
        form = QFormLayout(box)
        form.addRow("model", self.checkpoint)
        form.addRow("bias letter points", self.letter)
        form.addRow(self.run_btn)
        srow = QGridLayout()       # the histogram exactly over the slider: its line over the handle
        srow.setVerticalSpacing(2)
        srow.addWidget(self.hist, 0, 0)
        srow.addWidget(self.slider, 1, 0)
        srow.addWidget(self.t_label, 1, 1)
        srow.setColumnStretch(0, 1)
        form.addRow(QLabel("threshold"))
        form.addRow(srow)          # the whole panel's width: a narrow slider hid the histogram
        form.addRow(self.count)
        form.addRow(self.prediction)
        form.addRow(self.kept_pred)
        form.addRow(self.arrows)

        # ---- load or train, bias lab ----
        self.train_box = TrainBox(self, ("pointmask", "pointmap", "randmask"), title="Train a PointMask model",
                                  defaults={"width": 0.25, "epochs": 10, "points": 1024})
        self.train_box.trained.connect(self.use_trained)
        self.lab = BiasLabBox(self)

        lay = QVBoxLayout(self)
        lay.addWidget(box)
        lay.addWidget(self.train_box)
        lay.addWidget(self.lab)
        lay.addStretch(1)

        self.run_btn.clicked.connect(self.explain)
        self.checkpoint.currentTextChanged.connect(lambda _t: self._update_buttons())
        self.slider.valueChanged.connect(self.set_threshold)
        self.slider.sliderReleased.connect(self.predict_kept)
        # keyboard / track clicks change the value without a release: classify once they settle
        self._kept_timer = QTimer(self)
        self._kept_timer.setSingleShot(True)
        self._kept_timer.setInterval(400)
        self._kept_timer.timeout.connect(self.predict_kept)
        self.arrows.toggled.connect(self._show_arrows)
        self._update_buttons()

    # ---- session ---------------------------------------------------------------------------
    def _fill_checkpoints(self) -> None:
        cur = self.checkpoint.currentText()
        self.checkpoint.clear()
        for key in ("pointmask", "pointmap"):
            if demo_path(key).is_file():
                self.checkpoint.addItem(f"demo:{key}")
        self.checkpoint.addItem(OPEN)
        i = self.checkpoint.findText(cur)
        if i >= 0:
            self.checkpoint.setCurrentIndex(i)

    def on_session(self, event: str, payload) -> None:
        if event == "sample":
            self.sample = payload
            self.result = None
            self.scene.clear("pointmask.")
            self.count.setText("")
            self.prediction.setText("")
            self.kept_pred.setText("")
            self.hist.clear()
            self.hist.setVisible(False)
        self._update_buttons()

    def _spec(self) -> str | None:
        text = self.checkpoint.currentText()
        if text == OPEN:
            return self.session.checkpoint.spec if self.session.checkpoint is not None else None
        return text

    def _update_buttons(self) -> None:
        self.run_btn.setEnabled(self.sample is not None and self._spec() is not None)

    @property
    def threshold(self) -> float:
        return self.slider.value() / 100.0

    # ---- explain -----------------------------------------------------------------------------
    def explain(self):
        s, spec = self.sample, self._spec()
        if s is None or spec is None:
            self.prediction.setText("Open a PointMask/PointMap checkpoint first.")
            return None
        pts = s.model_input
        is_bias = None
        k = self.letter.value()
        if k > 0 and s.label is not None and s.label >= 0:
            from engine import class_letter, letter_anchor, place_letter

            nclass = max(len(s.dataset.classes), 1)
            pts = place_letter(pts, class_letter(s.label), k, letter_anchor(s.label, nclass), 0.5,
                               np.random.default_rng((0, s.index)))
            is_bias = np.zeros(len(pts), bool)
            is_bias[-k:] = True
        self.prediction.setText("explaining…")

        def done(res) -> None:
            if self.sample is s:
                self.show_result(res, pts, is_bias)

        inputs = {"points": pts}
        if s.label is not None and s.label >= 0:
            inputs["label"] = int(s.label)
        return self.run_method(self.EXPLAIN, inputs, {"threshold": self.threshold, "model_threshold": False},
                               model=spec, target="pointmask.explain", name=f"PointMask {s.name}",
                               on_result=done)

    def show_result(self, res, pts, is_bias) -> None:
        self.result, self.points, self.is_bias = res, pts, is_bias
        saved = with_points(res, pts, self.session.provenance())
        if is_bias is not None:       # saved with the result, so a re-opened file draws the letter red
            saved = type(saved)(saved.kind, {**saved.arrays, "is_bias": is_bias}, saved.metrics, saved.params,
                                saved.provenance)
        self.session.add_result(f"pointmask {self.sample.name}", saved, show=False)
        self.scene.clear("pointmask.")
        m = res.metrics
        layers = list(layers_for(saved))
        # as many views as the result draws in (a 2x2 layout left by another panel showed two
        # empty views beside the mask)
        show_views(self.window(), self.scene, views_needed(layers))
        for layer in layers:
            self.scene.add(layer)
        self.slider.setEnabled(m.get("model") != "pointmap")      # PointMap has no threshold
        self.hist.setVisible(m.get("model") != "pointmap" and "mask_probability" in res.arrays)
        if self.hist.isVisibleTo(self):
            self.hist.set_values(res.arrays["mask_probability"], 0.0, 1.0)
            self.hist.set_value(self.threshold)
        if m.get("model") == "pointmap":
            self._show_arrows(self.arrows.isChecked())
            self.count.setText(f"all {len(pts):,} points kept (PointMap moves points); "
                               f"mean displacement {m.get('mean_displacement', float('nan')):.3f}")
        else:
            self.set_threshold(self.slider.value())     # the slider may have moved while it ran
        self.prediction.setText(self._prediction_text(m))
        self.kept_pred.setText("")
        if m.get("model") != "pointmap":
            self.predict_kept()

    def _prediction_text(self, m: dict) -> str:
        def nm(key):
            return m.get(f"{key}_name") or m.get(key)
        txt = (f"model {m.get('model')}: predicted <b>{nm('predicted_model')}</b>; "
               f"unmasked classifier: {nm('predicted')}; masked cloud: {nm('predicted_masked')}")
        if m.get("label_name") is not None:
            txt += f"; true: {m['label_name']}"
        return txt

    def _count(self) -> None:
        lay = self.scene.get("pointmask.mask")
        cat = lay.scalars["category"].values
        kept = int((cat == KEPT).sum())
        extra = f", {int((cat == BIAS).sum())} bias points" if self.is_bias is not None else ""
        kept_bias = 0
        if self.is_bias is not None:
            kept_bias = int((np.asarray(self.result.arrays["mask_probability"]) > self.threshold)[self.is_bias].sum())
            extra += f" ({kept_bias} of them kept)"
        self.count.setText(f"{kept:,} of {len(cat):,} points kept at t = {self.threshold:.2f}{extra}")

    def set_threshold(self, value: int) -> None:
        """Recolour from the stored probabilities: no job, arrays updated in place."""
        self.t_label.setText(f"t = {value / 100:.2f}")
        self.hist.set_value(value / 100.0)
        if self.result is None or "pointmask.mask" not in self.scene:
            return
        cat = mask_categories(self.result.arrays["mask_probability"], value / 100.0, self.is_bias)
        self.scene.update_points("pointmask.mask", scalars={"category": cat})
        self._count()
        if not self.slider.isSliderDown():
            self._kept_timer.start()

    def kept_indices(self) -> np.ndarray:
        return np.flatnonzero(np.asarray(self.result.arrays["mask_probability"]) > self.threshold)

    def predict_kept(self):
        """Classify the kept points alone (latest wins while the slider moves)."""
        self._kept_timer.stop()
        if self.result is None or "mask_probability" not in self.result.arrays:
            return None
        idx = self.kept_indices()
        if idx.size == 0:
            self.kept_pred.setText(f"no point is kept at t = {self.threshold:.2f}")
            return None
        t = self.threshold

        def done(res) -> None:
            m = res.metrics
            self.kept_pred.setText(f"kept points only ({m.get('kept', idx.size)} at t = {t:.2f}): predicted "
                                   f"<b>{m['predicted_name']}</b> "
                                   f"(P = {100 * float(np.max(res.arrays['probabilities'])):.1f} %)")

        self.kept_pred.setText("classifying the kept points…")
        return self.run_method(self.SUBSET, {"points": self.points, "indices": idx}, {"mode": "only"},
                               model=self._spec(), target="pointmask.kept", name="PointMask: kept points only",
                               on_result=done)

    def _show_arrows(self, on: bool) -> None:
        if self.result is None or "displacement" not in self.result.arrays:
            return
        if on:
            self.scene.add(ArrowsLayer("pointmask.arrows", origins=self.points,
                                       vectors=self.result.arrays["displacement"], title="displacement mu"))
        else:
            self.scene.remove("pointmask.arrows")

    # ---- training and the bias lab (bias_lab_box.py) -------------------------------------------
    def use_trained(self, path: str) -> None:
        """A checkpoint the train box just wrote: select it in the model combo and explain with it."""
        i = self.checkpoint.findText(path)
        if i < 0:
            self.checkpoint.insertItem(0, path)
            i = 0
        self.checkpoint.setCurrentIndex(i)
        self.log(f"PointMask: using the new checkpoint {path}")
        if self.sample is not None:
            self.explain()

    def export_csv(self, path: str) -> None:
        self.lab.export_csv(path)

    def export_png(self, path: str) -> None:
        self.lab.export_png(path)

    def _export_dialog(self, kind: str) -> None:
        filt = "CSV (*.csv)" if kind == "csv" else "PNG image (*.png)"
        path, _ = QFileDialog.getSaveFileName(self, f"Export bias lab {kind.upper()}", f"bias_lab.{kind}", filt)
        if path:
            self.export(kind, path)

    def export(self, kind: str, path: str) -> bool:
        """Write the table (csv) or the plot (png); a failure is one message, not a traceback."""
        from engine import EngineError

        try:
            (self.export_csv if kind == "csv" else self.export_png)(path)
        except (EngineError, OSError) as e:
            self.failed(self.lab.status, f"Export bias lab {kind.upper()}", str(e))
            return False
        self.log(f"bias lab exported to {path}")
        return True


PANEL = PointMaskPanel
