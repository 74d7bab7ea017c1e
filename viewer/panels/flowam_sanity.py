"""Flow AM sanity strip (paper Fig. 7 / Table S1) and ablations (Fig. 8 / Table III).

The Flow AM panel's "Sanity check…" opens this window and runs ``flowam-sanity``: Flow AM on the
classifier and on copies with a fraction P_D = 0, 0.1, …, 0.5 of every parameter tensor zeroed,
then Flow AM without L_LA, L_C or L_LR. One thumbnail per dropout level and per ablation, all
with ONE camera (so a collapsing explanation is seen as such), and the metric under each:
for dropout the Chamfer distance (CD-L2) to the undropped explanation, which a faithful method
makes grow with P_D, plus the logit and the dropped model's accuracy; for the ablations the
Table III metrics. The Chamfer-vs-P_D curve also goes to the Plots dock. Cancellable.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from .flowam_compare import THUMB, legal_box, to_pixmap

PLOT_KEY = "flowam.sanity"
ABLATION_TITLES = {"all": "all terms", "no_la": "without L_LA", "no_c": "without L_C", "no_lr": "without L_LR"}


class ThumbTile(QFrame):
    """A thumbnail (QLabel pixmap) with a bold title above and a caption below; click -> clicked."""

    clicked = Signal(str)

    def __init__(self, key: str, title: str, parent=None):
        super().__init__(parent)
        self.key = key
        self.points: np.ndarray | None = None
        self.setFrameShape(QFrame.StyledPanel)
        self.setCursor(Qt.PointingHandCursor)
        self.title = QLabel(title)
        f = self.title.font()
        f.setBold(True)
        self.title.setFont(f)
        self.title.setAlignment(Qt.AlignCenter)
        self.image = QLabel()
        self.image.setFixedSize(THUMB, THUMB)
        self.image.setAlignment(Qt.AlignCenter)
        self.image.setStyleSheet("background: white; color: #777;")
        self.image.setText("waiting…")
        self.caption = QLabel("")
        self.caption.setAlignment(Qt.AlignCenter)
        self.caption.setWordWrap(True)
        self.caption.setTextFormat(Qt.RichText)
        self.caption.setMinimumHeight(52)
        self.caption.setMaximumWidth(THUMB + 8)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setTextVisible(True)
        self.progress.setFormat("%p %")
        self.progress.setMaximumHeight(14)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(2)
        lay.addWidget(self.title)
        lay.addWidget(self.image, 0, Qt.AlignHCenter)
        lay.addWidget(self.progress)
        lay.addWidget(self.caption)

    def set_image(self, image: np.ndarray) -> None:
        self.image.setPixmap(to_pixmap(image))

    def mousePressEvent(self, event) -> None:   # noqa: N802 - Qt name
        if event.button() == Qt.LeftButton and self.points is not None:
            self.clicked.emit(self.key)
        super().mousePressEvent(event)


class SanityStrip(QWidget):
    def __init__(self, panel, parent=None):
        super().__init__(parent, Qt.Window)
        from ..thumbnails import LazyThumbnailer

        self.panel = panel
        self.setWindowTitle("Flow AM · sanity check (parameter dropout) and ablations")
        self.thumbs = LazyThumbnailer(THUMB)
        # and at the latest with the panel (its window may be deleted without a close event)
        panel.destroyed.connect(lambda *_a, t=self.thumbs: t.close())
        self.handle = None
        self.result = None
        self.request: dict = {}
        self.extra: dict = {}             # other SanityParams fields (tests: fewer objects)
        self.tiles: dict[str, ThumbTile] = {}    # "dropout:0.1", "ablation:no_la"

        self.run_btn = QPushButton("Run sanity check")
        self.cancel_btn = QPushButton("Cancel")
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.header = QLabel("")
        self.header.setWordWrap(True)
        self.header.setTextFormat(Qt.RichText)
        self.grid = QGridLayout()
        self.grid.setHorizontalSpacing(4)
        self.note = QLabel("Top: Flow AM on the classifier with a fraction P_D of every parameter tensor set to "
                           "zero (P_D = 0 is the model itself). A faithful explanation degrades as P_D grows: its "
                           "Chamfer distance (CD-L2) to the P_D = 0 explanation rises. Bottom: Flow AM with one "
                           "loss term removed (paper Table III). One camera for all; grey box (drawn when a cloud leaves it): "
                           "the legal cube [-C, C]³. Click a cloud to load it in the main viewport.")
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #555;")
        top = QHBoxLayout()
        top.addWidget(self.run_btn)
        top.addWidget(self.cancel_btn)
        top.addWidget(self.progress, 1)
        self.body = QWidget()
        body = QVBoxLayout(self.body)
        body.addWidget(self.header)
        body.addLayout(self.grid)
        body.addWidget(self.note)
        body.addStretch(1)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.message)
        lay.addWidget(self.body)
        self.run_btn.clicked.connect(self.start)
        self.cancel_btn.clicked.connect(self.cancel)
        self._update_buttons()

    def running(self) -> bool:
        return self.handle is not None and getattr(self.handle, "active", False)

    def _update_buttons(self) -> None:
        p = self.panel
        self.run_btn.setEnabled(p.session.checkpoint is not None and p.session.current is not None
                                and p.cls.count() > 0)
        self.cancel_btn.setEnabled(self.running())

    def start(self):
        p = self.panel
        ds, cls = p.session.current, p.cls.currentText()
        if ds is None or p.session.checkpoint is None or not cls:
            return None
        self.cancel()
        params = {**p.params(), "method": "flow", "part": "both", **self.extra}
        self.request = {"class": cls, "params": params}
        self.result = None
        self.progress.setValue(0)
        self.message.setText(f"sanity check of '{cls}'…")
        self.handle = p.run_method("flowam-sanity", {"data": ds.spec, "target": cls}, params,
                                   target="flowam.sanity", name=f"Flow AM sanity check {cls}",
                                   on_result=self.done, on_progress=self.on_progress, on_error=self.failed)
        self._update_buttons()
        return self.handle

    def cancel(self) -> None:
        if self.running():
            self.panel.session.client.cancel(self.handle)
            self.message.setText("sanity check cancelled")
        self.handle = None
        self._update_buttons()

    def on_progress(self, prog) -> None:
        if self.handle is None:
            return
        self.progress.setValue(int(100 * prog.done / max(prog.total, 1e-9)))
        self.message.setText(prog.message)

    def failed(self, msg: str) -> None:
        self.handle = None
        self.panel.failed(self.message, "Flow AM sanity check", msg)
        self._update_buttons()

    def done(self, res) -> None:
        self.handle = None
        self.result = res
        self.progress.setValue(100)
        mt = res.metrics
        self.panel.session.add_result(f"flowam sanity {mt.get('class', '')}", res, show=False)
        self.message.setText(f"done in {float(mt.get('seconds', 0)):.1f} s")
        self.header.setText(f"<b>class '{mt.get('class')}'</b> · {self.request['params'].get('steps')} steps · "
                            f"{self.request['params'].get('points')} points · checkpoint "
                            f"{self.panel.session.checkpoint.path if self.panel.session.checkpoint else '?'}")
        self.show_result(res)
        self._update_buttons()

    # ---- drawing -------------------------------------------------------------------------------
    def entries(self, res) -> list[tuple[str, str, np.ndarray, str]]:
        """(key, title, cloud, caption) per thumbnail: dropout levels, then ablations."""
        a, mt = res.arrays, res.metrics
        out = []
        if "levels" in a:
            rows = mt.get("dropout", [])
            for i, lv in enumerate(np.asarray(a["levels"], float)):
                first = next((r for r in rows if r["level"] == lv), {})
                title = "P_D = 0 (the model)" if lv == 0 else f"P_D = {lv:g} ({100 * lv:.0f} % zeroed)"
                cap = (f"CD to P_D=0: <b>{float(a['chamfer_to_undropped'][i]):.4f}</b><br>"
                       f"CD to real {float(a['chamfer_to_real'][i]):.4f} · logit {float(a['logit'][i]):.2f}<br>"
                       f"model accuracy {100 * float(a['accuracy'][i]):.0f} % · → {first.get('predicted', '?')}")
                out.append((f"dropout:{lv:g}", title, a["dropout_points"][i], cap))
        if "ablation_names" in a:
            table = mt.get("ablation", {})
            for i, raw in enumerate(np.asarray(a["ablation_names"]).tolist()):
                name = raw.decode() if isinstance(raw, bytes) else str(raw)
                r = table.get(name, {})
                cap = (f"logit {r.get('logit', float('nan')):.2f} · softmax {r.get('softmax', float('nan')):.3f}<br>"
                       f"CD {r.get('chamfer', float('nan')):.4f} · FID {r.get('fid', float('nan')):.3g}<br>"
                       f"legal {100 * r.get('legality', float('nan')):.0f} % · → {r.get('predicted', '?')}")
                out.append((f"ablation:{name}", f"Flow AM, {ABLATION_TITLES.get(name, name)}", a["ablation_points"][i], cap))
        return out

    def show_result(self, res) -> None:
        from ..thumbnails import shared_bounds

        while self.grid.count():
            w = self.grid.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        self.tiles = {}
        entries = self.entries(res)
        lim = legal_box([e[2] for e in entries], float(self.request.get("params", {}).get("legal_limit", 1.0)))
        bounds = shared_bounds([e[2] for e in entries], include=None if lim is None else (-lim, lim))
        col = {"dropout": 0, "ablation": 0}
        for key, title, cloud, cap in entries:
            kind = key.split(":")[0]
            tile = ThumbTile(key, title)
            tile.points = np.asarray(cloud, np.float32)
            tile.progress.setVisible(False)
            tile.caption.setText(cap)
            tile.set_image(self.thumbs.render(tile.points, bounds, legal_limit=lim, up_axis=self._up()))
            tile.clicked.connect(self.load_in_viewport)
            self.grid.addWidget(tile, 0 if kind == "dropout" else 1, col[kind])
            col[kind] += 1
            self.tiles[key] = tile
        self._plot(res)

    def _plot(self, res) -> None:
        import pyqtgraph as pg

        a = res.arrays
        if "levels" not in a:
            return
        x = 100 * np.asarray(a["levels"], float)
        y = np.asarray(a["chamfer_to_undropped"], float)
        sd = np.asarray(a.get("chamfer_to_undropped_std", np.zeros_like(y)), float)
        item = self.panel.plots.plot(PLOT_KEY, f"Flow AM sanity check · {res.metrics.get('class', '')}",
                                     "parameters zeroed P_D (%)",
                                     "Chamfer CD-L2 to the P_D = 0 explanation (coordinate units²)",
                                     tab="Sanity check")
        item.clear()
        item.addItem(pg.ErrorBarItem(x=x, y=y, height=2 * sd, beam=1.0, pen=pg.mkPen("#000000")))
        item.plot(x, y, pen=pg.mkPen("#000000", width=2), symbol="o", symbolBrush="#000000",
                  name="Flow AM explanation vs P_D = 0")

    def load_in_viewport(self, key: str) -> None:
        tile = self.tiles.get(key)
        if tile is None or tile.points is None:
            return
        self.panel.draw_cloud(tile.points, f"{tile.title.text()} · {self.request.get('class', '')} (sanity check)")

    def _up(self) -> str:
        """The main viewports' up axis now (it follows the dataset and View settings)."""
        return getattr(self.panel.ctx.viewports, "up_axis", "z")

    def closeEvent(self, event) -> None:   # noqa: N802 - Qt name
        # Free the off-screen GL window with the window, not at interpreter exit (when the X
        # server may be gone); reopening makes a new one. Jobs keep running; results still land.
        self.thumbs.close()
        super().closeEvent(event)
