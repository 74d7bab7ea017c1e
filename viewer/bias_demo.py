"""The bias-injection demo: five steps that show a class why a model can learn the wrong thing.

1. pick 3-4 classes of the built-in dataset;
2. inject: each class gets its own letter (PointMask paper Fig. 5) as k extra points, drawn red
   beside a clean sample (paper Fig. 3); k is chosen here;
3. train small PointNet, PointMask (and RandMask) on the BIASED train split: one "bias-lab" job
   (engine/methods/pointmask/bias_lab.py) with live progress and cancel;
4. reveal: accuracy on the biased test split (letter present) vs the clean test split per model,
   a big bar chart with the numbers;
5. PointMask's mask on a biased test sample (kept / masked / letter in the PointMask panel's
   colours) and, over the whole biased test split, how much of the letter it keeps.

The texts of steps 4 and 5 are written from the numbers of this run, not from the paper: at
demo scale PointMask does not always beat PointNet. Settings default to a run that shows the
collapse in about a minute on a laptop CPU (see DEFAULTS).
"""
from __future__ import annotations

import dataclasses

import tempfile
import time

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QGridLayout, QHBoxLayout, QLabel,
                               QProgressBar, QPushButton, QSlider, QSpinBox, QStackedWidget, QVBoxLayout, QWidget)

from engine import class_letter
from engine import BUILTIN_CLASSES as CLASSES

from .bias_demo_chart import RevealChart
from .bias_demo_text import (MASK_NAMES, MODELS, NAMES, inject, letter_categories, load_samples,
                             mask_text, reveal_text)
from .panels.base import show_views
from .result_layers import layers_for
from .scene import PointsLayer, Scalar, replace
from .work import Request

# Measured on this project's 2-core CPU (see the presenter helper's report): ~1 min, PointNet
# 100 % with the letter and under 45 % without it (chance 25 %).
DEFAULTS = {"classes": ("chair", "desk", "sofa", "table"), "k": 32, "epochs": 40, "per_class": 40,
            "points": 256, "width": 0.125, "seed": 0}
OBJECT, LETTER = "#0072B2", "#D55E00"        # the PointMask panel's kept (blue) and bias (red)
STEPS = ("Pick the classes", "Add the letters", "Train on the biased data", "The reveal",
         "What does PointMask drop?")
LAYERS = "demo."


