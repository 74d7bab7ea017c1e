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
    monkeypatch.setattr(panel, "_plot_curves", lambda frames=None: drawn.append(len(panel.curves.get("total", ([], []))[0])))
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
