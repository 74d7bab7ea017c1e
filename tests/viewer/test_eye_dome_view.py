"""Eye-dome lighting in the live viewport: off by default, its toggle reaches the window's frame
and the exported view image, orbiting drops it, and picking is untouched."""
from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.gui


def _steps():
    rng = np.random.default_rng(0)
    far = np.c_[rng.uniform(-1, 1, (20_000, 2)), np.zeros(20_000)]
    near = np.c_[rng.uniform(0, 2, (20_000, 2)), np.full(20_000, 0.8)]
    return np.r_[far, near].astype(np.float32)


def _dark(img: np.ndarray) -> int:
    """Near-black pixels: EDL's edge lines (the cloud's colour itself is mid-blue)."""
    return int((img[..., :3].astype(int).sum(-1) < 120).sum())


def test_eye_dome_follows_its_toggle_in_the_frame_and_the_export(qapp):
    from viewer.scene import PointsLayer, Scene
    from viewer.viewport import ViewportGrid

    scene = Scene()
    grid = ViewportGrid(scene)
    grid.resize(500, 400)
    grid.show()
    try:
        scene.add(PointsLayer("cloud", points=_steps(), color="#4c72b0", point_size=3, style="points"))
        grid.set_view("+z")
        for _ in range(3):
            qapp.processEvents()
        assert not grid.edl
        off_window, off_export = grid.grab_window_image(), grid.view_image(0)
        grid.set_edl(True)
        on_window, on_export = grid.grab_window_image(), grid.view_image(0)
        # The step between the sheets and the outline are drawn dark with EDL only, in the
        # window's frame (screenshots composite it) and in the view's export alike.
        assert _dark(on_window) > 3 * _dark(off_window) + 200
        assert _dark(on_export) > 3 * _dark(off_export) + 200
        # Orbiting (LOD on) drops EDL for speed; the still frame gets it back.
        grid._lod(True)
        assert _dark(grid.grab_window_image()) < 2 * _dark(off_window) + 100
        grid._lod(False)
        assert _dark(grid.grab_window_image()) > 3 * _dark(off_window) + 200
        # Picking projects points on the CPU: the centre of the near sheet picks a point of it.
        ren = grid.views[0].renderer
        ren.SetWorldPoint(1.0, 1.0, 0.8, 1.0)
        ren.WorldToDisplay()
        x, y, _ = ren.GetDisplayPoint()
        info = grid.pick_at(x, y)
        assert info is not None and info["index"] >= 20_000
    finally:
        grid.shutdown()
