"""The Layers panel's colour-scale control: each choice reaches the scene and the colour-bar title."""
from __future__ import annotations

import numpy as np
import pytest

from viewer.colour_norm import Norm
from viewer.panels.layers_panel import LayersPanel
from viewer.scene import PointsLayer, Scalar, Scene

SALIENCY = np.r_[np.linspace(0.0, 0.01, 97), 0.5, 0.8, 1.0]


@pytest.fixture
def panel(qapp):
    scene = Scene()
    scene.add(PointsLayer("cloud", points=np.zeros((100, 3)), active="sal", scalars={
        "sal": Scalar(SALIENCY, title="saliency"),
        "d": Scalar(np.linspace(-1, 1, 100), kind="signed", title="difference")}))
    p = LayersPanel(scene)
    p.select("cloud")
    yield p
    p.deleteLater()


def choose(panel, mode):
    panel.scale.setCurrentIndex(panel.scale.findData(mode))


def test_default_then_each_mode_is_stated_in_the_title(panel):
    scene = panel.scene
    assert panel.scale.currentText() == "default" and scene.color_scale().title.startswith("saliency (rank)")
    choose(panel, "log")
    assert scene.get("cloud").norm == Norm("log") and scene.color_scale().title.startswith("saliency (log)")
    choose(panel, "percentile")
    assert panel.low.value() == 1.0 and panel.high.value() == 99.0 and panel.low.suffix() == " %"
    panel.low.setValue(5.0)
    assert scene.get("cloud").norm == Norm("percentile", percentiles=(5.0, 99.0))
    assert "5–99 percentile" in scene.color_scale().title


def test_a_custom_range_starts_from_the_range_shown_and_follows_the_boxes(panel):
    choose(panel, "custom")
    assert panel.scene.color_scale().clim == (0.0, 1.0)        # linear min..max of the values
    panel.high.setValue(0.02)
    assert panel.scene.color_scale().clim == (0.0, 0.02)
    panel.low.setValue(0.5)                                      # low above high: ignored
    assert panel.scene.color_scale().clim == (0.0, 0.02)


def test_a_signed_scalar_offers_no_log_or_rank_and_switching_scalars_resets_the_scale(panel):
    choose(panel, "rank")
    panel.scalar.setCurrentIndex(panel.scalar.findData("d"))
    modes = [panel.scale.itemData(i) for i in range(panel.scale.count())]
    assert modes == [None, "linear", "percentile", "custom"]
    assert panel.scene.get("cloud").norm is None and panel.scale.currentText() == "default"


def test_world_radius_reaches_the_layer_and_replaces_the_pixel_size(panel):
    layer = panel.scene.get("cloud")
    assert layer.radius == 0 and panel.radius.text() == "off (size in px)" and panel.size.isEnabled()
    panel.radius.setValue(0.02)
    assert layer.radius == pytest.approx(0.02) and not panel.size.isEnabled()
    panel.scene.set_style("cloud", radius=0.0)      # another control (or a preset) turns it off
    panel.select("cloud")
    panel._load()
    assert panel.radius.value() == 0 and panel.size.isEnabled()
