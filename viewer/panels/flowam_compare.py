"""Flow AM compare view (issue 5, Viewer): the five methods of the paper's Table I for one class.

The Flow AM panel's "Compare methods…" opens this window. It submits five ``flowam`` jobs (vanilla,
L2-norm, Gaussian blur, total variation, Flow) with the SAME start cloud, seed, steps and points,
one job per method (each with its own row in the Jobs dock and its own progress bar here; Cancel
stops all five). The five explanation clouds are drawn side by side in five small interactive
3D views with LINKED cameras (viewer.linked_views: one camera object; orbit or zoom one and all
follow), fitted to the union of the five clouds and the legal cube [-C, C]^3, so sizes compare.
The clouds form live while the jobs run. Under each: the Table I metrics; below: the table of
those numbers with the best value of each column in bold. A click in a view (or its button)
loads that cloud into the main viewport. Exports: PNG of the window (each 3D view re-read from
its GL buffer) and CSV of the table, both stamped with provenance (viewer.provenance).
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFont, QImage, QPixmap
from PySide6.QtWidgets import (QComboBox, QFileDialog, QFrame, QHBoxLayout, QHeaderView, QLabel, QProgressBar,
                               QPushButton, QSizePolicy, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from .compare_table import Column, best_rows
from .flowam_text import nearest_class_text

ORDER = ("vanilla", "l2", "blur", "tv", "flow")      # Table I's order, left to right
NAMES = {"vanilla": "Vanilla AM", "l2": "L2-norm", "blur": "Gaussian blur", "tv": "Total variation",
         "flow": "Flow AM (ours)"}
# (metric key, column header, better: +1 higher / -1 lower, scale for display, format)
COLUMNS = (
    ("logit", "target logit ↑", +1, 1.0, "{:.3f}"),
    ("softmax", "softmax\np(class) ↑", +1, 1.0, "{:.3f}"),
    ("log_softmax", "log softmax ↑\n(paper's 'Sftmax')", +1, 1.0, "{:.3g}"),
    ("chamfer", "Chamfer CD-L2 ↓\nto 5 real objects", -1, 1.0, "{:.4f}"),
    ("fid", "FID ↓\n(global features)", -1, 1.0, "{:.4g}"),
    ("legality", "legal points ↑\n(% in [-C, C]³)", +1, 100.0, "{:.1f}"),
)
STARTS = {"average": "same start: class average (all five)",
          "random": "same start: random cloud in the unit ball (all five)",
          "auto": "each method's default (Flow: average, baselines: random)"}
THUMB = 220      # sanity-strip thumbnails
VIEW = 220       # compare views (software GL: small views keep an orbit smooth)
TABLE_AFTER_MS = 30  # a finished method reaches the table this long after its cloud (one redraw per turn)


def to_pixmap(image: np.ndarray) -> QPixmap:
    """(H, W, 3) uint8 -> QPixmap (the array is copied)."""
    img = np.ascontiguousarray(image[..., :3], np.uint8)
    h, w, _ = img.shape
    return QPixmap.fromImage(QImage(img.data, w, h, 3 * w, QImage.Format_RGB888).copy())


def legal_box(clouds, limit: float) -> float | None:
    """The legal cube's half-side to draw, or None when every point is inside it (then the
    camera fits the clouds alone and small shapes stay readable)."""
    outside = any(np.any(np.abs(np.asarray(c)) > limit) for c in clouds)
    return float(limit) if outside else None


class ViewTile(QFrame):
    """One method: a bold title, its live 3D view (a LinkedViews holder), a progress bar, a state
    line, the metrics caption and a button that loads the cloud in the main viewport."""

    load = Signal(str)

    def __init__(self, key: str, title: str, parent=None):
        super().__init__(parent)
        self.key = key
        self.points: np.ndarray | None = None
        self.setFrameShape(QFrame.StyledPanel)
        self.title = QLabel(title)
        f = self.title.font()
        f.setBold(True)
        self.title.setFont(f)
        self.title.setAlignment(Qt.AlignCenter)
        self.view = QWidget()             # the 3D view lives in here (LinkedViews.build)
        self.view.setFixedSize(VIEW, VIEW)
        self.view.setToolTip("drag: orbit all five · wheel: zoom all five · click: load in the main viewport")
        self.state = QLabel("waiting…")
        self.state.setAlignment(Qt.AlignCenter)
        self.state.setStyleSheet("color: #777;")
        # The live state line changes with every preview: its text must never size the tile.
        # A line wider than the tile widened it, every tile moved, and all five views were
        # drawn again (stalls of 50-85 ms, make bench); a long line is elided, whole in its tooltip.
        self.state.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Fixed)
        self.caption = QLabel("")
        self.caption.setAlignment(Qt.AlignCenter)
        self.caption.setWordWrap(True)
        self.caption.setTextFormat(Qt.RichText)
        self.caption.setMinimumHeight(52)
        self.caption.setMaximumWidth(VIEW + 8)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setTextVisible(True)
        self.progress.setFormat("%p %")
        self.progress.setMaximumHeight(14)
        self.load_btn = QPushButton("Show in main view")
        self.load_btn.setEnabled(False)
        self.load_btn.clicked.connect(lambda: self.load.emit(self.key))
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(2)
        lay.addWidget(self.title)
        lay.addWidget(self.view, 0, Qt.AlignHCenter)
        lay.addWidget(self.progress)
        lay.addWidget(self.state)
        lay.addWidget(self.caption)
        lay.addWidget(self.load_btn)

    def set_state(self, text: str) -> None:
        """The state line, elided to the tile's width (the whole text in its tooltip)."""
        width = max(self.state.width(), VIEW)
        self.state.setText(self.state.fontMetrics().elidedText(text, Qt.ElideRight, width))
        self.state.setToolTip(text)

    def clear(self, text: str = "waiting…") -> None:
        self.points = None
        self.set_state(text)
        self.caption.setText("")
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.load_btn.setEnabled(False)

    def finished(self, points: np.ndarray, caption: str) -> None:
        self.points = points
        self.set_state("final")
        self.caption.setText(caption)
        self.progress.setVisible(False)
        self.load_btn.setEnabled(True)


