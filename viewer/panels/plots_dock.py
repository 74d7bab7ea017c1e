"""The Plots dock: pyqtgraph plots in tabs, one per key (pyqtgraph is imported on first use so
start-up does not pay for it)."""
from __future__ import annotations

from PySide6.QtWidgets import QLabel, QTabWidget, QVBoxLayout, QWidget


class PlotsDock(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.tabs)
        self.placeholder = QLabel("Plots appear here (deletion curves, method metrics).")
        self.tabs.addTab(self.placeholder, "plots")
        self.items: dict[str, object] = {}
        self.widgets: dict[str, QWidget] = {}

    def plot(self, key: str, title: str = "", x_label: str = "", y_label: str = "", tab: str = ""):
        """A pyqtgraph PlotItem for ``key`` (created on first use, brought to the front).
        ``tab``: the short tab text (default: the key)."""
        import pyqtgraph as pg

        if key not in self.items:
            pg.setConfigOptions(antialias=True, background="w", foreground="k")
            w = pg.PlotWidget()
            w.setMinimumHeight(170)
            item = w.getPlotItem()
            item.showGrid(x=True, y=True, alpha=0.25)
            item.addLegend(offset=(-10, 10), labelTextSize="9pt")
            self.items[key], self.widgets[key] = item, w
            if self.placeholder is not None:
                self.tabs.removeTab(self.tabs.indexOf(self.placeholder))
                self.placeholder.deleteLater()
                self.placeholder = None
            self.tabs.addTab(w, tab or key)
        item = self.items[key]
        if title:
            item.setTitle(title)
        if x_label:
            item.setLabel("bottom", x_label)
        if y_label:
            item.setLabel("left", y_label)
        self.tabs.setCurrentWidget(self.widgets[key])
        return item
