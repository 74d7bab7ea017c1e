"""Flow AM analyses in the real window under Xvfb: the five-method compare view, the activation-flow
plot (paper Fig. 2) and the sanity strip (Fig. 7 / Table III), on a tiny untrained PointNet
(width 0.0625, 64 points, 3-4 optimiser steps). What is shown is checked against the engine's
Result arrays and metrics, and the table's bold cells against an independent argmax/argmin.
"""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

pytestmark = pytest.mark.gui

SMALL = {"stats_per_class": 2, "fid_reals": 2, "init_objects": 2, "preview_every": 1}


@pytest.fixture(scope="module")
def tiny_classifier(tmp_path_factory):
    import torch

    import engine.models.pointnet  # noqa: F401
    from engine.models.base import build_model
    from engine.models.checkpoints import save_checkpoint

    classes = ["bathtub", "bed", "chair", "desk", "dresser", "monitor", "night_stand", "sofa", "table", "toilet"]
    torch.manual_seed(0)
    model = build_model("pointnet", num_classes=10, width=0.0625)
    path = tmp_path_factory.mktemp("flowam_views") / "tiny_pointnet.safetensors"
    save_checkpoint(path, model, {"classes": classes, "normalisation": {"points": 64, "sampling": "random"}})
    return str(path)


def flowam_panel(win, qtbot, checkpoint, steps=4):
    panel = next(p for p in win.method_panels if p.name == "flowam")
    win.tabs.setCurrentIndex(win.method_panels.index(panel))
    if win.session.checkpoint is None or win.session.checkpoint.spec != checkpoint:
        win.session.open_checkpoint(checkpoint)
    qtbot.waitUntil(lambda: win.session.checkpoint is not None and win.session.checkpoint.spec == checkpoint
                    and panel.run_btn.isEnabled(), timeout=20000)
    panel.cls.setCurrentText("chair")
    panel.steps.setValue(steps)
    panel.points.setValue(64)
    panel.extra_params = dict(SMALL)
    return panel


def test_paper_layer_names_and_best_rows():
    from viewer.panels.flowam_compare import best_rows
    from viewer.panels.flowam_flow import paper_name

    assert [paper_name(n) for n in ("feat.stn.conv1", "feat.stn.fc2", "feat.fstn.conv3", "feat.fstn.fc1",
                                    "feat.conv2", "fc3")] == ["fT1.c1", "fT1.fc2", "fT2.c3", "fT2.fc1", "f.c2", "fc3"]
    assert best_rows([1.0, 3.0, float("nan"), 3.0], +1) == {1, 3}
    assert best_rows([1.0, 3.0, None, 0.5], -1) == {3}
    assert best_rows([None, float("nan")], -1) == set()


def test_replay_slider_is_named_for_the_movie_recorder(win):
    from PySide6.QtWidgets import QSlider

    panel = next(p for p in win.method_panels if p.name == "flowam")
    slider = panel.findChild(QSlider, "flowam.replay")
    assert slider is panel.timeline and slider.accessibleName() == "Flow AM replay"


