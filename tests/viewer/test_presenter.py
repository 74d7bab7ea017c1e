"""Presenter mode and the bias-injection demo: the real window under Xvfb, tiny models.

- Presenter mode scales the app font and every layer's point size, hides the advanced docks,
  and switching it off restores exactly what was there before.
- The demo walks its five steps; the reveal shows the engine result's numbers; cancelling the
  training leaves the demo on step 3 with the app usable.
- The bias-lab options the demo needs (a class subset, kept checkpoints, the mask's kept
  fractions) checked against an independent computation.
"""
from __future__ import annotations

import numpy as np
import pytest

from viewer.session import CLOUD

pytestmark = pytest.mark.gui
TINY = {"epochs": 1, "points": 64, "width": 0.0625, "per_class": 4}


def _process(qapp, n=10):
    for _ in range(n):
        qapp.processEvents()


def _docks(win):
    return {d.objectName(): d.isVisible() for d in (win.browser_dock, win.panels_dock, win.jobs_dock,
                                                    win.log_dock, win.plots_dock)}


def _tiny(demo):
    demo.epochs.setValue(TINY["epochs"])
    demo.points.setValue(TINY["points"])
    demo.width_box.setValue(TINY["width"])
    demo.per_class.setValue(TINY["per_class"])


def test_presenter_mode_scales_and_restores(win, qapp, qtbot):
    from PySide6.QtWidgets import QApplication, QToolBar

    from viewer import presenter
    from viewer.scene import PointsLayer

    pres = win.extensions["presenter"]
    app = QApplication.instance()
    font0 = app.font()
    size0 = win.scene.get(CLOUD).point_size
    docks0 = _docks(win)
    toolbar = win.findChildren(QToolBar)[0]
    toolbar0 = toolbar.isVisible()
    bg0 = win.viewports.views[0].renderer.GetBackground()
    caption0 = win.viewports.views[0].caption.GetTextProperty().GetFontSize()
    # the bottom docks start hidden (window._docks: nothing below the views until a job, a plot
    # or the log is asked for); whichever docks show come back as they were (below)

    pres.action.trigger()
    _process(qapp)
    assert pres.on
    assert app.font().pointSizeF() == pytest.approx(font0.pointSizeF() * presenter.FONT_SCALE)
    assert win.scene.get(CLOUD).point_size == pytest.approx(size0 * presenter.POINT_SCALE)
    d = _docks(win)
    assert d["data"] and not (d["methods"] or d["jobs"] or d["log"] or d["plots"])
    assert pres.demo_dock.isVisible() and not toolbar.isVisible()
    assert win.viewports.views[0].caption.GetTextProperty().GetFontSize() > caption0
    # a layer drawn while presenting is enlarged too, and a panel restyling it is respected
    win.scene.add(PointsLayer("test.extra", points=np.zeros((3, 3)), point_size=4.0))
    assert win.scene.get("test.extra").point_size == pytest.approx(4.0 * presenter.POINT_SCALE)
    pres.contrast_action.setChecked(True)
    assert win.viewports.views[0].renderer.GetBackground() == presenter.DARK

    pres.contrast_action.setChecked(False)
    pres.action.trigger()
    _process(qapp)
    assert not pres.on
    assert app.font() == font0
    assert win.scene.get(CLOUD).point_size == size0
    assert win.scene.get("test.extra").point_size == 4.0
    assert _docks(win) == docks0
    assert toolbar.isVisible() == toolbar0 and not pres.demo_dock.isVisible()
    assert win.viewports.views[0].renderer.GetBackground() == bg0
    assert win.viewports.views[0].caption.GetTextProperty().GetFontSize() == caption0
    win.scene.remove("test.extra")


