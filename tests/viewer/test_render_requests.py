"""What a scene change does to the views. It asks for one frame, drawn on the next turn of the
event loop; a frame that a paint (after a resize) drew in between already shows the change, so no
second frame of the same scene is drawn, while a change made after that paint still is. A
panel's first layer in a view is fitted, whatever another panel's stage left there."""
from __future__ import annotations

import pytest

from tests.viewer.conftest import settle

pytestmark = pytest.mark.gui


@pytest.fixture
def window(drawn_window, qapp):
    settle(qapp, 0.6)       # the first frames and the fit-on-resize timer are over
    return drawn_window


def _frames_after(qapp, win, change) -> int:
    before = win.viewports.frames
    change()
    settle(qapp, 0.3)
    return win.viewports.frames - before


def test_a_change_is_drawn_once(window, qapp):
    from viewer.session import CLOUD

    size = window.scene.get(CLOUD).point_size
    assert _frames_after(qapp, window, lambda: window.scene.set_style(CLOUD, point_size=size + 1)) == 1
    assert window.viewports.views[0].actors      # the change reached a view that draws it


def test_a_frame_drawn_by_a_paint_makes_the_queued_render_unneeded(window, qapp):
    from viewer.session import CLOUD

    size = window.scene.get(CLOUD).point_size

    def change_then_paint():
        window.scene.set_style(CLOUD, point_size=size + 2)     # queues a render
        window.viewports.window.Render()                         # what a paint event does
    assert _frames_after(qapp, window, change_then_paint) == 1


def test_a_change_after_that_paint_is_still_drawn(window, qapp):
    from viewer.session import CLOUD

    size = window.scene.get(CLOUD).point_size

    def change_paint_change():
        window.scene.set_style(CLOUD, point_size=size + 3)
        window.viewports.window.Render()
        window.scene.set_style(CLOUD, point_size=size + 4)     # the render already queued must draw this
    assert _frames_after(qapp, window, change_paint_change) == 2
    assert window.viewports.views[0].actors


def test_a_panel_s_first_layer_in_a_view_is_fitted_though_another_stage_drew_there(window, qapp):
    """Inspect's stretched T-Net output (3x the cloud) zoomed view 2 out; PointMask's mask cloud
    then came out a third of the view's size because the view was not empty, only hidden."""
    import numpy as np

    from viewer import render
    from viewer.scene import PointsLayer

    win = window
    win.set_layout(2)
    pts = np.random.default_rng(0).normal(size=(256, 3)).astype(np.float32)
    win.scene.set_stage("inspect")
    win.scene.add(PointsLayer("inspect.big", points=pts * 3, view=1))
    settle(qapp, 0.3)
    cam = win.viewports.views[1].renderer.GetActiveCamera()
    far = cam.GetDistance()
    win.scene.set_stage("pointmask")
    win.scene.add(PointsLayer("pointmask.small", points=pts, view=1))
    settle(qapp, 0.3)
    fitted = cam.GetDistance()
    render.reset(win.viewports.views[1].renderer)           # what a fit to the small cloud gives
    assert fitted == pytest.approx(cam.GetDistance(), rel=0.02) and fitted < 0.5 * far
    # a second layer of the same stage inside the view does not move the camera
    win.scene.add(PointsLayer("pointmask.inner", points=pts * 0.5, view=1))
    settle(qapp, 0.3)
    assert cam.GetDistance() == pytest.approx(fitted, rel=1e-6)
