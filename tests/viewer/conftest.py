"""Viewer tests: free every window (and its VTK X connection) while the virtual X server is
still up; pytest-xvfb stops it at exit, and a VTK window destroyed after that aborts the run."""
from __future__ import annotations

import gc
import time

import pytest


def make_window(tmp_path, data="builtin"):
    """The real main window with its own settings file, shown at a fixed size."""
    from viewer.settings import Settings
    from viewer.window import MainWindow

    settings = Settings(str(tmp_path / "settings.ini"))
    win = MainWindow(data=data, checkpoint="none", settings=settings)
    win.resize(1300, 800)
    win.show()
    return win


@pytest.fixture(scope="module")
def win(qapp, tmp_path_factory):
    """One window per test module, open on the built-in dataset with its first sample drawn."""
    from viewer.session import CLOUD

    w = make_window(tmp_path_factory.mktemp("win"))
    t0 = time.monotonic()
    while not (CLOUD in w.scene and w.viewports.frames > 0) and time.monotonic() - t0 < 30:
        qapp.processEvents()
        time.sleep(0.01)
    assert CLOUD in w.scene, "the built-in dataset's first sample was not drawn"
    yield w
    w.close()


@pytest.fixture(scope="session", autouse=True)
def _collect_windows_before_xvfb_stops():
    yield
    try:
        from PySide6.QtWidgets import QApplication

        app = QApplication.instance()
        if app is not None:
            for w in app.topLevelWidgets():
                w.close()
                w.deleteLater()
            app.processEvents()
    except ImportError:
        pass
    gc.collect()
