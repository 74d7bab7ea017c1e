"""The contract every method panel follows (one panel per file, listed in ``panels/__init__``).

A method panel is a ``QWidget`` subclass of ``MethodPanel`` shown as a tab on the right. The
window builds it with a ``PanelContext`` and then calls ``on_session(event, payload)`` for every
session event (see ``viewer.session``: ``sample``, ``checkpoint``, ``dataset``, ``result`` ...).

How a panel works
-----------------
- **Submit a job**: ``self.run_method("method-name", inputs, params, target=..., on_result=...,
  on_progress=...)``. The method is looked up in ``engine.core.registry.METHODS`` ON THE ENGINE
  THREAD; the open checkpoint (``checkpoint=spec``) and ``device`` are added to ``inputs``
  (device only if the method's ``run`` takes it). ``params`` is a dict checked against the
  method's frozen ``Params``. Give slider-driven requests a ``target`` (e.g. ``"mymethod.mask"``):
  a newer request with the same target cancels the older one and stale results are dropped.
  The job gets a row in the Jobs dock (progress bar, elapsed, cancel, error) automatically.
- **Progress**: ``on_progress(Progress)`` runs on the GUI thread at most ~30 times a second,
  newest first; ``Progress.preview`` (small numpy dict) is the place for live updates.
- **Results**: ``on_result(Result)`` runs on the GUI thread. Errors show in the Jobs dock, the
  log and a window dialog by themselves. Passing ``on_error(msg)`` REPLACES the window's dialog
  (the Jobs dock and the log still show the error): the panel tells the user itself, usually
  with ``self.failed(label, what, msg)`` (its label, the status bar, the log and one dialog), or
  quietly in the panel (e.g. one dialog for a batch of jobs failing for one reason). Call
  ``self.session.add_result(title, result, show=False)`` so File > Save result can save it
  (add the input points and ``self.session.provenance()``: ``session.with_points``).
- **Layers**: ``self.scene.add(PointsLayer(...))`` (or Ellipsoids/Surface/Arrows) with a name
  prefixed by the panel name (``"mymethod.mask"``). Pass ``view=1`` to draw in the second
  viewport. To change only values (slider, live preview) call ``self.scene.update_points(name,
  scalars={...})`` or ``set_scalar``: arrays are updated in place, the actor is not re-created.
  Give every ``Scalar`` a ``title`` (what it is) and ``normalisation`` (how it was scaled): the
  colour bar shows both. Use ``kind="signed"`` for signed values (diverging map) and
  ``kind="categorical"`` with ``names=`` for labels/partitions (legend).
- **Plots**: ``self.plots.plot(key, title, x_label, y_label, tab=...)`` returns a pyqtgraph
  PlotItem in a tab of the Plots dock (created once, reused by key; call ``.clear()`` before
  redrawing). Label axes with units; give each curve a ``name=`` for the legend. Any other
  widget (a table) goes in with ``self.plots.widget_tab(key, title, widget)`` (added once,
  reused by key, brought to the front); do not reach into ``plots.tabs``/``plots.widgets``.
- **Saved results re-open**: register a Qt-free mapping ``Result -> layers`` with
  ``viewer.result_layers.register(kind)`` so ``pointlens render`` and File > Open result draw it.
- **Controls from Params**: ``params_form(ParamsCls)`` builds spin boxes / combos from
  ``engine.core.params.describe`` (ranges and help text live in one place).

Never import torch (or engine modules that do) at module level in a panel: the GUI starts
without torch; the engine thread imports it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QLineEdit,
                               QSpinBox, QWidget)

from ..session import CLOUD


@dataclass
class PanelContext:
    session: Any            # viewer.session.Session
    scene: Any              # viewer.scene.Scene
    viewports: Any          # viewer.viewport.ViewportGrid
    plots: Any              # viewer.panels.plots_dock.PlotsDock
    log: Callable[[str], None]
    settings: Any = None    # viewer.settings.Settings


class MethodPanel(QWidget):
    name = "method"         # short id, used as a layer-name prefix and job target prefix
    title = "Method"        # tab text

    def __init__(self, ctx: PanelContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self.session = ctx.session
        self.scene = ctx.scene
        self.plots = ctx.plots

    def on_session(self, event: str, payload: Any) -> None:
        """Session events (override)."""

    def run_method(self, method: str, inputs: dict, params: dict | None = None, **kw):
        """Submit ``method`` (see the module docstring). With ``on_error`` the job is quiet: the
        window shows no dialog for it, ``on_error`` tells the user (``self.failed``)."""
        kw.setdefault("quiet", kw.get("on_error") is not None)
        return self.session.run_method(method, inputs, params, **kw)

    def log(self, text: str) -> None:
        self.ctx.log(text)

    def failed(self, label, what: str, msg: str) -> None:
        """Tell the user a job failed: ``label`` in the panel (if any), the status bar and the log
        (the session's "error" event) and one error dialog. For ``on_error`` handlers: passing
        ``on_error`` replaces the window's own dialog, so this is what raises it."""
        if label is not None:
            label.setText(f"failed: {msg}")
        self.session.emit("error", f"{what}: {msg}")
        win = self.window()
        show = getattr(win, "show_error", None)
        if callable(show) and not getattr(win, "_closing", False):
            show(f"{what} failed", msg)


def params_form(params_cls: type, values: dict | None = None) -> tuple[QFormLayout, Callable[[], dict]]:
    """Controls for a Params dataclass; returns (layout, read() -> dict of current values)."""
    from engine import describe

    form = QFormLayout()
    readers: dict[str, Callable[[], Any]] = {}
    for d in describe(params_cls):
        value = (values or {}).get(d["name"], d["default"])
        lo, hi, choices = d.get("lo"), d.get("hi"), d.get("choices")
        if choices:
            w = QComboBox()
            w.addItems([str(c) for c in choices])
            w.setCurrentText(str(value))
            readers[d["name"]] = (lambda w=w, cs=choices: cs[w.currentIndex()])
        elif isinstance(value, bool):
            w = QCheckBox()
            w.setChecked(bool(value))
            readers[d["name"]] = w.isChecked
        elif isinstance(value, int):
            w = QSpinBox()
            w.setRange(int(lo) if lo is not None else -10**9, int(hi) if hi is not None else 10**9)
            w.setValue(int(value))
            readers[d["name"]] = w.value
        elif isinstance(value, float):
            w = QDoubleSpinBox()
            w.setDecimals(4)
            w.setRange(float(lo) if lo is not None else -1e9, float(hi) if hi is not None else 1e9)
            w.setValue(float(value))
            readers[d["name"]] = w.value
        else:
            w = QLineEdit(str(value))
            readers[d["name"]] = w.text
        if d.get("help"):
            w.setToolTip(d["help"])
        form.addRow(d["name"].replace("_", " "), w)
    return form, (lambda: {k: r() for k, r in readers.items()})


def show_views(window, scene, count: int) -> None:
    """Switch the main window to ``count`` viewports (through the window, so its toolbar agrees)
    and hide the sample's own cloud: the caller's layers draw the same points (greyed ones would
    mislead)."""
    window.set_layout(count)
    if CLOUD in scene:
        scene.set_style(CLOUD, visible=False)


def views_needed(layers) -> int:
    """The viewport count that shows every layer's view and no empty one (at most 4)."""
    return min(4, 1 + max((layer.view for layer in layers), default=0))


def two_columns(*rows: tuple[str, QWidget]):
    """(label, widget) rows in two columns, filled left, right, left ... (short numeric fields
    side by side), reflowing to one column when the dock is narrower than two (the grid never
    widens the dock: ``viewer.flow_layout``). The labels share one width so the fields line up."""
    from PySide6.QtWidgets import QLabel

    from ..flow_layout import flow, labelled

    labels = [QLabel(text) for text, _ in rows]
    width = max((lab.sizeHint().width() for lab in labels), default=0)
    return flow(*(labelled(lab, w, width) for lab, (_, w) in zip(labels, rows)), uniform=True, max_columns=2)


def button_row(*buttons: QWidget):
    """Buttons side by side, wrapping onto a second row when the dock is narrow."""
    from ..flow_layout import flow

    return flow(*buttons)
