"""The real window under Xvfb: open data, pick, colour maps, inspect, select, cancel, bad files, close."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
import pytest

from engine.core.method import Method, implements
from engine.core.registry import METHODS
from engine.core.spec import MethodSpec
from engine.core.types import Progress, Result
from viewer import colormaps, selection
from viewer.session import CLOUD
from viewer.work import CANCELLED, DONE, RUNNING

from .conftest import BUILTIN_CLASSES, make_window

pytestmark = pytest.mark.gui


@dataclass(frozen=True)
class _SleepParams:
    seconds: float = 30.0


SLEEP = MethodSpec(key="viewer-test-sleep", title="Sleep (test)", family="test", params=_SleepParams,
                   produces="sleep")


class _Sleep(Method):
    """Test-only method: yields every 20 ms until cancelled; records that it cleaned up."""

    cleaned: list = []

    def run(self, params):
        try:
            t0 = time.monotonic()
            while time.monotonic() - t0 < params.seconds:
                time.sleep(0.02)
                yield Progress(time.monotonic() - t0, params.seconds, "sleeping")
            return Result("sleep")
        finally:
            _Sleep.cleaned.append(threading.current_thread().name)


if "viewer-test-sleep" not in METHODS:
    implements(SLEEP)(_Sleep)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    import torch

    from engine.models.base import build_model
    from engine.models.checkpoints import save_checkpoint
    import engine.models.pointnet  # noqa: F401

    torch.manual_seed(0)
    model = build_model("pointnet", num_classes=10, width=0.125)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.safetensors"
    save_checkpoint(path, model, {"classes": BUILTIN_CLASSES, "normalisation": {"points": 256, "sampling": "random"}})
    return str(path)


def wait(qtbot, cond, timeout=10000):
    qtbot.waitUntil(cond, timeout=timeout)


def test_builtin_opens_with_a_sample_and_browser_rows(win):
    assert win.session.current.spec == "builtin"
    assert win.browser.model.rowCount() == win.session.current.split("test").count
    assert win.scene.get(CLOUD).n == 2048
    assert "true label" in win.scene.get(CLOUD).title


def test_browser_filters_by_class_and_chooses_samples(win, qtbot):
    b = win.browser
    b.klass.setCurrentIndex(b.klass.findData(2))              # chair
    sp = win.session.current.split("test")
    assert b.model.rowCount() == int((sp.labels == 2).sum()) > 0
    b.table.selectRow(1)
    wait(qtbot, lambda: win.session.sample.label_name == "chair" and win.session.sample.index == int(b.model.rows[1]))
    b.klass.setCurrentIndex(0)
    b.wrong_only.setChecked(True)                            # no predictions yet: nothing shown
    assert b.model.rowCount() == 0 and "Predict split" in b.count.text()
    b.wrong_only.setChecked(False)


def test_pick_a_point_with_a_click(win, qtbot):
    win.set_layout(1)
    win.viewports.render_now()
    v = win.viewports.views[0]
    layer = win.scene.get(CLOUD)
    mat, w, h, ox, oy = win.viewports._projection(v)
    xy, depth = selection.project(layer.points, mat, w, h)
    front = int(np.argmin(depth))                             # nothing can hide the front-most point
    x, y = xy[front][0] + ox, xy[front][1] + oy
    got = []
    win.viewports.picked.connect(got.append)
    from PySide6.QtCore import QPoint, Qt

    widget = win.viewports.vtk
    pos = QPoint(int(round(x)), int(round(widget.height() - 1 - y)))
    qtbot.mouseClick(widget, Qt.LeftButton, pos=pos)
    wait(qtbot, lambda: bool(got))
    info = got[-1]
    assert info is not None and info["layer"] == CLOUD
    assert np.linalg.norm(np.array(info["xyz"]) - layer.points[front]) < 0.05
    assert f"point {info['index']:,}" in win.status.text()


def test_switch_colour_maps(win, qtbot):
    from viewer.scene import Scalar

    pts = win.scene.get(CLOUD).points
    win.scene.set_scalar(CLOUD, "height", Scalar(pts[:, 2], title="height z", normalisation="raw coordinate"))
    panel = win.layers
    panel.select(CLOUD)
    assert panel.scalar.currentData() == "height"
    panel.cmap.setCurrentText("cividis")
    assert win.scene.get(CLOUD).cmap == "cividis"
    actor = win.viewports.views[0].actors[CLOUD]
    lut = actor.mapper.GetLookupTable()
    rgb = [lut.GetTableValue(0)[i] * 255 for i in range(3)]
    assert np.allclose(rgb, colormaps.table("cividis")[0], atol=1)
    assert win.viewports.views[0].bar_title.GetInput().startswith("height z")
    panel.scalar.setCurrentIndex(0)                            # back to a solid colour
    assert win.scene.get(CLOUD).active is None


def test_inspect_select_and_deletion_curve(win, qtbot, checkpoint):
    panel = win.method_panels[0]
    win.set_layout(2)
    win.session.open_checkpoint(checkpoint)
    wait(qtbot, lambda: panel.result is not None, timeout=30000)
    s = win.session.sample
    assert s.model_indices.size == 256
    assert win.scene.get("inspect.input").note == "256 of 2,048 points used by the model"
    assert win.scene.get("inspect.transformed").view == 1
    assert win.viewports.views[1].actors                        # the T-Net view is drawn
    assert len(panel.bars.rows) == 5 and "predicted" in panel.prediction.text()
    assert win.browser.model.preds[s.index] >= 0               # the browser shows the prediction
    # box-select the left half of viewport 1 and classify without it
    win.viewports.render_now()
    v = win.viewports.views[0]
    (w, h), (ox, oy) = v.renderer.GetSize(), v.renderer.GetOrigin()
    idx = win.viewports.select_path("box", [(ox, oy), (ox + w / 2, oy + h)])
    from viewer.scene import Selection

    win.scene.set_selection(Selection("inspect.input", idx))
    assert 0 < idx.size < 256 and panel.without_btn.isEnabled()
    panel.without_btn.click()
    wait(qtbot, lambda: "predicted" in panel.subset_label.text(), timeout=15000)
    assert f"without the {idx.size:,} selected" in panel.subset_label.text()
    panel.steps.setValue(4)
    panel.orders.setValue(2)
    panel.deletion_curve()
    wait(qtbot, lambda: "area under curve" in panel.curve_label.text(), timeout=20000)
    plot = win.plots.items["inspect.deletion"]
    assert len(plot.listDataItems()) == 2


def test_save_and_reopen_result_and_screenshots(win, qtbot, tmp_path):
    path = tmp_path / "inspect.h5"
    inspect = next(r for t, r in reversed(win.session.results) if r.kind == "inspect")
    win.session.save_result(str(path), inspect)
    wait(qtbot, lambda: path.is_file())
    win.scene.clear("inspect.")
    win.open_path(str(path))
    wait(qtbot, lambda: "inspect.input" in win.scene)
    assert np.allclose(win.scene.get("inspect.input").points, inspect.arrays["points"])
    import imageio.v3 as iio

    shot = tmp_path / "view.png"
    win.save_viewport_screenshot(str(shot), view=0, transparent=True, scale=1)
    img = iio.imread(shot)
    assert img.shape[2] == 4 and img[0, 0, 3] == 0 and img[..., 3].max() == 255
    whole = tmp_path / "window.png"
    assert win.save_window_screenshot(str(whole))
    assert iio.imread(whole).shape[:2] == (win.height(), win.width())


def test_run_and_cancel_a_job_from_the_jobs_dock(win, qtbot):
    _Sleep.cleaned.clear()
    h = win.session.run_method("viewer-test-sleep", {}, {"seconds": 30.0}, name="sleep")
    wait(qtbot, lambda: h.state == RUNNING and h.progress is not None)
    row = win.jobs.row_of(h)
    assert win.jobs.item(row, 0).text() == "sleep"
    win.jobs.cellWidget(row, 4).click()                      # the Cancel button
    wait(qtbot, lambda: h.state == CANCELLED, timeout=1000)
    assert _Sleep.cleaned == ["pointlens-engine"] and win.jobs.item(row, 1).text() == "cancelled"


def test_a_corrupt_file_shows_an_error_and_keeps_what_was_open(win, qtbot, tmp_path):
    before = win.session.current
    sample = win.session.sample
    bad = tmp_path / "corrupt.h5"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"garbage" * 50)
    n_dialogs = len(win.error_dialogs)
    win.open_path(str(bad))
    wait(qtbot, lambda: len(win.error_dialogs) > n_dialogs)
    assert "corrupt.h5" in win.error_dialogs[-1].text()
    assert win.session.current is before and win.session.sample is sample and CLOUD in win.scene
    for d in list(win.error_dialogs):
        d.close()


def test_real_files_from_shared_data(win, qtbot, shared_data):
    win.open_path(str(shared_data / "modelnet10_hdf5_1024"))
    wait(qtbot, lambda: win.session.current.spec.endswith("modelnet10_hdf5_1024") and win.session.sample is not None
         and win.session.sample.dataset is win.session.current, timeout=20000)
    s = win.session.sample
    assert s.split == "test" and s.total == 1024 and s.label_name in BUILTIN_CLASSES
    assert win.browser.model.rowCount() == 908
    win.open_path(str(shared_data / "scans" / "open3d-ml" / "fragment.pcd"))
    panel = win.method_panels[0]
    wait(qtbot, lambda: win.session.sample is not None and win.session.sample.total == 113_662
         and panel.result is not None and panel.sample is win.session.sample, timeout=30000)
    assert panel.used.text() == "256 of 113,662 points used by the model"
    assert win.scene.get("inspect.input").note == panel.used.text()
    assert win.scene.get(CLOUD).n == 113_662 and win.scene.get(CLOUD).visible   # the rest as grey context


def test_bad_settings_values_fall_back_to_defaults(tmp_path, qapp):
    from viewer.settings import Settings

    path = tmp_path / "s.ini"
    path.write_text("[layout]\nviewports=7\nlinked=maybe\n[view]\npoint_size=big\n[data]\nrecent=just-one\n")
    s = Settings(str(path))
    assert s.get("layout/viewports") == 2 and s.get("layout/linked") is True
    assert s.get("view/point_size") == 5.0 and s.get("data/recent") == ["just-one"]
    assert s.add_recent("a")[:2] == ["a", "just-one"]


def test_closing_during_a_job_cancels_it_and_joins_the_thread(qapp, qtbot, tmp_path):
    w = make_window(tmp_path)
    wait(qtbot, lambda: CLOUD in w.scene, timeout=30000)
    _Sleep.cleaned.clear()
    h = w.session.run_method("viewer-test-sleep", {}, {"seconds": 30.0})
    wait(qtbot, lambda: h.state == RUNNING)
    t0 = time.monotonic()
    w.close()
    assert time.monotonic() - t0 < 2.0
    assert not w.client.thread_running() and _Sleep.cleaned == ["pointlens-engine"]
    assert h.cancel_event.is_set()
    from viewer.settings import Settings

    again = Settings(str(tmp_path / "settings.ini"))           # what was set persists
    assert again.get("layout/viewports") == w.viewports.count and again.get("window/geometry") is not None


def test_uncaught_gui_exceptions_go_to_the_log_and_a_dialog(win, qtbot):
    import sys

    from viewer.app import install_exception_hook

    old = sys.excepthook
    install_exception_hook(lambda: win)
    try:
        n = len(win.error_dialogs)
        try:
            raise RuntimeError("boom in a slot")
        except RuntimeError:
            sys.excepthook(*sys.exc_info())
        assert len(win.error_dialogs) == n + 1 and "boom in a slot" in win.error_dialogs[-1].text()
        wait(qtbot, lambda: "boom in a slot" in win.log_view.text())
        for d in list(win.error_dialogs):
            d.close()
    finally:
        sys.excepthook = old


def test_dropping_a_file_opens_it(win, qtbot, tmp_path):
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent

    from engine.data import save_h5

    pts = np.random.default_rng(0).normal(size=(3, 300, 3)).astype(np.float32)
    path = save_h5(tmp_path / "dropped.h5", pts, np.array([0, 1, 0]), ["a", "b"])
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    ev = QDropEvent(QPointF(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    win.dropEvent(ev)
    wait(qtbot, lambda: win.session.current.spec == str(path) and win.session.sample.total == 300)
    assert str(path) in win.settings.get("data/recent")


def test_without_opengl_the_app_says_so_instead_of_crashing(tmp_path):
    import os
    import subprocess
    import sys

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")   # a platform with no OpenGL here
    out = subprocess.run([sys.executable, "-m", "viewer.launch", "--screenshot", str(tmp_path / "x.png"),
                          "--settings", str(tmp_path / "s.ini")], env=env, capture_output=True, text=True,
                         timeout=60)
    if out.returncode == 0:
        pytest.skip("this machine offers OpenGL on Qt's offscreen platform")
    assert out.returncode == 1 and "OpenGL" in out.stderr and "LIBGL_ALWAYS_SOFTWARE=1" in out.stderr
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    out = subprocess.run([sys.executable, "-m", "viewer.launch"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "xvfb-run -a pointlens" in out.stderr


def test_the_gui_draws_its_first_sample_without_importing_torch(tmp_path):
    import os
    import subprocess
    import sys

    env = dict(os.environ, POINTLENS_TIMING="1")
    out = subprocess.run([sys.executable, "-m", "viewer.launch", "--data", "builtin", "--checkpoint", "none",
                          "--settings", str(tmp_path / "s.ini"), "--screenshot", str(tmp_path / "shot.png")],
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    frame = [l for l in out.stdout.splitlines() if l.startswith("pointlens-timing first frame")]
    assert frame and frame[0].endswith("torch=False")
    assert (tmp_path / "shot.png").stat().st_size > 10_000


def test_linked_and_unlinked_cameras(win):
    grid = win.viewports
    win.set_layout(2)
    win.set_linked(True)
    a, b = (v.renderer.GetActiveCamera() for v in grid.views[:2])
    direction = lambda c: np.array(c.GetDirectionOfProjection())
    grid.set_view("-y")
    assert np.allclose(direction(a), (0, 1, 0), atol=1e-6) and np.allclose(direction(b), (0, 1, 0), atol=1e-6)
    a.Azimuth(40)                                    # the user orbits view 1 ...
    grid.render_now()
    assert np.allclose(direction(b), direction(a), atol=1e-6)   # ... and view 2 turns with it
    win.set_linked(False)
    a.Azimuth(40)
    grid.render_now()
    assert not np.allclose(direction(b), direction(a), atol=1e-3)
    grid.set_view("+x", view=1)                      # unlinked: only view 2 moves
    assert np.allclose(direction(b), (-1, 0, 0), atol=1e-6)
    assert not np.allclose(direction(a), (-1, 0, 0), atol=1e-3)
    win.set_linked(True)                             # linking lines view 2 up with view 1
    grid.render_now()
    assert np.allclose(direction(b), direction(a), atol=1e-6)
    win.set_parallel(True)
    assert a.GetParallelProjection() and b.GetParallelProjection()
    win.set_parallel(False)
    grid.reset_camera()


def test_box_selection_with_the_mouse(win, qtbot):
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest

    grid, widget = win.viewports, win.viewports.vtk
    name = "inspect.input" if "inspect.input" in win.scene else CLOUD
    grid.select_layer, grid.select_mode = name, "box"
    try:
        grid.render_now()
        v = next(c for c in grid.views[:grid.count] if name in c.actors)
        (w, h), (ox, oy) = v.renderer.GetSize(), v.renderer.GetOrigin()
        top_left = QPoint(int(ox + 2), int(widget.height() - (oy + h) + 2))         # Qt y runs down
        bottom_mid = QPoint(int(ox + w / 2), int(widget.height() - oy - 2))
        QTest.mousePress(widget, Qt.LeftButton, Qt.NoModifier, top_left)
        QTest.mouseMove(widget, bottom_mid)
        QTest.mouseRelease(widget, Qt.LeftButton, Qt.NoModifier, bottom_mid)
        sel = win.scene.selection
        assert sel is not None and sel.layer == name
        expected = grid.select_path("box", [(ox + 2, oy + h - 2), (ox + w / 2, oy + 2)])
        assert 0 < len(sel.indices) < win.scene.get(name).n
        assert abs(len(sel.indices) - len(expected)) <= 0.02 * len(expected) + 2
        assert "_selection" in win.scene                                         # highlighted
    finally:
        grid.select_mode = None
        win.scene.set_selection(None)


def test_the_first_model_ready_imports_the_plot_library_ahead_of_the_first_run(win, checkpoint, qtbot, monkeypatch):
    """pyqtgraph is imported on first use (start-up does not pay for it); at the first Flow AM run
    that import froze the window ~0.5 s, so the window imports it once a model is ready."""
    import sys
    from types import SimpleNamespace

    import viewer.window

    imported = []
    monkeypatch.setattr(viewer.window, "importlib", SimpleNamespace(import_module=imported.append))
    monkeypatch.delitem(sys.modules, "pyqtgraph", raising=False)   # as in a fresh process
    win.session.open_checkpoint(checkpoint)
    wait(qtbot, lambda: imported == ["pyqtgraph"])
