"""The ParAE panel (issue 6, Viewer): what a ParAE network makes of the current sample.

The cloud coloured by its partition (argmax responsibility, categorical legend); each Gaussian
part's 1-sigma ellipsoid (toggle, opacity, optionally scaled by the part's weight pi); the
mixture-density isosurface with a level slider that re-contours the CACHED density grid on the
GUI thread (``engine.numeric.gmm_geometry.isosurface`` is numpy + scikit-image only, a few ms); a component
table (pi, mu, eigenvalues) whose selection highlights the part's points and ellipsoid; a picked
point colours the cloud by 3D distance (view 0) and by point-feature distance (view 1, paper
Fig. 3 bottom); a probe button runs the linear-SVM probe (pretrained vs random init) and plots
the t-SNE embedding of the test features (hover a dot: its class and sample; click: show that
test sample); a TrainBox (train_box.py) trains a ParAE model with a live loss curve and the
panel switches to the checkpoint it writes.

Engine methods: ``parae-explain``, ``probe``.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QDoubleSpinBox, QFormLayout, QGroupBox, QHBoxLayout,
                               QLabel, QLineEdit, QPushButton, QSlider, QSpinBox, QTableWidget, QTableWidgetItem,
                               QVBoxLayout)

from .. import colormaps
from ..scene import EllipsoidsLayer, PointsLayer, Scalar, SurfaceLayer
from ..session import with_points
from ..value_histogram import ValueHistogram
from .base import MethodPanel, button_row
from .focus import hide_others
from .train_box import TrainBox

DEMO = "demo:parae"
DEMO_FILE = Path(__file__).resolve().parents[2] / "assets" / "demo_parae.safetensors"
MAKE_DEMO = ("assets/demo_parae.safetensors is missing: build it with `make demo-models` "
             "(or the 'parae' line of assets/make_demo_models.sh), or open another ParAE checkpoint.")
SLIDER_STEPS = 200
# The selected part's points and ellipsoid in vermillion, every other part grey (as the points'
# "dimmed-highlight" palette: category 1 is the selected part).
HIGHLIGHT, DIMMED = (np.array(colormaps._hex_to_rgb(h), np.uint8) for h in reversed(colormaps.DIMMED_HIGHLIGHT))


class ParaePanel(MethodPanel):
    name = "parae"
    title = "ParAE"
    EXPLAIN = "parae-explain"
    PROBE = "probe"

    def __init__(self, ctx, parent=None):
        super().__init__(ctx, parent)
        self.sample = None
        self.result = None              # the last parae-explain Result
        self.grid = None                # its cached DensityGrid (re-contoured by the slider)
        self.level_range = (1e-3, 1.0)
        self.selected_part: int | None = None
        self.probe_result = None

        self.ckpt = QLineEdit(DEMO)
        self.ckpt.setToolTip("ParAE checkpoint: a path or demo:parae")
        self.ckpt_note = QLabel("" if DEMO_FILE.is_file() else MAKE_DEMO)
        self.ckpt_note.setWordWrap(True)
        self.ckpt_note.setStyleSheet("color: #a0522d;")
        self.resolution = QSpinBox()
        self.resolution.setRange(8, 256)
        self.resolution.setValue(48)
        self.resolution.setToolTip("density grid voxels along the cloud's longest side")
        self.run_btn = QPushButton("Explain")
        self.run_btn.setToolTip("Run the network once: parts, responsibilities, density grid, isosurface")
        self.summary = QLabel("")
        self.summary.setWordWrap(True)

        # isosurface
        self.show_surface = QCheckBox("show isosurface")
        self.show_surface.setChecked(True)
        self.level = QSlider(Qt.Horizontal)
        self.level.setRange(0, SLIDER_STEPS)
        self.level.setToolTip("density level c of the surface g(x) = c (log scale); re-contours without the network")
        self.level_label = QLabel("level: –")
        # the points' own densities on the slider's log scale: which points a level c encloses
        self.hist = ValueHistogram(words=("points inside", "outside"), label=lambda v: f"c = {math.exp(v):.3g}",
                                   about="mixture density g(x) at the cloud's points (log scale); "
                                         "the line is the level c")
        # ellipsoids
        self.show_ellipsoids = QCheckBox("show 1-sigma ellipsoids")
        self.show_ellipsoids.setChecked(True)
        self.by_pi = QCheckBox("scale by pi")
        self.by_pi.setToolTip("scale each ellipsoid by (pi_j / max pi)^(1/3): volume proportional to weight")
        self.opacity = QDoubleSpinBox()
        self.opacity.setRange(0.05, 1.0)
        self.opacity.setSingleStep(0.05)
        self.opacity.setValue(0.35)
        # components
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["part", "pi", "mu (x, y, z)", "eigenvalues of Sigma"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setMinimumHeight(160)
        self.table.verticalHeader().setVisible(False)
        self.pick_label = QLabel("Click a point: colour by 3D distance (view 1) and feature distance (view 2).")
        self.pick_label.setWordWrap(True)
        # probe
        self.probe_limit = QSpinBox()
        self.probe_limit.setRange(0, 100000)
        self.probe_limit.setValue(10)
        self.probe_limit.setToolTip("samples per split, balanced over classes (0 = all)")
        self.probe_points = QSpinBox()
        self.probe_points.setRange(16, 100000)
        self.probe_points.setValue(1024)
        self.probe_points.setToolTip("points per cloud given to the frozen network")
        self.probe_btn = QPushButton("Probe (linear SVM)")
        self.probe_btn.setToolTip("Linear-SVM accuracy of the frozen features, pretrained vs random init; t-SNE")
        self.probe_label = QLabel("")
        self.probe_label.setWordWrap(True)
        self.embed_label = QLabel("")
        self.embed_label.setWordWrap(True)
        self.probe_spec = None          # the dataset the probe ran on (its test indices refer to it)
        self.train_box = TrainBox(self, ("parae",), title="Train ParAE (self-supervised)",
                                  defaults={"width": 0.25, "epochs": 10, "points": 1024})
        self.train_box.trained.connect(self.use_trained)

        top = QFormLayout()
        top.addRow("checkpoint", self.ckpt)
        top.addRow(self.ckpt_note)
        top.addRow("grid resolution", self.resolution)
        surf = QGroupBox("Isosurface")
        sl = QVBoxLayout(surf)
        sl.addWidget(self.show_surface)
        sl.addWidget(self.hist)
        sl.addWidget(self.level)
        sl.addWidget(self.level_label)
        ell = QGroupBox("Gaussian parts")
        el = QVBoxLayout(ell)
        el.addLayout(button_row(self.show_ellipsoids, self.by_pi))   # wraps: one long row widened the tab
        row2 = QHBoxLayout()
        row2.addWidget(QLabel("opacity"))
        row2.addWidget(self.opacity)
        row2.addStretch(1)
        el.addLayout(row2)
        el.addWidget(self.table)
        el.addWidget(self.pick_label)
        prb = QGroupBox("Probe")
        pl = QFormLayout(prb)
        pl.addRow("samples per split", self.probe_limit)
        pl.addRow("points per cloud", self.probe_points)
        pl.addRow(self.probe_btn)
        pl.addRow(self.probe_label)
        pl.addRow(self.embed_label)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.run_btn)
        lay.addWidget(self.summary)
        lay.addWidget(surf)
        lay.addWidget(ell)
        lay.addWidget(prb)
        lay.addWidget(self.train_box)
        lay.addStretch(1)

        self.ckpt.textChanged.connect(
            lambda t: self.ckpt_note.setText(MAKE_DEMO if t.strip() == DEMO and not DEMO_FILE.is_file() else ""))
        self.run_btn.clicked.connect(self.run_explain)
        self.level.valueChanged.connect(self._level_moved)
        self.show_surface.toggled.connect(lambda on: self._style("parae.surface", visible=on))
        self.show_ellipsoids.toggled.connect(lambda on: self._style("parae.ellipsoids", visible=on))
        self.opacity.valueChanged.connect(lambda v: self._style("parae.ellipsoids", opacity=float(v)))
        self.by_pi.toggled.connect(lambda _: self._draw_ellipsoids())
        self.table.itemSelectionChanged.connect(self._part_selected)
        self.probe_btn.clicked.connect(self.run_probe)
        if ctx.viewports is not None and hasattr(ctx.viewports, "picked"):
            ctx.viewports.picked.connect(self.on_pick)
        self._update_buttons()

    # ---- session -----------------------------------------------------------------------------
    def on_session(self, event: str, payload) -> None:
        if event == "sample":
            self.sample = payload
            # keep explaining as the user browses samples, while this tab is the one shown
            if self.result is not None and self.isVisible():
                self.run_explain()
        elif event == "checkpoint" and payload is not None and getattr(payload, "model", "") == "parae":
            self.ckpt.setText(payload.spec)    # an opened ParAE checkpoint is the natural choice
            self.ckpt_note.setText("")
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.run_btn.setEnabled(self.sample is not None)
        self.probe_btn.setEnabled(self.session.current is not None)
        has = self.result is not None
        for w in (self.level, self.show_surface, self.show_ellipsoids, self.by_pi, self.opacity):
            w.setEnabled(has)

    def _style(self, name: str, **kw) -> None:
        if name in self.scene:
            self.scene.set_style(name, **kw)

    # ---- explain -----------------------------------------------------------------------------
    def run_explain(self):
        s = self.sample
        if s is None:
            return None
        spec = self.ckpt.text().strip() or DEMO
        if spec == DEMO and not DEMO_FILE.is_file():
            self.summary.setText(MAKE_DEMO)
            return None
        pts = s.model_input
        self.summary.setText("running ParAE…")

        def done(res) -> None:
            if self.sample is s:
                self.show_result(with_points(res, pts, self.session.provenance(), sample=s.name))

        return self.run_method(self.EXPLAIN, {"points": pts}, {"resolution": int(self.resolution.value())},
                               model=spec, target="parae.explain",
                               name=f"ParAE {s.name}", on_result=done,
                               on_error=lambda msg: self.failed(self.summary, "ParAE", msg))

    def show_result(self, res) -> None:
        from engine import grid_from_result

        self.result = res
        self.grid = grid_from_result(res)
        self.selected_part = None
        self.session.add_result(f"parae {res.metrics.get('sample', '')}".strip(), res, show=False)
        a, m = res.arrays, res.metrics
        pts = np.asarray(a["points"], np.float32)
        parts = int(m["parts"])
        hide_others(self.scene, "parae.", (0, 1))
        names = tuple(f"part {j}" for j in range(parts))
        partition = Scalar(np.asarray(a["partition"]), kind="categorical", title="ParAE part (argmax responsibility)",
                           names=names)
        dens = Scalar(np.asarray(a["point_density"], np.float32), title="mixture density g(x)",
                      normalisation="raw density (1/volume)")
        self.scene.add(PointsLayer("parae.points", points=pts, scalars={"partition": partition, "density": dens},
                                   active="partition", point_size=7.0, style="spheres",
                                   title=f"ParAE parts · {m.get('used_parts', parts)} of {parts} used"))
        self.scene.remove("parae.features")
        self._draw_ellipsoids()
        self._fill_table()
        # level slider: log scale from the density floor to the grid's maximum
        vals = self.grid.values
        hi = float(vals.max()) if vals.size else 1.0
        lo = max(float(self.grid.floor), hi * 1e-6, 1e-12)
        self.level_range = (math.log(lo), math.log(max(hi, lo * 1.0001)))
        self.level.blockSignals(True)
        self.level.setValue(self._slider_of(float(m["level"])))
        self.level.blockSignals(False)
        # the slider's range, so the line sits over the slider's handle
        self.hist.set_values(np.log(np.maximum(np.asarray(a["point_density"], np.float64), 1e-300)),
                             *self.level_range)
        self._draw_surface(float(m["level"]), a["iso_vertices"], a["iso_faces"])
        self.summary.setText(f"NLL {m['nll']:.3f} · {m.get('used_parts', parts)} of {parts} parts own points · "
                             f"grid spacing {m['grid_spacing']:.4f}")
        self._update_buttons()

    def _slider_of(self, level: float) -> int:
        a, b = self.level_range
        t = (math.log(max(level, 1e-300)) - a) / (b - a)
        return int(round(min(max(t, 0.0), 1.0) * SLIDER_STEPS))

    def level_of(self, pos: int) -> float:
        a, b = self.level_range
        return math.exp(a + (b - a) * pos / SLIDER_STEPS)

    def _level_moved(self, pos: int) -> None:
        if self.grid is None:
            return
        from engine.numeric.gmm_geometry import isosurface

        level = self.level_of(pos)
        verts, faces = isosurface(None, level, self.grid)   # cached grid: no network, a few ms
        self._draw_surface(level, verts, faces)

    def _draw_surface(self, level: float, verts, faces) -> None:
        self.hist.set_value(math.log(max(level, 1e-300)))
        self.level_label.setText(f"level c = {level:.4g} · {len(faces):,} triangles")
        self.scene.add(SurfaceLayer("parae.surface", vertices=verts, faces=faces, opacity=0.35,
                                    visible=self.show_surface.isChecked(),
                                    title=f"ParAE isosurface g(x) = {level:.3g}"))

    def _draw_ellipsoids(self) -> None:
        if self.result is None:
            return
        from engine.numeric.gmm_geometry import ellipsoid_axes

        a = self.result.arrays
        radii, axes = ellipsoid_axes(np.asarray(a["sigma"]))
        if self.by_pi.isChecked():
            pi = np.asarray(a["pi"], np.float64)
            radii = radii * np.cbrt(pi / max(pi.max(), 1e-12))[:, None]
        colors = None
        if self.selected_part is not None:
            colors = np.tile(DIMMED, (len(radii), 1))
            colors[self.selected_part] = HIGHLIGHT
        self.scene.add(EllipsoidsLayer("parae.ellipsoids", centres=np.asarray(a["mu"]), axes=axes * radii[:, None, :],
                                       colors=colors, opacity=float(self.opacity.value()),
                                       visible=self.show_ellipsoids.isChecked(),
                                       title="1-sigma ellipsoids" + (" × pi^(1/3)" if self.by_pi.isChecked() else "")))

    def _fill_table(self) -> None:
        a = self.result.arrays
        pi, mu, ev = np.asarray(a["pi"]), np.asarray(a["mu"]), np.asarray(a["sigma_eigvals"])
        counts = np.bincount(np.asarray(a["partition"]), minlength=len(pi))
        self.table.blockSignals(True)
        self.table.setRowCount(len(pi))
        for j in range(len(pi)):
            cells = (f"{j} ({counts[j]} pts)", f"{pi[j]:.3f}", ", ".join(f"{v:+.2f}" for v in mu[j]),
                     ", ".join(f"{v:.2g}" for v in ev[j]))
            for c, text in enumerate(cells):
                self.table.setItem(j, c, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        self.table.blockSignals(False)

    def _part_selected(self) -> None:
        rows = {i.row() for i in self.table.selectedIndexes()}
        self.select_part(next(iter(rows)) if rows else None)

    def select_part(self, j: int | None) -> None:
        """Highlight part j's points (categorical: other / part j) and its ellipsoid."""
        if self.result is None or "parae.points" not in self.scene:
            return
        self.selected_part = j
        if j is None:
            self.scene.set_style("parae.points", active="partition", cmap=None)
        else:
            mine = (np.asarray(self.result.arrays["partition"]) == j).astype(np.int32)
            self.scene.set_scalar("parae.points", "selected", Scalar(
                mine, kind="categorical", title="selected ParAE part", names=("other parts", f"part {j}")))
            self.scene.set_style("parae.points", cmap="dimmed-highlight")   # part j stands out, the rest recede
        self._draw_ellipsoids()

    # ---- picking -----------------------------------------------------------------------------
    def on_pick(self, info) -> None:
        if not info or self.result is None or info.get("layer") not in ("parae.points", "parae.features"):
            return
        self.show_distances(int(info["index"]))

    def show_distances(self, index: int) -> None:
        from engine import feature_distances

        a = self.result.arrays
        pts = np.asarray(a["points"], np.float64)
        d3 = np.linalg.norm(pts - pts[index], axis=1).astype(np.float32)
        self.scene.set_scalar("parae.points", "distance", Scalar(
            d3, title=f"3D distance from point {index}", normalisation="raw (unit-sphere coordinates)"))
        self.scene.set_style("parae.points", cmap=None)        # the part highlight's palette is not for distances
        text = f"point {index}: 3D distance in view 1"
        if "point_features" in a:
            df = feature_distances(a["point_features"], index).astype(np.float32)
            sc = Scalar(df, title=f"feature distance from point {index}", normalisation="raw L2 in feature space")
            if "parae.features" in self.scene:
                self.scene.set_scalar("parae.features", "feature distance", sc)
            else:
                self.scene.add(PointsLayer("parae.features", points=pts, view=1, scalars={"feature distance": sc},
                                           active="feature distance", point_size=7.0, style="spheres",
                                           title="ParAE point-feature distance"))
            text += "; point-feature distance in view 2"
        self.pick_label.setText(text + ".")

    # ---- probe -------------------------------------------------------------------------------
    def run_probe(self):
        ds = self.session.current
        if ds is None:
            return None
        spec = self.ckpt.text().strip() or DEMO
        if spec == DEMO and not DEMO_FILE.is_file():
            self.probe_label.setText(MAKE_DEMO)
            return None
        self.probe_label.setText("probing…")
        self.probe_spec = ds.spec
        params = {"limit": int(self.probe_limit.value()), "points": int(self.probe_points.value())}
        return self.run_method(self.PROBE, {"data": ds.spec}, params, model=spec, target="parae.probe",
                               name="ParAE probe", on_result=self.show_probe,
                               on_error=lambda msg: self.failed(self.probe_label, "ParAE probe", msg))

    def show_probe(self, res) -> None:
        self.probe_result = res
        self.probe_spec = res.provenance.get("data") or self.probe_spec
        self.session.add_result("probe", res, show=False)
        m = res.metrics
        parts = [f"pretrained <b>{100 * m['pretrained']:.1f} %</b>"]
        if "random_init_bn_from_data" in m:
            parts.append(f"random init, BN from data {100 * m['random_init_bn_from_data']:.1f} %")
        if "random_init_default_bn" in m:
            parts.append(f"random init, identity BN {100 * m['random_init_default_bn']:.1f} %")
        self.probe_label.setText("Linear-SVM test accuracy: " + " · ".join(parts)
                                 + f" ({m['n_train']} train / {m['n_test']} test samples)")
        emb = res.arrays.get("embedding")
        if emb is None:
            return
        import pyqtgraph as pg

        from .. import colormaps

        plot = self.plots.plot("parae.tsne", "t-SNE of pretrained test features", "t-SNE 1", "t-SNE 2",
                               tab="ParAE t-SNE")
        plot.clear()
        labels = np.asarray(res.arrays["labels"])
        classes = list(m.get("classes") or [])
        emb = np.asarray(emb)
        uniq = np.unique(labels)
        palette = colormaps.categorical_colors(int(uniq.max()) + 1)    # the point legends' colours
        indices = np.asarray(res.arrays.get("indices", np.arange(len(labels))), np.int64)
        self.scatters = []
        for c in uniq:
            sel = labels == c
            rgb = tuple(int(v) for v in palette[int(c)][:3])
            name = classes[c] if c < len(classes) else str(c)
            # each dot carries its test-split index: hover names it, a click shows that sample
            sp = pg.ScatterPlotItem(emb[sel, 0], emb[sel, 1], data=indices[sel], size=7, pen=None,
                                    brush=pg.mkBrush(*rgb), name=name, hoverable=True,
                                    hoverPen=pg.mkPen("k", width=2), hoverSize=10,
                                    tip=lambda x, y, data, n=name: f"{n} · test sample {int(data)}\n(click: show it)")
            sp.sigHovered.connect(lambda _it, pts, _ev, n=name: self._embedding_hovered(n, pts))
            sp.sigClicked.connect(lambda _it, pts, _ev: self.select_embedded(int(pts[0].data())) if len(pts) else None)
            plot.addItem(sp)
            self.scatters.append(sp)
        self.embed_label.setText("t-SNE in the Plots dock: hover a dot for its class and sample, click it to "
                                 "show that test sample in the viewport.")

    def _embedding_hovered(self, name: str, pts) -> None:
        if len(pts):
            self.embed_label.setText(f"hovered: {name}, test sample {int(pts[0].data())} (click to show it)")

    def select_embedded(self, index: int):
        """Show test sample ``index`` of the probed dataset (an embedding dot) in the viewport."""
        ds = self.session.current
        if ds is None or ds.spec != self.probe_spec:
            self.embed_label.setText(f"the probe ran on {self.probe_spec}: open that dataset to browse its samples.")
            return None
        self.embed_label.setText(f"showing test sample {index}")
        return self.session.select_sample("test", int(index))

    # ---- training ------------------------------------------------------------------------------
    def use_trained(self, path: str) -> None:
        """The train box wrote a ParAE checkpoint: use it, and explain the sample with it."""
        self.ckpt.setText(path)
        self.log(f"ParAE: using the new checkpoint {path}")
        if self.sample is not None:
            self.run_explain()


PANEL = ParaePanel
