"""Flow AM's loss plot: terms of very different size all readable, the legend off the curves."""
from __future__ import annotations

import numpy as np
import pytest

from viewer import colormaps
from viewer.panels.flowam import TERM_NAMES
from viewer.panels.flowam_loss_plot import legend_text, plot_losses, term_scales
from viewer.panels.plots_dock import PlotsDock

STEPS = list(range(0, 100, 10))
CURVES = {"total": (STEPS, list(np.linspace(440, 390, 10))),
          "am": (STEPS, list(np.linspace(-5, -8, 10))),
          "c": (STEPS, list(np.linspace(452, 400, 10))),
          "lr": (STEPS, list(np.linspace(0.002, 0.0, 10)))}


def test_each_term_is_scaled_by_its_largest_magnitude():
    assert term_scales(CURVES) == {"total": 440.0, "am": 8.0, "c": 452.0, "lr": 0.002}
    assert term_scales({"x": ([0], [0.0])}) == {"x": 1.0}
    assert legend_text("L_C (continuity)", 452.0) == "L_C (continuity) ÷ 452"


@pytest.fixture
def dock(qapp):
    d = PlotsDock()
    d.resize(700, 260)
    d.show()
    yield d
    d.close()
    d.deleteLater()


def test_every_term_spans_the_axis_and_the_legend_sits_beside_the_data(dock, qapp):
    cols = colormaps.categorical_colors(len(TERM_NAMES))
    item = plot_losses(dock, CURVES, TERM_NAMES, cols)
    qapp.processEvents()
    curves = {it.term: it for it in item.listDataItems()}
    for key, it in curves.items():
        y = np.asarray(it.yData)
        assert np.abs(y).max() == pytest.approx(1.0) and np.all(np.abs(y) <= 1.0)   # L_LR as tall as L_C
    labels = [item.legend.getLabel(curves[k]).text for k in CURVES]
    assert "L_C (continuity) ÷ 452" in labels and "L_LR (legal restriction) ÷ 0.002" in labels
    data_area = item.vb.sceneBoundingRect()
    legend = item.legend.sceneBoundingRect()
    assert legend.width() > 50 and legend.left() >= data_area.right() - 1     # beside, not over, the curves
    # a live update moves the same curves and renames a term whose largest value changed
    more = {k: (xs + [100], ys + [ys[-1]]) for k, (xs, ys) in CURVES.items()}
    more["c"] = (STEPS + [100], CURVES["c"][1] + [900.0])
    plot_losses(dock, more, TERM_NAMES, cols)
    assert {it.term: it for it in item.listDataItems()} == curves
    assert item.legend.getLabel(curves["c"]).text == "L_C (continuity) ÷ 900"


def test_live_losses_are_all_kept_but_the_plot_redraws_a_few_times_a_second(win, qtbot, monkeypatch):
    """A preview per step used to redraw the plot every step (~25 ms of GUI thread each)."""
    import time

    from engine import Progress
    from tests.viewer.conftest import panel_named
    from viewer.panels import flowam

    panel = panel_named(win, "flowam")
    drawn = []
    monkeypatch.setattr(panel, "_plot_curves", lambda x_max=None: drawn.append(len(panel.curves.get("total", ([], []))[0])))
    panel.handle = object()                       # as while a job runs
    panel.curves, panel._plotted_at = {}, -flowam.PLOT_EVERY_S
    t0 = time.monotonic()
    for step in range(40):
        panel.on_progress(Progress(step, 40, "step", preview={"step": step, "losses": {"total": 1.0 / (step + 1)}}))
    took = time.monotonic() - t0
    panel.handle = None
    assert panel.curves["total"][0] == list(range(40))          # every value kept
    assert drawn and drawn[0] == 1                              # the first losses drawn at once
    assert len(drawn) <= 1 + took / flowam.PLOT_EVERY_S + 1     # then a few times a second


