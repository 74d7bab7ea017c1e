"""The PointMask panel's bias lab (METHOD "bias-lab", paper Fig. 4) and its biased-sample gallery.

One job trains every ticked model at every bias level; the accuracy-vs-bias plot fills in from
``Progress.preview``. When it ends, the gallery shows what the models were trained on: for one
class (combo), a thumbnail per level of that class's training cloud with its letter (an oblique
view from above, so the object and the flat letter both read; object points blue, letter points
red, titled "k = 50 letter points, class chair").
The result carries the gallery clouds at the largest level only; the other levels are rebuilt
from the same object points by ``engine.methods.pointmask.bias_inject.inject_bias`` ON THE ENGINE THREAD
(the same letters, seeds and placement the lab trained on). Clicking a thumbnail draws that cloud
in 3D in the viewport. CSV and PNG exports carry provenance (``viewer.provenance``).
"""
from __future__ import annotations

import math
import os

import numpy as np
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QGridLayout, QGroupBox,
                               QHBoxLayout, QLabel, QLineEdit, QPushButton, QSpinBox, QWidget)

from engine import describe
from engine.specs.pointmask import BIAS_LAB, LAB_MODELS, PLACEMENTS     # torch-free

from .. import provenance
from ..scene import PointsLayer
from ..work import Request
from .plot_legend import legend_beside

MODEL_COLOURS = {"pointnet": "#E69F00", "randmask": "#56B4E9", "pointmap": "#009E73", "pointmask": "#0072B2"}
# Models often score the same (all near chance, or all near 100 %): a line lying on another must
# still show, so each model also has its own dash and marker, and later lines are drawn thinner.
LINE_STYLES = ("solid", "dash", "dot", "dashdot")
MARKERS = ("o", "s", "t", "d")
PLOT_TITLE = "Bias lab: accuracy on the unbiased test split"
X_LABEL, Y_LABEL = "letter points per cloud (k)", "unbiased test accuracy"
EXPORT_SIZE = (1200, 800)     # px: a figure's aspect, whatever shape the Plots dock has


def draw_curves(plot, levels: np.ndarray, models: list[str], unbiased: np.ndarray) -> None:
    """One line per model: its colour, dash and marker; runs not done yet (NaN) left out."""
    from PySide6.QtCore import Qt

    dashes = {"solid": Qt.SolidLine, "dash": Qt.DashLine, "dot": Qt.DotLine, "dashdot": Qt.DashDotLine}
    legend_beside(plot)                 # the dock's plot is a low strip: a legend inside covers lines
    for mi, m in enumerate(models):
        colour = MODEL_COLOURS.get(m, "#555555")
        ok = np.isfinite(unbiased[mi])
        style = dashes[LINE_STYLES[mi % len(LINE_STYLES)]]
        plot.plot(levels[ok], unbiased[mi][ok], pen={"color": colour, "width": max(1.5, 3.0 - 0.5 * mi), "style": style},
                  symbol=MARKERS[mi % len(MARKERS)], symbolSize=max(6, 11 - 2 * mi), symbolBrush=colour,
                  symbolPen=None, name=m)
    plot.setYRange(0, 1.0)
OBJECT, LETTER = "#0072B2", "#D55E00"        # paper Fig. 3: blue object, red bias
CSV_HEADER = ["model", "bias_points", "unbiased_test_accuracy", "biased_test_accuracy"]


def table_rows(levels, models, unbiased: np.ndarray, biased: np.ndarray) -> list[list[str]]:
    """One row per (model, level); accuracies as fractions with 6 decimals, '' where not run."""
    def cell(v) -> str:
        return "" if math.isnan(float(v)) else f"{float(v):.6f}"
    return [[m, str(int(lv)), cell(unbiased[mi, li]), cell(biased[mi, li])]
            for mi, m in enumerate(models) for li, lv in enumerate(levels)]


def write_csv(path: str, levels, models, unbiased: np.ndarray, biased: np.ndarray, prov: dict) -> None:
    """The accuracy table, atomic, with its provenance line first."""
    provenance.write_csv(path, CSV_HEADER, table_rows(levels, models, unbiased, biased), prov)


def oblique(points: np.ndarray, up: str = "z", azimuth: float = 35.0, elevation: float = 25.0) -> np.ndarray:
    """(N, 3) -> (N, 2): the cloud seen from above and to the side (the viewer's "iso" idea), so
    both the object's shape and the letter lying in the horizontal plane can be read."""
    p = np.asarray(points, np.float64)
    if up == "y":                      # make z the up axis
        p = p[:, [0, 2, 1]] * np.array([1.0, -1.0, 1.0])
    elif up == "x":
        p = p[:, [1, 2, 0]]
    a, e = math.radians(azimuth), math.radians(elevation)
    u = p[:, 0] * math.cos(a) - p[:, 1] * math.sin(a)
    depth = p[:, 0] * math.sin(a) + p[:, 1] * math.cos(a)
    v = p[:, 2] * math.cos(e) + depth * math.sin(e)
    return np.stack([u, v], axis=1)


