"""The Jobs dock: one row per job with its name, state, progress bar, elapsed time, a cancel
button and the error message if it failed (full text in the tooltip and the Log)."""
from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QAbstractItemView, QHeaderView, QProgressBar, QPushButton, QTableWidget,
                               QTableWidgetItem)

from ..work import CANCELLED, DONE, FAILED, RUNNING, JobHandle

COLUMNS = ("job", "state", "progress", "elapsed", "", "message")
MAX_ROWS = 100


def fmt_elapsed(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    m, s = divmod(int(seconds), 60)
    return f"{m}:{s:02d} min" if m < 60 else f"{m // 60}:{m % 60:02d} h"


class JobsView(QTableWidget):
    def __init__(self, client, parent=None):
        super().__init__(0, len(COLUMNS), parent)
        self.client = client
        self.rows: dict[int, int] = {}     # job id -> row
        self.handles: dict[int, JobHandle] = {}
        self.setHorizontalHeaderLabels(COLUMNS)
        self.verticalHeader().hide()
        self.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectRows)
        h = self.horizontalHeader()
        h.setSectionResizeMode(0, QHeaderView.ResizeToContents)
        h.setSectionResizeMode(5, QHeaderView.Stretch)
        self.setColumnWidth(2, 160)
        client.job_added.connect(self.on_added)
        client.job_changed.connect(self.on_changed)
        self.timer = QTimer(self)
        self.timer.setInterval(250)
        self.timer.timeout.connect(self.tick)
        self.timer.start()

    def on_added(self, handle: JobHandle) -> None:
        if handle.request.listed:
            self._add_row(handle)

    def _add_row(self, handle: JobHandle) -> None:
        if self.rowCount() >= MAX_ROWS:   # drop the oldest finished row
            for jid, row in sorted(self.rows.items(), key=lambda kv: kv[1]):
                if not self.handles[jid].active:
                    self._remove(jid)
                    break
        row = self.rowCount()
        self.insertRow(row)
        self.rows[handle.id] = row
        self.handles[handle.id] = handle
        self.setItem(row, 0, QTableWidgetItem(handle.name))
        self.setItem(row, 1, QTableWidgetItem(handle.state))
        bar = QProgressBar()
        bar.setRange(0, 1000)
        bar.setTextVisible(True)
        bar.setFormat("waiting")
        self.setCellWidget(row, 2, bar)
        self.setItem(row, 3, QTableWidgetItem(""))
        btn = QPushButton("Cancel")
        btn.setToolTip("Stop this job (it stops at its next step, within ~0.2 s)")
        btn.clicked.connect(lambda _=False, h=handle: self.client.cancel(h))
        self.setCellWidget(row, 4, btn)
        self.setItem(row, 5, QTableWidgetItem(""))
        self.scrollToBottom()
        self.on_changed(handle)

    def _remove(self, jid: int) -> None:
        row = self.rows.pop(jid)
        self.handles.pop(jid)
        self.removeRow(row)
        self.rows = {j: (r - 1 if r > row else r) for j, r in self.rows.items()}

    def on_changed(self, handle: JobHandle) -> None:
        if handle.id not in self.rows:
            if handle.state == FAILED:   # unlisted work that failed still shows
                self._add_row(handle)
            return
        row = self.rows[handle.id]
        self.item(row, 1).setText("paused" if handle.state == RUNNING and handle.paused else handle.state)
        bar: QProgressBar = self.cellWidget(row, 2)
        p = handle.progress
        if handle.state == DONE:
            bar.setRange(0, 1000)
            bar.setValue(1000)
            bar.setFormat("done")
        elif handle.state == RUNNING:
            if p is not None and p.total > 0:
                bar.setRange(0, 1000)
                bar.setValue(int(1000 * p.fraction))
                bar.setFormat(f"{100 * p.fraction:.0f} %")
            else:
                bar.setRange(0, 0)   # busy indicator until the first progress
        elif handle.state in (FAILED, CANCELLED):
            bar.setRange(0, 1000)
            bar.setFormat(handle.state)
        msg = handle.error or (p.message if p is not None and handle.state == RUNNING else "")
        item = self.item(row, 5)
        item.setText(msg.replace("\n", " ")[:300])
        item.setToolTip(handle.error or msg)
        if handle.state == FAILED:
            item.setForeground(Qt.darkRed)
        btn = self.cellWidget(row, 4)
        btn.setEnabled(handle.active)
        self.item(row, 3).setText(fmt_elapsed(handle.elapsed()) if handle.started else "")

    def tick(self) -> None:
        now = time.monotonic()
        for jid, row in self.rows.items():
            h = self.handles[jid]
            if h.state == RUNNING and h.started:
                self.item(row, 3).setText(fmt_elapsed(h.elapsed(now)))

    def row_of(self, handle: JobHandle) -> int | None:
        return self.rows.get(handle.id)
