"""Flow AM's loss plot: every term on one readable axis, the legend beside the curves.

The terms differ by orders of magnitude (L_C near 450 while L_LR sits near 0) and some are
negative (L_AM is a negated activation), so neither one linear axis nor a log axis shows them
all. Each term is drawn divided by its largest |value| so far (every curve spans at most -1 .. 1)
and its legend entry says by what ("L_C (continuity) ÷ 452"). The legend sits in its own column
right of the plot, where it can cover no curve (``plot_legend``).

The x axis spans the whole run from the start (``x_max``: the planned steps). Growing with the
curves, it changed range at every live redraw, and pyqtgraph then lays out and draws both axes
and the grid anew: about half of the plot's 25-30 ms redraw on software rendering.
"""
from __future__ import annotations

import numpy as np

from .plot_legend import legend_beside

PLOT_KEY = "flowam.loss"
Y_LABEL = "loss ÷ scale in legend"


def term_scales(curves: dict[str, tuple[list, list]]) -> dict[str, float]:
    """Largest |value| of each term (1 for a term that is all zero or has no finite value yet)."""
    out = {}
    for key, (_xs, ys) in curves.items():
        y = np.abs(np.asarray(ys, dtype=float))
        y = y[np.isfinite(y)]
        m = float(y.max()) if y.size else 0.0
        out[key] = m if m > 0 else 1.0
    return out


def legend_text(name: str, scale: float) -> str:
    return name if scale == 1.0 else f"{name} ÷ {scale:.3g}"


def plot_losses(plots, curves: dict[str, tuple[list, list]], names: dict[str, str], colours,
                x_max: float | None = None) -> object:
    """Draw (or update in place) one curve per term; returns the PlotItem. ``x_max``: the x axis
    is fixed to 0 .. x_max (a live run passes its planned steps); None fits the data."""
    import pyqtgraph as pg

    item = plots.plot(PLOT_KEY, "", "step", Y_LABEL, front=False, tab="Flow AM")
    legend = legend_beside(item)
    scales = term_scales(curves)
    have = {getattr(it, "term", None): it for it in item.listDataItems()}
    for key, curve in have.items():        # a term the previous run had and this one has not
        if key not in curves:
            item.removeItem(curve)
    for i, (key, (xs, ys)) in enumerate(curves.items()):
        y = np.asarray(ys, dtype=float) / scales[key]
        name = names.get(key, key)
        curve = have.get(key)
        if curve is None:
            curve = item.plot(xs, y, pen=pg.mkPen(tuple(int(c) for c in colours[i % len(colours)]), width=2),
                              name=name)
            curve.term = key
        else:
            curve.setData(xs, y)
        label = legend.getLabel(curve)
        if label is not None and label.text != legend_text(name, scales[key]):
            label.setText(legend_text(name, scales[key]))
    if x_max is not None and x_max > 0:
        if item.vb.state["autoRange"][0] or item.vb.viewRange()[0] != [0.0, float(x_max)]:
            item.enableAutoRange(x=False)
            item.setXRange(0.0, float(x_max), padding=0)
    else:
        item.enableAutoRange(x=True)
    item.setYRange(-1.05 if any(np.nanmin(np.asarray(ys, float)) < 0 for _x, ys in curves.values() if len(ys))
                   else -0.05, 1.05, padding=0)
    return item


def start_run(plots, title: str) -> None:
    """Empty the plot for a new run but keep its curves and legend rows: making them anew
    (a curve and a rich-text legend label per term) was 40-80 ms of the GUI thread at the first
    redraw of every run; ``plot_losses`` removes the terms the new run does not have."""
    item = plots.plot(PLOT_KEY, title, "step", tab="Flow AM")
    for curve in item.listDataItems():
        if getattr(curve, "term", None) is None:
            item.removeItem(curve)
        else:
            curve.setData([], [])
