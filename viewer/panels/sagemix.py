"""The mixing panel: SageMix, PointMixup and RSMix on one pair of clouds, step by step.

Cloud A is the current sample; B is picked by index or by class from the same split. One
"mix" job (engine/methods/mix/method.py) computes saliency, the optimal assignment, the query
points and the blend. The viewports show A and B with their saliency and the query points (in
green), the blend coloured by lambda (per-point share of A) and the blend split into "mostly A /
mostly B". The sigma and pi sliders redraw the SageMix blend at once on the GUI thread
(``engine.numeric.mix_blend.blend``: the assignment and queries stay, only the weights change); the
mixed label (eq. 8, mean lambda) is redrawn as bars.

Below: "Train with augmentation" (``TrainBox``: PointNet with none / PointMixup / RSMix / SageMix)
and the robustness and calibration table (``RobustnessBox``, paper Table 3), to which every
checkpoint trained here is added by itself.
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton, QSlider,
                               QSpinBox, QVBoxLayout)

from engine.numeric.mix_blend import blend, blend_constant
from engine.specs.mix import METHOD_NAMES, MixParams

from .. import tasks
from ..result_layers import MIX_TITLES as METHOD_TITLES, layers_for
from ..session import with_points
from ..work import Request
from .base import MethodPanel, button_row, show_views
from .inspect import TopBars
from .robustness_box import RobustnessBox
from .train_box import TrainBox

METHODS = METHOD_NAMES

# The sigma slider moves on a log scale through the spec's range (engine.specs.mix: MixParams.sigma).
_SIGMA = next(f for f in dataclasses.fields(MixParams) if f.name == "sigma")
SIGMA_LO, SIGMA_HI, SIGMA_DEFAULT = float(_SIGMA.metadata["lo"]), float(_SIGMA.metadata["hi"]), float(_SIGMA.default)
SIGMA_STEPS = 1000


def sigma_of(v: int) -> float:
    """Slider position (0..SIGMA_STEPS) -> sigma, log-uniform over [SIGMA_LO, SIGMA_HI]."""
    return SIGMA_LO * (SIGMA_HI / SIGMA_LO) ** (min(max(v, 0), SIGMA_STEPS) / SIGMA_STEPS)


def slider_of(sigma: float) -> int:
    """sigma -> the nearest slider position (clamped to the range)."""
    t = math.log(min(max(sigma, SIGMA_LO), SIGMA_HI) / SIGMA_LO) / math.log(SIGMA_HI / SIGMA_LO)
    return int(round(t * SIGMA_STEPS))



def partner_index(labels: np.ndarray, a: int) -> int:
    """The default cloud B for cloud A: the first sample of the next class present in the split
    (a mix of two classes is what the method is for; files sorted by class would otherwise pair A
    with its neighbour of the same class), else the next sample."""
    n = len(labels)
    if n < 2:
        return 0
    present = np.unique(labels)
    others = present[present != labels[a]]
    if others.size == 0:
        return (a + 1) % n
    after = others[others > labels[a]]
    cls = after[0] if after.size else others[0]
    return int(np.flatnonzero(labels == cls)[0])

class SageMixPanel(MethodPanel):
    name = "sagemix"
    title = "Mix"
    MIX = "mix"

    def __init__(self, ctx, parent=None):
        super().__init__(ctx, parent)
        self.sample = None
        self.b_cloud = None       # (points for the model (N,3), label, name)
        self.result = None
        self.seed = 0

        self.header = QLabel("No sample yet.")
        self.header.setWordWrap(True)
        self.b_index = QSpinBox()
        self.b_index.setRange(0, 0)
        self.b_index.setToolTip("Index of cloud B in the current split")
        self.b_class = QComboBox()
        self.b_class.setToolTip("Pick the first cloud of this class as B")
        self.b_label = QLabel("")
        self.method = QComboBox()
        for m in METHODS:
            self.method.addItem(METHOD_TITLES[m], m)
        self.run_btn = QPushButton("Mix A and B")
        self.resample = QPushButton("Resample queries")
        self.resample.setToolTip("Draw new query points (same pair, same assignment)")
        self.sigma = QSlider(Qt.Horizontal)
        self.sigma.setRange(0, SIGMA_STEPS)
        self.sigma.setValue(slider_of(SIGMA_DEFAULT))
        self.sigma.setToolTip(f"SageMix RBF bandwidth sigma, {SIGMA_LO:g} to {SIGMA_HI:g} on a log scale: "
                              "small keeps local parts, large approaches PointMixup")
        self.sigma_label = QLabel(f"σ = {sigma_of(self.sigma.value()):.3g}")
        self.pi = QSlider(Qt.Horizontal)
        self.pi.setRange(0, 100)
        self.pi.setValue(50)
        self.pi.setToolTip("prior pi (SageMix) / share of A (PointMixup)")
        self.pi_label = QLabel("π = 0.50")
        self.info = QLabel("")
        self.info.setWordWrap(True)
        self.bars = TopBars()

        pick = QGroupBox("Pair")
        pf = QFormLayout(pick)
        pf.addRow(self.header)
        brow = QHBoxLayout()
        brow.addWidget(self.b_index)
        brow.addWidget(QLabel("or class"))
        brow.addWidget(self.b_class, 1)
        pf.addRow("B", brow)
        pf.addRow(self.b_label)
        mix = QGroupBox("Mixing")
        mf = QFormLayout(mix)
        mf.addRow("method", self.method)
        mf.addRow(button_row(self.run_btn, self.resample))
        s1 = QHBoxLayout()
        s1.addWidget(self.sigma, 1)
        s1.addWidget(self.sigma_label)
        mf.addRow("sigma", s1)
        s2 = QHBoxLayout()
        s2.addWidget(self.pi, 1)
        s2.addWidget(self.pi_label)
        mf.addRow("pi", s2)
        mf.addRow(self.info)
        eq8 = QLabel("mixed label (eq. 8: weights from the mean lambda)")
        eq8.setWordWrap(True)              # wraps in a narrow dock instead of widening it
        mf.addRow(eq8)
        mf.addRow(self.bars)
        lay = QVBoxLayout(self)
        lay.addWidget(pick)
        lay.addWidget(mix)
        self.train_box = TrainBox(self, ("pointnet",), title="Train with augmentation", allow_init=False,
                                  augment_choices=("pointmixup", "rsmix", "sagemix"),
                                  defaults={"epochs": 10, "width": 0.25, "points": 1024})
        self.robustness = RobustnessBox(self)
        self.train_box.trained.connect(self._trained)
        lay.addWidget(self.train_box)
        lay.addWidget(self.robustness)
        lay.addStretch(1)

        self.run_btn.clicked.connect(lambda: self.run_mix())
        self.resample.clicked.connect(self.resample_queries)
        self.method.currentIndexChanged.connect(lambda _i: self.run_mix(keep=True) if self.result is not None else None)
        self.b_class.activated.connect(self._class_chosen)
        self._b_chosen = False          # the user picked B: keep it when A changes
        self.b_index.editingFinished.connect(lambda: setattr(self, "_b_chosen", True))
        self.sigma.valueChanged.connect(self.redraw)
        self.pi.valueChanged.connect(self.redraw)
        self._update_buttons()

    def _trained(self, path: str) -> None:
        """A model trained here becomes a row of the robustness table, named by its augmentation."""
        res = self.train_box.last_result
        mix = (res.params.get("mix") if res is not None else "") or "none"
        stem = Path(path).stem
        self.robustness.add_checkpoint(path, label=stem if mix in stem else f"{mix} · {stem}")

    # ---- session ---------------------------------------------------------------------------
    def on_session(self, event: str, payload) -> None:
        if event == "sample":
            self.sample = payload
            self.result = None
            self.scene.clear("sagemix.")
            sp = payload.dataset.split(payload.split)
            self.b_index.setRange(0, max(sp.count - 1, 0))
            if not self._b_chosen or self.b_index.value() == payload.index:
                self.b_index.setValue(partner_index(np.asarray(sp.labels), payload.index))
                self._b_chosen = False
            self.b_class.clear()
            self.b_class.addItems(list(payload.dataset.classes))
            self.header.setText(f"A: <b>{payload.name}</b> ({payload.label_name})")
        self._update_buttons()

    def _update_buttons(self) -> None:
        ready = self.sample is not None
        self.run_btn.setEnabled(ready)
        self.resample.setEnabled(self.result is not None and self.method_key() != "pointmixup")
        sliders = self.method_key() in ("sagemix", "pointmixup")
        self.sigma.setEnabled(sliders and self.method_key() == "sagemix")
        self.pi.setEnabled(sliders)

    def method_key(self) -> str:
        return self.method.currentData() or "sagemix"

    def _class_chosen(self, i: int) -> None:
        s = self.sample
        if s is None:
            return
        labels = np.asarray(s.dataset.split(s.split).labels)
        hits = np.flatnonzero(labels == i)
        hits = hits[hits != s.index] if hits.size > 1 else hits
        if hits.size:
            self.b_index.setValue(int(hits[0]))
            self._b_chosen = True

    # ---- the job -----------------------------------------------------------------------------
    def run_mix(self, keep: bool = False, new_queries: bool = False):
        """Load B (if needed) and run the mix job. ``keep``: reuse the pair's assignment and
        queries (method switch); ``new_queries``: keep the assignment, draw new queries."""
        s = self.sample
        if s is None:
            return None
        index = self.b_index.value()
        if self.b_cloud is not None and self.b_cloud[3] == (s.dataset.key, s.split, index, len(s.model_input)):
            return self._submit(keep, new_queries)
        key, split = s.dataset.key, s.split
        n = len(s.model_input)
        sampling = self.session.checkpoint.sampling if self.session.checkpoint else "random"

        def loaded(cloud) -> None:
            idx, _ = tasks.model_input(cloud.points, n, index, sampling)
            pts = tasks.normalise(cloud.points[idx])
            name = s.dataset.split(split).names[index] if index < len(s.dataset.split(split).names) else str(index)
            self.b_cloud = (pts, cloud.label, name, (key, split, index, n))
            self.b_label.setText(f"B: <b>{name}</b> ({s.dataset.class_name(cloud.label)})")
            if len(pts) != n:
                self.info.setText(f"B has {len(pts)} points, A {n}: mixing needs equal sizes; pick another B.")
                return
            self._submit(False, False)

        self.info.setText("loading B…")
        engine = self.session.engine
        return self.session.client.submit(Request(f"Load B {split}/{index}",
                                                  lambda: tasks.load_sample(engine, key, split, index),
                                                  target="sagemix.load", on_result=loaded, interactive=True,
                                                  listed=False))

    def _submit(self, keep: bool, new_queries: bool):
        s = self.sample
        a = s.model_input
        b, label_b, name_b, _ = self.b_cloud
        method = self.method_key()
        inputs = {"a": a, "b": b}
        ck = self.session.checkpoint
        classes = list(s.dataset.classes)
        if ck is None or tuple(ck.classes) == tuple(classes):   # dataset labels are model labels
            if s.label is not None and s.label >= 0 and label_b is not None and label_b >= 0:
                inputs.update(label_a=int(s.label), label_b=int(label_b), classes=classes)
        prev = self.result
        if prev is not None and (keep or new_queries) and prev.metrics.get("method") != "rsmix" and method != "rsmix":
            inputs["assignment"] = prev.arrays["assignment"]
            if keep and method == "sagemix" and int(prev.arrays["queries"][0]) >= 0:
                inputs["queries"] = prev.arrays["queries"]
        if new_queries:
            self.seed += 1
        params = {"method": method, "sigma": sigma_of(self.sigma.value()), "pi": self.pi.value() / 100.0,
                  "seed": self.seed}
        self.info.setText(f"mixing with {METHOD_TITLES[method]}…")

        def done(res) -> None:
            if self.sample is s:
                self.show_result(res)

        return self.run_method(self.MIX, inputs, params, target="sagemix.mix",
                               name=f"{METHOD_TITLES[method]}: {s.name} + {name_b}", on_result=done)

    def resample_queries(self):
        return self.run_mix(new_queries=True)

    # ---- drawing -----------------------------------------------------------------------------
    def show_result(self, res) -> None:
        self.result = res
        a = res.arrays
        self.session.add_result(f"mix {res.metrics.get('method')}",
                                with_points(res, a["source_a"], self.session.provenance()), show=False)
        self.scene.clear("sagemix.")
        show_views(self.window(), self.scene, 4)
        for layer in layers_for(res):
            self.scene.add(layer)
        for view in (2, 3):          # new views start at the default iso camera, like 0 and 1
            self.ctx.viewports.reset_camera(view)
        m = res.metrics
        if m.get("pi") is not None:     # the job may have used another pi (a draw); show what it used
            self.pi.blockSignals(True)
            self.pi.setValue(int(round(100 * float(m["pi"]))))
            self.pi.blockSignals(False)
            self.pi_label.setText(f"π = {float(m['pi']):.2f}")
        self._label_bars(np.asarray(a["lambda"]))
        cost = m.get("assignment_cost")
        self.info.setText(f"{METHOD_TITLES[m['method']]}: mean lambda {m['lambda']:.3f}"
                          + (f"; assignment cost {cost:.2f}" if cost is not None else "")
                          + (f"; RSMix radius {m['radius']:.3f}" if "radius" in m else ""))
        self._update_buttons()

    def _label_bars(self, lam: np.ndarray) -> None:
        m = self.result.metrics
        la, lb = m.get("label_a", "A"), m.get("label_b", "B")
        w = float(np.mean(lam, dtype=np.float64))
        rows = {la: w}
        rows[lb] = rows.get(lb, 0.0) + (1.0 - w)
        self.bars.set_rows(sorted(rows.items(), key=lambda r: -r[1]))

    def redraw(self, _value: int = 0) -> None:
        """sigma / pi changed: new weights from the kept assignment and queries, no job."""
        sigma, pi = sigma_of(self.sigma.value()), self.pi.value() / 100.0
        self.sigma_label.setText(f"σ = {sigma:.3g}")
        self.pi_label.setText(f"π = {pi:.2f}")
        res = self.result
        if res is None or "sagemix.mix" not in self.scene:
            return
        method = res.metrics.get("method")
        a = res.arrays
        pa, pb, perm = a["source_a"], a["source_b"], np.asarray(a["assignment"])
        if method == "sagemix":
            qa, qb = (int(v) for v in a["queries"])
            mixed, lam = blend(pa, pb[perm], pa[qa], pb[qb], sigma, pi)
        elif method == "pointmixup":
            mixed, lam = blend_constant(pa, pb[perm], pi)
        else:
            return
        self.scene.update_points("sagemix.mix", points=mixed, scalars={"lambda": lam})
        self.scene.update_points("sagemix.source", points=mixed, scalars={"from": (lam < 0.5).astype(np.int64)})
        self._label_bars(lam)
        self.info.setText(f"{METHOD_TITLES[method]} (σ = {sigma:.3g}, π = {pi:.2f}): mean lambda {float(lam.mean()):.3f}")


PANEL = SageMixPanel
