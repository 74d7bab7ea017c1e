"""``pointlens --screenshot`` is right every time (issue 17): the real command line, ten times,
each in a fresh process with fresh settings, while a plain magenta window of this test process
lies over the whole screen (raised every 30 ms, so over the app's window too). Every PNG must be
the window's size, show the data browser and the method panels painted (not black, not one
colour), show the cloud in the first 3D view, and hold no pixel of the window lying over it.

The regions come from the screenshot's own provenance (MainWindow._regions: widget geometry,
not pixels). Two of the ten runs keep the default model (a fresh settings file opens
demo:pointnet, so torch is imported while the window draws, the load the issue saw the race
under); the rest use ``--checkpoint none`` (same screenshot path, ~3.5 s a run instead of ~7).
"""
from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest

pytestmark = [pytest.mark.gui, pytest.mark.slow]

RUNS = 10
WITH_MODEL = {0, 5}           # runs that keep the default model (torch loads meanwhile)
SIZE = (1200, 800)
OVERLAY = (255, 0, 255)       # pure magenta: no widget style, colour map or caption draws it


def _overlay(qapp):
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QColor, QPalette
    from PySide6.QtWidgets import QWidget

    w = QWidget(None, Qt.Window | Qt.FramelessWindowHint | Qt.WindowStaysOnTopHint)
    pal = w.palette()
    pal.setColor(QPalette.Window, QColor(*OVERLAY))
    w.setPalette(pal)
    w.setAutoFillBackground(True)
    w.setGeometry(qapp.primaryScreen().geometry())
    w.show()
    return w


def _launch(qapp, overlay, tmp_path, i: int) -> tuple[np.ndarray, dict, str]:
    from PIL import Image

    from viewer.provenance import read_png_provenance

    shot = tmp_path / f"shot{i}.png"
    env = dict(os.environ, POINTLENS_SETTINGS=str(tmp_path / f"settings{i}.ini"), OMP_NUM_THREADS="1")
    argv = [sys.executable, "-m", "viewer.launch", "--screenshot", str(shot), "--size", f"{SIZE[0]}x{SIZE[1]}",
            "--timeout", "90"]
    if i not in WITH_MODEL:
        argv += ["--checkpoint", "none"]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 150
    while proc.poll() is None and time.monotonic() < deadline:
        overlay.raise_()              # stay over the app's window once it maps
        qapp.processEvents()
        time.sleep(0.03)
    if proc.poll() is None:
        proc.kill()
    out = proc.communicate()[0]
    assert proc.returncode == 0, f"run {i}: exit {proc.returncode}\n{out[-3000:]}"
    with Image.open(shot) as im:
        img = np.asarray(im.convert("RGB"))
    return img, read_png_provenance(str(shot)), out


def _crop(img, rect, fx=(0.0, 1.0), fy=(0.0, 1.0)):
    x, y, w, h = rect
    return img[y + int(h * fy[0]):y + int(h * fy[1]), x + int(w * fx[0]):x + int(w * fx[1])]


def _check_widgets(img, rect, what, i):
    area = _crop(img, rect)
    assert area.size, f"run {i}: {what} region {rect} is empty"
    colours = len(np.unique(area.reshape(-1, 3), axis=0))
    assert area.mean() > 120, f"run {i}: {what} is dark (mean {area.mean():.0f}): not painted"
    assert colours > 20, f"run {i}: {what} has {colours} colours: not painted (text, frames, selection)"


def _check_cloud(img, rect, i):
    # The first view is the left half of the 3D area (two views by default; the whole area with
    # one). Its middle holds the cloud; the caption (top) and the axis triad (bottom left) lie
    # outside this box.
    x, y, w, h = rect
    left = [x, y, w // 2, h]
    middle = _crop(img, left, fx=(0.15, 0.85), fy=(0.25, 0.75)).reshape(-1, 3).astype(int)
    values, counts = np.unique(middle, axis=0, return_counts=True)
    background = values[counts.argmax()]
    assert background.min() > 200, f"run {i}: 3D view background {background}: the view was not drawn"
    far = np.abs(middle - background).sum(axis=1) > 90
    assert far.mean() > 0.02, f"run {i}: only {far.mean():.2%} of the view's middle differs from the background: no cloud"


def test_screenshot_ten_times_every_image_right(qapp, tmp_path):
    overlay = _overlay(qapp)
    try:
        for i in range(RUNS):
            img, prov, out = _launch(qapp, overlay, tmp_path, i)
            h, w = img.shape[:2]
            assert prov.get("export") == "window screenshot", f"run {i}: {prov}"
            assert (w, h) == tuple(prov["window_size"]) == SIZE, f"run {i}: image {w}x{h}, window {prov['window_size']}"
            hits = int(np.all(img == OVERLAY, axis=2).sum())
            assert hits == 0, f"run {i}: {hits} pixels of the window lying over the app"
            regions = prov["regions"]
            assert set(regions) == {"data", "methods", "views"}, f"run {i}: {regions}"
            _check_widgets(img, regions["data"], "the data browser", i)
            _check_widgets(img, regions["methods"], "the method panels", i)
            _check_cloud(img, regions["views"], i)
    finally:
        overlay.close()