def test_a_live_plot_spans_the_planned_run_from_the_start(dock, qapp):
    """The x axis fixed to the planned steps does not move as the curves grow (a moving axis is
    laid out and drawn anew at every redraw); without a plan it fits the data."""
    cols = colormaps.categorical_colors(len(TERM_NAMES))
    early = {k: (xs[:3], ys[:3]) for k, (xs, ys) in CURVES.items()}        # steps 0..20 of 300
    item = plot_losses(dock, early, TERM_NAMES, cols, x_max=300)
    qapp.processEvents()
    assert item.vb.viewRange()[0] == pytest.approx([0.0, 300.0])
    plot_losses(dock, CURVES, TERM_NAMES, cols, x_max=300)
    qapp.processEvents()
    assert item.vb.viewRange()[0] == pytest.approx([0.0, 300.0])
    plot_losses(dock, CURVES, TERM_NAMES, cols)                                # the finished run: fit
    qapp.processEvents()
    lo, hi = item.vb.viewRange()[0]
    assert lo <= 0.0 and 90.0 <= hi < 120.0


def test_a_preview_that_redraws_the_plot_moves_the_cloud_a_moment_later(win, qtbot, monkeypatch):
    """The plot's redraw and the cloud's frame in one turn of the event loop made one long stall;
    a preview that redraws the plot draws its cloud on a later turn, the next ones at once, and a
    cloud still pending when the job ends is dropped (the result draws the final one)."""
    import time

    from engine import Progress
    from tests.viewer.conftest import panel_named
    from viewer.panels import flowam

    panel = panel_named(win, "flowam")
    drawn = []
    monkeypatch.setattr(panel, "_plot_curves", lambda x_max=None: drawn.append(x_max))
    panel.handle = object()                       # as while a job runs
    panel.curves, panel._plotted_at, panel._planned_steps, panel.previews = {}, -flowam.PLOT_EVERY_S, 40, 0
    pts = np.random.default_rng(0).random((32, 3)).astype(np.float32)

    def preview(step, p):
        panel.on_progress(Progress(step, 40, "step", preview={"step": step, "points": p, "losses": {"total": 1.0}}))
    try:
        preview(0, pts)
        assert drawn == [40] and panel.previews == 0          # the plot now, with the run's span
        qtbot.waitUntil(lambda: panel.previews == 1, timeout=2000)
        assert np.allclose(win.scene.get(flowam.LAYER).points, pts)
        preview(1, pts + 1)                                    # plot not due: the cloud at once
        assert len(drawn) == 1 and panel.previews == 2
        assert np.allclose(win.scene.get(flowam.LAYER).points, pts + 1)
        time.sleep(flowam.PLOT_EVERY_S)
        preview(2, pts + 2)                                    # plot due again, cloud deferred ...
        assert len(drawn) == 2 and panel.previews == 2
    finally:
        panel.handle = None                                    # ... and the job ends before it is drawn
    qtbot.wait(flowam.CLOUD_AFTER_PLOT_MS * 3)
    assert panel.previews == 2 and np.allclose(win.scene.get(flowam.LAYER).points, pts + 1)


def test_a_new_run_keeps_the_curves_and_drops_the_terms_it_does_not_have(dock, qapp):
    from viewer.panels.flowam_loss_plot import start_run

    cols = colormaps.categorical_colors(len(TERM_NAMES))
    item = plot_losses(dock, CURVES, TERM_NAMES, cols)
    before = {it.term: it for it in item.listDataItems()}
    start_run(dock, "Flow AM losses · chair")
    assert all(len(it.xData if it.xData is not None else []) == 0 for it in item.listDataItems())   # emptied
    fewer = {k: v for k, v in CURVES.items() if k != "lr"}       # e.g. a method without L_LR
    plot_losses(dock, fewer, TERM_NAMES, cols)
    after = {it.term: it for it in item.listDataItems()}
    assert set(after) == set(fewer) and all(after[k] is before[k] for k in fewer)   # the same items, updated
    rows = [label.text for _sample, label in item.legend.items]
    assert not any(r.startswith(TERM_NAMES["lr"]) for r in rows) and len(rows) == len(fewer)
