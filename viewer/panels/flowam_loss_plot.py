"""Flow AM's loss plot: every term on one readable axis, the legend beside the curves.

The terms differ by orders of magnitude (L_C near 450 while L_LR sits near 0) and some are
negative (L_AM is a negated activation), so neither one linear axis nor a log axis shows them
all. Each term is drawn divided by its largest |value| so far (every curve spans at most -1 .. 1)
and its legend entry says by what ("L_C (continuity) ÷ 452"). The legend sits in its own column
right of the plot, where it can cover no curve (``plot_legend``).
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


def plot_losses(plots, curves: dict[str, tuple[list, list]], names: dict[str, str], colours) -> object:
    """Draw (or update in place) one curve per term; returns the PlotItem."""
    import pyqtgraph as pg

    item = plots.plot(PLOT_KEY, "", "step", Y_LABEL, front=False, tab="Flow AM")
    legend = legend_beside(item)
    scales = term_scales(curves)
    have = {getattr(it, "term", None): it for it in item.listDataItems()}
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
    item.setYRange(-1.05 if any(np.nanmin(np.asarray(ys, float)) < 0 for _x, ys in curves.values() if len(ys))
                   else -0.05, 1.05, padding=0)
    return item
