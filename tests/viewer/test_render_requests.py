"""Scene changes ask for one frame, drawn on the next turn of the event loop; a frame that a paint
(after a resize) drew in between already shows the change, so no second frame of the same scene
is drawn, while a change made after that paint still is."""
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