def test_demo_walks_every_step_and_reveals_the_engine_numbers(win, qapp, qtbot):
    from engine import Job, run_sync, run, start
    from viewer.bias_demo_text import letter_categories

    pres = win.extensions["presenter"]
    demo = pres.show_demo()
    demo.go(0)
    assert demo.step == 0 and len(demo.classes) in (3, 4) and demo.next.isEnabled()
    for name in list(demo.class_checks)[:5]:                 # 5 classes is too many: Next is off
        demo.class_checks[name].setChecked(True)
    assert not demo.next.isEnabled()
    for name, box in demo.class_checks.items():
        box.setChecked(name in ("bed", "chair", "toilet"))
    # step 1 shows a cloud of each of the first two ticked classes (the views were empty)
    qtbot.waitUntil(lambda: "demo.example1" in win.scene and win.scene.get("demo.example1").title == "a chair",
                    timeout=20000)
    assert win.scene.get("demo.example0").title == "a bed" and win.scene.get("demo.example0").view == 0
    assert win.scene.shown(win.scene.get("demo.example0")) and win.viewports.count == 2
    _tiny(demo)
    demo.next.click()                                          # step 2: clean vs biased sample
    qtbot.waitUntil(lambda: "demo.letter" in win.scene, timeout=20000)
    demo.k_slider.setValue(8)
    assert win.scene.get("demo.letter").n == 8
    assert win.scene.get("demo.object").n == TINY["points"] == win.scene.get("demo.clean").n
    assert np.array_equal(win.scene.get("demo.object").points, win.scene.get("demo.clean").points)
    assert win.scene.get("demo.letter").color == "#D55E00"
    # the letter drawn is the one the bias lab appends to that cloud (engine inject_bias)
    from engine.methods.pointmask.bias_inject import inject_bias

    c = demo.show_class.currentIndex()
    want, _ = inject_bias(demo.samples["train"], np.arange(3), 8, 3, seed=0)
    assert np.allclose(win.scene.get("demo.letter").points, want[c, TINY["points"]:])

    demo.next.click()                                          # step 3: train
    assert demo.step == 2 and not demo.next.isEnabled()       # no result yet
    demo.train()
    assert not demo.next.isEnabled() and not demo.back.isEnabled()
    qtbot.waitUntil(lambda: demo.result is not None, timeout=60000)
    params = demo.params()
    assert params["classes"] == "bed,chair,toilet" and params["levels"] == "8"
    assert params["limit"] == 3 * TINY["per_class"]

    demo.next.click()                                          # step 4: the reveal
    m = demo.result.metrics
    assert m["classes"] == ["bed", "chair", "toilet"]
    for i, model in enumerate(m["models"]):
        assert demo.chart.values["with"][i] == pytest.approx(100 * m["accuracy"]["biased"][model]["8"])
        assert demo.chart.values["without"][i] == pytest.approx(100 * m["accuracy"]["unbiased"][model]["8"])
        assert f"{100 * m['accuracy']['unbiased'][model]['8']:.0f} %" in demo.reveal_label.text()
    assert np.allclose(demo.chart.bars["with"].opts["height"], demo.chart.values["with"])
    # the same job run directly through the engine gives the same table (seeded, CPU)
    direct = {k: v for k, v in params.items() if k != "keep_checkpoints"}
    assert run(Job("bias-lab", {"data": "builtin"}, direct)).metrics["accuracy"] == m["accuracy"]

    demo.next.click()                                          # step 5: PointMask's mask
    qtbot.waitUntil(lambda: demo.explained is not None and "demo.mask" in win.scene, timeout=20000)
    kept = np.asarray(demo.explained.arrays["kept_sampled"], bool)      # one noise draw, as training sees it
    layer = win.scene.get("demo.mask")
    is_bias = np.arange(layer.n) >= TINY["points"]
    assert layer.n == TINY["points"] + 8
    assert np.array_equal(layer.scalars["category"].values, letter_categories(kept, is_bias))
    assert f"{int(kept[is_bias].sum())} of 8" in demo.mask_label.text()
    assert not demo.next.isEnabled() and demo.back.isEnabled()
    first = demo.explained
    demo.mask_index.setValue(2)                                # another test cloud of the class
    qtbot.waitUntil(lambda: demo.explained is not first, timeout=20000)
    assert not np.array_equal(demo.explained.arrays["points"], first.arrays["points"])


def test_cancel_during_training_stays_on_step_3_and_the_app_goes_on(win, qapp, qtbot):
    pres = win.extensions["presenter"]
    demo = pres.show_demo()
    demo.go(0)
    for name, box in demo.class_checks.items():
        box.setChecked(name in ("chair", "desk", "table"))
    demo.go(1)
    demo.go(2)
    _tiny(demo)
    demo.epochs.setValue(200)                                  # long enough to be cancelled
    demo.result = None
    handle = demo.train()
    qtbot.waitUntil(lambda: demo.progress.value() > 0, timeout=30000)
    demo.cancel_btn.click()
    qtbot.waitUntil(lambda: not handle.active, timeout=30000)
    _process(qapp)
    assert handle.state == "cancelled" and demo.step == 2
    assert "Cancelled" in demo.train_status.text()
    assert demo.train_btn.isEnabled() and not demo.cancel_btn.isEnabled()
    assert demo.back.isEnabled() and not demo.next.isEnabled()
    # usable: a new, short training runs to the end
    demo.epochs.setValue(1)
    demo.train()
    qtbot.waitUntil(lambda: demo.result is not None, timeout=60000)
    assert demo.next.isEnabled()


