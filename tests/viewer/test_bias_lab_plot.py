"""The bias-lab plot: a line lying on another still shows, the legend covers none, and the PNG
export has a figure's aspect."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QImage

from viewer.panels.bias_lab_box import EXPORT_SIZE, LINE_STYLES, MARKERS

from .conftest import panel_named

pytestmark = pytest.mark.gui

LEVELS = np.array([1.0, 10.0, 50.0])
SAME = np.array([[0.5, 0.4, 0.3], [0.5, 0.4, 0.3]])          # two models scoring exactly alike


def test_identical_curves_differ_in_dash_and_marker_and_the_legend_sits_beside_the_data(win):
    lab = panel_named(win, "pointmask").lab
    lab.draw(LEVELS, ["pointnet", "pointmask"], SAME, SAME)
    plot = win.plots.items["pointmask.bias"]
    a, b = plot.listDataItems()
    assert a.curve.opts["pen"].style() != b.curve.opts["pen"].style() and a.opts["symbol"] != b.opts["symbol"]
    assert len(set(LINE_STYLES)) == len(LINE_STYLES) and len(set(MARKERS)) == len(MARKERS)
    win.plots.raise_dock()
    win.plots.tabs.setCurrentWidget(win.plots.widgets["pointmask.bias"])
    from PySide6.QtWidgets import QApplication
    QApplication.processEvents()
    data_area, legend = plot.vb.sceneBoundingRect(), plot.legend.sceneBoundingRect()
    assert legend.width() > 30 and legend.left() >= data_area.right() - 1     # beside the lines, not on them


def test_the_png_export_is_1200_by_800_whatever_the_dock(win, tmp_path):
    lab = panel_named(win, "pointmask").lab
    lab.draw(LEVELS, ["pointnet", "pointmask"], SAME, SAME)
    win.plots.widgets["pointmask.bias"].resize(1500, 180)
    path = tmp_path / "lab.png"
    lab.export_png(str(path))
    img = QImage(str(path))
    assert (img.width(), img.height()) == EXPORT_SIZE