def test_compare_view_five_clouds_table_click_and_exports(win, qtbot, tiny_classifier, tmp_path):
    from viewer.panels.flowam_compare import COLUMNS, NAMES, ORDER
    from viewer.provenance import read_csv, read_png_provenance

    panel = flowam_panel(win, qtbot, tiny_classifier, steps=4)
    view = panel.open_compare(run=False)
    view.start_box.setCurrentIndex(view.start_box.findData("average"))
    handles = view.start()
    assert set(handles) == set(ORDER) and view.cancel_btn.isEnabled()
    qtbot.waitUntil(lambda: len(view.results) == 5, timeout=40000)
    assert not view.running() and not view.cancel_btn.isEnabled()
    res = view.results
    starts = [res[m].arrays["history"][0] for m in ORDER]
    for m in ORDER:
        r = res[m]
        assert r.metrics["method"] == m and r.metrics["class"] == "chair" and r.metrics["steps"] == 4
        # the cloud shown is the engine's, and all five started from the same cloud
        assert np.array_equal(view.tiles[m].points, r.arrays["points"])
        assert np.array_equal(starts[0], r.arrays["history"][0])
        tile = view.tiles[m]
        assert tile.isVisible() and tile.title.text() == NAMES[m]
        img = tile.image.pixmap().toImage()
        assert (img.width(), img.height()) == (220, 220)
        arr = np.array(img.convertToFormat(img.Format.Format_RGB888).constBits(), np.uint8)
        assert (arr < 200).sum() > 100, f"thumbnail of {m} is blank"
        assert f"{r.metrics['chamfer']:.4f}" in tile.caption.text()
    # the same job run headless in this thread (engine.jobs.run_sync) gives the same clouds and metrics
    from engine.jobs import make_params, run_sync
    from engine.registry import METHODS

    method = METHODS.get("flowam")
    for m in ("vanilla", "flow"):
        p = make_params(method.Params, {**view.request["params"], "method": m})
        ref = run_sync(method().run(p, checkpoint=tiny_classifier, data="builtin", target="chair"))
        assert np.allclose(ref.arrays["points"], view.tiles[m].points, atol=1e-6)
        assert ref.metrics["chamfer"] == pytest.approx(res[m].metrics["chamfer"], rel=1e-5)
    # one camera for all five: the union of the five clouds (and the legal cube if a point leaves it)
    clouds = [res[m].arrays["points"] for m in ORDER]
    outside = any((np.abs(c) > 1.0).any() for c in clouds)
    allp = np.concatenate(clouds + ([np.array([[-1.0] * 3, [1.0] * 3])] if outside else []))
    lo, hi = np.array(view.bounds[0::2]), np.array(view.bounds[1::2])
    assert (lo <= allp.min(0)).all() and (hi >= allp.max(0)).all()
    assert np.allclose(hi - lo, (allp.max(0) - allp.min(0)) + 2 * 0.02 * (allp.max(0) - allp.min(0)).max())
    # table numbers are the results' metrics; bold = the best of each column (independent argmax/argmin)
    for j, (key, _h, better, scale, fmt) in enumerate(COLUMNS):
        vals = np.array([res[m].metrics[key] for m in ORDER], float)
        best = vals.max() if better > 0 else vals.min()
        for i, m in enumerate(ORDER):
            item = view.table.item(i, j)
            assert item.text() == fmt.format(vals[i] * scale)
            assert item.font().bold() == (vals[i] == best), (key, m)
    # clicking a thumbnail loads that cloud in the main viewport
    qtbot.mouseClick(view.tiles["tv"], Qt.LeftButton)
    assert np.array_equal(win.scene.get("flowam.cloud").points, res["tv"].arrays["points"])
    assert "Total variation" in win.scene.get("flowam.cloud").title
    # exports carry provenance and the same numbers
    csv_path = tmp_path / "cmp.csv"
    view.export_csv(str(csv_path))
    prov, header, rows = read_csv(str(csv_path))
    assert prov["method"] == "flowam compare" and prov["cls"] == "chair" and prov["params"]["steps"] == 4
    assert [r[0] for r in rows] == list(ORDER)
    for r in rows:
        for key, *_ in COLUMNS:
            assert float(r[header.index(key)]) == pytest.approx(res[r[0]].metrics[key], rel=1e-9, abs=1e-12)
    png = tmp_path / "cmp.png"
    view.export_png(str(png))
    assert read_png_provenance(str(png))["export"] == "compare view PNG"
    import imageio.v3 as iio

    assert iio.imread(png).shape[1] >= 5 * 220


def test_cancel_mid_compare_leaves_the_view_usable(win, qtbot, tiny_classifier):
    from viewer.panels.flowam_compare import ORDER
    from viewer.work import CANCELLED

    panel = flowam_panel(win, qtbot, tiny_classifier, steps=100000)
    view = panel.open_compare(run=False)
    assert panel.compare_btn.isEnabled()
    panel.compare_btn.click()           # the panel's button opens the view and runs the five
    handles = dict(view.handles)
    assert set(handles) == set(ORDER)
    qtbot.waitUntil(lambda: view.tiles[ORDER[0]].progress.value() > 0, timeout=30000)
    view.cancel()
    qtbot.waitUntil(lambda: all(h.state == CANCELLED for h in handles.values()), timeout=10000)
    assert not view.running() and view.results == {} and view.run_btn.isEnabled()
    assert all(view.tiles[m].image.text() == "cancelled" for m in ORDER)
    panel.steps.setValue(3)
    view.start()
    qtbot.waitUntil(lambda: len(view.results) == 5, timeout=40000)
    assert all(view.results[m].metrics["steps"] == 3 for m in ORDER)