def gallery_levels(objects: np.ndarray, labels: np.ndarray, levels, num_classes: int, placement: str,
                   distance: float, scale: float, seed: int) -> dict:
    """Engine thread: {level: (clouds (K, N + level, 3), is_bias)} rebuilt exactly as the lab did."""
    from engine import inject_bias

    return {int(lv): inject_bias(objects, labels, int(lv), num_classes, placement=placement, distance=distance,
                                 scale=scale, seed=seed) for lv in levels}


class BiasLabBox(QGroupBox):
    def __init__(self, panel):
        super().__init__("Bias lab (paper Fig. 4)")
        self.panel = panel
        self.handle = None
        self.data = None            # (levels, models, unbiased, biased)
        self.result = None          # the last bias-lab Result
        self.gallery: dict = {}     # level -> (clouds, is_bias), every class
        self.thumbs: list = []      # the gallery's PlotItems, one per level

        default = BIAS_LAB.defaults()             # defaults and help texts live in the spec
        tips = {d["name"]: d["help"] for d in describe(BIAS_LAB.params)}
        self.levels = QLineEdit(default.levels)
        self.levels.setToolTip(tips["levels"])
        self.model_checks = {}
        mrow = QGridLayout()                     # 2 x 2: four boxes in a row make the tab too wide
        for i, m in enumerate(LAB_MODELS):
            c = QCheckBox(m)
            c.setChecked(True)
            self.model_checks[m] = c
            mrow.addWidget(c, i // 2, i % 2)
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 1000)
        self.epochs.setValue(default.epochs)
        self.epochs.setToolTip(tips["epochs"])
        self.points = QSpinBox()
        self.points.setRange(8, 4096)
        self.points.setValue(default.points)
        self.points.setToolTip(tips["points"])
        self.limit = QSpinBox()
        self.limit.setRange(0, 100000)
        self.limit.setValue(default.limit)
        self.limit.setToolTip(tips["limit"])
        self.width_box = QDoubleSpinBox()
        self.width_box.setRange(0.01, 8.0)
        self.width_box.setDecimals(4)            # 0.125 must not read as 0.13
        self.width_box.setSingleStep(0.125)
        self.width_box.setValue(default.width)
        self.width_box.setToolTip(tips["width"])
        self.placement = QComboBox()
        self.placement.addItems(list(PLACEMENTS))
        self.placement.setCurrentText(default.placement)
        self.placement.setToolTip(tips["placement"])
        self.run_btn = QPushButton("Run bias lab")
        self.run_btn.setToolTip("Train every model at every level (one job; cancel it in the Jobs dock)")
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.csv_btn = QPushButton("Export CSV…")
        self.png_btn = QPushButton("Export plot PNG…")
        self.gallery_class = QComboBox()
        self.gallery_class.setToolTip("the class whose biased training cloud the gallery shows")
        self.gallery_note = QLabel("The biased training samples appear here when the lab has run.")
        self.gallery_note.setWordWrap(True)
        self.gallery_grid = QGridLayout()
        holder = QWidget()
        holder.setLayout(self.gallery_grid)

        lf = QFormLayout(self)
        lf.addRow("levels", self.levels)
        lf.addRow("models", mrow)
        lf.addRow("epochs", self.epochs)
        lf.addRow("points", self.points)
        lf.addRow("limit per split", self.limit)
        lf.addRow("width", self.width_box)
        lf.addRow("letter placement", self.placement)
        lf.addRow(self.run_btn)
        lf.addRow(self.status)
        erow = QHBoxLayout()
        erow.addWidget(self.csv_btn)
        erow.addWidget(self.png_btn)
        lf.addRow(erow)
        lf.addRow("gallery class", self.gallery_class)
        lf.addRow(self.gallery_note)
        lf.addRow(holder)

        self.run_btn.clicked.connect(lambda: self.run())
        self.csv_btn.clicked.connect(lambda: panel._export_dialog("csv"))
        self.png_btn.clicked.connect(lambda: panel._export_dialog("png"))
        self.gallery_class.currentIndexChanged.connect(lambda _i: self.draw_gallery())
        self.update_buttons()

    def update_buttons(self) -> None:
        have = self.data is not None
        self.csv_btn.setEnabled(have)
        self.png_btn.setEnabled(have)
        self.gallery_class.setEnabled(bool(self.gallery))

    # ---- the job -------------------------------------------------------------------------------
    def run(self, **extra):
        p = self.panel
        models = [m for m, c in self.model_checks.items() if c.isChecked()]
        if not models:
            self.status.setText("Tick at least one model.")
            return None
        data = p.session.current.spec if p.session.current is not None else "builtin"
        params = {"levels": self.levels.text(), "models": ",".join(models), "epochs": self.epochs.value(),
                  "points": self.points.value(), "limit": self.limit.value(), "width": self.width_box.value(),
                  "placement": self.placement.currentText(), **extra}
        plot = p.plots.plot("pointmask.bias", PLOT_TITLE, X_LABEL, Y_LABEL, tab="bias lab")
        plot.clear()
        self.data = None
        self.update_buttons()
        p.plots.raise_dock()
        self.status.setText("starting…")

        def progress(pr) -> None:
            pv = pr.preview or {}
            if "accuracy_unbiased" in pv and not self._same_table(pv["accuracy_unbiased"]):
                self.draw(pv["levels"], [str(m) for m in pv["models"]], pv["accuracy_unbiased"],
                          pv["accuracy_biased"])
            self.status.setText(pr.message)

        self.handle = p.run_method("bias-lab", {"data": data}, params, target="pointmask.lab", name="Bias lab",
                                   on_result=self.done, on_progress=progress)
        return self.handle

    def _same_table(self, unbiased) -> bool:
        """Training previews repeat the table ~30 times a second: redraw only when it changed."""
        return self.data is not None and np.array_equal(np.asarray(unbiased, np.float64), self.data[2],
                                                        equal_nan=True)

    def done(self, res) -> None:
        a = res.arrays
        self.result = res
        self.draw(a["levels"], list(res.metrics["models"]), a["accuracy_unbiased"], a["accuracy_biased"])
        self.status.setText(f"done in {res.metrics.get('seconds', 0):.0f} s "
                            f"(chance {100 * res.metrics.get('chance', 0):.0f} %)")
        self.panel.session.add_result("bias lab", res, show=False)
        self.load_gallery(res)

    def draw(self, levels, models, unbiased, biased) -> None:
        levels = np.asarray(levels, np.float64)
        unbiased, biased = np.asarray(unbiased, np.float64), np.asarray(biased, np.float64)
        self.data = (levels, models, unbiased, biased)
        plot = self.panel.plots.plot("pointmask.bias")
        plot.clear()
        draw_curves(plot, levels, models, unbiased)
        self.update_buttons()

    # ---- gallery ---------------------------------------------------------------------------------
    def load_gallery(self, res) -> None:
        """Rebuild every level's biased clouds from the result's object points (engine thread)."""
        a, m, prm = res.arrays, res.metrics, res.params
        levels = [int(v) for v in a["levels"]]
        clouds = np.asarray(a["gallery"], np.float32)
        labels = np.asarray(a["gallery_labels"], np.int64)
        objects = clouds[:, :clouds.shape[1] - max(levels)]        # inject_bias appends the letter
        classes = list(m.get("classes") or [])
        k = len(classes) or int(labels.max()) + 1
        self.gallery_note.setText("building the gallery…")

        def got(gal: dict) -> None:
            self.gallery = gal
            self.gallery_labels = labels
            self.gallery_classes = classes
            cur = self.gallery_class.currentText()
            self.gallery_class.blockSignals(True)
            self.gallery_class.clear()
            self.gallery_class.addItems([classes[c] if c < len(classes) else f"class {c}" for c in labels])
            if self.gallery_class.findText(cur) >= 0:
                self.gallery_class.setCurrentText(cur)
            self.gallery_class.blockSignals(False)
            self.draw_gallery()
            self.update_buttons()

        self.panel.session.client.submit(Request(
            "Bias lab gallery", lambda: gallery_levels(objects, labels, levels, k, prm.get("placement", "per-class"),
                                                       float(prm.get("distance", 1.5)), float(prm.get("scale", 0.5)),
                                                       int(prm.get("seed", 0))),
            on_result=got, on_error=lambda msg: self.gallery_note.setText(f"gallery failed: {msg}"),
            listed=False))

    def gallery_title(self, level: int, row: int) -> str:
        c = int(self.gallery_labels[row])
        name = self.gallery_classes[c] if c < len(self.gallery_classes) else f"class {c}"
        return f"k = {level} letter points, class {name}"

    def draw_gallery(self) -> None:
        """One thumbnail per level for the chosen class: x-y projection, object blue, letter red."""
        import pyqtgraph as pg

        while self.gallery_grid.count():
            w = self.gallery_grid.takeAt(0).widget()
            if w is not None:
                w.hide()            # at once (deleteLater waits for the event loop)
                w.deleteLater()
        self.thumbs = []
        row = self.gallery_class.currentIndex()
        if not self.gallery or row < 0:
            return
        cur = self.panel.session.current
        up = str(cur.info.get("up_axis", "z")) if cur is not None and hasattr(cur, "info") else "z"
        for i, (level, (clouds, is_bias)) in enumerate(sorted(self.gallery.items())):
            pts, bias = oblique(clouds[row], up), is_bias[row]
            w = pg.PlotWidget()
            w.setFixedHeight(190)
            item = w.getPlotItem()
            title = self.gallery_title(level, row)
            item.setTitle(title.replace(", class", ",<br>class"), size="8pt")   # two lines: half a tab wide
            item.hideAxis("left")
            item.hideAxis("bottom")
            item.setAspectLocked(True)
            item.addItem(pg.ScatterPlotItem(pts[~bias, 0], pts[~bias, 1], size=3, pen=None, brush=OBJECT))
            if bias.any():
                item.addItem(pg.ScatterPlotItem(pts[bias, 0], pts[bias, 1], size=4, pen=None, brush=LETTER))
            w.setToolTip(f"{title}\nblue: object points, red: letter (bias) points; seen obliquely from above. "
                         "Click to view it in 3D.")
            w.scene().sigMouseClicked.connect(lambda _ev, lv=level: self.show_in_viewport(lv))
            self.gallery_grid.addWidget(w, i // 2, i % 2)
            self.thumbs.append(item)
        self.gallery_note.setText("Blue: object, red: letter (bias). Click one: 3D view.")

    def show_in_viewport(self, level: int) -> None:
        row = self.gallery_class.currentIndex()
        clouds, is_bias = self.gallery[level]
        pts, bias = clouds[row], is_bias[row]
        p = self.panel
        p.scene.clear("pointmask.")
        from .base import show_views

        show_views(p.window(), p.scene, 1)
        title = self.gallery_title(level, row)
        p.scene.add(PointsLayer("pointmask.gallery.object", points=pts[~bias], color=OBJECT, point_size=6.0,
                                style="spheres", title=f"{title}: object points"))
        if bias.any():
            p.scene.add(PointsLayer("pointmask.gallery.letter", points=pts[bias], color=LETTER, point_size=6.0,
                                    style="spheres", title=f"{title}: letter (bias) points"))

    # ---- exports ---------------------------------------------------------------------------------
    def form_params(self) -> dict:
        return {"levels": self.levels.text(), "models": ",".join(m for m, c in self.model_checks.items() if c.isChecked()),
                "epochs": self.epochs.value(), "points": self.points.value(), "limit": self.limit.value(),
                "width": self.width_box.value(), "placement": self.placement.currentText()}

    def provenance(self) -> dict:
        """What made the table: the lab's params and data (the open checkpoint and sample play no
        part in it, so they are left out)."""
        res = self.result
        sess = {k: v for k, v in self.panel.session.provenance().items()
                if k in ("device", "dataset", "dataset_fingerprint")}
        extra = {}
        if res is not None:
            extra = {"data": res.provenance.get("data"), "data_fingerprint": res.provenance.get("data_fingerprint"),
                     "seed": res.provenance.get("seed"), "classes": res.metrics.get("classes")}
        levels, models = (self.data[0], self.data[1]) if self.data is not None else ([], [])
        return provenance.describe("bias-lab", dict(res.params) if res is not None else self.form_params(), sess,
                                   levels=[int(v) for v in levels], models=list(models), **extra)

    def export_csv(self, path: str) -> None:
        levels, models, unbiased, biased = self.data
        write_csv(path, levels, models, unbiased, biased, self.provenance())

    def export_png(self, path: str) -> None:
        """The plot drawn again at ``EXPORT_SIZE`` in a hidden widget (the dock's plot is often a
        wide, short strip) and saved with provenance."""
        import pyqtgraph as pg
        import pyqtgraph.exporters as pe
        from PySide6.QtCore import QEvent, Qt
        from PySide6.QtWidgets import QApplication

        from engine import atomic_path

        levels, models, unbiased, _biased = self.data
        widget = pg.PlotWidget()
        widget.setAttribute(Qt.WA_DontShowOnScreen)
        widget.resize(*EXPORT_SIZE)
        try:
            item = widget.getPlotItem()
            item.showGrid(x=True, y=True, alpha=0.25)
            item.setTitle(PLOT_TITLE)
            item.setLabel("bottom", X_LABEL)
            item.setLabel("left", Y_LABEL)
            draw_curves(item, levels, models, unbiased)
            widget.show()
            QApplication.processEvents()            # lay the hidden widget out at its size
            exporter = pe.ImageExporter(item)
            with atomic_path(path) as tmp:
                tmp_png = str(tmp) + ".png"           # the exporter picks the format from the suffix
                exporter.export(tmp_png)
                os.replace(tmp_png, tmp)
        finally:
            widget.hide()           # not close(): pyqtgraph's close() drops the plot item a later close needs
            widget.deleteLater()
            QApplication.sendPostedEvents(None, QEvent.DeferredDelete)   # gone now, not at some later turn
        provenance.stamp_png(path, self.provenance())
