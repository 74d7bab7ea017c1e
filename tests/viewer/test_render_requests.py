"""Scene changes ask for one frame, drawn on the next turn of the event loop; a frame that a paint
(after a resize) drew in between already shows the change, so no second frame of the same scene
is drawn, while a change made after that paint still is."""
from __future__ import annotations

import time

import pytest

from tests.viewer.conftest import make_window

pytestmark = pytest.mark.gui


def _settle(qapp, seconds=0.3):
    t = time.monotonic()
    while time.monotonic() - t < seconds:
        qapp.processEvents()
        time.sleep(0.01)


@pytest.fixture
def window(qapp, tmp_path):
    from viewer.session import CLOUD

    w = make_window(tmp_path)
    t0 = time.monotonic()
    while not (CLOUD in w.scene and w.viewports.frames > 0) and time.monotonic() - t0 < 30:
        qapp.processEvents()
        time.sleep(0.01)
    _settle(qapp, 0.6)
    yield w
    w.close()


def _frames_after(qapp, win, change) -> int:
    before = win.viewports.frames
    change()
    _settle(qapp)
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
