"""The Inspect panel: what the model predicts for the current sample and why.

Predicted class with a top-5 probability chart and the true label; the per-point gradient-norm
saliency of the predicted class as a scalar layer; the cloud after the input T-Net (PointMask
paper, Fig. 8) as a second layer; box/lasso selection with "predict without / with only the
selection"; a deletion curve for any per-point scalar on the view, against a random order.

Engine methods (written by the lead): ``inspect``, ``predict-subset``, ``deletion-curve``.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel,
                               QPushButton, QSizePolicy, QSpinBox, QToolButton, QVBoxLayout, QWidget)

from ..scene import PointsLayer, stage_of
from ..result_layers import layers_for
from ..session import CLOUD, with_points
from .base import MethodPanel, button_row

BLUE = QColor("#0072B2")      # Okabe-Ito blue: the predicted class
GREY = QColor("#9a9a9a")
GREEN = "#009E73"
VERMILLION = "#D55E00"


class TopBars(QWidget):
    """Horizontal bars: class name, probability bar, percentage; the true class is marked."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.rows: list[tuple[str, float]] = []
        self.true_name = ""
        self.setMinimumHeight(5 * 20 + 6)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)

    def set_rows(self, rows, true_name: str = "") -> None:
        self.rows = [(str(n), float(p)) for n, p in rows][:5]
        self.true_name = true_name
        self.update()

    def paintEvent(self, _ev) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        w = self.width()
        name_w, pct_w, row_h = min(120, w * 0.38), 52, 20
        f = QFont(self.font())
        for i, (name, prob) in enumerate(self.rows):
            y = 3 + i * row_h
            f.setBold(name == self.true_name)
            p.setFont(f)
            p.setPen(Qt.black)
            label = name + (" (true)" if name == self.true_name else "")
            p.drawText(QRectF(0, y, name_w - 4, row_h), Qt.AlignVCenter | Qt.AlignRight, label)
            bar_w = max(0.0, (w - name_w - pct_w) * prob)
            p.fillRect(QRectF(name_w, y + 3, bar_w, row_h - 6), BLUE if i == 0 else GREY)
            p.drawText(QRectF(w - pct_w, y, pct_w, row_h), Qt.AlignVCenter | Qt.AlignRight, f"{100 * prob:.1f} %")
        p.end()


