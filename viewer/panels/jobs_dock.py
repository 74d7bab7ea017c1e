"""The Jobs dock: one row per job with its name, state, progress bar, elapsed time, a cancel
button and the error message if it failed (full text in the tooltip and the Log).

``JobsIndicator`` folds the dock into the status bar while nothing runs and no failure waits
to be seen, so finished rows never take space from the 3D views."""
from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QAbstractItemView, QDockWidget, QHeaderView, QMainWindow, QProgressBar, QPushButton,
                               QTableWidget, QTableWidgetItem, QToolButton)

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


SHOW_AFTER_MS = 700     # a job shorter than this (a prediction, a slider preview) never opens the dock
HIDE_AFTER_MS = 2000    # the finished state stays in view this long before the dock collapses
ROWS_SHOWN = 4          # the dock opens this many rows tall (it scrolls beyond)


class JobsIndicator(QToolButton):
    """The Jobs dock folded into the status bar ("3 jobs · 1 running", "1 failed").

    The dock (``dock``, holding ``view``) is hidden while no job runs and no failure is unseen:
    it opens when a job has run for ``SHOW_AFTER_MS`` (unless another dock below the views shows,
    such as a live plot) or fails, and closes ``HIDE_AFTER_MS``
    after the last job ends, unless a failure waits to be seen or the user opened it (clicking
    here or View > Jobs), in which case it stays until closed. Closing the dock (or clicking
    here while it shows) marks the failures seen. ``quiet`` (presenter mode) keeps it closed."""

    def __init__(self, view: JobsView, dock, resize_dock=None, parent=None):
        super().__init__(parent)
        self.view, self.dock = view, dock
        self.resize_dock = resize_dock          # (dock, height) -> None: QMainWindow.resizeDocks
        self.unseen: set[int] = set()           # ids of failed jobs the user has not looked at
        self.pinned = False                     # opened by the user: no automatic hiding
        self.quiet = False
        self._ours = False                      # the dock's visibility is being changed here
        self.setAutoRaise(True)
        self.setToolTip("Show or hide the Jobs dock (running and finished jobs, their errors)")
        self.clicked.connect(self.toggle)
        self._show_timer = QTimer(self, singleShot=True, interval=SHOW_AFTER_MS, timeout=self._show_if_running)
        self._hide_timer = QTimer(self, singleShot=True, interval=HIDE_AFTER_MS, timeout=self._hide_if_idle)
        view.client.job_added.connect(self._changed)
        view.client.job_changed.connect(self._changed)
        dock.visibilityChanged.connect(self._visibility)
        dock.toggleViewAction().triggered.connect(self._menu_toggled)
        self.refresh()

    # ---- what the button says ------------------------------------------------------------------
    def counts(self) -> tuple[int, int, int]:
        """(jobs listed, running or waiting, failed and unseen)."""
        handles = self.view.handles.values()
        return len(self.view.handles), sum(h.active for h in handles), len(self.unseen)

    def refresh(self) -> None:
        total, running, failed = self.counts()
        parts = [f"{total} job{'s' if total != 1 else ''}" if total else "no jobs"]
        if running:
            parts.append(f"{running} running")
        if failed:
            parts.append(f"{failed} failed")
        self.setText("Jobs: " + " · ".join(parts))
        self.setStyleSheet("color: #b00020; font-weight: bold;" if failed else "")

    # ---- when the dock shows --------------------------------------------------------------------
    def _changed(self, handle) -> None:
        if handle.state == FAILED and handle.id in self.view.handles and handle.id not in self.unseen:
            self.unseen.add(handle.id)
            self._open()
        elif (handle.state == RUNNING and handle.id in self.view.handles and not self.dock.isVisible()
              and not self._show_timer.isActive()):
            self._show_timer.start()     # (progress repeats RUNNING: the first one starts the clock)
        self.refresh()
        running = self.counts()[1]
        if not running:
            self._show_timer.stop()      # the next job gets its own full delay
        if not running and not self.unseen:
            self._hide_timer.start()
        else:
            self._hide_timer.stop()

    def _show_if_running(self) -> None:
        if self.counts()[1]:
            self._open(failure=False)

    def _sibling_in_front(self):
        """The dock tabbed together with the Jobs dock (Plots, Log) that is showing, or None."""
        window = self.dock.parentWidget()
        if not isinstance(window, QMainWindow):
            return None
        # (tabifiedDockWidgets lists nothing while the Jobs dock itself is hidden: the area decides)
        area = window.dockWidgetArea(self.dock)
        showing = [d for d in window.findChildren(QDockWidget) if d is not self.dock and d.isVisible()
                   and not d.isFloating() and window.dockWidgetArea(d) == area]
        return next((d for d in showing if not d.visibleRegion().isEmpty()), showing[0] if showing else None)

    def _hide_if_idle(self) -> None:
        if not self.counts()[1] and not self.unseen and not self.pinned:
            self._set_visible(False)

    def _open(self, failure: bool = True) -> None:
        if self.quiet or self.dock.isVisible():
            if self.dock.isVisible() and failure:
                self.dock.raise_()
            return
        if not failure and self._sibling_in_front() is not None:
            # Below the views another dock shows (e.g. Flow AM's live loss plot): the running job
            # stays in the status bar. Taking the front hid the plot the run had just opened; even
            # as a tab behind it, the tab bar it brought laid the window out again mid-run and
            # once more when it closed (3D views resized and redrawn: 50-90 ms stalls, make bench).
            return
        self._set_visible(True)
        self.dock.raise_()
        if self.resize_dock is not None:   # a few rows tall, not the area's old height
            rows = max(1, min(ROWS_SHOWN, self.view.rowCount()))
            height = (self.view.horizontalHeader().height() + rows * self.view.verticalHeader().defaultSectionSize()
                      + 2 * self.view.frameWidth() + 28)     # + the dock's title bar
            self.resize_dock(self.dock, height)

    def _set_visible(self, on: bool) -> None:
        self._ours = True
        try:
            self.dock.setVisible(on)
        finally:
            self._ours = False

    def update_now(self) -> None:
        """Apply the rule at once (after the window restored a saved layout, or presenter mode ended)."""
        self.refresh()
        if self.quiet:
            return
        if self.counts()[1] or self.unseen:
            self._open()
        elif not self.pinned:
            self._set_visible(False)

    # ---- the user ---------------------------------------------------------------------------------
    def toggle(self) -> None:
        if self.dock.isVisible():
            self.dock.hide()             # _visibility: the failures count as seen
        else:
            self.pinned = True
            self.dock.show()
            self.dock.raise_()

    def _menu_toggled(self, checked: bool) -> None:
        self.pinned = bool(checked)

    def _visibility(self, visible: bool) -> None:
        if not visible and not self._ours and not self.quiet and self.dock.isHidden():   # closed by the user
            self.unseen.clear()
            self.pinned = False
            self.refresh()
