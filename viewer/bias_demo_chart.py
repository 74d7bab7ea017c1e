"""The bias demo's reveal chart: per model two big bars, accuracy WITH the letter (biased test)
and WITHOUT it (clean test), the value printed on each bar, chance as a dashed line. Fonts follow
the application font, so presenter mode's larger font makes the chart larger too."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication, QVBoxLayout, QWidget

WITH, WITHOUT = "#D55E00", "#0072B2"     # the letter's red, the object's blue


class RevealChart(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        import pyqtgraph as pg

        self.plot = pg.PlotWidget(background="w")
        self.plot.setMinimumHeight(260)
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(False, False)
        self.plot.hideButtons()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.plot)
        self.bars: dict[str, object] = {}     # "with" / "without" -> BarGraphItem
        self.values: dict[str, np.ndarray] = {}
        self.labels: list[str] = []

    def draw(self, models: list[str], with_letter: list, without_letter: list, chance: float) -> None:
        import pyqtgraph as pg

        item = self.plot.getPlotItem()
        item.clear()
        base = max(QApplication.instance().font().pointSizeF(), 8.0)
        big = QFont()
        big.setPointSizeF(base * 1.15)
        big.setBold(True)
        tick = QFont()
        tick.setPointSizeF(base * 1.1)
        x = np.arange(len(models), dtype=float)
        self.labels = list(models)
        self.values = {"with": np.asarray([np.nan if v is None else v for v in with_letter], float) * 100,
                       "without": np.asarray([np.nan if v is None else v for v in without_letter], float) * 100}
        for key, off, colour in (("with", -0.21, WITH), ("without", 0.21, WITHOUT)):
            h = np.nan_to_num(self.values[key])
            bar = pg.BarGraphItem(x=x + off, height=h, width=0.4, brush=colour, pen=pg.mkPen("k", width=1))
            item.addItem(bar)
            self.bars[key] = bar
            for xi, v in zip(x + off, self.values[key]):
                t = pg.TextItem("—" if np.isnan(v) else f"{v:.0f}%", color="k", anchor=(0.5, 1.0))
                t.setFont(big)
                t.setPos(xi, (0 if np.isnan(v) else v) + 1)
                item.addItem(t)
        item.addItem(pg.InfiniteLine(pos=100 * chance, angle=0, pen=pg.mkPen("#333333", width=2, style=Qt.DashLine)))
        # The key as text at the top left (pyqtgraph's legend ignores the presenter font size).
        key = pg.TextItem(html=f"<div style='font-size:{base * 1.05:.0f}pt; color:#000'>"
                               f"<span style='color:{WITH}'>&#9632;</span> test WITH the letter<br>"
                               f"<span style='color:{WITHOUT}'>&#9632;</span> test WITHOUT the letter<br>"
                               f"- - - guessing ({100 * chance:.0f}%)</div>", anchor=(0, 0))
        key.setPos(-0.6, 149)
        item.addItem(key)
        ax = item.getAxis("bottom")
        ax.setTicks([[(float(xi), m) for xi, m in zip(x, models)]])
        for side in ("bottom", "left"):
            item.getAxis(side).setStyle(tickFont=tick)
            item.getAxis(side).setPen("k")
            item.getAxis(side).setTextPen("k")
        item.setLabel("left", "test accuracy (%)", **{"font-size": f"{base:.0f}pt", "color": "#000"})
        item.getAxis("left").setTicks([[(float(v), str(v)) for v in range(0, 101, 20)]])
        item.setYRange(0, 150, padding=0)
        item.setXRange(-0.6, len(models) - 0.4, padding=0)
