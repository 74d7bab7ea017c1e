"""Record a viewport to MP4 or GIF: a camera orbit, or a sweep of a panel's slider.

The recorder is timer-driven (one frame per event-loop turn, never one blocking loop), so the
window stays responsive, the progress dialog can cancel, and panels that redraw on a slider
change (or start an engine job for it) get to do so before the frame is taken:

    set up (orbit: turn the camera; sweep: move the slider) -> wait until the panel's jobs are
    finished and the scene settled -> render the frame off-screen -> next

Frames come from one ``render_offscreen.OffscreenView`` kept for the whole movie (the same off-screen
redraw as viewport screenshots without a new render window per frame: ~10x faster, see
tests/bench/test_bench_movie.py) at an even size (H.264 in yuv420p needs even width and
height). It is released when the recording ends, is cancelled or fails, or the window closes.
The movie is written to a hidden temporary file beside the target, fsynced and renamed over it
only when complete, so a cancel or an error never leaves a partial movie; the provenance goes
beside it as PATH.provenance.json.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtWidgets import QSlider

from engine import replace_durably, temp_beside
from engine import DataError, ParameterError

from . import provenance, render, render_offscreen

log = logging.getLogger("pointlens")
FORMATS = {".mp4": "mp4", ".gif": "gif"}
REPLAY_SLIDER = "flowam.replay"     # objectName the Flow AM panel gives its timeline
MAX_FRAMES = 3600
# what a movie puts back on the camera when it ends (an orbit turns it; a sweep may move it)
CAMERA_FIELDS = ("Position", "FocalPoint", "ViewUp", "ParallelScale", "ViewAngle")


# ---- checks --------------------------------------------------------------------------------------
def movie_format(path: str) -> str:
    """'mp4' or 'gif' from the file name; a clear error for anything else or an unusable folder."""
    p = Path(os.fspath(path))
    fmt = FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise DataError(f"{p}: a movie must be named .mp4 or .gif (got '{p.suffix or 'no extension'}')",
                        hint="add .mp4 (H.264 video) or .gif (animated image) to the file name")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise DataError(f"{p}: the folder {parent} does not exist (or is a file)",
                        hint="choose an existing folder for the movie")
    if not os.access(parent, os.W_OK):
        raise DataError(f"{p}: the folder {parent} is not writable", hint="choose a folder you can write to")
    if p.is_dir():
        raise DataError(f"{p}: is a folder", hint="give a file name ending in .mp4 or .gif")
    return fmt


def even_size(w: int, h: int) -> tuple[int, int]:
    """Round down to even sides (at least 16 px): yuv420p H.264 rejects odd sizes."""
    return max(16, int(w) - int(w) % 2), max(16, int(h) - int(h) % 2)


# ---- writers ---------------------------------------------------------------------------------------
class MovieSink:
    """Frames -> a hidden temp file beside ``path``; ``commit`` renames it over ``path``, ``abort``
    deletes it. The temp keeps the real extension: ffmpeg picks the container from it."""

    def __init__(self, path: str, fps: float, size: tuple[int, int]):
        self.path = os.fspath(path)
        self.fmt = movie_format(self.path)
        self.fps = float(fps)
        self.size = size
        self.count = 0
        self.tmp = str(temp_beside(self.path, f".part{Path(self.path).suffix}"))
        self._gif: list[Any] = []
        self._writer = None
        if self.fmt == "mp4":
            try:
                import imageio.v2 as iio2

                self._writer = iio2.get_writer(
                    self.tmp, format="FFMPEG", mode="I", fps=self.fps, codec="libx264", quality=8,
                    pixelformat="yuv420p", macro_block_size=1, ffmpeg_log_level="error")
            except Exception as e:  # imageio-ffmpeg missing or ffmpeg failing to start
                self.abort()
                raise DataError(f"{self.path}: cannot start the MP4 encoder: {type(e).__name__}: {e}",
                                hint="install imageio-ffmpeg (pip install imageio-ffmpeg) or save a .gif") from e

    def add(self, frame: np.ndarray) -> None:
        w, h = self.size
        f = np.ascontiguousarray(frame[:h, :w, :3])
        if f.shape[:2] != (h, w):   # a render smaller than asked (tiny window): pad with black
            pad = np.zeros((h, w, 3), np.uint8)
            pad[:f.shape[0], :f.shape[1]] = f
            f = pad
        if self._writer is not None:
            self._writer.append_data(f)
        else:
            from PIL import Image

            # one byte per pixel in memory; Pillow writes the GIF at commit
            self._gif.append(Image.fromarray(f).convert("P", palette=Image.Palette.ADAPTIVE, colors=256))
        self.count += 1

    def commit(self) -> str:
        if self.count == 0:
            self.abort()
            raise DataError(f"{self.path}: no frames were recorded", hint="record at least one frame")
        try:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
            else:
                ms = max(20, int(round(1000.0 / self.fps)))   # GIF delays are in 1/100 s; browsers clamp < 20 ms
                first, rest = self._gif[0], self._gif[1:]
                first.save(self.tmp, format="GIF", save_all=True, append_images=rest, duration=ms, loop=0)
                self._gif = []
            replace_durably(self.tmp, self.path)
        except Exception as e:
            self.abort()
            raise DataError(f"{self.path}: could not write the movie: {type(e).__name__}: {e}",
                            hint="check free disk space and that the folder is writable") from e
        return self.path

    def abort(self) -> None:
        if self._writer is not None:
            try:
                self._writer.close()
            except Exception:  # noqa: BLE001 - the file is deleted anyway
                pass
            self._writer = None
        self._gif = []
        if os.path.exists(self.tmp):
            os.unlink(self.tmp)


# ---- sources -----------------------------------------------------------------------------------------
def slider_label(s: QSlider) -> str:
    """How a slider is named in lists: accessible name, object name, else its tool tip's start."""
    name = s.accessibleName() or s.objectName()
    if not name:
        tip = (s.toolTip() or "").split(":")[0].split("(")[0].strip()
        name = tip[:48] or "slider"
    return f"{name} [{s.minimum()}–{s.maximum()}]"


