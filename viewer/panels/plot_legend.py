"""A plot legend in its own column right of the data, where it can cover no curve.

pyqtgraph draws a legend inside the data area; on a short plot (the Plots dock is often a wide,
low strip) it lands on the lines. Moved into the PlotItem's grid beside the data, it takes
width instead, which such a plot has to spare.
"""
from __future__ import annotations


def legend_beside(item, text_size: str = "9pt"):
    """Move the PlotItem's legend out of the data area into a column right of it (once);
    later ``item.plot(..., name=...)`` calls add their entries to it. Returns the legend."""
    import pyqtgraph as pg

    legend = getattr(item, "_legend_beside", None)
    if legend is None:
        if item.legend is not None and item.legend.scene() is not None:
            item.legend.scene().removeItem(item.legend)
        from PySide6.QtCore import Qt
        from PySide6.QtWidgets import QSizePolicy

        legend = pg.LegendItem(labelTextSize=text_size)
        # its own size at the top of the cell: stretched to the plot's height, the rows drift apart
        legend.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Maximum)
        item.layout.addItem(legend, 2, 3)
        item.layout.setAlignment(legend, Qt.AlignTop | Qt.AlignLeft)
        item.layout.setColumnStretchFactor(3, 0)
        item.legend = legend
        item._legend_beside = legend
    return legend
