"""``pointlens --self-test``: run one tiny job of EVERY registered method through the real app.

Used by ``packaging/smoke`` on the frozen bundle (a method whose modules, data files or native
libraries were left out fails here instead of on a user's machine) and by
tests/viewer/test_selftest.py from source. The window opens on the built-in dataset; after the
first sample is drawn the engine thread lists ``engine.core.registry.METHODS`` (the viewer never
imports torch itself), then each method runs ONCE, in turn, via ``session.run_method`` with the
tiny inputs and parameters of ``engine.specs.examples`` and the demo checkpoints in assets/. Its result is drawn
(``session.add_result``) so the result-to-layer code runs too.

A registered method without an example is a FAILURE: a new method must get one.
One line per method (``ok``/``FAIL``, seconds, message), a screenshot of the window, then exit
code 0 only if every method passed (1: some failed, 3: the overall timeout hit).
"""
from __future__ import annotations

import logging
import time

from typing import Any

import numpy as np

from engine.specs.examples import EXAMPLES

log = logging.getLogger("pointlens")

POINTS = 256          # points given to per-cloud methods (the demo models take any count)


def _pts(sample) -> np.ndarray:
    return np.ascontiguousarray(sample.model_input[:POINTS], dtype=np.float32)


def _check_plot(win, results: dict) -> str:
    """pyqtgraph in the Plots dock (imported on first use), with the deletion curve."""
    res = results.get("deletion-curve")
    if res is None:
        raise RuntimeError("no deletion-curve result to plot")
    item = win.plots.plot("selftest", title="self-test: deletion curve", x_label="points deleted",
                          y_label="probability")
    item.plot(res.arrays["k"], res.arrays["probability"], name="by scalar")
    return f"{len(res.arrays['k'])} points plotted"


def _check_export(win, results: dict) -> str:
    """A viewport image written with imageio (the File > Save view path)."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "view.png"
        win.save_viewport_screenshot(str(path), scale=1)
        size = path.stat().st_size
    if size < 1000:
        raise RuntimeError(f"the viewport image is only {size} bytes")
    return f"viewport PNG {size:,} bytes"


def _check_ffmpeg(win, results: dict) -> str:
    """The ffmpeg binary MP4 movies are written with (imageio-ffmpeg)."""
    import os

    import imageio_ffmpeg

    exe = imageio_ffmpeg.get_ffmpeg_exe()
    if not os.access(exe, os.X_OK):
        raise RuntimeError(f"{exe} is not executable")
    return os.path.basename(exe)


def _check_auction(win, results: dict) -> str:
    """The compiled assignment kernel training batches use (numba; a bundle must carry it, or
    SageMix/PointMixup training silently falls back to the slower exact solver)."""
    from engine import auction_assign, auction_available

    if not auction_available():
        raise RuntimeError("numba could not compile the auction kernel")
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(64, 3)), rng.normal(size=(64, 3)) * [1.5, 0.5, 0.5]
    perm, cost, lower = auction_assign(a, b)
    if sorted(perm.tolist()) != list(range(64)) or not lower <= cost <= 1.01 * lower + 1e-9:
        raise RuntimeError(f"auction result is wrong (cost {cost}, bound {lower})")
    return f"64-point pair within {100 * (cost / lower - 1):.2f} % of the optimum"


VIEWER_CHECKS = {"viewer:plots": _check_plot, "viewer:image": _check_export, "viewer:ffmpeg": _check_ffmpeg,
                 "engine:auction": _check_auction}


def registered_methods() -> list[str]:
    """Engine thread: import the engine's method modules (torch) and list what registered."""
    from engine import method_names

    return method_names()