def sliders_of(widget) -> list[tuple[str, QSlider]]:
    """The enabled sliders under ``widget`` (a method panel), with labels for a list."""
    if widget is None:
        return []
    return [(slider_label(s), s) for s in widget.findChildren(QSlider) if s.isEnabled() and s.maximum() > s.minimum()]


def find_slider(window, object_name: str = REPLAY_SLIDER) -> QSlider | None:
    for panel in getattr(window, "method_panels", []):
        s = panel.findChild(QSlider, object_name)
        if s is not None:
            return s
    return None


def sweep_values(lo: int, hi: int, frames: int | None) -> list[int]:
    """``frames`` slider positions from lo to hi inclusive (all positions when None or more)."""
    n = hi - lo + 1
    if frames is None or frames >= n:
        return list(range(lo, hi + 1))
    return sorted({int(round(v)) for v in np.linspace(lo, hi, max(2, frames))})


@dataclass
class MovieSpec:
    path: str
    source: str = "orbit"                 # "orbit" or "slider"
    view: int = 0                         # 0-based viewport
    frames: int | None = 36               # orbit: frames per turn; slider: positions (None = all)
    fps: float = 12.0
    size: tuple[int, int] | None = None   # None = the viewport's size
    slider: QSlider | None = None
    release: bool = True                  # sweep: also signal "slider released" (panels that run a job on release)
    settle_ms: int = 30                   # sweep: quiet time after the last job before a frame
    step_timeout_s: float = 120.0         # sweep: give up waiting for a panel's job after this
    extra: dict = field(default_factory=dict)