def test_bias_lab_class_subset_and_mask_fractions_match_an_independent_count():
    """classes= keeps and renumbers a subset; keep_checkpoints= keeps the models; letter_kept /
    object_kept equal sigmoid(mu) > t counted from the kept checkpoint on the biased test split."""
    import tempfile

    import torch

    from engine.data import open_dataset
    from engine.data.dataset import Loading
    from engine.core.errors import ParameterError
    from engine import Job, run_sync, run, start
    from engine.methods.pointmask.bias_inject import inject_bias
    from engine.models.checkpoints import load_checkpoint

    with tempfile.TemporaryDirectory() as d:
        params = {"levels": "6", "models": "pointmask", "epochs": 1, "width": 0.0625, "points": 32,
                  "limit": 6, "classes": "desk,chair", "keep_checkpoints": d, "seed": 0}
        res = run(Job("bias-lab", {"data": "builtin"}, params))
        m = res.metrics
        assert m["classes"] == ["desk", "chair"] and m["train_clouds"] == 6 and m["test_clouds"] == 6
        assert list(res.arrays["gallery_labels"]) == [0, 1]
        # the same clouds, chosen independently: the builtin test split's desks and chairs, 3 each
        ds = open_dataset("builtin", Loading(points=32, sampling="random", seed=0))
        te = ds.split("test")
        labels = np.asarray(te.labels)
        idx = np.flatnonzero(np.isin(labels, [ds.classes.index("desk"), ds.classes.index("chair")]))
        idx = idx[np.unique(np.linspace(0, len(idx) - 1, 6).round().astype(int))]
        x = np.stack([te[int(i)].points for i in idx]).astype(np.float32)
        y = np.where(labels[idx] == ds.classes.index("desk"), 0, 1)
        xb, is_bias = inject_bias(x, y, 6, 2, seed=1)
        model = load_checkpoint(m["runs"][0]["checkpoint"], "cpu").model.eval()
        with torch.no_grad():
            mu, _ = model.encoder(torch.as_tensor(xb))
        kept = (torch.sigmoid(mu) > model.threshold).numpy()
        assert m["runs"][0]["letter_kept"] == pytest.approx(kept[is_bias].mean())
        assert m["runs"][0]["object_kept"] == pytest.approx(kept[~is_bias].mean())
    with pytest.raises(ParameterError, match="sofa_bed"):
        run(Job("bias-lab", {"data": "builtin"}, {**params, "classes": "desk,sofa_bed", "keep_checkpoints": ""}))


def test_closing_in_presenter_mode_saves_the_normal_layout(qapp, tmp_path):
    """The window saves its dock layout on close: presenter mode is left first, so the next start
    does not open with the docks hidden and the big font."""
    from PySide6.QtWidgets import QApplication

    from .conftest import make_window

    w = make_window(tmp_path)
    _process(qapp, 30)
    font0, docks0 = QApplication.instance().font(), _docks(w)
    pres = w.extensions["presenter"]
    pres.set_enabled(True)
    _process(qapp)
    assert not _docks(w)["methods"]
    w.close()
    _process(qapp)
    assert not pres.on and QApplication.instance().font() == font0
    w2 = make_window(tmp_path)                                  # same settings file
    _process(qapp, 30)
    try:
        assert _docks(w2) == docks0
    finally:
        w2.close()


