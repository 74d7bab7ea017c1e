"""Viewer tests: free every window (and its VTK X connection) while the virtual X server is
still up; pytest-xvfb stops it at exit, and a VTK window destroyed after that aborts the run."""
from __future__ import annotations

import gc

import pytest


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
