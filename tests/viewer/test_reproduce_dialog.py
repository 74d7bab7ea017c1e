"""Tools > Reproduce… (viewer/reproduce_dialog.py) in the real window under Xvfb, on a test-only
reproduction whose cells wait for the test to release them: the table gets the runner's lines
and fills in cell by cell, Cancel stops the run, a second Run resumes without re-running the
finished cells, the report folder holds report.md, and a refused run is one message."""
from __future__ import annotations

import threading

import pytest

from engine.core.types import Progress
from engine.reproduce import registry
from engine.reproduce.declaration import Cell, PaperValue, Reproduction, Settings, seeds_of

pytestmark = pytest.mark.gui

CALLS: list[str] = []                         # every cell the runner started, in order
RELEASE: dict[str, threading.Event] = {}      # a cell finishes only once the test sets its event


def gated_cells(settings: Settings, scale) -> list[Cell]:
    return [Cell(f"a{a}-s{s}", {"a": a, "seed": s}) for a in scale["a"] for s in seeds_of(settings)]


def gated_run(cell: Cell, settings: Settings, scale):
    CALLS.append(cell.id)
    gate = RELEASE.setdefault(cell.id, threading.Event())
    while not gate.wait(0.01):                # progress keeps coming, as a real cell's would
        yield Progress(0, 1, "waiting for the test")
    a, s = cell.config["a"], cell.config["seed"]
    return {(f"a={a}", "x"): 10.0 * a + s, (f"a={a}", "y"): float(a * a)}


GATED = Reproduction(
    name="gui-gated-test", title="a gated test reproduction", paper="Nobody, Table 0", paper_setting="nothing",
    paper_values={("a=1", "x"): PaperValue("11", "Table 0", 11.0), ("a=9", "x"): PaperValue("90", "Table 0", 90.0)},
    cells=gated_cells, run_cell=gated_run, quick={"a": (1, 2)}, full={"a": (1, 2, 3)}, unit="units")


@pytest.fixture()
def dialog(win, qtbot):
    CALLS.clear()
    RELEASE.clear()
    registry.register(GATED, replace=True)
    # through the menu, as a user opens it (an open dialog lists the reproductions registered since)
    action = next(a for a in win.tools_menu.actions() if a.text() == "&Reproduce…")
    action.trigger()
    d = win.extensions["reproduce_dialog"].dialog
    d.reproduction.setCurrentIndex(d.reproduction.findText("gui-gated-test: Nobody, Table 0"))
    d.seeds.setValue(2)
    d.scale.setCurrentIndex(0)                # quick: a = 1, 2
    yield d
    for gate in RELEASE.values():
        gate.set()
    if d.running:
        d.cancel()
        qtbot.waitUntil(lambda: not d.running, timeout=10000)
    registry.unregister(GATED.name)


def texts(d) -> list[tuple[str, ...]]:
    return [tuple(d.table.item(i, j).text() for j in range(d.table.columnCount())) for i in range(d.table.rowCount())]


def release(cell_id: str) -> None:
    RELEASE.setdefault(cell_id, threading.Event()).set()


