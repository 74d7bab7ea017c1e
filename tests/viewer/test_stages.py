"""A stage per method panel: each panel shows only its own layers, switching back restores them,
and changing the viewport count never moves a layer into another view."""
from __future__ import annotations

import numpy as np

from viewer.scene import PointsLayer, Scene, stage_of
from viewer.session import CLOUD

from .conftest import panel_named


def _pts(n=8, shift=0.0):
    return np.random.default_rng(n).normal(size=(n, 3)).astype(np.float32) + shift


def test_stage_of_is_the_prefix_and_unprefixed_layers_are_shared():
    assert stage_of("pointmask.mask") == "pointmask"
    assert stage_of("sagemix.b.points") == "sagemix"
    assert stage_of("cloud") is None
    assert stage_of("_selection") is None


def test_switching_stages_hides_and_restores_without_removing():
    scene, events = Scene(), []
    scene.add(PointsLayer("cloud", points=_pts()))
    scene.add(PointsLayer("inspect.saliency", points=_pts()))
    scene.add(PointsLayer("pointmask.mask", points=_pts()))
    scene.set_stage("inspect")
    assert scene.on_stage("inspect.saliency") and not scene.on_stage("pointmask.mask")
    assert scene.on_stage("cloud")
    scene.set_style("cloud", visible=False)                 # Inspect hides the plain sample
    scene.subscribe(lambda e, n: events.append((e, n)))
    scene.set_stage("pointmask")
    assert not scene.on_stage("inspect.saliency") and scene.on_stage("pointmask.mask")
    assert scene.get("cloud").visible                       # a new stage shows the shared sample
    assert ("geometry", "inspect.saliency") in events and ("geometry", "pointmask.mask") in events
    scene.set_stage("inspect")
    assert not scene.get("cloud").visible                   # ...and Inspect's choice comes back
    assert set(scene.names()) == {"cloud", "inspect.saliency", "pointmask.mask"}


def test_an_empty_stage_shows_nothing_of_the_others():
    scene = Scene()
    scene.add(PointsLayer("cloud", points=_pts()))
    scene.add(PointsLayer("inspect.saliency", points=_pts()))
    scene.set_stage("inspect")
    scene.set_stage("demo", empty=True)
    shown = [l.name for l in scene.layers() if scene.shown(l)]
    assert shown == []
    scene.add(PointsLayer("demo.clean", points=_pts()))
    assert [l.name for l in scene.layers() if scene.shown(l)] == ["demo.clean"]


def test_colour_bar_comes_only_from_layers_on_stage():
    from viewer.scene import Scalar

    scene = Scene()
    scene.add(PointsLayer("inspect.s", points=_pts(), active="s",
                          scalars={"s": Scalar(np.arange(8.0), title="saliency")}))
    scene.set_stage("pointmask")
    assert scene.color_scale(0) is None
    scene.set_stage("inspect")
    assert scene.color_scale(0).title.startswith("saliency")


def _drawn(win, view):
    return set(win.viewports.views[view].actors)


def test_each_panel_shows_only_its_own_layers(win, qapp):
    panel_named(win, "inspect")
    win.set_layout(2)
    win.scene.add(PointsLayer("inspect.test", points=_pts(16)))
    win.scene.add(PointsLayer("pointmask.test", points=_pts(16, 1.0)))
    win.scene.add(PointsLayer("sagemix.test", points=_pts(16, 2.0), view=1))
    qapp.processEvents()
    try:
        assert "inspect.test" in _drawn(win, 0) and "pointmask.test" not in _drawn(win, 0)
        assert "sagemix.test" not in _drawn(win, 1)
        panel_named(win, "pointmask")
        qapp.processEvents()
        assert "pointmask.test" in _drawn(win, 0) and "inspect.test" not in _drawn(win, 0)
        panel_named(win, "sagemix")
        win.set_layout(2)
        qapp.processEvents()
        assert "sagemix.test" in _drawn(win, 1)
        assert not ({"inspect.test", "pointmask.test"} & (_drawn(win, 0) | _drawn(win, 1)))
        panel_named(win, "inspect")                       # back: its layer is still there
        qapp.processEvents()
        assert "inspect.test" in _drawn(win, 0)
    finally:
        win.scene.clear("inspect.test")
        win.scene.clear("pointmask.test")
        win.scene.clear("sagemix.test")


def test_changing_the_view_count_moves_no_layer(win, qapp):
    panel_named(win, "sagemix")
    win.set_layout(4)
    for v in range(4):
        win.scene.add(PointsLayer(f"sagemix.v{v}", points=_pts(16, float(v)), view=v))
    qapp.processEvents()
    try:
        for n in (2, 1):
            win.set_layout(n)
            qapp.processEvents()
            for v in range(4):
                drawn_in = [i for i in range(win.viewports.count) if f"sagemix.v{v}" in _drawn(win, i)]
                assert drawn_in == ([v] if v < n else []), (n, v, drawn_in)
        win.set_layout(4)
        qapp.processEvents()
        for v in range(4):
            assert f"sagemix.v{v}" in _drawn(win, v)
    finally:
        win.scene.clear("sagemix.v")
        panel_named(win, "inspect")


def test_the_demo_starts_from_an_empty_stage(win, qapp):
    panel_named(win, "inspect")
    pres = win.extensions["presenter"]
    pres.show_demo()
    qapp.processEvents()
    try:
        assert win.scene.stage == "demo"
        assert CLOUD not in _drawn(win, 0) or not win.scene.get(CLOUD).visible
    finally:
        pres.demo_dock.hide()
        qapp.processEvents()
    assert win.scene.stage == "inspect"


def test_a_panel_that_greys_the_sample_does_so_on_its_own_stage_only():
    scene = Scene()
    scene.add(PointsLayer("cloud", points=_pts(), point_size=5.0, color="#5a5a5a"))
    scene.set_stage("inspect")
    scene.set_style("cloud", point_size=2.0, color="#b0b0b0")
    scene.set_stage("pointmask")
    assert (scene.get("cloud").point_size, scene.get("cloud").color) == (5.0, "#5a5a5a")
    scene.set_stage("inspect")
    assert (scene.get("cloud").point_size, scene.get("cloud").color) == (2.0, "#b0b0b0")
    scene.add(PointsLayer("cloud", points=_pts(9), point_size=5.0))       # the next sample
    scene.set_stage("pointmask")
    scene.set_stage("inspect")
    assert scene.get("cloud").point_size == 5.0                             # starts afresh
