"""Colour normalisation (pure numpy) and how the scene applies it per layer."""
from __future__ import annotations

import numpy as np
import pytest

from viewer import colormaps
from viewer.colour_norm import (Norm, default_norm, display_values, heavy_tailed, limits, modes_for,
                                percentile_ranks)
from viewer.scene import PointsLayer, Scalar, Scene

# 97 points near zero and three far above: the shape of a gradient-norm saliency
SALIENCY = np.r_[np.linspace(0.0, 0.01, 97), 0.5, 0.8, 1.0]


def test_percentile_ranks_are_even_and_ties_share_a_rank():
    assert percentile_ranks([10.0, 30.0, 20.0]).tolist() == [0.0, 100.0, 50.0]
    assert percentile_ranks([5.0, 5.0, 7.0]).tolist() == [25.0, 25.0, 100.0]
    r = percentile_ranks([1.0, np.nan, 2.0])
    assert r[0] == 0.0 and np.isnan(r[1]) and r[2] == 100.0


def test_limits_of_each_mode():
    v = np.arange(101, dtype=float)                        # 0 .. 100
    assert limits(v, Norm("linear")) == (0.0, 100.0)
    assert limits(v, Norm("percentile", percentiles=(5, 95))) == (5.0, 95.0)
    assert limits(v, Norm("rank")) == (0.0, 100.0)
    assert limits(v, Norm("custom", range=(10.0, 20.0))) == (10.0, 20.0)
    assert limits(v, Norm("log")) == (1.0, 100.0)          # from the smallest positive value
    assert limits(np.array([-0.2, 0.1]), Norm("linear"), "signed") == (-0.2, 0.2)
    assert limits(np.array([-1.0, 0.0]), Norm("log")) == (-1.0, 0.0)   # nothing positive: linear


def test_display_values_rank_and_log():
    assert display_values([3.0, 1.0, 2.0], Norm("rank")).tolist() == [100.0, 0.0, 50.0]
    assert display_values([0.0, 0.1, 10.0], Norm("log")).tolist() == pytest.approx([0.1, 0.1, 10.0])
    assert display_values([0.0, 0.1], Norm("percentile")).tolist() == pytest.approx([0.0, 0.1])


def test_a_custom_range_must_be_increasing_and_modes_must_exist():
    with pytest.raises(ValueError):
        Norm("custom", range=(1.0, 1.0))
    with pytest.raises(ValueError):
        Norm("sqrt")


def test_heavy_tails_are_recognised_and_get_percentile_clipping_by_default():
    assert heavy_tailed(SALIENCY)
    assert not heavy_tailed(np.linspace(0, 1, 100))
    assert not heavy_tailed(np.random.default_rng(0).normal(size=2000))
    exponential = np.random.default_rng(0).exponential(size=2000)
    assert default_norm(exponential, "continuous").mode == "percentile"
    assert default_norm(SALIENCY, "continuous").mode == "rank"        # 3 % outliers: clipping 1 % is not enough
    assert default_norm(np.linspace(0, 1, 100), "continuous").mode == "linear"
    assert default_norm(np.r_[-SALIENCY, SALIENCY], "signed").mode == "linear"


def test_signed_and_categorical_scalars_offer_only_modes_that_keep_their_meaning():
    assert "log" not in modes_for("signed") and "rank" not in modes_for("signed")
    assert modes_for("categorical") == ()


def _darkest_share(scene: Scene, name: str) -> float:
    """Share of the layer's points drawn in the darkest eighth of the colour map."""
    layer = scene.get(name)
    lo, hi = scene.shared_clim(layer)
    t = (scene.colour_values(layer) - lo) / (hi - lo)
    return float((np.clip(t, 0, 1) < 0.125).mean())


@pytest.mark.parametrize("values, named", [
    (SALIENCY, "saliency (rank)"),
    (np.random.default_rng(0).exponential(size=2000), "saliency (1–99 percentile)")])
def test_saliency_by_default_is_not_all_the_darkest_colour_and_the_title_says_why(values, named):
    scene = Scene()
    n = len(values)
    scene.add(PointsLayer("s", points=np.zeros((n, 3)), scalars={"sal": Scalar(values, title="saliency")},
                          active="sal"))
    assert _darkest_share(scene, "s") < 0.5
    assert scene.color_scale().title.startswith(named)
    scene.set_style("s", norm=Norm("linear"))
    assert _darkest_share(scene, "s") > 0.5                  # what a min-max range did
    assert scene.color_scale().title.startswith("saliency (linear)")


def test_rank_spreads_colours_evenly_and_is_named_in_the_title():
    scene = Scene()
    scene.add(PointsLayer("s", points=np.zeros((100, 3)), scalars={"sal": Scalar(SALIENCY, title="saliency")},
                          active="sal", norm=Norm("rank")))
    scale = scene.color_scale()
    assert scale.title.startswith("saliency (rank)") and scale.clim == (0.0, 100.0)
    assert _darkest_share(scene, "s") == pytest.approx(0.13, abs=0.01)


def test_log_scale_is_flagged_for_the_renderer():
    scene = Scene()
    scene.add(PointsLayer("s", points=np.zeros((100, 3)), scalars={"sal": Scalar(SALIENCY, title="saliency")},
                          active="sal", norm=Norm("log")))
    scale = scene.color_scale()
    assert scale.log and scale.clim == (pytest.approx(0.01 / 96), 1.0) and "(log)" in scale.title


def test_a_scalar_with_its_own_range_keeps_it_until_the_user_chooses():
    scene = Scene()
    fixed = Scalar(SALIENCY, title="p", normalisation="probability", clim=(0.0, 1.0))
    scene.add(PointsLayer("s", points=np.zeros((100, 3)), scalars={"p": fixed}, active="p"))
    assert scene.color_scale().clim == (0.0, 1.0) and scene.color_scale().title == "p\n(probability)"
    scene.set_style("s", norm=Norm("custom", range=(0.0, 0.5)))
    assert scene.color_scale().clim == (0.0, 0.5) and "range 0 to 0.5" in scene.color_scale().title
    assert "probability" not in scene.color_scale().title      # that text described the range replaced


def test_layers_with_the_same_scalar_share_a_range_only_under_the_same_normalisation():
    scene = Scene()
    for name, vals, view in (("a", np.linspace(0, 1, 50), 0), ("b", np.linspace(0, 3, 50), 1)):
        scene.add(PointsLayer(name, points=np.zeros((50, 3)), view=view, scalars={"e": Scalar(vals, title="err")},
                              active="e"))
    assert scene.shared_clim(scene.get("a")) == (0.0, 3.0)
    scene.set_style("b", norm=Norm("rank"))
    assert scene.shared_clim(scene.get("a")) == (0.0, 1.0)
    assert colormaps.map_values(scene.colour_values(scene.get("b"))[-1:], "viridis", (0, 100))[0].tolist() == \
        colormaps.table("viridis")[-1].tolist()
