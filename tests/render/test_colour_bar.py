"""The colour bar as drawn: nice tick labels read from the VTK actor, and the axis triad clear of
the first label (measured on rendered pixels)."""
from __future__ import annotations

import numpy as np
import pytest

from viewer.render import set_camera
from viewer.render_offscreen import OffscreenView
from viewer.scene import PointsLayer, Scalar, Scene


def saliency_scene(values: np.ndarray) -> Scene:
    pts = np.random.default_rng(0).normal(scale=0.3, size=(len(values), 3)).astype(np.float32)
    scene = Scene()
    scene.add(PointsLayer("a", points=pts, scalars={"s": Scalar(values, title="saliency")}, active="s",
                          point_size=4))
    return scene


def test_tick_labels_are_rounded_multiples_of_a_1_2_5_step():
    values = np.linspace(0.0, 0.0332, 200)
    with OffscreenView(saliency_scene(values), 0, (390, 300)) as off:
        set_camera(off.renderer, "iso")
        off.capture()
        assert off.content.bar_labels() == ["0.00", "0.01", "0.02", "0.03"]


def test_a_wider_view_gets_more_ticks_of_a_finer_step():
    values = np.linspace(0.0, 0.029, 200)
    with OffscreenView(saliency_scene(values), 0, (390, 300)) as off:
        off.capture()
        assert off.content.bar_labels() == ["0.00", "0.01", "0.02"]
    with OffscreenView(saliency_scene(values), 0, (900, 500)) as off:
        off.capture()
        assert off.content.bar_labels() == ["0.000", "0.005", "0.010", "0.015", "0.020", "0.025"]


def _changed(img: np.ndarray, base: np.ndarray) -> np.ndarray:
    mask = np.abs(img.astype(int) - base.astype(int)).sum(-1) > 30
    grown = mask.copy()                       # 2 px of margin: touching counts as overlapping
    for dy in (-2, -1, 1, 2):
        grown |= np.roll(mask, dy, axis=0)
    for dx in (-2, -1, 1, 2):
        grown |= np.roll(mask, dx, axis=1)
    return grown


@pytest.mark.parametrize("size", [(390, 300), (300, 260), (774, 593)])
@pytest.mark.parametrize("roll", [0, -30, -60])
def test_the_axis_triad_does_not_touch_the_colour_bar_labels(size, roll):
    with OffscreenView(saliency_scene(np.linspace(0.0, 0.0332, 200)), 0, size) as off:
        off.content.add_triad()
        set_camera(off.renderer, "-y")                   # the x arm points right, towards the bar,
        off.renderer.GetActiveCamera().Roll(roll)        # and then down to the labels' height
        off.capture()
        a = off.content.actors["a"].actor
        a.SetVisibility(False)                           # the cloud out of the way: only 2D props
        bar = [off.content.bar]
        triad = off.content.triad_props

        def shot(show_bar: bool, show_triad: bool) -> np.ndarray:
            for p in bar:
                p.SetVisibility(show_bar)
            for p in triad:
                p.SetVisibility(show_triad)
            return off.capture()

        nothing = shot(False, False)
        bar_px = _changed(shot(True, False), nothing)
        triad_px = _changed(shot(False, True), nothing)
        h = size[1]
        assert bar_px[h - 40:, :].sum() > 50 and triad_px.sum() > 50     # both were drawn
        assert not (bar_px & triad_px).any()


def test_a_log_scale_is_labelled_in_powers_of_ten_and_colours_decades_evenly():
    from viewer.colour_norm import Norm
    from viewer import colormaps

    values = np.geomspace(1e-3, 10.0, 200)
    scene = saliency_scene(values)
    scene.set_style("a", norm=Norm("log"))
    with OffscreenView(scene, 0, (774, 593)) as off:
        off.capture()
        assert off.content.bar_labels() == ["0.001", "0.01", "0.1", "1", "10"]
        assert off.content.bar_title.GetInput().startswith("saliency (log)")
        # the lookup table the points are drawn with puts 0.1 (the middle decade) mid-map
        lut = off.content.actors["a"].mapper.GetLookupTable()
        rgb = [0.0, 0.0, 0.0]
        lut.GetColor(0.1, rgb)
        assert np.abs(np.round(np.array(rgb) * 255) - colormaps.table("viridis")[128]).max() <= 3