def test_activation_flow_plot_has_the_engine_curves(win, qtbot, tiny_classifier):
    from viewer.panels.flowam_flow import SERIES, layer_names, paper_name

    panel = flowam_panel(win, qtbot, tiny_classifier, steps=3)
    panel.flow.extra = {"per_class": 3, "pairs": 3}
    panel.flow.result = None
    assert panel.flow_btn.isEnabled()
    panel.flow_btn.click()
    qtbot.waitUntil(lambda: panel.flow.result is not None, timeout=40000)
    res = panel.flow.result
    names = layer_names(res)
    assert names == res.metrics["layers"] and len(names) == 18     # PointNet: 9 conv + 9 linear
    plot = win.plots.items["flowam.flow"]
    curves = {it.name(): it for it in plot.listDataItems()}
    assert set(curves) == {label for _k, label, _c in SERIES}
    for key, label, _c in SERIES:
        assert np.array_equal(curves[label].xData, np.arange(len(names)))
        assert np.allclose(curves[label].yData, res.arrays[key])
    ticks = plot.getAxis("bottom")._tickLevels[0]
    assert [t[1] for t in ticks] == [paper_name(n) for n in names]
    assert "cosine similarity" in plot.getAxis("left").labelText
    assert "layer" in plot.getAxis("bottom").labelText


def test_sanity_strip_one_tile_per_level_and_ablation_and_cancel(win, qtbot, tiny_classifier):
    from viewer.work import CANCELLED

    panel = flowam_panel(win, qtbot, tiny_classifier, steps=3)
    strip = panel.open_sanity(run=False)
    strip.extra = {"accuracy_per_class": 2}
    panel.sanity_btn.click()
    assert strip.handle is not None
    qtbot.waitUntil(lambda: strip.result is not None, timeout=40000)
    res = strip.result
    levels = np.asarray(res.arrays["levels"])
    assert np.allclose(levels, [0, 0.1, 0.2, 0.3, 0.4, 0.5])
    drop = [k for k in strip.tiles if k.startswith("dropout:")]
    abl = [k for k in strip.tiles if k.startswith("ablation:")]
    assert len(drop) == len(levels) and abl == ["ablation:all", "ablation:no_la", "ablation:no_c", "ablation:no_lr"]
    for i, k in enumerate(drop):
        tile = strip.tiles[k]
        assert np.array_equal(tile.points, res.arrays["dropout_points"][i])
        assert f"{res.arrays['chamfer_to_undropped'][i]:.4f}" in tile.caption.text()
        assert not tile.image.pixmap().isNull()
    for i, k in enumerate(abl):
        assert np.array_equal(strip.tiles[k].points, res.arrays["ablation_points"][i])
        name = k.split(":")[1]
        assert f"{res.metrics['ablation'][name]['chamfer']:.4f}" in strip.tiles[k].caption.text()
    curve = win.plots.items["flowam.sanity"].listDataItems()[0]
    assert np.allclose(curve.xData, 100 * levels) and np.allclose(curve.yData, res.arrays["chamfer_to_undropped"])
    # cancel a long run: the job ends cancelled, the strip keeps the last result and can run again
    panel.steps.setValue(100000)
    h = strip.start()
    qtbot.waitUntil(lambda: strip.progress.value() >= 0 and h.state == "running", timeout=20000)
    strip.cancel()
    qtbot.waitUntil(lambda: h.state == CANCELLED, timeout=10000)
    assert "cancelled" in strip.message.text() and strip.run_btn.isEnabled() and not strip.cancel_btn.isEnabled()


def test_compare_errors_show_in_the_tiles_with_one_dialog(win, qtbot, tiny_classifier):
    from viewer.panels.flowam_compare import ORDER

    panel = flowam_panel(win, qtbot, tiny_classifier, steps=3)
    panel.extra_params = {**SMALL, "stats_split": "no-such-split"}
    n_dialogs = len(win.error_dialogs)
    view = panel.open_compare(run=False)
    view.start()
    qtbot.waitUntil(lambda: len(view.errors) == 5, timeout=30000)
    assert all(view.tiles[m].image.text() == "failed" and "no-such-split" in view.tiles[m].caption.text()
               for m in ORDER)
    assert not view.running() and view.results == {} and view.run_btn.isEnabled()
    qtbot.waitUntil(lambda: len(win.error_dialogs) > n_dialogs, timeout=5000)
    assert len(win.error_dialogs) == n_dialogs + 1
    for d in list(win.error_dialogs):
        d.close()
    panel.extra_params = dict(SMALL)
