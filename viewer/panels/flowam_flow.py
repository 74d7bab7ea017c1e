"""Activation-flow plot of the Flow AM panel: the paper's Fig. 2 from the ``flow-layers`` method.

What is plotted (as the paper's figure): x = the layers of the classifier in forward order,
named as in the paper (fT1.c1 … fT1.fc3 = input T-Net, f.c1 = main convolutions, fT2.* = feature
T-Net, fc1 … fc3 = head); y = cosine similarity of the activations at that layer, averaged over
pairs: two real objects of the same class, two of different classes, and an explanation (vanilla
AM, Flow AM) against real objects of its class. Error bars: ± one standard deviation over the pairs (real objects) or over the
classes (explanations).
Layers where vanilla AM departs from the same-class curve are the ones Flow AM aligns.
"""
from __future__ import annotations

import numpy as np

PLOT_KEY = "flowam.flow"
# (array key, legend text, colour) — the paper's colours: red same class, blue different classes,
# purple non-generative (vanilla) AM, black Flow AM
SERIES = (("same_class", "real vs real, same class", "#D55E00"),
          ("different_class", "real vs real, different classes", "#0072B2"),
          ("explanation_vanilla", "vanilla AM vs real, its class", "#CC79A7"),
          ("explanation_flow", "Flow AM vs real, its class", "#000000"))
_MODULES = {"stn": "fT1", "fstn": "fT2"}


def paper_name(name: str) -> str:
    """Engine layer name -> the paper's x-axis name (feat.stn.conv1 -> fT1.c1, feat.conv2 -> f.c2)."""
    parts = name.split(".")
    if parts and parts[0] == "feat":
        parts = parts[1:]
        prefix = _MODULES.get(parts[0]) if parts else None
        if prefix:
            parts = [prefix] + parts[1:]
        else:
            parts = ["f"] + parts
    return ".".join(p.replace("conv", "c") for p in parts)


def layer_names(res) -> list[str]:
    return [n.decode() if isinstance(n, bytes) else str(n) for n in np.asarray(res.arrays["layers"]).tolist()]


def plot_flow(plots, res):
    """Draw a ``flow-layers`` Result into the Plots dock; returns the PlotItem."""
    import pyqtgraph as pg

    names = layer_names(res)
    classes = res.metrics.get("classes", [])
    item = plots.plot(PLOT_KEY, f"Activation flow (paper Fig. 2): cosine similarity of activations per layer "
                      f"(1 = identical; mean ± sd) · {len(classes)} classes",
                      "layer (forward order, paper names)", "cosine similarity", tab="Activation flow")
    item.clear()
    if item.legend is not None:     # one row in a band above the data (y > 1), covering no curve
        item.legend.setColumnCount(len(SERIES))
        item.legend.anchor((0, 0), (0, 0), offset=(10, 2))
    x = np.arange(len(names), dtype=float)
    for key, label, colour in SERIES:
        if key not in res.arrays:
            continue
        y = np.asarray(res.arrays[key], float)
        std = np.asarray(res.arrays.get(f"{key}_std", np.zeros_like(y)), float)
        item.addItem(pg.ErrorBarItem(x=x, y=y, height=2 * std, beam=0.15, pen=pg.mkPen(colour, width=1)))
        item.plot(x, y, pen=pg.mkPen(colour, width=2), symbol="o", symbolSize=6, symbolBrush=colour,
                  symbolPen=None, name=label)
    axis = item.getAxis("bottom")
    axis.setTicks([[(float(i), paper_name(n)) for i, n in enumerate(names)]])
    item.setXRange(-0.5, len(names) - 0.5, padding=0)
    lo = min(0.0, float(np.nanmin([np.nanmin(np.asarray(res.arrays[k], float)) for k, *_ in SERIES
                                   if k in res.arrays]))) - 0.05
    item.setYRange(lo, 1.05 + 0.4 * (1.05 - lo), padding=0)      # the top band holds the legend
    ticks = np.arange(np.ceil(lo * 5) / 5, 1.01, 0.2).round(1)     # none in the legend band above 1
    item.getAxis("left").setTicks([[(v, f"{v + 0.0:g}") for v in ticks]])
    return item


class FlowLayersRunner:
    """Runs ``flow-layers`` for the Flow AM panel and plots the result."""

    def __init__(self, panel):
        self.panel = panel
        self.handle = None
        self.result = None
        self.extra: dict = {}             # other FlowLayersParams fields (tests: few pairs/objects)

    def start(self, explanations: str = "both"):
        p = self.panel
        ds = p.session.current
        if ds is None or p.session.checkpoint is None:
            return None
        self.cancel()
        params = {k: v for k, v in p.params().items() if k != "method"}
        params.update(explanations=explanations, **self.extra)
        p.status.setText("activation flow: real objects' activations, then the explanations…")
        self.handle = p.run_method("flow-layers", {"data": ds.spec}, params, target="flowam.flow-layers",
                                   name="Flow AM activation flow", on_result=self.done,
                                   on_progress=lambda prog: p.status.setText(f"activation flow: {prog.message}"),
                                   on_error=self.failed)
        return self.handle

    def cancel(self) -> None:
        if self.handle is not None and getattr(self.handle, "active", False):
            self.panel.session.client.cancel(self.handle)
            self.panel.status.setText("activation flow cancelled")
        self.handle = None

    def done(self, res) -> None:
        self.handle = None
        self.result = res
        self.panel.session.add_result("flow-layers (activation flow)", res, show=False)
        plot_flow(self.panel.plots, res)
        sugg = res.metrics.get("suggested") or []
        self.panel.status.setText("activation flow plotted (Plots dock, tab 'Activation flow')"
                                  + (f"; layers where vanilla AM departs most from real objects: "
                                     f"{', '.join(paper_name(s) for s in sugg)}" if sugg else ""))

    def failed(self, msg: str) -> None:
        self.handle = None
        self.panel.failed(self.panel.status, "Flow AM activation flow", msg)
