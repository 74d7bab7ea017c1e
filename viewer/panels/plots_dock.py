"""The Plots dock: pyqtgraph plots and other widgets (tables) in tabs, one per key (pyqtgraph is
imported on first use so start-up does not pay for it).

Panels use ``plot(key, ...)`` for a PlotItem and ``widget_tab(key, title, widget)`` for any
other widget (a comparison table); both create the tab once, reuse it by key and bring it (and
the dock) to the front. ``tabs``/``widgets`` are internal.
"""
from __future__ import annotations

from PySide6.QtWidgets import QDockWidget, QFileDialog, QLabel, QMessageBox, QTabWidget, QToolButton, QVBoxLayout, QWidget


PLOT_MIN_HEIGHT = 200     # px: lower, the x axis label falls off a plot with a title (software fonts)


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
        self.export_btn = QToolButton()
        self.export_btn.setText("Export…")
        self.export_btn.setToolTip("the plot in front as PNG (2x), or as an SVG / PDF vector figure")
        self.export_btn.setEnabled(False)
        self.export_btn.clicked.connect(self.export_dialog)
        self.tabs.setCornerWidget(self.export_btn)
        # Known before the first plot exists: the dock then opens at its final height in one
        # layout pass. Learnt from the new plot after it was shown, it made the window lay out
        # twice (the 3D views resized and redrawn twice) when the first run of a session began.
        bar = max(self.tabs.tabBar().sizeHint().height(), self.export_btn.sizeHint().height())
        self.setMinimumHeight(PLOT_MIN_HEIGHT + bar)
        self.items: dict[str, object] = {}
        self.widgets: dict[str, QWidget] = {}
        self._texts: dict[str, tuple[str, str, str]] = {}     # title, x and y label last set per key

    def plot(self, key: str, title: str = "", x_label: str = "", y_label: str = "", tab: str = "",
             front: bool = True):
        """A pyqtgraph PlotItem for ``key`` (created on first use; brought to the front, with its
        dock, unless ``front`` is off, which live redraws use so they do not take the tab from the
        user). ``tab``: the short tab text (default: the key). Titles and labels are set only when
        they change (setting one re-lays the plot out)."""
        import pyqtgraph as pg

        if key not in self.items:
            pg.setConfigOptions(antialias=True, background="w", foreground="k")
            w = pg.PlotWidget()
            w.setMinimumHeight(PLOT_MIN_HEIGHT)
            item = w.getPlotItem()
            item.showGrid(x=True, y=True, alpha=0.25)
            item.addLegend(offset=(-10, 10), labelTextSize="9pt")
            self.items[key], self.widgets[key] = item, w
            self._add_tab(w, tab or key)
        item = self.items[key]
        old = self._texts.get(key, ("", "", ""))
        if title and title != old[0]:
            item.setTitle(title)
        if x_label and x_label != old[1]:
            item.setLabel("bottom", x_label)
        if y_label and y_label != old[2]:
            item.setLabel("left", y_label)
        self._texts[key] = (title or old[0], x_label or old[1], y_label or old[2])
        if front:
            self.tabs.setCurrentWidget(self.widgets[key])
            self.raise_dock()          # the dock is hidden until the first plot (window layout)
        return item

    def widget_tab(self, key: str, title: str, widget: QWidget) -> QWidget:
        """Show ``widget`` (e.g. a table) as the tab ``title`` under ``key``: added on first use,
        reused by key (a different widget under a known key takes that tab's place), brought to
        the front with the dock. Returns the widget shown."""
        have = self.widgets.get(key)
        if have is not widget:
            if have is not None:
                i = self.tabs.indexOf(have)
                self.tabs.removeTab(i)
                self.tabs.insertTab(i, widget, title)
                self.items.pop(key, None)
            else:
                self._add_tab(widget, title)
            self.widgets[key] = widget
        elif title:
            self.tabs.setTabText(self.tabs.indexOf(widget), title)
        self.tabs.setCurrentWidget(widget)
        self.raise_dock()
        return widget

    def raise_dock(self) -> None:
        """Show the dock this widget lives in and bring it to the front (it shares a tab bar)."""
        w = self.parentWidget()
        while w is not None and not isinstance(w, QDockWidget):
            w = w.parentWidget()
        if w is not None:
            w.show()
            w.raise_()

    def export_current(self, path: str) -> str:
        """Write the plot in front to ``path`` (.png/.svg/.pdf); returns the status line."""
        from ..plot_export import export_plot

        return export_plot(self.tabs.currentWidget(), path)

    def export_dialog(self) -> None:
        from engine import EngineError

        from ..plot_export import FILTER

        stem = self.tabs.tabText(self.tabs.currentIndex()).replace(" ", "_") or "plot"
        path, _ = QFileDialog.getSaveFileName(self, "Export the plot", f"{stem}.pdf", FILTER)
        if not path:
            return
        try:
            QMessageBox.information(self, "Plot exported", self.export_current(path))
        except EngineError as e:
            QMessageBox.warning(self, "Export failed", e.message + (f"\n{e.hint}" if e.hint else ""))

    def _add_tab(self, widget: QWidget, title: str) -> None:
        if self.placeholder is not None:     # the "plots appear here" tab goes with the first real one
            self.tabs.removeTab(self.tabs.indexOf(self.placeholder))
            self.placeholder.deleteLater()
            self.placeholder = None
        self.tabs.addTab(widget, title)
        self.export_btn.setEnabled(True)
