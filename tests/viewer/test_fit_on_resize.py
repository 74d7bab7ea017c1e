"""A view fitted to its cloud stays fitted when it changes size (docks filling in, presenter
mode, a resized window) until the user moves the camera; from then on the user's camera stays."""
from __future__ import annotations

import time

import pytest

from tests.viewer.conftest import settle as _settle

pytestmark = pytest.mark.gui


@pytest.fixture
def window(drawn_window):
    return drawn_window


def _cloud_leaves_view(win) -> bool:
    from viewer import render
    from viewer.session import CLOUD

    v = win.viewports.views[0]
    b = win.scene.get(CLOUD).points
    bounds = (b[:, 0].min(), b[:, 0].max(), b[:, 1].min(), b[:, 1].max(), b[:, 2].min(), b[:, 2].max())
    return render.outside(v.renderer, bounds)


def test_a_view_made_narrow_is_fitted_again(window, qapp):
    from PySide6.QtCore import Qt

    win = window
    win.set_layout(1)
    _settle(qapp)
    assert not _cloud_leaves_view(win)
    # the Data dock takes most of the width: the view becomes tall and narrow
    win.resizeDocks([win.browser_dock], [int(win.width() * 0.6)], Qt.Horizontal)
    _settle(qapp)
    w, h = win.viewports.view_size(0)
    assert w < 0.6 * h, f"the view did not become narrow ({w} x {h})"
    # the refit runs on a timer once the resizing stops: on a loaded machine, later than 0.4 s
    t0 = time.monotonic()
    while _cloud_leaves_view(win) and time.monotonic() - t0 < 5.0:
        _settle(qapp, 0.1)
    assert not _cloud_leaves_view(win)


def test_a_camera_the_user_moved_is_left_alone(window, qapp):
    from PySide6.QtCore import Qt

    win = window
    win.set_layout(1)
    _settle(qapp)
    grid = win.viewports
    grid._lod(True)                          # what a mouse orbit or zoom starts with
    grid._lod(False)
    before = grid.camera_states()[0]
    win.resizeDocks([win.browser_dock], [int(win.width() * 0.6)], Qt.Horizontal)
    _settle(qapp)
    assert grid.camera_states()[0] == before