def test_table_fills_in_live_cancel_then_run_resumes_and_writes_report(dialog, qtbot, tmp_path):
    d = dialog
    out = tmp_path / "report"
    d.out.setText(str(out))
    assert d.settings() == {"name": "gui-gated-test", "data": "builtin", "seeds": 2, "quick": True, "out": str(out)}
    d.run()
    assert d.running and d.cancel_btn.isEnabled() and not d.run_btn.isEnabled()
    # before any cell finishes: the paper's lines, not run yet
    qtbot.waitUntil(lambda: d.table.rowCount() == 2 and "0 of 4 cells" in d.status.text(), timeout=10000)
    assert texts(d) == [("a=1", "x", "11", "not run", "0", "Table 0"), ("a=9", "x", "90", "not run", "0", "Table 0")]
    assert d.table.horizontalHeaderItem(3).text() == "ours (units)"

    release("a1-s0")                          # x = 10 a + seed, y = a^2
    qtbot.waitUntil(lambda: d.table.rowCount() == 3, timeout=10000)
    assert texts(d) == [("a=1", "x", "11", "10.0", "1", "Table 0"), ("a=1", "y", "—", "1.00", "1", ""),
                        ("a=9", "x", "90", "not run", "0", "Table 0")]
    release("a1-s1")
    qtbot.waitUntil(lambda: texts(d)[0][4] == "2", timeout=10000)
    assert texts(d)[0] == ("a=1", "x", "11", "10.5 ± 0.707", "2", "Table 0")
    qtbot.waitUntil(lambda: CALLS == ["a1-s0", "a1-s1", "a2-s0"] and "2 of 4 cells" in d.status.text(), timeout=10000)
    assert 400 <= d.progress.value() < 1000

    d.cancel()                                # a2-s0 is running: abandoned, its file never written
    qtbot.waitUntil(lambda: not d.running, timeout=10000)
    assert d.handle.state == "cancelled" and "Cancelled" in d.status.text() and d.run_btn.isEnabled()
    assert sorted(p.name for p in (out / "cells").iterdir()) == ["a1-s0.json", "a1-s1.json"]
    assert not (out / "report.md").exists() and not d.open_btn.isEnabled()

    CALLS.clear()
    for cell in ("a2-s0", "a2-s1"):
        release(cell)
    d.run()                                   # the same folder: resumes
    qtbot.waitUntil(lambda: d.report is not None, timeout=20000)
    assert CALLS == ["a2-s0", "a2-s1"]        # the finished cells were not run again
    assert [r[:5] for r in texts(d)] == [("a=1", "x", "11", "10.5 ± 0.707", "2"), ("a=1", "y", "—", "1.00 ± 0", "2"),
                                         ("a=2", "x", "—", "20.5 ± 0.707", "2"), ("a=2", "y", "—", "4.00 ± 0", "2"),
                                         ("a=9", "x", "90", "not run", "0")]
    assert d.progress.value() == 1000 and "4 of 4 cells finished" in d.status.text()
    assert (out / "report.md").is_file() and d.open_btn.isEnabled()
    viewer = d.open_report()
    assert "10.5 ± 0.707" in viewer.text.toPlainText() and "gui-gated-test" in viewer.text.toPlainText()
    viewer.close()


def test_resume_folder_takes_its_settings_and_runs_nothing_finished(dialog, qtbot, tmp_path):
    d = dialog
    out = tmp_path / "done"
    for cell in ("a1-s0", "a2-s0"):
        release(cell)
    d.seeds.setValue(1)
    d.out.setText(str(out))
    d.run()
    qtbot.waitUntil(lambda: d.report is not None, timeout=20000)
    assert CALLS == ["a1-s0", "a2-s0"]
    CALLS.clear()
    d.seeds.setValue(3)
    d.out.setText(str(tmp_path / "elsewhere"))
    d.resume(str(out))
    qtbot.waitUntil(lambda: d.report is not None and d.report["out"] == str(out), timeout=20000)
    assert d.seeds.value() == 1 and d.out.text() == str(out) and CALLS == []


def test_a_refused_run_is_one_clear_message(dialog, qtbot, tmp_path):
    d = dialog
    out = tmp_path / "one-seed"
    for cell in ("a1-s0", "a2-s0"):
        release(cell)
    d.seeds.setValue(1)
    d.out.setText(str(out))
    d.run()
    qtbot.waitUntil(lambda: d.report is not None, timeout=20000)
    d.seeds.setValue(2)                       # the same folder with other settings: refused, nothing runs
    CALLS.clear()
    d.run()
    qtbot.waitUntil(lambda: d.error.isVisible(), timeout=10000)
    assert "other settings (seeds differ)" in d.error.text() and "\n" not in d.error.text()
    assert CALLS == [] and d.run_btn.isEnabled() and not d.running
    d.run()                                   # a new run clears the old message (and is refused again)
    assert not d.error.isVisible()
    qtbot.waitUntil(lambda: d.error.isVisible(), timeout=10000)