class MovieRecorder(QObject):
    """Records one movie; ``start()`` returns at once, signals report progress and the end."""

    progress = Signal(int, int, str)   # done, total, message
    finished = Signal(str)             # the movie's path
    failed = Signal(str)               # one-line message
    cancelled = Signal()

    def __init__(self, window, spec: MovieSpec):
        super().__init__(window)
        self.window, self.spec = window, spec
        vp = window.viewports
        if not 0 <= spec.view < vp.count:
            raise ParameterError(f"view {spec.view + 1}: the window shows {vp.count} viewport(s)",
                                 hint="pick a viewport that is shown (View > layout)")
        if not 1 <= float(spec.fps) <= 120:
            raise ParameterError(f"fps {spec.fps}: must be between 1 and 120", hint="use e.g. 12 or 25")
        self.content = vp.views[spec.view]
        self.camera = render.camera_of(self.content.renderer)
        self.fmt = movie_format(spec.path)
        if spec.source == "orbit":
            n = int(spec.frames or 36)
            if not 2 <= n <= MAX_FRAMES:
                raise ParameterError(f"frames {n}: an orbit needs 2 to {MAX_FRAMES} frames", hint="use e.g. 36")
            self.steps: list[Any] = [360.0 * k / n for k in range(n)]
        elif spec.source == "slider":
            s = spec.slider
            if s is None:
                raise ParameterError("slider sweep: no slider chosen",
                                     hint="show a method panel with a slider (e.g. run Flow AM for its replay)")
            if s.maximum() <= s.minimum():
                raise ParameterError(f"slider '{slider_label(s)}' has a single position; nothing to sweep",
                                     hint="run the panel's method first so the slider has a range")
            self.steps = sweep_values(s.minimum(), s.maximum(), spec.frames)[:MAX_FRAMES]
        else:
            raise ParameterError(f"movie source '{spec.source}': use 'orbit' or 'slider'")
        w, h = spec.size or self.content.size()
        self.size = even_size(w, h)
        self.sink: MovieSink | None = None
        self.offscreen: render_offscreen.OffscreenView | None = None
        self.index = 0
        self.state = "idle"           # idle -> running -> done | failed | cancelled
        self.message = ""
        self._jobs: list = []
        self._wait_since = 0.0
        self._quiet_since: float | None = None
        self._stage = "setup"
        self._saved_camera = None
        self._saved_value = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._tick)

    # ---- control --------------------------------------------------------------------------------
    def start(self) -> "MovieRecorder":
        self.sink = MovieSink(self.spec.path, self.spec.fps, self.size)
        try:
            self.offscreen = render_offscreen.OffscreenView(self.window.scene, self.content.view, self.size)
        except Exception:
            self.sink.abort()
            self.sink = None
            raise
        self.window.installEventFilter(self)     # a window closing mid-movie releases it at once
        self._saved_camera = self._camera_state()
        if self.spec.source == "slider":
            self._saved_value = self.spec.slider.value()
        self.window.client.job_added.connect(self._job_added)
        self.state = "running"
        self._timer.start(0)
        return self

    def cancel(self) -> None:
        if self.state == "running":
            self._end("cancelled")

    def eventFilter(self, obj, ev) -> bool:
        if obj is self.window and ev.type() == QEvent.Close:
            self.cancel()
        return False

    @property
    def total(self) -> int:
        return len(self.steps)

    # ---- the steps -------------------------------------------------------------------------------
    def _job_added(self, handle) -> None:
        self._jobs.append(handle)

    def _busy(self) -> bool:
        from .work import QUEUED, RUNNING

        self._jobs = [h for h in self._jobs if h.state in (QUEUED, RUNNING)]
        return bool(self._jobs) or self.window.client.busy

    def _tick(self) -> None:
        if self.state != "running":
            return
        if not self.window.isVisible() or self.window.viewports.window is None:
            self._end("cancelled")      # the window closed under the recording: drop the movie
            return
        try:
            if self._stage == "setup":
                self._setup(self.steps[self.index])
                self._stage, self._wait_since, self._quiet_since = "wait", time.monotonic(), None
            if self._stage == "wait":
                if not self._settled():
                    self._timer.start(5)
                    return
                frame = self.offscreen.capture(self.camera)
                self.sink.add(frame)
                self.index += 1
                self.progress.emit(self.index, self.total, f"frame {self.index} of {self.total}")
                self._stage = "setup"
                if self.index >= self.total:
                    self._finish()
                    return
            self._timer.start(0)
        except Exception as e:  # noqa: BLE001 - any failure ends the recording with one message
            self.message = str(e) if isinstance(e, (DataError, ParameterError)) else f"{type(e).__name__}: {e}"
            self._end("failed")

    def _setup(self, step) -> None:
        if self.spec.source == "orbit":
            self._restore_camera()
            render.orbit(self.camera, float(step), self.content.renderer)   # about the view-up axis
        else:
            s = self.spec.slider
            s.setValue(int(step))
            if self.spec.release:
                s.sliderReleased.emit()
        self.window.viewports.request_render()    # the user watches it happen

    def _settled(self) -> bool:
        if self.spec.source == "orbit":
            return True
        now = time.monotonic()
        if now - self._wait_since > self.spec.step_timeout_s:
            raise DataError(f"{self.spec.path}: the panel did not finish redrawing within "
                            f"{self.spec.step_timeout_s:.0f} s at slider value {self.steps[self.index]}",
                            hint="cancel long jobs, or sweep a slider that redraws without one")
        if self._busy():
            self._quiet_since = None
            return False
        if self._quiet_since is None:
            self._quiet_since = now
        return (now - self._quiet_since) * 1000.0 >= self.spec.settle_ms

    def _finish(self) -> None:
        try:
            path = self.sink.commit()
            self.sink = None
            provenance.sidecar(path, self.provenance())
        except Exception as e:  # noqa: BLE001
            self.message = str(e)
            self._end("failed")
            return
        self._end("done")

    def provenance(self) -> dict:
        s = self.spec
        extra = dict(source=s.source, frames=self.index, fps=float(s.fps), size=list(self.size),
                     format=self.fmt, **s.extra)
        if s.source == "slider":
            extra.update(slider=slider_label(s.slider), values=[int(v) for v in self.steps[:self.index]])
        else:
            extra.update(degrees_per_frame=360.0 / max(1, self.total))
        return provenance.for_window(self.window, "movie", view=s.view, **extra)

    def _end(self, state: str) -> None:
        self._timer.stop()
        self.state = state
        try:
            self.window.client.job_added.disconnect(self._job_added)
        except (RuntimeError, TypeError):
            pass
        self.window.removeEventFilter(self)
        if self.offscreen is not None:
            self.offscreen.close()
            self.offscreen = None
        if self.sink is not None:
            self.sink.abort()
            self.sink = None
        self._restore_camera()
        if self.spec.source == "slider" and self._saved_value is not None:
            self.spec.slider.setValue(self._saved_value)
        self.window.viewports.request_render()
        if state == "done":
            self.finished.emit(self.spec.path)
        elif state == "failed":
            log.error("movie %s failed: %s", self.spec.path, self.message)
            self.failed.emit(self.message)
        else:
            self.cancelled.emit()

    # ---- camera ------------------------------------------------------------------------------------
    def _camera_state(self) -> tuple:
        return render.camera_state(self.camera, CAMERA_FIELDS)

    def _restore_camera(self) -> None:
        if self._saved_camera is None:
            return
        render.set_camera_state(self.camera, self._saved_camera, CAMERA_FIELDS, self.content.renderer)
