"""Tools > Reproduce…: run one of the papers' headline results (`pointlens reproduce` in the
engine) from the GUI, the table of the paper's values and ours filling in as cells finish.

Extension module (viewer/extensions.py): ``install(window)`` adds the menu entry and returns the
``Reproducer`` (``window.extensions['reproduce_dialog']``) that owns the one dialog. The run is one
job on the engine thread (Jobs dock, cancel); every finished cell is on disk, so Run again (or
Resume folder…) continues where a cancelled, failed or killed run stopped.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QColor, QDesktopServices
from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout,
                               QHeaderView, QLabel, QLineEdit, QProgressBar, QPushButton, QSpinBox, QTableWidget,
                               QTableWidgetItem, QTextBrowser, QVBoxLayout, QWidget)

import engine

from .reproduce_table import HEADERS, default_out, table_rows, user_reproductions_root
from .work import Request

TARGET = "reproduce"            # latest-wins key: one reproduction runs at a time
SCALES = (("quick (minutes on this machine's CPU)", True), ("full (hours; closer to the paper)", False))
NOT_RUN = QColor("#777777")     # lines no cell has measured yet


class ReproduceDialog(QDialog):
    def __init__(self, window, root: Path | None = None):
        super().__init__(window)
        self.window = window
        self.root = root or user_reproductions_root()
        self.handle = None
        self.report: dict | None = None       # the last finished run's report (report.json + out)
        self.lines: list[dict] = []
        self._out_edited = False              # the user typed a folder: stop proposing one
        self.setWindowTitle("Reproduce a paper result")
        self.resize(860, 620)

        self.reproduction = QComboBox()
        self.refresh_list()
        self.about = QLabel()
        self.about.setWordWrap(True)
        self.data = QComboBox()
        self.data.setEditable(True)
        self.data.addItem("builtin")
        current = getattr(window.session.current, "spec", None)
        if current and current != "builtin":
            self.data.addItem(current)
        self.data.setToolTip("'builtin', or a dataset file or folder (e.g. ModelNet10)")
        data_browse = self.data_browse = QPushButton("Folder…")
        data_browse.clicked.connect(self._browse_data)
        self.seeds = QSpinBox()
        self.seeds.setRange(1, 100)
        self.seeds.setValue(3)
        self.seeds.setToolTip("seeds per configuration; the table shows mean ± sd over them")
        self.scale = QComboBox()
        for text, quick in SCALES:
            self.scale.addItem(text, quick)
        self.out = QLineEdit()
        self.out.textEdited.connect(lambda _t: setattr(self, "_out_edited", True))
        out_browse = self.out_browse = QPushButton("Browse…")
        out_browse.clicked.connect(self._browse_out)

        form = QFormLayout()
        form.addRow("reproduction", self.reproduction)
        form.addRow(self.about)          # both columns: a wrapped label in the field column gets a gap
        form.addRow("data", _row(self.data, data_browse))
        form.addRow("seeds", self.seeds)
        form.addRow("scale", self.scale)
        form.addRow("report folder", _row(self.out, out_browse))

        self.table = QTableWidget(0, len(HEADERS))
        self.table.setHorizontalHeaderLabels(list(HEADERS))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.status = QLabel("Choose a reproduction and press Run.")
        self.status.setWordWrap(True)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b00020;")
        self.error.hide()

        buttons = QDialogButtonBox()
        self.run_btn = buttons.addButton("Run", QDialogButtonBox.ActionRole)
        self.run_btn.setToolTip("Run the unfinished cells; cells already in the report folder are kept")
        self.cancel_btn = buttons.addButton("Cancel", QDialogButtonBox.ActionRole)
        self.cancel_btn.setToolTip("Stop after the running cell is abandoned; finished cells stay on disk")
        self.resume_btn = buttons.addButton("Resume folder…", QDialogButtonBox.ActionRole)
        self.resume_btn.setToolTip("Continue a report folder from an earlier run, with its settings")
        self.open_btn = buttons.addButton("Open report", QDialogButtonBox.ActionRole)
        close = buttons.addButton(QDialogButtonBox.Close)
        close.clicked.connect(self.hide)        # the run goes on; Tools > Reproduce… shows it again
        self.run_btn.clicked.connect(lambda: self.run())
        self.cancel_btn.clicked.connect(self.cancel)
        self.resume_btn.clicked.connect(self._browse_resume)
        self.open_btn.clicked.connect(self.open_report)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

        self.reproduction.currentIndexChanged.connect(self._choice_changed)
        self.data.currentTextChanged.connect(lambda _t: self._propose_out())
        self.scale.currentIndexChanged.connect(lambda _i: self._propose_out())
        self._choice_changed()

    # ---- the form --------------------------------------------------------------------------------
    def refresh_list(self) -> None:
        """List the registered reproductions again (a plug-in may register one after start-up),
        keeping the one chosen."""
        keep = self.reproduction.currentData()
        self.reproduction.blockSignals(True)
        self.reproduction.clear()
        for r in engine.reproduction_list():
            self.reproduction.addItem(f"{r['name']}: {r['paper']}", r)
            if keep is not None and r["name"] == keep["name"]:
                self.reproduction.setCurrentIndex(self.reproduction.count() - 1)
        self.reproduction.blockSignals(False)
        if keep is not None and (self.chosen() or {}).get("name") != keep["name"]:
            self._choice_changed()               # the chosen one is gone: show the new choice

    def chosen(self) -> dict:
        return self.reproduction.currentData()

    def _choice_changed(self) -> None:
        r = self.chosen()
        if r is None:
            self.about.setText("No reproductions are registered.")
            self.run_btn.setEnabled(False)
            return
        self.about.setText(f"<b>{r['title']}</b><br>The paper ran: {r['paper_setting']}"
                           + (f"<br><i>{r['notes']}</i>" if r["notes"] else ""))
        self._propose_out()
        if not self.running:
            self.report = None
            self.show_table(r["paper_lines"])     # what will be compared, before anything runs
        self.update_buttons()

    def _propose_out(self) -> None:
        r = self.chosen()
        if r is not None and not self._out_edited:
            self.out.setText(str(default_out(self.root, r["name"], self.data.currentText().strip() or "builtin",
                                             bool(self.scale.currentData()))))

    def settings(self) -> dict:
        """The form as ``engine.run_reproduction``'s arguments."""
        return {"name": self.chosen()["name"], "data": self.data.currentText().strip() or "builtin",
                "seeds": self.seeds.value(), "quick": bool(self.scale.currentData()),
                "out": self.out.text().strip()}

    def set_settings(self, s: dict) -> None:
        """Fill the form from a report folder's settings (Resume)."""
        i = next((k for k in range(self.reproduction.count()) if self.reproduction.itemData(k)["name"] == s["name"]), -1)
        if i < 0:
            raise engine.RegistryError(f"{s['out']} holds '{s['name']}', which this PointLens does not know.")
        self.reproduction.setCurrentIndex(i)
        self.data.setCurrentText(s["data"])
        self.seeds.setValue(int(s["seeds"]))
        self.scale.setCurrentIndex(next(k for k, (_t, q) in enumerate(SCALES) if q == bool(s["quick"])))
        self.out.setText(str(s["out"]))
        self._out_edited = True

    def _browse_data(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Dataset folder", self.data.currentText())
        if path:
            self.data.setCurrentText(path)

    def _browse_out(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Report folder", self.out.text())
        if path:
            self.out.setText(path)
            self._out_edited = True

    def _browse_resume(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Report folder to resume", str(self.root))
        if path:
            self.resume(path)

    def update_buttons(self) -> None:
        running = self.running
        for w in (self.run_btn, self.resume_btn, self.reproduction, self.data, self.data_browse, self.seeds,
                  self.scale, self.out, self.out_browse):
            w.setEnabled(not running and self.chosen() is not None)
        self.cancel_btn.setEnabled(running)
        self.open_btn.setEnabled(not running and self.report_path() is not None)

    # ---- the job ---------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.handle is not None and self.handle.active

    def run(self):
        s = self.settings()
        if not s["out"]:
            return self.fail("Choose a report folder.")
        self.report = None
        self.error.hide()
        self.progress.setValue(0)
        self.status.setText(f"starting {s['name']}…")
        device = self.window.session.device
        self.handle = self.window.session.client.submit(Request(
            f"Reproduce {s['name']}", lambda: engine.run_reproduction(**s, device=device), target=TARGET,
            on_result=self.finished_run, on_progress=self.progressed, on_error=self.fail, on_cancel=self.cancelled,
            quiet=True))      # this dialog says what went wrong, in its own words
        self.update_buttons()
        return self.handle

    def cancel(self) -> None:
        if self.running:
            self.window.session.client.cancel(self.handle)

    def resume(self, folder: str) -> None:
        """Read the folder's settings (on the engine thread: it is the engine's file), fill the
        form and run: the cells already finished there are not run again."""
        self.error.hide()
        self.report = None

        def got(s: dict) -> None:
            try:
                self.set_settings(s)
            except engine.EngineError as e:
                return self.fail(str(e))
            self.run()

        self.window.session.client.submit(Request(
            f"Read {folder}", lambda: engine.reproduction_folder(folder), on_result=got, on_error=self.fail,
            quiet=True, listed=False))

    def progressed(self, p) -> None:
        pv = p.preview or {}
        if "table" in pv and pv["table"] != self.lines:
            self.show_table(pv["table"])
        self.progress.setValue(int(1000 * p.fraction))
        cells = f"{pv['cells_done']} of {pv['cells_total']} cells finished · " if "cells_total" in pv else ""
        self.status.setText(cells + p.message)

    def finished_run(self, report: dict) -> None:      # not done(): QDialog.done(int) closes it
        self.report = report
        self.show_table(report["table"])
        self.progress.setValue(1000)
        self.status.setText(f"{report['cells_finished']} of {report['cells_total']} cells finished in "
                            f"{report['wall_seconds']:.0f} s · report: {Path(report['out']) / 'report.md'}")
        self.update_buttons()

    def cancelled(self) -> None:
        self.status.setText("Cancelled. The finished cells are kept in the report folder: Run continues from them.")
        self.update_buttons()

    def fail(self, message: str) -> None:
        """One clear message in the dialog (the Jobs dock and the log keep the details)."""
        self.error.setText(message)
        self.error.show()
        self.status.setText("Stopped. Finished cells are kept: fix the cause and press Run to continue.")
        self.update_buttons()

    def show_table(self, lines: list[dict]) -> None:
        self.lines = lines
        unit = self.chosen()["unit"] if self.chosen() else ""
        self.table.setHorizontalHeaderItem(3, QTableWidgetItem(f"ours ({unit})" if unit else "ours"))
        rows = table_rows(lines)
        self.table.setRowCount(len(rows))
        for i, (row, line) in enumerate(zip(rows, lines)):
            for j, text in enumerate(row):
                item = QTableWidgetItem(text)
                if not line.get("n"):
                    item.setForeground(NOT_RUN)
                self.table.setItem(i, j, item)

    # ---- the report ------------------------------------------------------------------------------
    def report_path(self) -> Path | None:
        folder = self.report["out"] if self.report else self.out.text().strip()
        path = Path(folder) / "report.md" if folder else None
        return path if path is not None and path.is_file() else None

    def open_report(self) -> QDialog | None:
        """report.md rendered (its figure included), with a button to the folder in the file manager."""
        path = self.report_path()
        if path is None:
            self.fail("No report.md in the report folder yet: Run first.")
            return None
        viewer = QDialog(self)
        viewer.setWindowTitle(str(path))
        viewer.resize(820, 640)
        text = QTextBrowser()
        text.setSearchPaths([str(path.parent)])            # the figure's relative path resolves
        text.setMarkdown(path.read_text(encoding="utf-8"))
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        folder = buttons.addButton("Open folder", QDialogButtonBox.ActionRole)
        folder.clicked.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(path.parent))))
        buttons.rejected.connect(viewer.close)
        lay = QVBoxLayout(viewer)
        lay.addWidget(text)
        lay.addWidget(buttons)
        viewer.text = text
        viewer.show()
        self.report_viewer = viewer
        return viewer


def _row(*widgets) -> QWidget:
    w = QWidget()
    lay = QHBoxLayout(w)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.addWidget(widgets[0], 1)
    for x in widgets[1:]:
        lay.addWidget(x)
    return w


class Reproducer:
    """Owns the one Reproduce dialog (created on first use, kept while a run goes on)."""

    def __init__(self, window):
        self.window = window
        self.dialog: ReproduceDialog | None = None

    def show(self, root: Path | None = None) -> ReproduceDialog:
        if self.dialog is None:
            self.dialog = ReproduceDialog(self.window, root)
        elif not self.dialog.running:
            self.dialog.refresh_list()
        self.dialog.show()
        self.dialog.raise_()
        return self.dialog


def install(window) -> Reproducer:
    r = Reproducer(window)
    a = window.tools_menu.addAction("&Reproduce…")
    a.setToolTip("Re-run a paper's headline table or figure and compare with the paper's values")
    a.triggered.connect(lambda _=False: r.show())
    return r
