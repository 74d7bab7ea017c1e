"""Movie frame capture (``make bench``): one frame of a 2,048-point view, old way vs new way.

- old: ``render_offscreen.render_view`` per frame (a new off-screen render window, GL context and actors
  for every frame; what ``viewer/movie.py`` did before);
- new: one ``render_offscreen.OffscreenView`` for the whole movie, ``capture(camera)`` per frame.

Both render the same scene through the same turning camera at the same size, in this run; the
ratio old/new is printed (target: the new way well under the old; no timed assertion). The
frames of both ways are compared too: the speed-up must not change the picture.
"""
from __future__ import annotations

import statistics
import time

import numpy as np
import pytest

pytestmark = pytest.mark.gui

FRAMES = 24
SIZE = (480, 360)


def _scene():
    from viewer.scene import PointsLayer, Scalar, Scene

    rng = np.random.default_rng(0)
    pts = rng.normal(size=(2048, 3)).astype(np.float32)
    scene = Scene()
    scene.add(PointsLayer("bench.cloud", points=pts,
                          scalars={"s": Scalar(pts[:, 2].copy(), title="height", normalisation="raw values")},
                          active="s", point_size=5.0))
    return scene


def _cameras(n):
    from vtkmodules.vtkRenderingCore import vtkCamera, vtkRenderer

    from viewer import render

    ren = vtkRenderer()
    render.set_camera(ren, "iso", bounds=(-3, 3, -3, 3, -3, 3))
    cams = []
    for k in range(n):
        c = vtkCamera()
        c.DeepCopy(ren.GetActiveCamera())
        c.Azimuth(360.0 * k / n)
        cams.append(c)
    return cams


def test_bench_movie_frame_capture(qapp):
    from viewer import render_offscreen

    scene, cams = _scene(), _cameras(FRAMES)
    render_offscreen.render_view(scene, 0, cams[0], SIZE)          # warm up (first GL context, shaders)

    old_t, old_frames = [], []
    for c in cams:
        t0 = time.perf_counter()
        old_frames.append(render_offscreen.render_view(scene, 0, c, SIZE))
        old_t.append(time.perf_counter() - t0)

    new_t, new_frames = [], []
    t_open = time.perf_counter()
    with render_offscreen.OffscreenView(scene, 0, SIZE) as off:
        opened = time.perf_counter() - t_open
        for c in cams:
            t0 = time.perf_counter()
            new_frames.append(off.capture(c))
            new_t.append(time.perf_counter() - t0)

    diff = max(float(np.abs(a.astype(int) - b.astype(int)).mean()) for a, b in zip(old_frames, new_frames))
    old_ms, new_ms = 1000 * statistics.median(old_t), 1000 * statistics.median(new_t)
    old_total, new_total = 1000 * sum(old_t), 1000 * (opened + sum(new_t))
    print(f"\nmovie frame capture, {FRAMES} frames of {SIZE[0]}x{SIZE[1]}, 2,048 points:"
          f"\n  old (render_view per frame): median {old_ms:.1f} ms/frame, total {old_total:.0f} ms"
          f"\n  new (one OffscreenView):     median {new_ms:.1f} ms/frame, total {new_total:.0f} ms "
          f"(incl. {1000 * opened:.0f} ms to open)"
          f"\n  ratio old/new per frame: {old_ms / max(new_ms, 1e-6):.1f}x; whole movie: "
          f"{old_total / max(new_total, 1e-6):.1f}x; largest mean pixel difference {diff:.3f}")
    assert diff < 0.5, "the reused renderer draws a different picture"
