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


def test_eye_dome_keeps_every_view_of_a_two_view_window_drawn(qapp):
    """VTK's EDL pass assumes the renderer fills the window: with two views the second came out
    blank. The window's frame applies it only to a single view; a view's export keeps it."""
    from viewer.scene import PointsLayer, Scene
    from viewer.viewport import ViewportGrid

    scene = Scene()
    grid = ViewportGrid(scene)
    grid.resize(800, 400)
    grid.show()
    try:
        scene.add(PointsLayer("cloud", points=_steps(), color="#4c72b0", point_size=3, style="points"))
        scene.add(PointsLayer("other", points=_steps(), color="#4c72b0", point_size=3, style="points", view=1))
        grid.set_edl(True)
        grid.set_layout(2)
        grid.set_view("+z")
        for _ in range(3):
            qapp.processEvents()
        img = grid.grab_window_image()[..., :3].astype(int)
        half = img.shape[1] // 2
        for side in (img[:, :half], img[:, half:]):
            blue = (side[..., 2] > side[..., 0] + 40).mean()    # the cloud's mid-blue
            assert blue > 0.02, "a view of the two-view window is blank"
        assert _dark(grid.view_image(1)) > 200          # the export of view 2 has EDL's edges
        grid.set_layout(1)
        assert all(d.enabled for d in grid.eye_domes[:1])
    finally:
        grid.shutdown()
