"""Movies: orbit and slider sweeps to GIF/MP4 through the real window, cancel, bad paths."""
from __future__ import annotations

import time

import imageio.v3 as iio
import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSlider

from engine.core.errors import DataError, ParameterError
from viewer import movie, provenance
from viewer.movie import MovieSpec
from viewer.scene import PointsLayer
from viewer.work import Request

TEST_LAYER = "movietest_bar"   # shared (no stage prefix): drawn whichever panel is in front


def _movies(win):
    return win.extensions["movie_dialog"]


def _camera(win, view=0):
    c = win.viewports.views[view].renderer.GetActiveCamera()
    return np.array([*c.GetPosition(), *c.GetFocalPoint(), *c.GetViewUp()])


def _wait(qtbot, rec, timeout=60_000):
    qtbot.waitUntil(lambda: rec.state != "running", timeout=timeout)


def _no_leftovers(folder, name):
    return not [p for p in folder.iterdir() if p.name.startswith(f".{name}.")]


def test_menu_entry_is_installed(win):
    texts = [a.text() for a in win.tools_menu.actions()]
    assert "Record &movie…" in texts
    assert hasattr(_movies(win), "record") and hasattr(_movies(win), "dialog")


def test_even_size_and_sweep_values():
    assert movie.even_size(101, 77) == (100, 76) and movie.even_size(3, 4) == (16, 16)
    assert movie.sweep_values(0, 4, None) == [0, 1, 2, 3, 4]
    assert movie.sweep_values(0, 100, 5) == [0, 25, 50, 75, 100]
    assert movie.sweep_values(2, 4, 10) == [2, 3, 4]


def test_orbit_gif_has_the_frames_and_restores_the_camera(win, qtbot, tmp_path):
    before = _camera(win)
    out = tmp_path / "orbit.gif"
    rec = _movies(win).record(MovieSpec(str(out), "orbit", frames=6, fps=10, size=(81, 61)), show_progress=False)
    seen = []
    rec.progress.connect(lambda d, t, m: seen.append((d, t)))
    _wait(qtbot, rec)
    assert rec.state == "done", rec.message
    frames = iio.imread(out, index=None)
    assert frames.shape[0] == 6 and frames.shape[1:3] == (60, 80)    # even: 81x61 -> 80x60
    # the camera turned: the first and last views differ; a full turn's frames are not all alike
    first, last = frames[0].astype(int), frames[-1].astype(int)
    assert np.abs(first - last).mean() > 1.0
    np.testing.assert_allclose(_camera(win), before, atol=1e-9)
    assert seen[-1] == (6, 6)
    assert rec.offscreen is None          # the off-screen window is released at the end
    side = provenance.read_sidecar(str(out))
    assert side["export"] == "movie" and side["source"] == "orbit" and side["frames"] == 6
    assert side["size"] == [80, 60] and side["data"] == win.session.provenance()["dataset"]
    assert _no_leftovers(tmp_path, out.name)


def test_orbit_frame_matches_a_turned_screenshot(win, qtbot, tmp_path):
    """Frame k of an orbit is the view after an azimuth of k*360/N degrees (here 90 deg)."""
    from viewer import render_offscreen

    out = tmp_path / "o.gif"
    rec = _movies(win).record(MovieSpec(str(out), "orbit", frames=4, fps=5, size=(64, 48)), show_progress=False)
    _wait(qtbot, rec)
    frames = iio.imread(out, index=None)[..., :3].astype(int)
    content = win.viewports.views[0]
    cam = content.renderer.GetActiveCamera()
    from vtkmodules.vtkRenderingCore import vtkCamera

    turned = vtkCamera()
    turned.DeepCopy(cam)
    turned.Azimuth(90.0)
    ref = render_offscreen.render_view(win.scene, content.view, turned, (64, 48)).astype(int)
    # GIF palettes are lossy: compare loosely, and check it is closer to frame 1 than to frame 0
    assert np.abs(frames[1] - ref).mean() < np.abs(frames[0] - ref).mean()
    assert np.abs(frames[1] - ref).mean() < 6.0


def _bar_slider(win, delay=0.15):
    """A slider whose every move runs an engine job (delay s) that then moves a bar layer:
    frames taken before the job finished would show the previous position."""
    slider = QSlider(Qt.Horizontal)
    slider.setRange(0, 4)
    slider.setObjectName("movietest.position")

    def moved(v):
        def work(v=v):
            time.sleep(delay)
            x = np.linspace(-1, 1, 40, dtype=np.float32)
            return np.stack([x * 0.2 + (v - 2) * 0.4, np.zeros_like(x), x * 0.5], axis=1)

        win.client.submit(Request(f"movietest {v}", work, target="movietest",
                                  on_result=lambda pts: win.scene.add(
                                      PointsLayer(TEST_LAYER, points=pts, color="#ff0000", point_size=8.0))))

    slider.valueChanged.connect(moved)
    return slider


