"""Comparison tables in the SeRP and Mix panels: the real window under Xvfb, tiny models
(width 0.0625, 64 points, 40 clouds per split, 1 epoch).

The numbers in the tables are checked against the engine: the SeRP "scratch vs pre-trained"
rows equal the finetune-compare Result's metrics, and the Mix panel's robustness rows (one job
per checkpoint, filled one after the other) equal ONE engine ``robustness`` run over the same
list. CSV exports are parsed back and must carry the provenance line.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from .conftest import panel_named

pytestmark = pytest.mark.gui
TINY = {"width": 0.0625, "points": 64, "limit": 40}


def _save(key: str, path, seed: int, classes=(), sampling="random", **config) -> str:
    import torch

    import engine.models.zoo  # noqa: F401 - registers the models
    from engine.models.base import build_model
    from engine.models.checkpoints import save_checkpoint

    torch.manual_seed(seed)
    model = build_model(key, width=TINY["width"], **config)
    meta = {"normalisation": {"points": TINY["points"], "sampling": sampling}}
    if classes:
        meta["classes"] = list(classes)
    save_checkpoint(path, model, meta)
    return str(path)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from engine.data import open_dataset

    d = tmp_path_factory.mktemp("cmp")
    classes = list(open_dataset("builtin").classes)
    meta_classes = {"num_classes": len(classes), "classes": classes}
    return {"serp": _save("serp-pointnet", d / "serp_tiny.safetensors", 0),
            "a": _save("pointnet", d / "base_a.safetensors", 1, **meta_classes),
            "b": _save("pointnet", d / "base_b.safetensors", 2, **meta_classes),
            "first": _save("pointnet", d / "base_first.safetensors", 3, sampling="first", **meta_classes)}


def _percent(x: float) -> str:
    return f"{100 * x:.1f} %"


# ---- the table widget on its own ------------------------------------------------------------------
def test_table_units_best_in_bold_errors_and_csv_round_trip(qtbot, tmp_path):
    from viewer.panels.compare_table import Column, CompareTable
    from viewer.provenance import read_csv

    cols = [Column("acc", "accuracy"), Column("ece", "ECE", better="low"), Column("loss", "loss", unit="", better="low", decimals=3)]
    t = CompareTable(cols, row_title="model", provenance=lambda: {"method": "demo", "checkpoint": "x.safetensors"})
    qtbot.addWidget(t)
    assert not t.export_btn.isEnabled()
    t.pending("one")
    assert t.text(0, 1) == "…" and not t.export_btn.isEnabled()
    t.set_row("one", {"acc": (0.8125, 0.0125), "ece": 0.2, "loss": 1.23456})
    t.set_row("two", {"acc": 0.75, "ece": 0.05, "loss": float("nan")})
    t.set_row("three", {"acc": 0.8125, "ece": None, "loss": 0.5})
    assert t.row_names() == ["one", "two", "three"]
    assert t.text(0, 1) == "81.2 ± 1.2 %" and t.text(1, 1) == "75.0 %"
    assert t.text(0, 3) == "1.235" and t.text(1, 3) == "–" and t.text(2, 2) == "–"
    # best: highest accuracy (a tie: both bold), lowest ECE, lowest loss; NaN never best
    assert [t.is_bold(i, 1) for i in range(3)] == [True, False, True]
    assert [t.is_bold(i, 2) for i in range(3)] == [False, True, False]
    assert [t.is_bold(i, 3) for i in range(3)] == [False, False, True]
    t.set_caption("<b>three</b> models &gt; one")
    path = tmp_path / "t.csv"
    t.export_csv(str(path))
    prov, header, rows = read_csv(str(path))
    assert prov["method"] == "demo" and prov["checkpoint"] == "x.safetensors" and prov["table"] == "three models > one"
    assert header == ["model", "accuracy (%)", "± accuracy (%)", "ECE (%)", "loss"]
    assert [r[0] for r in rows] == ["one", "two", "three"]
    assert float(rows[0][1]) == pytest.approx(81.25) and float(rows[0][2]) == pytest.approx(1.25)
    assert rows[1][2] == "" and rows[1][4] == "" and rows[2][3] == ""
    assert float(rows[1][3]) == pytest.approx(5.0) and float(rows[2][4]) == 0.5


def test_table_export_to_an_unwritable_place_says_so(qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    from viewer.panels.compare_table import Column, CompareTable

    t = CompareTable([Column("acc", "accuracy")])
    qtbot.addWidget(t)
    t.set_row("one", {"acc": 0.5})
    blocker = tmp_path / "file"
    blocker.write_text("x")
    bad = blocker / "sub" / "t.csv"          # a folder under a plain file cannot exist
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(bad), "CSV (*.csv)"))
    t.export_btn.click()
    assert str(bad) in t.status.text() and not bad.exists()


def test_column_titles_and_the_gui_imports_no_torch():
    import subprocess
    import sys

    from viewer.panels.robustness_box import column_title

    assert column_title("dropout:0.25") == "drop 25 %" and column_title("rotate-z:180") == "rotate z 180°"
    assert column_title("noise:0.05") == "noise σ 0.05" and column_title("scale:2") == "scale ×2"
    code = ("import sys, viewer.panels.serp, viewer.panels.sagemix, viewer.panels.compare_table; "
            "sys.exit(3 if 'torch' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0


# ---- SeRP: scratch vs pre-trained -------------------------------------------------------------------
def test_serp_finetune_compare_fills_table_and_curves(win, qtbot, tiny, tmp_path):
    from viewer.provenance import read_csv

    panel = panel_named(win, "serp")
    box = panel.finetune
    box.add_checkpoint(tiny["serp"])
    box.epochs.setValue(1)
    box.points.setValue(TINY["points"])
    box.limit.setValue(TINY["limit"])
    box.batch.setValue(8)
    previews = []
    orig = box._progress
    box._progress = lambda p: (previews.append(dict(p.preview or {})), orig(p))
    assert box.start() is not None
    assert box.table.row_names() == ["from scratch", f"pre-trained: {tiny['serp']}"]
    qtbot.waitUntil(lambda: box.result is not None, timeout=60000)
    res, m = box.result, box.result.metrics
    assert m["classifier"] == "pointnet" and m["pretrained_model"] == "serp-pointnet"
    assert {int(p["run"]) for p in previews if "run" in p} == {0, 1}       # progress came from both runs
    for row, run in enumerate(("scratch", "pretrained")):
        vals = box.table.values(box.table.row_names()[row])
        assert vals["final"] == m[f"{run}_accuracy"] and vals["best"] == m[f"{run}_best_accuracy"]
        assert vals["loss"] == res.arrays[f"{run}_loss"][-1]
        assert box.table.text(row, 1) == _percent(m[f"{run}_accuracy"])
    # 40 test clouds: accuracies are multiples of 1/40
    assert math.isclose(m["scratch_accuracy"] * 40, round(m["scratch_accuracy"] * 40))
    assert f"<b>{100 * m['gain']:+.1f}</b> points" in box.table.caption.text()
    # the curves: two named curves, one point per epoch, in percent
    item = win.plots.items["serp.finetune"]
    curves = item.listDataItems()
    assert sorted(c.name() for c in curves) == sorted(box.table.row_names())
    for c in curves:
        run = "scratch" if c.name() == "from scratch" else "pretrained"
        x, y = c.getData()
        assert list(x) == [1.0] and np.allclose(y, 100 * res.arrays[f"{run}_test_acc"])
    # export: the rows as shown, with provenance naming the pre-trained checkpoint and params
    path = tmp_path / "ft.csv"
    box.table.export_csv(str(path))
    prov, header, rows = read_csv(str(path))
    assert prov["method"] == "finetune-compare" and prov["pretrained"] == tiny["serp"]
    assert prov["params"]["epochs"] == 1 and prov["params"]["limit"] == TINY["limit"]
    assert header[0] == "initialisation" and len(rows) == 2
    assert float(rows[1][1]) == pytest.approx(100 * m["pretrained_accuracy"])


def test_serp_finetune_missing_checkpoint_is_one_message(win, tmp_path):
    panel = panel_named(win, "serp")
    box = panel.finetune
    missing = str(tmp_path / "nowhere.safetensors")
    box.ckpt.setCurrentText(missing)
    submitted = []
    orig = win.client.submit
    win.client.submit = lambda req: (submitted.append(req), orig(req))[1]
    try:
        assert box.start() is None
    finally:
        win.client.submit = orig
    assert submitted == [] and missing in box.status.text() and box.run_btn.isEnabled()


def test_serp_finetune_cancel_leaves_the_box_usable(win, qtbot, tiny):
    panel = panel_named(win, "serp")
    box = panel.finetune
    box.ckpt.setCurrentText(tiny["serp"])
    box.epochs.setValue(50)                   # long enough to be cancelled in the scratch run
    seen = []
    orig = box._progress
    box._progress = lambda p: (seen.append(p), orig(p))
    try:
        box.start()
        assert box.cancel_btn.isEnabled() and not box.run_btn.isEnabled()
        qtbot.waitUntil(lambda: any("epoch" in (p.preview or {}) for p in seen), timeout=30000)
        box.cancel()
        qtbot.waitUntil(lambda: box.run_btn.isEnabled(), timeout=30000)
    finally:
        box._progress = orig
        box.epochs.setValue(1)
    assert box.handle.state == "cancelled" and not box.cancel_btn.isEnabled()
    assert box.table.row_names() == []         # no row got numbers, none is left pending


def test_serp_uses_a_checkpoint_pretrained_from_thepanel_named(win, qtbot, tiny):
    panel = panel_named(win, "serp")
    assert panel.train_box.models == ["serp-pointnet", "serp-transformer"]
    before = len(win.session.results)
    panel.train_box.trained.emit(tiny["serp"])           # what the box emits after a pre-training run
    assert panel.ckpt.currentText() == tiny["serp"] and panel.finetune.ckpt.currentText() == tiny["serp"]
    # the sample is explained with the new model at once
    qtbot.waitUntil(lambda: len(win.session.results) > before and panel.result is not None, timeout=30000)
    assert panel.result.provenance["checkpoint"] == tiny["serp"]
    assert any(n.startswith("serp.") for n in win.scene.names())


# ---- Mix: train with augmentation, then the robustness table -------------------------------------------
def test_mix_trained_model_joins_the_robustness_table_rows_equal_the_engine(win, qtbot, tiny, tmp_path):
    from viewer.provenance import read_csv

    panel = panel_named(win, "sagemix")
    tb = panel.train_box
    for k, v in {"epochs": 1, "width": TINY["width"], "points": TINY["points"], "limit": TINY["limit"],
                 "batch_size": 8}.items():
        tb.fields[k].setValue(v)
    tb.augment.setCurrentText("sagemix")
    tb.out.setText(str(tmp_path / "mixed.safetensors"))
    tb.start()
    qtbot.waitUntil(lambda: tb.last_result is not None, timeout=60000)
    # the run's assignments came from the auction; the status shows its certified gap
    gap = tb.last_result.metrics["assignment_gap_bound"]
    assert 0.0 <= gap <= 0.01 and f"within {100 * gap:.2f} % of the optimum" in tb.status.text()
    rb = panel.robustness
    trained = str(tmp_path / "mixed.safetensors")
    assert trained in rb.specs() and rb.row_label(trained) == "sagemix · mixed"
    rb.list.clear()
    for spec in (tiny["a"], trained, tiny["b"]):
        rb.add_checkpoint(spec, label=rb.labels.get(spec, ""))
    rb.limit.setValue(TINY["limit"])
    rb.corruptions.setText("noise:0.05,rotate-z:180,dropout:0.5")
    seen, jobs = _watch_rows(win, rb)
    try:
        rb.start()
        assert rb.table.row_names() == ["base_a", "sagemix · mixed", "base_b"]
        qtbot.waitUntil(lambda: not rb.running, timeout=60000)
    finally:
        _unwatch(win, rb)
    # live: one job per row, each row filled while the rows after it were still pending
    assert jobs == ["base_a", "sagemix · mixed", "base_b"]
    assert seen == [("base_a", 0), ("sagemix · mixed", 1), ("base_b", 2)]
    ref = _reference(rb, [tiny["a"], trained, tiny["b"]])
    cols = ref.metrics["columns"]
    assert cols == ["clean", "noise:0.05", "rotate-z:180", "dropout:0.5"]
    assert rb.table.text(0, 1) == _percent(ref.metrics["table"][0]["clean"])
    path = tmp_path / "rob.csv"
    rb.table.export_csv(str(path))
    prov, header, rows = read_csv(str(path))
    assert prov["method"] == "robustness" and prov["params"]["limit"] == TINY["limit"]
    assert set(prov["checkpoints"]) == {tiny["a"], trained, tiny["b"]}
    assert header == ["checkpoint", "clean (%)", "noise σ 0.05 (%)", "rotate z 180° (%)", "drop 50 % (%)", "ECE (%)"]
    got = np.array([[float(c) for c in r[1:]] for r in rows])
    want = 100 * np.array([[row[c] for c in cols] + [row["ece"]] for row in ref.metrics["table"]])
    assert np.allclose(got, want, rtol=1e-12)


def _watch_rows(win, rb):
    """Record (row filled, rows already filled) and the checkpoints of each robustness job."""
    seen, jobs = [], []
    orig_row, orig_submit = rb.table.set_row, win.client.submit

    def set_row(name, values, tooltip=""):
        seen.append((name, sum(rb.table.filled(n) for n in rb.table.row_names())))
        orig_row(name, values, tooltip)

    def submit(req):
        h = orig_submit(req)
        if req.name.startswith("Robustness: ") and "read checkpoints" not in req.name:
            jobs.append(req.name[len("Robustness: "):])
        return h
    rb.table.set_row, win.client.submit = set_row, submit
    rb._orig = (orig_row, orig_submit)
    return seen, jobs


def _unwatch(win, rb):
    rb.table.set_row, win.client.submit = rb._orig


def _reference(rb, specs):
    """ONE engine robustness run over the list; the table must hold exactly its numbers."""
    from engine import Job, run_sync, run, start

    ref = run(Job("robustness", {"data": "builtin"},
                       {"checkpoints": ",".join(specs), "limit": TINY["limit"],
                        "corruptions": rb.corruptions.text()}))
    cols = ref.metrics["columns"]
    assert rb.table.row_names() == [rb.row_label(s) for s in specs]
    assert [c.key for c in rb.table.columns] == [*cols, "ece"]
    for i, (name, row) in enumerate(zip(rb.table.row_names(), ref.metrics["table"])):
        vals = rb.table.values(name)
        assert {c: vals[c] for c in cols} == {c: row[c] for c in cols}
        assert vals["ece"] == row["ece"]
        # what is shown: every cell, in percent
        assert [rb.table.text(i, j + 1) for j in range(len(cols) + 1)] == [_percent(row[c]) for c in [*cols, "ece"]]
    return ref


def test_robustness_mixed_samplings_run_as_one_job(win, qtbot, tiny):
    panel = panel_named(win, "sagemix")
    rb = panel.robustness
    rb.list.clear()
    for spec in (tiny["a"], tiny["first"]):      # trained with random vs first points
        rb.add_checkpoint(spec)
    rb.limit.setValue(TINY["limit"])
    rb.corruptions.setText("scale:2.0,dropout:0.25")
    seen, jobs = _watch_rows(win, rb)
    try:
        rb.start()
        qtbot.waitUntil(lambda: not rb.running, timeout=60000)
    finally:
        _unwatch(win, rb)
    assert jobs == ["base_a, base_first"]                          # one job for both rows
    assert seen == [("base_a", 0), ("base_first", 1)]
    assert "different point samplings (first, random)" in rb.table.caption.text()
    _reference(rb, [tiny["a"], tiny["first"]])


def test_robustness_missing_checkpoint_is_one_clear_message(win, tmp_path, tiny):
    panel = panel_named(win, "sagemix")
    rb = panel.robustness
    before = rb.table.row_names()
    missing = str(tmp_path / "gone" / "model.safetensors")
    rb.add_checkpoint(missing)
    submitted = []
    orig = win.client.submit
    win.client.submit = lambda req: (submitted.append(req), orig(req))[1]
    try:
        rb.start()
    finally:
        win.client.submit = orig
    assert submitted == []                                          # nothing ran
    assert missing in rb.status.text() and "Remove it from the list" in rb.status.text()
    assert rb.table.row_names() == before and rb.run_btn.isEnabled()
    assert missing in win.status.text()                             # the window says it too, and is up
    rb.list.takeItem(rb.specs().index(missing))
    assert missing not in rb.specs()
    rb.corruptions.setText("noise:0.01,blur:3")                  # a bad column: said before anything runs
    rb.start()
    assert "blur:3" in rb.status.text() and rb.table.row_names() == before and not rb.running
    rb.corruptions.setText("noise:0.01")


def test_robustness_rows_failing_for_one_reason_give_one_dialog(win, qtbot, tmp_path):
    # two self-supervised checkpoints: each row's job fails ("needs a classifier"); the user gets
    # one dialog for the run, and every row says why in its tooltip
    from .conftest import save_tiny_checkpoint

    panel = panel_named(win, "sagemix")
    rb = panel.robustness
    specs = [save_tiny_checkpoint(tmp_path / f"parae{i}.safetensors", "parae", classes=(), parts=4, seed=i)
             for i in range(2)]
    while rb.specs():
        rb.list.takeItem(0)
    for s in specs:
        rb.add_checkpoint(s)
    rb.limit.setValue(8)
    dialogs = len(win.error_dialogs)
    rb.start()
    qtbot.waitUntil(lambda: not rb.running, timeout=60000)
    assert len(win.error_dialogs) == dialogs + 1
    tips = {name: tip for name, _vals, tip in rb.table._rows}
    assert all("failed" in tips[rb.row_label(s)] for s in specs)
