"""Eye-dome lighting's cost (``make bench``): frame time of the real viewport with EDL against
without, at 2k / 100k / 1M points, same run, same window. Printed as ratios; no timed asserts
(software GL on a shared machine varies too much)."""
from __future__ import annotations

import statistics
import time

import numpy as np
import pytest

pytestmark = pytest.mark.gui


def _frame_ms(grid, frames: int) -> float:
    out = []
    for _ in range(frames):
        grid.views[0].renderer.GetActiveCamera().Azimuth(2.0)   # a new view each frame, as orbiting
        t = time.perf_counter()
        grid.render_now()
        out.append(time.perf_counter() - t)
    return statistics.median(out) * 1e3


def test_frame_time_with_and_without_eye_dome_lighting(qapp):
    from viewer.scene import PointsLayer, Scene
    from viewer.viewport import ViewportGrid

    scene = Scene()
    grid = ViewportGrid(scene)
    grid.resize(800, 600)
    grid.show()
    rng = np.random.default_rng(0)
    print("\n[viewer] eye-dome lighting, 800 x 600 view, spheres of 5 px (median of frames, ms):")
    try:
        for n, frames in ((2_048, 30), (100_000, 10), (1_000_000, 4)):
            pts = rng.normal(size=(n, 3)).astype(np.float32)
            scene.add(PointsLayer("cloud", points=pts, color="#4c72b0", point_size=5, style="spheres"))
            grid.reset_camera()
            times = {}
            for on in (False, True, False, True):     # interleaved: drift hits both alike
                grid.set_edl(on)
                for _ in range(2):
                    qapp.processEvents()
                    grid.render_now()
                times.setdefault(on, []).append(_frame_ms(grid, frames))
            off, edl = min(times[False]), min(times[True])
            print(f"[viewer]   {n:>9,} points: without {off:7.1f} ms, with EDL {edl:7.1f} ms "
                  f"(x{edl / off:.2f}, +{edl - off:.1f} ms)")
            scene.remove("cloud")
    finally:
        grid.shutdown()