def test_slider_sweep_mp4_waits_for_each_job(win, qtbot, tmp_path):
    slider = _bar_slider(win)
    slider.setValue(2)
    qtbot.waitUntil(lambda: TEST_LAYER in win.scene and not win.client.busy, timeout=10_000)
    try:
        out = tmp_path / "sweep.mp4"
        rec = _movies(win).record(MovieSpec(str(out), "slider", frames=None, fps=5, size=(96, 64), slider=slider,
                                            release=False), show_progress=False)
        assert rec.total == 5
        _wait(qtbot, rec)
        assert rec.state == "done", rec.message
        frames = iio.imread(out, index=None, plugin="pyav") if _has_pyav() else _read_ffmpeg(out)
        assert len(frames) == 5 and frames[0].shape[:2] == (64, 96)
        # each frame shows the bar where that step's job put it (not the previous step's): the
        # red bar's screen position moves one way through the sweep, starting from value 0, not 2
        xs = [_red_x(f) for f in frames]
        steps = np.diff(xs)
        assert np.all(steps > 1.0) or np.all(steps < -1.0), xs
        assert slider.value() == 2                                 # restored
        side = provenance.read_sidecar(str(out))
        assert side["source"] == "slider" and side["values"] == [0, 1, 2, 3, 4]
        assert side["slider"].startswith("movietest.position")
    finally:
        win.scene.remove(TEST_LAYER) if TEST_LAYER in win.scene else None
        slider.deleteLater()


def _red_x(frame) -> float:
    f = frame[..., :3].astype(int)
    red = (f[..., 0] > 150) & (f[..., 1] < 110) & (f[..., 2] < 110)
    assert red.sum() > 3, "the red bar is not in the frame"
    return float(np.nonzero(red)[1].mean())


def _has_pyav() -> bool:
    try:
        import av  # noqa: F401
        return True
    except ImportError:
        return False


def _read_ffmpeg(path):
    import imageio.v2 as iio2

    with iio2.get_reader(str(path), format="FFMPEG") as r:
        return [np.asarray(f) for f in r]


def test_cancel_leaves_no_file_and_restores(win, qtbot, tmp_path):
    before = _camera(win)
    out = tmp_path / "c.mp4"
    rec = _movies(win).record(MovieSpec(str(out), "orbit", frames=40, fps=10, size=(64, 48)))
    qtbot.waitUntil(lambda: rec.index >= 2, timeout=30_000)
    from PySide6.QtWidgets import QPushButton

    _movies(win).progress.findChild(QPushButton).click()     # the progress dialog's Cancel button
    _wait(qtbot, rec)
    assert rec.state == "cancelled" and rec.offscreen is None
    assert not out.exists() and not (tmp_path / "c.mp4.provenance.json").exists()
    assert _no_leftovers(tmp_path, out.name)
    np.testing.assert_allclose(_camera(win), before, atol=1e-9)


def test_window_closing_mid_movie_drops_it_and_releases_the_renderer(win, qtbot, tmp_path):
    from PySide6.QtGui import QCloseEvent

    out = tmp_path / "closing.gif"
    rec = _movies(win).record(MovieSpec(str(out), "orbit", frames=40, fps=10, size=(64, 48)), show_progress=False)
    qtbot.waitUntil(lambda: rec.index >= 1, timeout=30_000)
    off = rec.offscreen
    assert off is not None and not off.closed
    # what the window's close event does to the recorder (the real close would end this module's window)
    rec.eventFilter(win, QCloseEvent())
    assert rec.state == "cancelled" and rec.offscreen is None and off.closed
    assert not out.exists() and _no_leftovers(tmp_path, out.name)


def test_offscreen_view_reuses_one_window_and_follows_the_scene():
    """Frames from one OffscreenView equal fresh render_view frames, also after the scene changed
    between frames (a slider sweep); after close it stops listening and refuses to draw."""
    from vtkmodules.vtkRenderingCore import vtkRenderer

    from viewer import render, render_offscreen
    from viewer.scene import Scene

    scene = Scene()
    x = np.linspace(-1, 1, 50, dtype=np.float32)
    bar = np.stack([x * 0.1 - 0.5, np.zeros_like(x), x], axis=1)
    scene.add(PointsLayer("t.bar", points=bar, color="#ff0000", point_size=6.0))
    scene.add(PointsLayer("t.frame", points=np.array([[-1, 0, -1], [1, 0, 1]], np.float32), point_size=3.0))
    ren = vtkRenderer()
    render.set_camera(ren, "-y", bounds=(-1.2, 1.2, -0.1, 0.1, -1.2, 1.2))
    cam = ren.GetActiveCamera()
    listeners = len(scene._listeners)
    off = render_offscreen.OffscreenView(scene, 0, (96, 64))
    window = off.window
    first = off.capture(cam)
    assert first.shape == (64, 96, 3)
    np.testing.assert_array_equal(first, render_offscreen.render_view(scene, 0, cam, (96, 64)))
    scene.update_points("t.bar", points=bar + np.array([1.0, 0, 0], np.float32))   # in place
    moved = off.capture(cam)
    np.testing.assert_array_equal(moved, render_offscreen.render_view(scene, 0, cam, (96, 64)))
    assert _red_x(moved) > _red_x(first) + 10          # the bar moved right on screen
    scene.add(PointsLayer("t.bar", points=bar[:10], color="#ff0000", point_size=6.0))   # new shape
    np.testing.assert_array_equal(off.capture(cam), render_offscreen.render_view(scene, 0, cam, (96, 64)))
    assert off.window is window and off.frames == 3      # one window for every frame
    off.close()
    off.close()                                          # idempotent
    assert off.closed and len(scene._listeners) == listeners
    with pytest.raises(RuntimeError, match="after close"):
        off.capture(cam)