class InspectPanel(MethodPanel):
    name = "inspect"
    title = "Inspect"
    # Method names (class attributes so tests can point them at stand-ins).
    INSPECT = "inspect"
    SUBSET = "predict-subset"
    DELETION = "deletion-curve"

    def __init__(self, ctx, parent=None):
        super().__init__(ctx, parent)
        self.result = None            # the last inspect Result (with points)
        self.sample = None
        self.header = QLabel("No sample yet.")
        self.header.setWordWrap(True)
        self.model_label = QLabel("No model: File > Open checkpoint.")
        self.model_label.setWordWrap(True)
        self.used = QLabel("")
        self.used.setStyleSheet("color: #555;")
        self.prediction = QLabel("")
        big = self.prediction.font()
        big.setPointSize(big.pointSize() + 3)
        big.setBold(True)
        self.prediction.setFont(big)
        self.prediction.setWordWrap(True)
        self.bars = TopBars()
        self.run_btn = QPushButton("Inspect")
        self.run_btn.setToolTip("Classify the model input; compute saliency and the input T-Net's output")
        self.auto = QCheckBox("each sample")
        self.auto.setChecked(True if ctx.settings is None else bool(ctx.settings.get("inspect/auto")))
        self.auto.setToolTip("Inspect every sample as it is chosen")

        # selection
        self.tools = QButtonGroup(self)
        row = QHBoxLayout()
        for i, (text, mode, tip) in enumerate((("Rotate", None, "Drag to orbit; click a point to read it"),
                                                ("Box", "box", "Drag a rectangle to select points (through the depth)"),
                                                ("Lasso", "lasso", "Draw around points to select them"))):
            b = QToolButton()
            b.setText(text)
            b.setCheckable(True)
            b.setToolTip(tip)
            b.setProperty("mode", mode)
            self.tools.addButton(b, i)
            row.addWidget(b)
        self.tools.button(0).setChecked(True)
        self.clear_sel = QToolButton()
        self.clear_sel.setText("Clear")
        row.addWidget(self.clear_sel)
        row.addStretch(1)
        self.sel_label = QLabel("0 points selected")
        self.without_btn = QPushButton("Predict without")
        self.without_btn.setToolTip("Classify the model input without the selected points")
        self.only_btn = QPushButton("Predict with only")
        self.only_btn.setToolTip("Classify only the selected points")
        self.subset_label = QLabel("")
        self.subset_label.setWordWrap(True)
        sel_box = QGroupBox("Selected points")
        sl = QVBoxLayout(sel_box)
        sl.addLayout(row)
        sl.addWidget(self.sel_label)
        sl.addLayout(button_row(self.without_btn, self.only_btn))
        sl.addWidget(self.subset_label)

        # deletion curve
        self.source = QComboBox()
        self.source.setToolTip("Per-point scalar that orders the deletion (highest first)")
        self.source.activated.connect(lambda _i: setattr(self, "_source_picked", True))
        self.source.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.source.setMinimumContentsLength(12)
        self.steps = QSpinBox()
        self.steps.setRange(2, 500)
        self.steps.setValue(20)
        self.orders = QSpinBox()
        self.orders.setRange(1, 100)
        self.orders.setValue(5)
        self.curve_btn = QPushButton("Deletion curve")
        self.curve_label = QLabel("")
        self.curve_label.setWordWrap(True)
        del_box = QGroupBox("Deletion curve")
        form = QFormLayout(del_box)
        form.addRow("order by", self.source)
        form.addRow("steps", self.steps)
        form.addRow("random orders", self.orders)
        form.addRow(self.curve_btn)
        form.addRow(self.curve_label)

        top = QHBoxLayout()
        top.addWidget(self.run_btn)
        top.addWidget(self.auto)
        top.addStretch(1)
        lay = QVBoxLayout(self)
        lay.addWidget(self.header)
        lay.addWidget(self.model_label)
        lay.addWidget(self.used)
        lay.addLayout(top)
        lay.addWidget(self.prediction)
        lay.addWidget(self.bars)
        lay.addWidget(sel_box)
        lay.addWidget(del_box)
        lay.addStretch(1)

        self.run_btn.clicked.connect(self.run_inspect)
        self.auto.toggled.connect(self._auto_toggled)
        self.tools.idClicked.connect(self._tool_changed)
        self.clear_sel.clicked.connect(lambda: self.scene.set_selection(None))
        self.without_btn.clicked.connect(lambda: self.predict_subset("without"))
        self.only_btn.clicked.connect(lambda: self.predict_subset("only"))
        self.curve_btn.clicked.connect(self.deletion_curve)
        self.scene.subscribe(self._on_scene)
        self._show_model()
        self._update_buttons()

    # ---- session ---------------------------------------------------------------------------
    def on_session(self, event: str, payload) -> None:
        if event == "sample":
            self.sample = payload
            self.result = None
            self.prediction.setText("")
            self.bars.set_rows([])
            self.subset_label.setText("")
            self.curve_label.setText("")
            self.header.setText(f"<b>{payload.name}</b> · true label: <b>{payload.label_name}</b>")
            self.used.setText(payload.used_text if self.session.checkpoint else f"{payload.total:,} points")
            self._point_selection_at(CLOUD)
            if self.auto.isChecked() and self.session.checkpoint is not None:
                self.run_inspect()
        elif event in ("checkpoint", "checkpoint-loading", "checkpoint-failed"):
            self._show_model()
        self._update_buttons()

    def _show_model(self) -> None:
        """The open model, or that one is loading (the start-up default takes seconds), or none."""
        ck, loading = self.session.checkpoint, getattr(self.session, "loading_checkpoint", None)
        if loading:
            self.model_label.setText(f"Loading model {loading}…" if ck is None else
                                     f"Model: {ck.title} (loading {loading}…)")
        else:
            self.model_label.setText(f"Model: {ck.title}" if ck else "No model: File > Open checkpoint.")

    def _auto_toggled(self, on: bool) -> None:
        if self.ctx.settings is not None:
            self.ctx.settings.set("inspect/auto", bool(on))
        if on and self.result is None:
            self.run_inspect()

    def _update_buttons(self) -> None:
        ready = self.session.checkpoint is not None and self.sample is not None
        self.run_btn.setEnabled(ready)
        sel = self.scene.selection
        n_sel = len(sel.indices) if sel is not None else 0
        self.without_btn.setEnabled(ready and n_sel > 0)
        self.only_btn.setEnabled(ready and n_sel > 0)
        self.curve_btn.setEnabled(ready and self.source.count() > 0)

    # ---- inspect ---------------------------------------------------------------------------
    def run_inspect(self):
        s = self.sample
        if s is None or self.session.checkpoint is None:
            return None
        pts = s.model_input
        self.prediction.setText("classifying…")

        def done(res) -> None:
            if self.sample is not s:
                return
            self.show_result(res, s, pts)

        return self.run_method(self.INSPECT, {"points": pts, "label": s.label}, target="inspect",
                               name=f"Inspect {s.name}", on_result=done)

    def show_result(self, res, sample, pts) -> None:
        """Draw an inspect result. ``pts`` is what the model saw; the saliency layer is drawn on
        the displayed cloud's points (the same points before the loader's re-normalisation)."""
        prov = self.session.provenance()
        full = with_points(res, pts, prov, used_text=sample.used_text)
        full = type(full)(full.kind, {**full.arrays, "model_indices": sample.model_indices}, full.metrics,
                          full.params, full.provenance)
        self.result = full
        cloud = self.scene.get(CLOUD) if CLOUD in self.scene else None
        if cloud is not None:
            if len(pts) >= cloud.n:
                self.scene.set_style(CLOUD, visible=False)
            else:   # the unused points stay as small grey context (not a scan's RGB); the input layer says how many
                self.scene.set_style(CLOUD, style="points", point_size=2.0, color="#b0b0b0", active=None, note="")
        self.session.add_result(f"inspect {sample.name}", full, show=False)
        shown = type(full)(full.kind, {**full.arrays, "points": sample.model_points}, full.metrics)
        for layer in layers_for(shown):
            if layer.name == "inspect.input" and cloud is not None and not cloud.visible:
                # the sample's own caption line went with the hidden cloud: keep what it said
                layer.title = f"{sample.name} · true label: {sample.label_name} · {layer.title}"
            self.scene.add(layer)
        m = full.metrics
        pred_name = str(m.get("predicted_name", m.get("predicted")))
        probs = np.asarray(full.arrays.get("probabilities", []), dtype=float)
        p = float(probs[int(m["predicted"])]) if probs.size > int(m.get("predicted", 0)) else float("nan")
        truth = sample.label_name
        classes = list(self.session.checkpoint.classes) if self.session.checkpoint else []
        if truth == pred_name:
            verdict, colour = "✓ correct", GREEN
        elif classes and truth not in classes:
            verdict, colour = "(true class unknown to the model)", "#555555"
        else:
            verdict, colour = f"✗ true: {truth}", VERMILLION
        self.prediction.setText(f"predicted <b>{pred_name}</b> ({100 * p:.1f} %) "
                                f"<span style='color:{colour}'>{verdict}</span>")
        self.bars.set_rows(m.get("top5", []), truth)
        self.session.record_prediction(sample, int(m["predicted"]), pred_name)
        self._point_selection_at("inspect.input")
        self._fill_sources()
        self._update_buttons()

    # ---- selection -------------------------------------------------------------------------
    def _point_selection_at(self, layer: str) -> None:
        self.ctx.viewports.select_layer = layer

    def _tool_changed(self, button_id: int) -> None:
        mode = self.tools.button(button_id).property("mode")
        self.ctx.viewports.select_mode = mode or None

    def _on_scene(self, event: str, name: str) -> None:
        if event == "selection":
            sel = self.scene.selection
            n = len(sel.indices) if sel is not None else 0
            where = f" of {self.scene.get(sel.layer).n:,} in '{sel.layer}'" if sel is not None and sel.layer in self.scene else ""
            self.sel_label.setText(f"{n:,} points selected{where}")
            self._update_buttons()
        elif event in ("added", "removed", "geometry") and not name.startswith("_"):
            self._fill_sources()
            self._update_buttons()

    def selected_model_indices(self) -> np.ndarray | None:
        """The selection as indices into the model input."""
        sel = self.scene.selection
        s = self.sample
        if sel is None or s is None:
            return None
        if sel.layer in ("inspect.input", "inspect.transformed"):
            return np.asarray(sel.indices, np.int64)
        if sel.layer == CLOUD:   # map cloud indices to positions in the model input
            return np.flatnonzero(np.isin(s.model_indices, sel.indices))
        return None

    def predict_subset(self, mode: str):
        s = self.sample
        idx = self.selected_model_indices()
        if s is None or idx is None or idx.size == 0:
            self.subset_label.setText("Select points first (Box or Lasso).")
            return None
        pts = s.model_input
        base = self.result.metrics if self.result is not None else {}
        base_p = None
        if self.result is not None and "probabilities" in self.result.arrays:
            base_p = float(self.result.arrays["probabilities"][int(base["predicted"])])

        def done(res) -> None:
            m = res.metrics
            kept = m.get("kept", "?")
            orig_name = base.get("predicted_name", m.get("original_predicted"))
            was = f" (was {100 * base_p:.1f} %)" if base_p is not None else ""
            what = f"without the {idx.size:,} selected" if mode == "without" else f"with only the {idx.size:,} selected"
            self.subset_label.setText(
                f"{what} ({kept} points kept): predicted <b>{m['predicted_name']}</b>; "
                f"P('{orig_name}') = {100 * float(m['probability_of_original']):.1f} %{was}")
            self.session.add_result(f"predict-subset {mode}", with_points(res, pts, self.session.provenance()),
                                    show=False)

        self.subset_label.setText("classifying…")
        return self.run_method(self.SUBSET, {"points": pts, "indices": idx}, {"mode": mode},
                               target="inspect.subset", name=f"Predict {mode} selection", on_result=done)

    # ---- deletion curve --------------------------------------------------------------------
    def _fill_sources(self) -> None:
        # Keep the user's own pick; otherwise the panel's own scalars (saliency) come first and
        # are the default, before the shared cloud's fields (normals, curvature ...).
        cur = self.source.currentData() if getattr(self, "_source_picked", False) else None
        self.source.blockSignals(True)
        self.source.clear()
        layers = [l for l in self.scene.layers() if stage_of(l.name) in (None, self.name)]  # this stage only
        layers.sort(key=lambda l: stage_of(l.name) != self.name)
        for layer in layers:
            if isinstance(layer, PointsLayer) and not layer.name.startswith("_"):
                for key, s in layer.scalars.items():
                    if s.kind != "categorical" and s.values.shape[0] == layer.n:
                        self.source.addItem(f"{s.title or key} · {layer.name}", (layer.name, key))
        if cur is not None:
            i = self.source.findData(cur)
            if i >= 0:
                self.source.setCurrentIndex(i)
        self.source.blockSignals(False)

    def deletion_curve(self):
        data = self.source.currentData()
        if data is None or data[0] not in self.scene:
            self.curve_label.setText("No per-point scalar on the view: run Inspect first.")
            return None
        layer_name, key = data
        layer = self.scene.get(layer_name)
        scalar = layer.scalars[key]
        target = int(self.result.metrics["predicted"]) if self.result is not None else None
        target_name = self.result.metrics.get("predicted_name", target) if self.result is not None else "predicted"
        title = f"Deletion curve: remove the k points of highest {key} first, re-classify"
        plot = self.plots.plot("inspect.deletion", title, "points removed (k)", f"P('{target_name}')",
                               tab="deletion curve")
        plot.clear()
        curve = plot.plot([], [], pen={"color": "#0072B2", "width": 2}, name=f"by {key}")
        self.curve_label.setText("computing…")

        def progress(p) -> None:
            if p.preview and "k" in p.preview:
                curve.setData(np.asarray(p.preview["k"]), np.asarray(p.preview["probability"]))

        def done(res) -> None:
            a, m = res.arrays, res.metrics
            plot.clear()
            plot.plot(a["k"], a["probability"], pen={"color": "#0072B2", "width": 2},
                      name=f"highest {key} first (area {m.get('area_scalar', float('nan')):.3f})")
            plot.plot(a["k"], a["probability_random"], pen={"color": "#E69F00", "width": 2, "style": Qt.DashLine},
                      name=f"random order, mean of {self.orders.value()} (area {m.get('area_random', float('nan')):.3f})")
            plot.setYRange(0, 1.0)
            self.curve_label.setText(f"area under curve (lower = the scalar finds what the model needs): "
                                     f"{m.get('area_scalar', float('nan')):.3f} by {key}, "
                                     f"{m.get('area_random', float('nan')):.3f} random")
            self.session.add_result(f"deletion curve by {key}",
                                    with_points(res, pts, self.session.provenance(), scalar_name=key),
                                    show=False)

        # the inspect layers are drawn on the displayed cloud; the model gets its own input
        pts = self.sample.model_input if layer_name.startswith("inspect.") and self.sample is not None else layer.points
        inputs = {"points": pts, "scalar": np.asarray(scalar.values, np.float32)}
        if target is not None:
            inputs["target"] = target
        return self.run_method(self.DELETION, inputs, {"steps": self.steps.value(), "random_orders": self.orders.value()},
                               target="inspect.deletion", name=f"Deletion curve by {key}",
                               on_result=done, on_progress=progress)


PANEL = InspectPanel
