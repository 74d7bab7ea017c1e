"""A method panel made from a spec alone: its description, a form of its parameters (ranges,
defaults, units and help from the spec), a Run button that runs the method on the current sample,
and the result drawn by the generic result-to-layer mapping on the panel's own stage.

A method whose spec takes a cloud (``points``) gets a panel with one line in panels/__init__.py:
``generated("occlusion")``. Methods that need more (sliders that redraw without a job, several
views, plots) write their own panel.
"""
from __future__ import annotations

from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout

from engine import specs

from ..result_layers import layers_for
from ..session import with_points
from .base import MethodPanel, params_form, show_views, views_needed


def summary_text(metrics: dict) -> str:
    """One line per plain metric ("largest drop: 0.1403"), in the order the method gave them."""
    lines = []
    for k, v in metrics.items():
        if isinstance(v, bool) or not isinstance(v, (int, float, str)) or k == "classes":
            continue
        lines.append(f"{k.replace('_', ' ')}: {v:.4g}" if isinstance(v, float) else f"{k.replace('_', ' ')}: {v}")
    return "\n".join(lines)


def generated(key: str, title: str | None = None) -> type:
    """A ``MethodPanel`` class for method ``key`` (its stage and job targets are named ``key``)."""
    spec = specs.get(key)
    if "points" not in spec.input_names:
        raise TypeError(f"a generated panel runs on the current sample; '{key}' takes no points")
    panel_title = title or spec.title

    class GeneratedPanel(MethodPanel):
        name = key
        title = panel_title

        def __init__(self, ctx, parent=None):
            super().__init__(ctx, parent)
            self.spec = spec
            layout = QVBoxLayout(self)
            about = QLabel(spec.help or spec.title)
            about.setWordWrap(True)
            layout.addWidget(about)
            form, self.read_params = params_form(spec.params)
            layout.addLayout(form)
            self.run_button = QPushButton(f"Run {spec.title.lower()} on this sample")
            self.run_button.clicked.connect(lambda _=False: self.run())
            layout.addWidget(self.run_button)
            self.status = QLabel("")
            self.status.setWordWrap(True)
            layout.addWidget(self.status)
            layout.addStretch(1)
            self.result = None

        def run(self):
            s = self.session.sample
            if s is None:
                self.status.setText("Pick a sample in the data browser first.")
                return None
            inputs = {"points": s.model_input}
            if "label" in spec.input_names and s.label is not None:
                inputs["label"] = s.label
            self.status.setText("running…")
            pts = s.model_input

            def done(res) -> None:
                self.show_result(res, s, pts)

            return self.run_method(key, inputs, self.read_params(), target=f"{key}.run",
                                   name=f"{spec.title}: {s.name}", on_result=done,
                                   on_error=lambda msg: self.failed(self.status, spec.title, msg))

        def show_result(self, res, sample, pts) -> None:
            full = with_points(res, pts, self.session.provenance(), used_text=sample.used_text)
            self.result = full
            self.session.add_result(f"{key} {sample.name}", full, show=False)
            shown = type(full)(full.kind, {**full.arrays, "points": sample.model_points}, full.metrics)
            layers = layers_for(shown)
            # as many views as the result fills (the sample's own cloud makes way for it)
            show_views(self.window(), self.scene, views_needed(layers))
            self.scene.clear(f"{key}.")
            for layer in layers:
                self.scene.add(layer)
            self.status.setText(summary_text(full.metrics))

        def on_session(self, event, payload) -> None:
            if event == "sample":          # a result belongs to its sample: the next one starts clean
                self.scene.clear(f"{key}.")
                self.status.setText("")

    GeneratedPanel.__name__ = f"GeneratedPanel_{key.replace('-', '_')}"
    return GeneratedPanel