# ---- high contrast: categorical colours and the legend ------------------------------------------------
def _luminance(rgb) -> float:
    """WCAG 2 relative luminance of an sRGB colour given as 0..255 ints."""
    c = np.asarray(rgb, float) / 255.0
    lin = np.where(c <= 0.03928, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return float(lin @ [0.2126, 0.7152, 0.0722])


def _contrast(a, b) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_pointmask_colours_read_on_white_and_on_black():
    from viewer import colormaps

    cols = colormaps.categorical_colors(3, "kept-masked-bias")
    white, black = (255, 255, 255), (0, 0, 0)
    assert _contrast(white, black) == pytest.approx(21.0)          # the formula, checked on its extremes
    masked = cols[1]
    assert masked[0] == masked[1] == masked[2]                      # a neutral grey, as the legend says
    assert _contrast(masked, white) >= 4.5 and _contrast(masked, black) >= 4.5
    for c in cols:                                                   # WCAG 1.4.11: graphics >= 3:1
        assert _contrast(c, white) >= 3.0 and _contrast(c, black) >= 3.0, c
    assert _contrast(cols[0], masked) > 1.0 and tuple(cols[0]) != tuple(masked)


def _legend_scene():
    from viewer.scene import PointsLayer, Scalar, Scene

    rng = np.random.default_rng(0)
    pts = rng.normal(size=(400, 3)).astype(np.float32) * 0.5
    scene = Scene()
    scene.add(PointsLayer("t.mask", points=pts, point_size=5.0, active="category", cmap="kept-masked-bias",
                          scalars={"category": Scalar(np.ones(400, np.int64), kind="categorical", title="PointMask",
                                                      names=("kept", "masked", "bias (letter)"))}))
    return scene


def _camera():
    from vtkmodules.vtkRenderingCore import vtkRenderer

    from viewer import render

    ren = vtkRenderer()
    render.set_camera(ren, "iso", bounds=(-2, 2, -2, 2, -2, 2))
    return ren.GetActiveCamera()


def test_masked_points_and_legend_show_on_black_and_the_legend_scales():
    """Off-screen, as presenter's high contrast draws it: black background, white legend text."""
    from viewer import render_offscreen

    scene, cam = _legend_scene(), _camera()
    heights = {}
    for factor in (1.0, presenter_scale()):
        with render_offscreen.OffscreenView(scene, 0, (640, 480)) as off:
            off.renderer.SetBackground(0.0, 0.0, 0.0)
            off.content.legend.GetEntryTextProperty().SetColor(1.0, 1.0, 1.0)
            off.content.set_legend_scale(factor)
            img = off.capture(cam).astype(int)
        cloud, legend = img[:, :int(0.6 * 640)], img[:, int(0.72 * 640):]
        grey = (np.abs(cloud - cloud[..., :1]).max(axis=2) < 12) & (cloud[..., 0] > 70)
        assert grey.sum() > 200, "the masked (grey) points vanish on black"
        text = legend.min(axis=2) > 200                          # white legend text
        rows = np.nonzero(text.any(axis=1))[0]
        assert rows.size > 10, "the legend text does not show on black"
        heights[factor] = rows.max() - rows.min()
    assert heights[presenter_scale()] > 1.3 * heights[1.0]        # the legend grew with the font factor


def presenter_scale() -> float:
    from viewer import presenter

    return presenter.VTK_TEXT_SCALE


def test_presenter_high_contrast_recolours_and_scales_the_live_legend(win, qapp):
    from viewer import presenter, render
    from viewer.scene import PointsLayer, Scalar

    pres = win.extensions["presenter"]
    v = win.viewports.views[0]
    win.scene.add(PointsLayer("test_mask", points=np.random.default_rng(1).normal(size=(50, 3)),
                              active="category", cmap="kept-masked-bias",
                              scalars={"category": Scalar(np.arange(50) % 3, kind="categorical", title="PointMask",
                                                          names=("kept", "masked", "bias (letter)"))}))
    try:
        _process(qapp)
        assert v.legend.GetVisibility()
        w0 = v.legend.GetPosition2Coordinate().GetValue()[0]
        assert v.legend.GetEntryColor(1) == pytest.approx(render.TEXT)
        pres.action.trigger()
        pres.contrast_action.setChecked(True)
        _process(qapp)
        assert v.legend.GetPosition2Coordinate().GetValue()[0] == pytest.approx(w0 * presenter.VTK_TEXT_SCALE)
        assert all(v.legend.GetEntryColor(i) == pytest.approx(presenter.WHITE) for i in range(4))
        pres.contrast_action.setChecked(False)
        pres.action.trigger()
        _process(qapp)
        assert v.legend.GetPosition2Coordinate().GetValue()[0] == pytest.approx(w0)
        assert v.legend.GetEntryColor(1) == pytest.approx(render.TEXT)
    finally:
        pres.contrast_action.setChecked(False)
        if pres.on:
            pres.action.trigger()
        win.scene.remove("test_mask")