class BiasDemo(QWidget):
    def __init__(self, window, parent=None):
        super().__init__(parent)
        self.window_ = window
        self.session, self.scene = window.session, window.scene
        self.step = 0
        self.samples = None           # {"train": (K, N, 3), "test": ...} for self.sample_classes
        self.sample_classes: tuple = ()
        self.handle = None            # the bias-lab job
        self.result = None            # its Result
        self.explained = None         # the pointmask-explain Result shown in step 5
        self.t_start = 0.0
        self._ckdir = None
        self.reveal: dict = {}        # model -> (biased, unbiased) as drawn

        self.header = QLabel()
        self.header.setWordWrap(True)
        self.pages = QStackedWidget()
        for build in (self._page_classes, self._page_inject, self._page_train, self._page_reveal, self._page_mask):
            self.pages.addWidget(build())
        self.back = QPushButton("◀ Back")
        self.next = QPushButton("Next ▶")
        self.back.clicked.connect(lambda: self.go(self.step - 1))
        self.next.clicked.connect(lambda: self.go(self.step + 1))
        nav = QHBoxLayout()
        nav.addWidget(self.back)
        nav.addStretch(1)
        nav.addWidget(self.next)
        lay = QVBoxLayout(self)
        lay.addWidget(self.header)
        lay.addWidget(self.pages, 1)
        lay.addLayout(nav)
        self.go(0)

    # ---- pages -------------------------------------------------------------------------------
    @staticmethod
    def _text(html: str = "") -> QLabel:
        lab = QLabel(html)
        lab.setWordWrap(True)
        lab.setTextFormat(Qt.RichText)
        return lab

    def _page_classes(self) -> QWidget:
        w = QWidget()
        v = QVBoxLayout(w)
        v.addWidget(self._text("Choose 3 or 4 kinds of furniture. A small network will learn to tell them apart."))
        grid = QGridLayout()
        self.class_checks = {}
        for i, name in enumerate(CLASSES):
            c = QCheckBox(name.replace("_", " "))
            c.setChecked(name in DEFAULTS["classes"])
            c.toggled.connect(lambda _=False: (self._update_nav(), self._enter_classes()))
            self.class_checks[name] = c
            grid.addWidget(c, i // 2, i % 2)
        v.addLayout(grid)
        self.class_hint = self._text()
        v.addWidget(self.class_hint)
        v.addStretch(1)
        return w

    def _page_inject(self) -> QWidget:
        w = QWidget()
        v = QVBoxLayout(w)
        v.addWidget(self._text("Now we cheat: every cloud of a class gets that class's letter, in red, at its own "
                               "place. Left: a clean cloud. Right: the same cloud with its letter."))
        f = QFormLayout()
        self.k_slider = QSlider(Qt.Horizontal)
        self.k_slider.setRange(1, 128)
        self.k_slider.setValue(DEFAULTS["k"])
        self.k_label = QLabel()
        row = QHBoxLayout()
        row.addWidget(self.k_slider, 1)
        row.addWidget(self.k_label)
        f.addRow("letter points k", row)
        self.show_class = QComboBox()
        f.addRow("show", self.show_class)
        v.addLayout(f)
        self.letters = self._text()
        v.addWidget(self.letters)
        v.addStretch(1)
        self.k_slider.valueChanged.connect(lambda _v: self._draw_inject())
        self.show_class.currentIndexChanged.connect(lambda _i: self._draw_inject())
        return w

    def _page_train(self) -> QWidget:
        w = QWidget()
        v = QVBoxLayout(w)
        v.addWidget(self._text("Train small networks on the clouds WITH letters. Then we test them twice: "
                               "on new clouds with the letter, and on the same clouds without it."))
        mrow = QHBoxLayout()
        self.model_checks = {}
        for key, title in MODELS:
            c = QCheckBox(title)
            c.setChecked(True)
            c.setToolTip({"pointnet": "the plain classifier", "pointmask": "learns a mask that drops points",
                          "randmask": "PointNet trained with 10-70 % of points dropped at random"}[key])
            self.model_checks[key] = c
            mrow.addWidget(c)
        v.addLayout(mrow)
        f = QFormLayout()
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 200)
        self.epochs.setValue(DEFAULTS["epochs"])
        self.per_class = QSpinBox()
        self.per_class.setRange(2, 100)
        self.per_class.setValue(DEFAULTS["per_class"])
        self.per_class.setToolTip("training clouds per class (the test split keeps up to the same number)")
        self.points = QSpinBox()
        self.points.setRange(16, 2048)
        self.points.setValue(DEFAULTS["points"])
        self.width_box = QDoubleSpinBox()
        self.width_box.setDecimals(4)
        self.width_box.setRange(0.01, 1.0)
        self.width_box.setValue(DEFAULTS["width"])
        f.addRow("epochs", self.epochs)
        f.addRow("clouds per class", self.per_class)
        self.advanced = QWidget()            # hidden in presenter mode
        af = QFormLayout(self.advanced)
        af.setContentsMargins(0, 0, 0, 0)
        af.addRow("points per cloud", self.points)
        af.addRow("width", self.width_box)
        v.addLayout(f)
        v.addWidget(self.advanced)
        brow = QHBoxLayout()
        self.train_btn = QPushButton("Train")
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setEnabled(False)
        brow.addWidget(self.train_btn)
        brow.addWidget(self.cancel_btn)
        v.addLayout(brow)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        v.addWidget(self.progress)
        self.train_status = self._text()
        v.addWidget(self.train_status)
        v.addStretch(1)
        self.train_btn.clicked.connect(lambda: self.train())
        self.cancel_btn.clicked.connect(self.cancel)
        return w

    def _page_reveal(self) -> QWidget:
        w = QWidget()
        v = QVBoxLayout(w)
        self.chart = RevealChart()
        v.addWidget(self.chart, 3)
        self.reveal_label = self._text()
        v.addWidget(self.reveal_label, 1)
        return w

    def _page_mask(self) -> QWidget:
        w = QWidget()
        v = QVBoxLayout(w)
        v.addWidget(self._text("PointMask learns which points to drop. <span style='color:#0072B2'><b>Blue</b></span>: "
                               "kept, <span style='color:#767676'><b>grey</b></span>: dropped, <span style='color:#D55E00'><b>red</b></span>: letter "
                               "points it keeps. Right: how likely each point is kept."))
        row = QHBoxLayout()
        self.mask_class = QComboBox()
        row.addWidget(QLabel("test cloud of"))
        row.addWidget(self.mask_class, 1)
        self.mask_index = QSpinBox()
        self.mask_index.setRange(1, 5)
        self.mask_index.setPrefix("cloud ")
        row.addWidget(self.mask_index)
        v.addLayout(row)
        self.mask_label = self._text()
        v.addWidget(self.mask_label)
        v.addStretch(1)
        self.mask_class.currentIndexChanged.connect(lambda _i: self.explain() if self.step == 4 else None)
        self.mask_index.valueChanged.connect(lambda _i: self.explain() if self.step == 4 else None)
        return w

    # ---- navigation ----------------------------------------------------------------------------
    @property
    def classes(self) -> list[str]:
        return [n for n, c in self.class_checks.items() if c.isChecked()]

    @property
    def k(self) -> int:
        return self.k_slider.value()

    @property
    def running(self) -> bool:
        return self.handle is not None and self.handle.active

    def go(self, step: int) -> None:
        step = max(0, min(len(STEPS) - 1, int(step)))
        if step > self.step and not self._may_leave(self.step):
            return
        self.step = step
        self.pages.setCurrentIndex(step)
        self.header.setText(f"<h2>Step {step + 1} of {len(STEPS)}: {STEPS[step]}</h2>")
        if step == 0:
            self._enter_classes()
        elif step == 1:
            self._enter_inject()
        elif step == 2:
            if self.result is not None and not self._same_settings(self.result.params):
                self.result = None            # classes, k or settings changed: train again first
                self.train_status.setText("The settings changed: press <b>Train</b>.")
                self.progress.setValue(0)
            self.train_btn.setText("Train" if self.result is None else "Train again")
        elif step == 3:
            self._enter_reveal()
        elif step == 4:
            self._enter_mask()
        self._update_nav()

    def _may_leave(self, step: int) -> bool:
        if step == 0:
            return 3 <= len(self.classes) <= 4
        if step == 2:
            return self.result is not None and not self.running
        if step == 3:
            return self.result is not None and "pointmask" in self.result.metrics["models"]
        return True

    def _update_nav(self) -> None:
        n = len(self.classes)
        self.class_hint.setText("" if 3 <= n <= 4 else f"<b>{n} chosen: pick 3 or 4.</b>")
        self.back.setEnabled(self.step > 0 and not self.running)
        self.next.setEnabled(self.step < len(STEPS) - 1 and not self.running and self._may_leave(self.step))

    def set_presenting(self, on: bool) -> None:
        self.advanced.setVisible(not on)

    # ---- step 1: classes -----------------------------------------------------------------------
    def showEvent(self, ev) -> None:
        super().showEvent(ev)
        if self.step == 0:
            self._enter_classes()

    def _enter_classes(self) -> None:
        """One cloud of each of the first two ticked classes in the two views, so the class sees
        what the network will be asked to tell apart (the views were empty until step 2)."""
        if self.step != 0 or not self.isVisible():
            return
        ticked = self.classes[:2]
        if not ticked:
            self.scene.clear(LAYERS)
            return
        self._load_samples(self._draw_classes, classes=ticked)

    def _draw_classes(self) -> None:
        if self.step != 0 or self.samples is None:
            return
        names = self.sample_classes[0]
        self.scene.clear(LAYERS)
        self._show_views()
        for view, name in enumerate(names[:2]):
            self.scene.add(PointsLayer(f"{LAYERS}example{view}", view=view, points=self.samples["train"][view],
                                       color=OBJECT, point_size=6.0, style="spheres",
                                       title=f"a {name.replace('_', ' ')}"))

    # ---- step 2: inject ------------------------------------------------------------------------
    def _show_views(self) -> None:
        show_views(self.window_, self.scene, 2)

    def _load_samples(self, then, classes=None, points=None) -> None:
        """The clean clouds of ``classes`` (default: the ticked ones) on the engine thread, then ``then()``."""
        classes, seed = tuple(classes or self.classes), DEFAULTS["seed"]
        points = int(points or self.points.value())
        if self.samples is not None and self.sample_classes == (classes, points):
            then()
            return

        def done(out) -> None:
            self.samples, self.sample_classes = out, (classes, points)
            then()

        self.session.client.submit(Request("Demo: loading sample clouds",
                                           lambda: load_samples(list(classes), points, seed),
                                           target="demo.samples", on_result=done, interactive=True, listed=False,
                                           on_error=lambda msg: self.session.emit("error", f"demo: {msg}")))

    def _enter_inject(self) -> None:
        names = self.classes
        self.show_class.blockSignals(True)
        keep = self.show_class.currentText()
        self.show_class.clear()
        self.show_class.addItems([f"{n.replace('_', ' ')} (letter {class_letter(i)})" for i, n in enumerate(names)])
        i = self.show_class.findText(keep)
        self.show_class.setCurrentIndex(max(i, 0))
        self.show_class.blockSignals(False)
        self.letters.setText("Letters: " + ", ".join(f"{n.replace('_', ' ')} = <b style='color:{LETTER}'>"
                                                     f"{class_letter(i)}</b>" for i, n in enumerate(names)))
        self._load_samples(self._draw_inject)

    def _draw_inject(self) -> None:
        k, n = self.k, self.points.value()
        self.k_label.setText(f"{k} ({100 * k / n:.0f} % of {n})")
        if self.samples is None or self.step != 1:
            return
        c = max(self.show_class.currentIndex(), 0)
        clean = self.samples["train"][c]
        biased = inject(clean, c, len(self.classes), k, DEFAULTS["seed"])
        name = self.classes[c].replace("_", " ")
        self.scene.clear(LAYERS)
        self._show_views()
        self.scene.add(PointsLayer("demo.clean", points=clean, color=OBJECT, point_size=6.0, style="spheres",
                                   title=f"a clean {name}"))
        self.scene.add(PointsLayer("demo.object", view=1, points=biased[:n], color=OBJECT, point_size=6.0,
                                   style="spheres", title=f"the same {name} + letter {class_letter(c)}"))
        self.scene.add(PointsLayer("demo.letter", view=1, points=biased[n:], color=LETTER, point_size=8.0,
                                   style="spheres", title=f"{k} letter points"))

    # ---- step 3: train --------------------------------------------------------------------------
    def params(self) -> dict:
        if self._ckdir is None:
            self._ckdir = tempfile.TemporaryDirectory(prefix="pointlens-demo-")   # removed at exit
        models = [m for m, _ in MODELS if self.model_checks[m].isChecked()]
        return {"levels": str(self.k), "models": ",".join(models), "epochs": self.epochs.value(),
                "width": self.width_box.value(), "points": self.points.value(),
                "limit": self.per_class.value() * len(self.classes), "classes": ",".join(self.classes),
                "seed": DEFAULTS["seed"], "keep_checkpoints": self._ckdir.name}

    def _same_settings(self, done: dict) -> bool:
        now = self.params()
        return all(str(done.get(k)) == str(now[k]) for k in now if k != "keep_checkpoints")

    def train(self):
        params = self.params()
        if not params["models"]:
            self.train_status.setText("<b>Tick at least one model.</b>")
            return None
        self.result = None
        self.progress.setValue(0)
        self.train_status.setText("starting…")
        self.t_start = time.monotonic()

        def progress(p) -> None:
            self.progress.setValue(int(1000 * p.fraction))
            self.train_status.setText(f"{p.message}  ({time.monotonic() - self.t_start:.0f} s)")

        def done(res) -> None:
            self.result = res
            self.progress.setValue(1000)
            self.train_status.setText(f"Done in {time.monotonic() - self.t_start:.0f} s. Press <b>Next</b>.")
            self.session.add_result("bias-injection demo", res, show=False)
            self._finished()

        def stopped(text: str) -> None:
            self.progress.setValue(0)
            self.train_status.setText(text)
            self._finished()

        self.handle = self.session.run_method(
            "bias-lab", {"data": "builtin"}, params, name="Demo: training on biased data",
            target="demo.train", on_result=done, on_progress=progress, quiet=True,
            on_error=lambda msg: (stopped(f"<b>failed:</b> {msg}"), self.session.emit("error", f"demo: {msg}")),
            on_cancel=lambda: stopped("Cancelled. Change the settings or press <b>Train</b> again."))
        self.train_btn.setEnabled(False)
        self.cancel_btn.setEnabled(True)
        self._update_nav()
        return self.handle

    def cancel(self) -> None:
        if self.running:
            self.session.client.cancel(self.handle)

    def _finished(self) -> None:
        self.train_btn.setEnabled(True)
        self.train_btn.setText("Train" if self.result is None else "Train again")
        self.cancel_btn.setEnabled(False)
        self._update_nav()

    # ---- step 4: reveal -------------------------------------------------------------------------
    def accuracy(self) -> dict:
        """{"biased"|"unbiased": {model: fraction}} at this run's level, from the result."""
        m = self.result.metrics
        lv = str(m["levels"][0])
        return {name: {mod: m["accuracy"][name][mod][lv] for mod in m["models"]} for name in ("biased", "unbiased")}

    def _enter_reveal(self) -> None:
        m, acc = self.result.metrics, self.accuracy()
        models = list(m["models"])
        self.reveal = {mod: (acc["biased"][mod], acc["unbiased"][mod]) for mod in models}
        self.chart.draw([NAMES.get(x, x) for x in models], [self.reveal[x][0] for x in models],
                        [self.reveal[x][1] for x in models], m["chance"])
        self.reveal_label.setText(reveal_text(acc, models, m["chance"]) + (
            "" if "pointmask" in models else "<br><i>Tick PointMask in step 3 to see what its mask drops.</i>"))

    # ---- step 5: the mask ------------------------------------------------------------------------
    def _enter_mask(self) -> None:
        names = self.result.metrics["classes"]
        self.mask_class.blockSignals(True)
        if self.mask_class.count() != len(names):
            self.mask_class.clear()
            self.mask_class.addItems([n.replace("_", " ") for n in names])
        self.mask_class.blockSignals(False)
        m = self.result.metrics            # what was trained, even if the settings changed since
        self._load_samples(self.explain, m["classes"], m["points"])

    def checkpoint(self, model: str = "pointmask") -> str:
        run = next(r for r in self.result.metrics["runs"] if r["model"] == model)
        return run["checkpoint"]

    def explain(self):
        if self.samples is None or self.result is None:
            return None
        m = self.result.metrics
        c = max(self.mask_class.currentIndex(), 0)
        n, k = int(m["points"]), int(m["levels"][0])
        clouds = self.samples["test"][c]
        j = min(self.mask_index.value(), len(clouds)) - 1
        pts = inject(clouds[j], c, len(m["classes"]), k, DEFAULTS["seed"] + 1 + j)
        is_bias = np.zeros(len(pts), bool)
        is_bias[n:] = True
        self.mask_label.setText("PointMask is looking at the cloud…")

        def done(res) -> None:
            from .session import with_points

            self.explained = res
            saved = with_points(res, pts, self.session.provenance())
            saved = dataclasses.replace(saved, arrays={**saved.arrays, "is_bias": is_bias})
            self.session.add_result("bias demo: PointMask's mask", saved, show=False)
            self.scene.clear(LAYERS)
            self._show_views()
            # One noise draw of the mask, as the classifier sees it in training and testing (the
            # bias lab's PointMask samples its mask; at t = 0.8 the noise-free mask keeps nothing).
            kept = np.asarray(res.arrays.get("kept_sampled", res.arrays["kept"]), bool)
            keep_p = np.asarray(res.arrays.get("keep_probability", kept), np.float64)
            for layer in layers_for(saved):
                layer = replace(layer, name=LAYERS + layer.name.split(".", 1)[-1])
                if "category" in layer.scalars:       # the question here: is the LETTER kept?
                    layer = replace(layer, scalars={"category": Scalar(letter_categories(kept, is_bias),
                                                                       kind="categorical", title="PointMask",
                                                                       names=MASK_NAMES)},
                                    title="PointMask's mask")
                self.scene.add(layer)
            self.mask_label.setText(mask_text(self.accuracy(), self.result.metrics["runs"], res.metrics,
                                              int(is_bias.sum()), int(kept[is_bias].sum()), n,
                                              int(kept[~is_bias].sum()),
                                              keep_p=(float(keep_p[is_bias].mean()), float(keep_p[~is_bias].mean()))))

        return self.session.run_method("pointmask-explain", {"points": pts, "label": c}, {"model_threshold": True},
                                       model=self.checkpoint(), target="demo.explain",
                                       name="Demo: PointMask's mask", on_result=done)