class CompareView(QWidget):
    """The compare window of one Flow AM panel (created on first use, reused)."""

    def __init__(self, panel, parent=None):
        super().__init__(parent, Qt.Window)
        from ..linked_views import LinkedViews

        self.panel = panel
        self.setWindowTitle("Flow AM · compare the five methods (paper Table I)")
        self.handles: dict[str, object] = {}
        self.results: dict[str, object] = {}
        self._batch = 0                   # which start() the results belong to
        self.request: dict = {}           # class, params of the running/last batch
        self.bounds = None
        self.errors: dict[str, str] = {}

        self.start_box = QComboBox()
        for k, text in STARTS.items():
            self.start_box.addItem(text, k)
        self.start_box.setToolTip("The start cloud. The same start for all five isolates what the "
                                  "regulariser does; 'each method's default' reproduces the paper's set-up.")
        self.run_btn = QPushButton("Run all five")
        self.cancel_btn = QPushButton("Cancel")
        self.png_btn = QPushButton("Export PNG…")
        self.csv_btn = QPushButton("Export CSV…")
        self.camera_btn = QPushButton("Reset camera")
        self.camera_btn.setToolTip("the iso view of all five, fitted to the clouds")
        self.header = QLabel("")
        self.header.setWordWrap(True)
        self.header.setTextFormat(Qt.RichText)
        self.tiles = {m: ViewTile(m, NAMES[m]) for m in ORDER}
        # no Qt parent: it must outlive this window's C++ side to free the GL windows late
        self.views = LinkedViews([self.tiles[m].view for m in ORDER], up_axis=self._up())
        self.views.clicked.connect(lambda i: self.load_in_viewport(ORDER[i]))
        # GL windows go with this window's close/hide, and at the latest with the panel or the
        # app (a child window is neither closed nor hidden with the main window)
        panel.destroyed.connect(lambda *_a, v=self.views: v.release())
        from PySide6.QtWidgets import QApplication

        QApplication.instance().aboutToQuit.connect(self.views.release)
        self.table = QTableWidget(len(ORDER), len(COLUMNS) + 1)
        self.table.setHorizontalHeaderLabels([c[1] for c in COLUMNS] + ["predicted\nclass"])
        self.table.setVerticalHeaderLabels([NAMES[m] for m in ORDER])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.table.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.table.setSizePolicy(self.table.sizePolicy().horizontalPolicy(), QSizePolicy.Fixed)
        self.note = QLabel("Chamfer: CD-L2 averaged over 5 real objects of the class (reference split); "
                           "FID: Fréchet distance of global features to real objects of the class; legal: "
                           "all coordinates inside [-C, C] (grey box, drawn when a cloud leaves it). "
                           "Bold: best of the column. One camera for all five: drag in any view to orbit, "
                           "wheel to zoom, all follow. Click a view to load its cloud in the main viewport.")
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #555;")

        top = QHBoxLayout()
        top.addWidget(QLabel("start"))
        top.addWidget(self.start_box, 1)
        for b in (self.run_btn, self.cancel_btn, self.camera_btn, self.png_btn, self.csv_btn):
            top.addWidget(b)
        row = QHBoxLayout()
        for m in ORDER:
            row.addWidget(self.tiles[m])
            self.tiles[m].load.connect(self.load_in_viewport)
        self.body = QWidget()             # what the PNG export captures
        body = QVBoxLayout(self.body)
        body.addWidget(self.header)
        body.addLayout(row)
        body.addWidget(self.table)
        body.addWidget(self.note)
        body.addStretch(1)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.body)
        self.run_btn.clicked.connect(self.start)
        self.cancel_btn.clicked.connect(self.cancel)
        self.png_btn.clicked.connect(self._png_clicked)
        self.csv_btn.clicked.connect(self._csv_clicked)
        self.camera_btn.clicked.connect(lambda: self.views.set_view("iso"))
        self._update_buttons()

    # ---- jobs ----------------------------------------------------------------------------------
    def running(self) -> bool:
        return any(getattr(h, "active", False) for h in self.handles.values())

    def _update_buttons(self) -> None:
        p = self.panel
        ready = p.session.checkpoint is not None and p.session.current is not None and p.cls.count() > 0
        self.run_btn.setEnabled(ready)
        self.cancel_btn.setEnabled(self.running())
        done = len(self.results) > 0
        self.png_btn.setEnabled(done)
        self.csv_btn.setEnabled(done)

    def start(self) -> dict:
        """Submit the five jobs (class, steps, points, beta, seed from the Flow AM panel)."""
        p = self.panel
        ds, cls = p.session.current, p.cls.currentText()
        if ds is None or p.session.checkpoint is None or not cls:
            return {}
        self.cancel()
        base = {k: v for k, v in p.params().items() if k != "method"}
        base["init"] = self.start_box.currentData()
        self.request = {"class": cls, "params": base, "data": ds.spec, "checkpoint": p.session.checkpoint.path}
        self.results, self.bounds, self.errors = {}, None, {}
        self._batch += 1
        for i, m in enumerate(ORDER):
            self.tiles[m].clear()
            self.views.clear(i)
        self.views.set_legal(None)
        self._fill_table()
        self.header.setText(f"<b>class '{cls}'</b> · {base['steps']} steps · {base['points']} points · "
                            f"{STARTS[base['init']]} · seed {base.get('seed', 0)} · "
                            f"checkpoint {p.session.checkpoint.path}")
        for m in ORDER:
            self.handles[m] = p.run_method(
                "flowam", {"data": ds.spec, "target": cls}, {**base, "method": m},
                target=f"flowam.compare.{m}", name=f"Flow AM compare {cls}: {NAMES[m]}",
                on_result=lambda res, m=m: self.on_result(m, res),
                on_progress=lambda prog, m=m: self.on_progress(m, prog),
                on_error=lambda msg, m=m: self.on_error(m, msg))   # quiet: on_error shows one dialog
        self._update_buttons()
        return dict(self.handles)

    def cancel(self) -> None:
        for m, h in list(self.handles.items()):
            if getattr(h, "active", False):
                self.panel.session.client.cancel(h)
                self.tiles[m].clear("cancelled")
                self.tiles[m].progress.setVisible(False)
                self.views.clear(ORDER.index(m))
        self.handles = {}
        self._update_buttons()

    def on_progress(self, m: str, prog) -> None:
        if m not in self.handles:      # a progress queued before Cancel
            return
        tile = self.tiles[m]
        tile.progress.setValue(int(100 * prog.done / max(prog.total, 1e-9)))
        pv = prog.preview or {}
        if "points" in pv:             # the cloud forming, live, in place; the camera grows to fit
            self.views.set_points(ORDER.index(m), pv["points"], refit="grow")
            shown = [p for p in self.views.points if p is not None]
            if self.views.legal is None:
                self.views.set_legal(legal_box(shown, self._legal()))
        tile.set_state(prog.message)

    def on_error(self, m: str, msg: str) -> None:
        self.handles.pop(m, None)
        self.tiles[m].clear("failed")
        self.views.clear(ORDER.index(m))
        self.tiles[m].caption.setText(f"<span style='color:#b00'>{msg}</span>")
        if not self.errors:      # one dialog per batch: the five jobs usually fail for one reason
            text = f"Flow AM compare ({NAMES[m]}): {msg}"
            self.panel.session.emit("error", text)
            show = getattr(self.panel.window(), "show_error", None)
            if callable(show):
                show("Flow AM compare failed", text)
        self.errors[m] = msg
        self._update_buttons()

    def on_result(self, m: str, res) -> None:
        """The cloud and its tile now, the table a moment later (the table's refill, ~10-20 ms,
        on top of the tile's and the views' redraw held the GUI 55-60 ms, make bench). The
        method counts in ``results`` once both are shown."""
        self.handles.pop(m, None)
        mt = res.metrics
        self.panel.session.add_result(f"flowam compare {mt.get('class', '')} ({m})", res, show=False)
        pts = np.asarray(res.arrays["points"], np.float32)
        self.tiles[m].finished(pts, self.caption(mt))
        self.views.set_points(ORDER.index(m), pts, refit="none")
        self.redraw()
        batch = self._batch
        QTimer.singleShot(TABLE_AFTER_MS, lambda: self._add_to_table(m, res, batch))

    def _add_to_table(self, m: str, res, batch: int) -> None:
        if batch != self._batch:      # a new comparison started in between
            return
        self.results[m] = res
        self._fill_table()
        self._update_buttons()

    def _fit_table(self) -> None:
        t = self.table
        t.resizeRowsToContents()
        h = t.horizontalHeader().height() + sum(t.rowHeight(i) for i in range(t.rowCount())) + 2 * t.frameWidth()
        t.setFixedHeight(h)

    # ---- drawing -------------------------------------------------------------------------------
    def _legal(self) -> float:
        return float(self.request.get("params", {}).get("legal_limit", 1.0))

    def redraw(self) -> None:
        """Fit the one camera to the finished clouds (the union of their bounds and the legal
        cube when a cloud leaves it); the direction the user orbited to is kept."""
        from ..thumbnails import shared_bounds

        clouds = [self.tiles[m].points for m in ORDER if self.tiles[m].points is not None]
        lim = legal_box(clouds, self._legal())
        self.views.set_legal(lim)
        self.bounds = shared_bounds(clouds, include=None if lim is None else (-lim, lim))
        self.views.fit(self.bounds)

    @staticmethod
    def caption(mt: dict) -> str:
        ok = mt.get("predicted") == mt.get("class")
        pred = f"<span style='color:{'#080' if ok else '#b00'}'>→ {mt.get('predicted')}</span>"
        return (f"logit {mt.get('logit', float('nan')):.2f} · softmax {mt.get('softmax', float('nan')):.3f}<br>"
                f"Chamfer {mt.get('chamfer', float('nan')):.4f} · legal {100 * mt.get('legality', float('nan')):.0f} %"
                f"<br>{pred} · {nearest_class_text(mt)}")

    def table_rows(self) -> tuple[list[str], list[list]]:
        """(header, rows) of the table in full precision (the CSV export); unfinished rows are empty."""
        header = ["method"] + [c[0] for c in COLUMNS] + ["predicted", "nearest_real_class", "class", "steps", "seconds"]
        rows = []
        for m in ORDER:
            mt = self.results[m].metrics if m in self.results else None
            if mt is None:
                rows.append([m] + [None] * (len(header) - 1))
                continue
            rows.append([m] + [float(mt[c[0]]) for c in COLUMNS]
                        + [mt.get("predicted"), mt.get("nearest_real_class"), mt.get("class"), mt.get("steps"),
                           mt.get("seconds")])
        return header, rows

    def _fill_table(self) -> None:
        for j, (key, _h, better, scale, fmt) in enumerate(COLUMNS):
            vals = [float(self.results[m].metrics[key]) if m in self.results else None for m in ORDER]
            best = best_rows(Column(key, "", better="high" if better > 0 else "low"), vals,
                             text=lambda x, fmt=fmt, scale=scale: fmt.format(x * scale))
            for i, v in enumerate(vals):
                item = QTableWidgetItem("" if v is None else fmt.format(v * scale))
                item.setTextAlignment(Qt.AlignCenter)
                if i in best:
                    f = QFont(item.font())
                    f.setBold(True)
                    item.setFont(f)
                self.table.setItem(i, j, item)
        for i, m in enumerate(ORDER):
            mt = self.results[m].metrics if m in self.results else {}
            item = QTableWidgetItem(str(mt.get("predicted", "")))
            item.setTextAlignment(Qt.AlignCenter)
            self.table.setItem(i, len(COLUMNS), item)
        self._fit_table()

    def load_in_viewport(self, m: str) -> None:
        tile = self.tiles[m]
        if tile.points is None:
            return
        cls = self.request.get("class", "")
        self.panel.draw_cloud(tile.points, f"{NAMES[m]} · {cls} · final (compare view)")
        self.panel.status.setText(f"showing the {NAMES[m]} explanation of '{cls}' from the compare view")

    # ---- exports -------------------------------------------------------------------------------
    def provenance(self, export: str) -> dict:
        from ..provenance import describe

        return describe("flowam compare", self.request.get("params"), self.panel.session.provenance(),
                        export=export, cls=self.request.get("class"), methods=list(ORDER),
                        checkpoint_used=self.request.get("checkpoint"), data_used=self.request.get("data"))

    def export_png(self, path: str) -> None:
        from engine import atomic_path

        from ..provenance import stamp_png

        pix = self.body.grab()
        if self.views.built:      # a GL view is a native window: Qt's grab does not see its pixels
            from PySide6.QtCore import QPoint, QRect
            from PySide6.QtGui import QPainter

            painter = QPainter(pix)
            for i, m in enumerate(ORDER):
                holder = self.tiles[m].view
                pos = holder.mapTo(self.body, QPoint(0, 0))
                painter.drawPixmap(QRect(pos, holder.size()), to_pixmap(self.views.image(i)))
            painter.end()
        with atomic_path(path) as tmp:
            if not pix.save(str(tmp), "PNG"):
                raise OSError(f"could not write {path}")
        stamp_png(path, self.provenance("compare view PNG"))
        self.panel.log(f"exported the Flow AM compare view to {path}")

    def export_csv(self, path: str) -> None:
        from ..provenance import write_csv

        header, rows = self.table_rows()
        write_csv(path, header, rows, self.provenance("compare table CSV"))
        self.panel.log(f"exported the Flow AM compare table to {path}")

    def _png_clicked(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export compare view", "flowam_compare.png", "PNG (*.png)")
        if path:
            self._guard(self.export_png, path)

    def _csv_clicked(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export compare table", "flowam_compare.csv", "CSV (*.csv)")
        if path:
            self._guard(self.export_csv, path)

    def _guard(self, fn, path: str) -> None:
        try:
            fn(path)
        except Exception as e:  # noqa: BLE001 - an export error is shown, never fatal
            self.panel.session.emit("error", f"Flow AM export {path}: {e}")

    def _up(self) -> str:
        """The main viewports' up axis now (it follows the dataset and View settings)."""
        return getattr(self.panel.ctx.viewports, "up_axis", "z")

    def showEvent(self, event) -> None:   # noqa: N802 - Qt name
        super().showEvent(event)
        self.views.build()
        self.views.set_up_axis(self._up())

    def hideEvent(self, event) -> None:   # noqa: N802 - Qt name
        if not event.spontaneous():     # hidden by the program (not minimised): free the GL windows
            self.views.release()
        super().hideEvent(event)

    def closeEvent(self, event) -> None:   # noqa: N802 - Qt name
        # Free the GL windows with the window, not at interpreter exit (when the X server may be
        # gone); reopening makes new ones showing the same clouds. Jobs keep running; results
        # still land (the clouds are kept as arrays).
        self.views.release()
        super().closeEvent(event)