@pytest.mark.parametrize("name, match", [("movie.avi", "must be named .mp4 or .gif"),
                                         ("missing/dir/m.mp4", "does not exist"),
                                         ("afile/m.gif", "does not exist")])
def test_bad_paths_give_one_clear_message(win, tmp_path, name, match):
    (tmp_path / "afile").write_text("x")
    path = tmp_path / name
    with pytest.raises(DataError, match=match) as e:
        _movies(win).record(MovieSpec(str(path), "orbit", frames=4))
    assert str(path) in str(e.value)
    assert list(tmp_path.iterdir()) == [tmp_path / "afile"]
    with pytest.raises(ParameterError, match="no slider"):
        _movies(win).record(MovieSpec(str(tmp_path / "ok.gif"), "slider"))
    assert not (tmp_path / "ok.gif").exists()


def test_dialog_lists_the_replay_slider_and_reports_bad_paths(win, qtbot, tmp_path):
    from viewer.movie_dialog import MovieDialog

    panel = win.method_panels[0]
    replay = QSlider(Qt.Horizontal, panel)
    replay.setObjectName(movie.REPLAY_SLIDER)
    replay.setRange(0, 9)
    try:
        d = MovieDialog(win, _movies(win))
        qtbot.addWidget(d)
        d.source.setCurrentIndex([k for k, _ in movie_dialog_sources()].index("replay"))
        assert d.slider.count() == 1 and d.slider.currentData() is replay and d.frames.value() == 10
        assert d.record_btn.isEnabled()
        d.path.setText(str(tmp_path / "nope" / "x.gif"))
        d.record()
        assert "does not exist" in d.note.text() and d.result() == 0   # stays open with the reason
        d.source.setCurrentIndex(0)
        assert not d.slider.isEnabled() and d.record_btn.isEnabled()
        spec = d.spec()
        assert spec.source == "orbit" and spec.size[0] % 2 == 0 and spec.size[1] % 2 == 0
    finally:
        replay.deleteLater()


def movie_dialog_sources():
    from viewer.movie_dialog import SOURCES

    return SOURCES



def test_flowam_replay_gif_has_one_frame_per_recorded_step(win, qtbot, classifier, tmp_path):
    """The real Flow AM panel: run a short vanilla AM, then record its timeline (the replay)."""
    from viewer.movie_dialog import MovieDialog

    panel = next(p for p in win.method_panels if p.name == "flowam")
    win.tabs.setCurrentIndex(win.method_panels.index(panel))
    qtbot.waitUntil(lambda: not win.client.busy, timeout=30_000)
    win.session.open_checkpoint(classifier)
    qtbot.waitUntil(lambda: win.session.checkpoint is not None and panel.run_btn.isEnabled(), timeout=20_000)
    panel.method.setCurrentText("vanilla")
    panel.steps.setValue(12)
    panel.points.setValue(64)
    panel.extra_params = {"stats_per_class": 2, "fid_reals": 2, "init_objects": 2}
    assert panel.run() is not None
    qtbot.waitUntil(lambda: panel.result is not None and panel.timeline.isEnabled(), timeout=40_000)
    n = panel.timeline.maximum() - panel.timeline.minimum() + 1
    assert n == len(panel.result.arrays["history_steps"]) >= 2
    end = panel.timeline.value()

    d = MovieDialog(win, _movies(win))
    qtbot.addWidget(d)
    d.source.setCurrentIndex([k for k, _ in movie_dialog_sources()].index("replay"))
    assert d.slider.currentData() is panel.timeline and d.frames.value() == n
    out = tmp_path / "replay.gif"
    d.path.setText(str(out))
    d.width_.setValue(64)
    d.height_.setValue(48)
    d.record()
    rec = _movies(win).recorder
    _wait(qtbot, rec)
    assert rec.state == "done", rec.message
    frames = iio.imread(out, index=None)
    # Pillow merges identical consecutive GIF frames; the optimisation moves the cloud each step
    assert frames.shape[0] == n and frames.shape[1:3] == (48, 64)
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).mean() > 0.2
    assert panel.timeline.value() == end
    side = provenance.read_sidecar(str(out))
    assert side["replay"] == "flowam" and side["values"] == list(range(n))
    assert side["checkpoint"] == classifier and side["method"] == "flowam"
