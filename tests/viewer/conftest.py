"""Viewer tests: free every window (and its VTK X connection) while the virtual X server is
still up; pytest-xvfb stops it at exit, and a VTK window destroyed after that aborts the run."""
from __future__ import annotations

import gc
import time

import pytest

BUILTIN_CLASSES = ["bathtub", "bed", "chair", "desk", "dresser", "monitor", "night_stand", "sofa", "table", "toilet"]


def make_window(tmp_path, data="builtin"):
    """The real main window with its own settings file, shown at a fixed size."""
    from viewer.settings import Settings
    from viewer.window import MainWindow

    settings = Settings(str(tmp_path / "settings.ini"))
    win = MainWindow(data=data, checkpoint="none", settings=settings)
    win.resize(1300, 800)
    win.show()
    return win


def settle(qapp, seconds=0.4):
    """Run the event loop for ``seconds`` (timers, layout passes and renders happen)."""
    t = time.monotonic()
    while time.monotonic() - t < seconds:
        qapp.processEvents()
        time.sleep(0.01)


@pytest.fixture
def drawn_window(qapp, tmp_path):
    """A window of its own (``make_window``), once the built-in dataset's first sample is drawn."""
    from viewer.session import CLOUD

    w = make_window(tmp_path)
    t0 = time.monotonic()
    while not (CLOUD in w.scene and w.viewports.frames > 0) and time.monotonic() - t0 < 30:
        qapp.processEvents()
        time.sleep(0.01)
    yield w
    w.close()


def panel_named(win, name):
    """The window's method panel ``name``, brought to the front (its tab selected)."""
    panel = next((p for p in win.method_panels if p.name == name), None)
    assert panel is not None, f"panel '{name}' is not in the window (see viewer/panels/__init__.py)"
    win.tabs.setCurrentIndex(win.method_panels.index(panel))
    return panel


def save_tiny_checkpoint(path, key="pointnet", *, width=0.125, points=128, classes=BUILTIN_CLASSES, seed=0,
                         **config) -> str:
    """A small untrained model saved as a checkpoint (classifiers get the built-in class names)."""
    import torch

    import engine.models.zoo  # noqa: F401 - registers the models
    from engine.models.base import build_model
    from engine.models.checkpoints import save_checkpoint

    torch.manual_seed(seed)
    meta = {"normalisation": {"points": points, "sampling": "random"}}
    if classes:
        config.setdefault("num_classes", len(classes))
        meta["classes"] = list(classes)
    save_checkpoint(path, build_model(key, width=width, **config), meta)
    return str(path)


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    """A tiny untrained PointNet for the 10 built-in classes (128 points)."""
    return save_tiny_checkpoint(tmp_path_factory.mktemp("cls") / "tiny_pointnet.safetensors")


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
