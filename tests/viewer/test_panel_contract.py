"""The method-panel contract (viewer/panels/base.py docstring) held by the code:

- a job submitted through ``run_method`` without ``on_error`` gets the window's error dialog;
  with ``on_error`` it gets none (the handler is called, the Jobs dock and the Log still show
  the failure); ``MethodPanel.failed`` raises exactly one dialog itself;
- ``PlotsDock.widget_tab`` adds a widget tab once per key, reuses it, brings it and the dock to
  the front.
"""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QTableWidget, QTextEdit

from viewer.work import FAILED

pytestmark = pytest.mark.gui
BAD = "no-such-method"       # the registry refuses it on the engine thread: a quick, real failure


def _close_dialogs(win):
    for d in list(win.error_dialogs):
        d.close()
    assert not win.error_dialogs


def _settle(qtbot, ms=150):
    qtbot.wait(ms)      # a dialog would be raised from a queued signal: give it the chance


def _row_message(win, handle) -> str:
    row = win.jobs.row_of(handle)
    assert row is not None, "the failed job has no row in the Jobs dock"
    return win.jobs.item(row, 5).text()


def test_without_on_error_the_window_shows_a_dialog(win, qtbot):
    _close_dialogs(win)
    panel = win.method_panels[0]
    h = panel.run_method(BAD, {}, name="contract default")
    qtbot.waitUntil(lambda: h.state == FAILED, timeout=30_000)
    qtbot.waitUntil(lambda: len(win.error_dialogs) == 1, timeout=5000)
    assert win.error_dialogs[0].windowTitle() == "contract default failed"
    assert BAD in win.error_dialogs[0].text() and BAD in _row_message(win, h)
    assert "job 'contract default' failed" in win.log_view.toPlainText()
    _close_dialogs(win)


def test_on_error_replaces_the_dialog_but_the_jobs_dock_and_log_keep_it(win, qtbot):
    _close_dialogs(win)
    panel = win.method_panels[0]
    got = []
    h = panel.run_method(BAD, {}, name="contract handled", on_error=got.append)
    qtbot.waitUntil(lambda: h.state == FAILED, timeout=30_000)
    _settle(qtbot)
    assert len(got) == 1 and BAD in got[0] and got[0] == h.error
    assert win.error_dialogs == []
    assert BAD in _row_message(win, h)
    assert "job 'contract handled' failed" in win.log_view.toPlainText()


def test_panel_failed_raises_exactly_one_dialog(win, qtbot):
    _close_dialogs(win)
    panel = win.method_panels[0]
    label = QLabel()
    h = panel.run_method(BAD, {}, name="contract told",
                         on_error=lambda msg: panel.failed(label, "Contract check", msg))
    qtbot.waitUntil(lambda: h.state == FAILED, timeout=30_000)
    qtbot.waitUntil(lambda: len(win.error_dialogs) >= 1, timeout=5000)
    _settle(qtbot)
    assert len(win.error_dialogs) == 1
    assert win.error_dialogs[0].windowTitle() == "Contract check failed" and BAD in win.error_dialogs[0].text()
    assert label.text().startswith("failed: ") and BAD in label.text()
    assert "Contract check: " in win.status.text()
    _close_dialogs(win)


def test_plots_dock_widget_tab_is_created_once_reused_and_raised(qtbot):
    from viewer.panels.plots_dock import PlotsDock

    main = QMainWindow()
    qtbot.addWidget(main)
    plots = PlotsDock()
    dock = QDockWidget("Plots", main)
    dock.setWidget(plots)
    main.addDockWidget(Qt.BottomDockWidgetArea, dock)
    other = QDockWidget("Jobs", main)
    other.setWidget(QTextEdit())
    main.addDockWidget(Qt.BottomDockWidgetArea, other)
    main.tabifyDockWidget(dock, other)
    main.show()
    other.raise_()
    qtbot.waitUntil(lambda: dock.visibleRegion().isEmpty(), timeout=2000)    # the Jobs tab is in front
    assert plots.tabs.count() == 1 and plots.placeholder is not None

    table = QTableWidget(2, 2)
    assert plots.widget_tab("t.table", "results table", table) is table
    qtbot.waitUntil(lambda: not dock.visibleRegion().isEmpty(), timeout=2000)  # raised to the front
    assert plots.tabs.count() == 1 and plots.placeholder is None                # the placeholder went
    assert plots.tabs.currentWidget() is table and plots.tabs.tabText(0) == "results table"

    item = plots.plot("t.curve", "a curve", "x", "y", tab="curve")
    assert plots.tabs.count() == 2 and plots.tabs.currentWidget() is plots.widgets["t.curve"]
    dock.hide()
    plots.widget_tab("t.table", "results table (2)", table)                    # reused by key
    assert plots.tabs.count() == 2 and plots.tabs.currentWidget() is table and dock.isVisible()
    assert plots.tabs.tabText(plots.tabs.indexOf(table)) == "results table (2)"

    newer = QTableWidget(1, 1)
    plots.widget_tab("t.table", "results table", newer)                        # same key, new widget
    assert plots.tabs.count() == 2 and plots.tabs.indexOf(table) == -1
    assert plots.tabs.indexOf(newer) == 0 and plots.tabs.currentWidget() is newer
    assert plots.plot("t.curve") is item                                       # plots unaffected