class SelfTest:
    """Drives the window: list methods, run each in turn, screenshot, close with an exit code."""

    def __init__(self, win, screenshot: str | None, timeout: float = 600.0, out=None):
        self.win, self.session = win, win.session
        self.screenshot, self.timeout = screenshot, timeout
        self.out = out or (lambda line: print(line, flush=True))
        self.queue: list[str] = []
        self.lines: dict[str, tuple[bool, float, str]] = {}
        self.results: dict[str, Any] = {}
        self.code: int | None = None
        self.t0 = time.perf_counter()
        self._current: str | None = None
        self._started = False

    # ---- driving -----------------------------------------------------------------------------
    def start(self) -> None:
        """Call once the first sample is drawn."""
        if self._started:
            return
        self._started = True
        from PySide6.QtCore import QTimer

        from .work import Request

        QTimer.singleShot(int(self.timeout * 1000), self._timed_out)
        self.out(f"self-test: listing methods ({time.perf_counter() - self.t0:.1f} s after start)")
        self.session.client.submit(Request("Self-test: list methods", registered_methods,
                                           on_result=self._got_methods, quiet=True,
                                           on_error=lambda msg: self._finish_with(f"could not list methods: {msg}")))

    def _got_methods(self, names: list[str]) -> None:
        missing = [n for n in names if n not in EXAMPLES]
        stale = [n for n in EXAMPLES if n not in names]
        for n in missing:
            self._report(n, False, 0.0, "no example: add one to engine/specs/examples.py")
        for n in stale:
            self._report(n, False, 0.0, "has an example but is not registered (engine/catalog.py does not import it)")
        self.queue = [n for n in names if n in EXAMPLES]
        self.out(f"self-test: {len(names)} methods registered: {', '.join(names)}")
        self._next()

    def _next(self) -> None:
        if self.code is not None:
            return
        if not self.queue:
            self._viewer_checks()
            self._finish()
            return
        name = self._current = self.queue.pop(0)
        sample = self.session.sample
        t = time.perf_counter()
        try:
            case = EXAMPLES[name]
            inputs = case.inputs(_pts(sample), sample.label)
        except Exception as exc:   # a broken table entry is a failure of that method, not a crash
            self._report(name, False, 0.0, f"building inputs: {type(exc).__name__}: {exc}")
            self._later(self._next)
            return

        def done(res) -> None:
            ok, msg = self._check(name, res)
            self._report(name, ok, time.perf_counter() - t, msg)
            self._later(self._next)

        def failed(msg: str) -> None:
            self._report(name, False, time.perf_counter() - t, msg)
            self._later(self._next)

        self.session.run_method(name, inputs, dict(case.params), model=case.model, name=f"Self-test: {name}",
                                target=f"selftest.{name}", on_result=done, on_error=failed)

    def _check(self, name: str, res) -> tuple[bool, str]:
        from engine import Result

        if not isinstance(res, Result):
            return False, f"returned {type(res).__name__}, not a Result"
        bad = [k for k, a in res.arrays.items()
               if isinstance(a, np.ndarray) and a.dtype.kind == "f" and a.size and not np.isfinite(a).any()]
        if bad:
            return False, f"arrays with no finite value: {', '.join(bad)}"
        self.results[name] = res
        try:
            self.session.add_result(f"self-test {name}", res)
        except Exception as exc:   # drawing a result is part of what must work
            return False, f"drawing the result: {type(exc).__name__}: {exc}"
        return True, f"{res.kind}: {len(res.arrays)} arrays, {len(res.metrics)} metrics"

    def _viewer_checks(self) -> None:
        """Viewer features that import more libraries on first use (a bundle must carry them)."""
        for name, check in VIEWER_CHECKS.items():
            t = time.perf_counter()
            try:
                msg = check(self.win, self.results)
                ok = True
            except Exception as exc:   # reported, not raised: the other checks still run
                ok, msg = False, f"{type(exc).__name__}: {exc}"
            self._report(name, ok, time.perf_counter() - t, msg)

    @staticmethod
    def _later(fn) -> None:
        from PySide6.QtCore import QTimer

        QTimer.singleShot(0, fn)

    # ---- reporting ---------------------------------------------------------------------------
    def _report(self, name: str, ok: bool, seconds: float, msg: str) -> None:
        if name in self.lines:
            return
        self.lines[name] = (ok, seconds, msg)
        msg = " ".join(str(msg).split())   # one line per method, whatever the message
        self.out(f"self-test {'ok  ' if ok else 'FAIL'} {name:<18} {seconds:6.1f} s  {msg}")

    def _timed_out(self) -> None:
        if self.code is not None:
            return
        for n in ([self._current] if self._current else []) + self.queue:
            self._report(n, False, 0.0, f"not finished within the self-test timeout ({self.timeout:.0f} s)")
        self.queue = []
        self.session.client.cancel_all()
        self._finish(code=3)

    def _finish_with(self, msg: str) -> None:
        self.out(f"self-test FAIL {msg}")
        self._finish(code=1)

    def _finish(self, code: int | None = None) -> None:
        if self.code is not None:
            return
        self.code = -1   # finishing: no more jobs start; the screenshot waits for the docks to repaint
        from PySide6.QtCore import QTimer

        QTimer.singleShot(300, lambda: self._close(code))

    def _close(self, code: int | None) -> None:
        failed = [n for n, (ok, _, _) in self.lines.items() if not ok]
        self.code = code if code is not None else (1 if failed or not self.lines else 0)
        shot = ""
        if self.screenshot:
            saved = self.win.save_window_screenshot(self.screenshot)
            shot = f"; screenshot {self.screenshot} {'saved' if saved else 'NOT saved'}"
            if not saved:
                self.code = self.code or 1
        passed = len(self.lines) - len(failed)
        self.out(f"self-test {'PASSED' if self.code == 0 else 'FAILED'}: {passed}/{len(self.lines)} checks ok "
                 f"in {time.perf_counter() - self.t0:.1f} s{shot}"
                 + (f"; failed: {', '.join(failed)}" if failed else ""))
        self.win.close()


def scratch_settings() -> str:
    """A settings file in a fresh temporary folder (removed at exit): the self-test starts from the
    defaults (built-in dataset, demo PointNet) and never changes the user's settings."""
    import atexit
    import shutil
    import tempfile
    from pathlib import Path

    folder = tempfile.mkdtemp(prefix="pointlens-selftest-")
    atexit.register(shutil.rmtree, folder, True)
    return str(Path(folder) / "settings.ini")


def install(win, screenshot: str | None, timeout: float) -> SelfTest:
    """Hook a self-test to a freshly shown window; it starts on the first drawn sample."""
    test = SelfTest(win, screenshot, timeout)
    win.sample_drawn.connect(test.start)
    return test

