"""Benchmark (``make bench``): GUI stall during a live Flow AM run (issue 5: "GUI stall during a live
run under 50 ms").

The real main window, the Flow AM panel, ``flowam`` on the built-in dataset with 1,024 points and
100 steps, a preview (cloud moved in the viewport + the loss plot) for every step. A 5 ms QTimer
records its ticks on the GUI thread while the job runs; the longest gap between ticks is the
longest the GUI was unresponsive. Reference: the same timer in the same window with nothing
running (the floor of this machine's event loop). Printed: max and p99 of the gaps over the whole
job and per phase: class statistics (before the first cloud preview), the live optimisation
(first to last cloud preview drawn) and the metrics (last preview to the result shown); the
previews drawn, the renders of the viewport and the machine's load (it is shared: a busy
machine stretches every gap).

Models: a PointNet at width 1.0 (untrained: the stall depends on the work per step, not on the
weights; the demo checkpoint is width 0.25) and the demo PointNet when it is built.

Where long gaps came from when this was written (a worker thread that holds the GIL stops the GUI
thread): scipy.linalg.sqrtm in the FID metric (about 0.5-1.2 s for the 1,024-d global feature at
width 1.0; numpy's eigh releases the GIL) and, on the first run in a process only, the import of
scipy.linalg on the worker (~0.1 s). Per preview the GUI pays one viewport render (~20 ms on
software GL at 798 x 500 px; 14 ms of it is the empty frame).

Later (December 2026, 86-170 ms gaps with the demo model), the gaps were GUI-thread work
piling into one turn of the event loop: the cloud's frame (20 ms), the loss plot's redraw
(25-60 ms: its x axis moved every time, so both axes and the grid were laid out anew), the
status label's new text re-laying the panel out (8 ms), and at the first run the Plots dock
appearing in two layout passes, then the Jobs tab appearing behind it (each pass resizing and
redrawing the views and the side docks). docs/architecture.md ("The engine thread") lists
the rules that followed. The window is settled for 0.5 s before each run, so the frame of the
opened model's prediction is not counted as the run's.
"""
from __future__ import annotations

import os
import time

import numpy as np
import pytest

pytestmark = pytest.mark.gui

CLASSES = ["bathtub", "bed", "chair", "desk", "dresser", "monitor", "night_stand", "sofa", "table", "toilet"]
STEPS, POINTS = 100, 1024


class TickRecorder:
    """Ticks of a 5 ms GUI timer, run by a real event loop until ``done()`` (polled every 20 ms)."""

    def __init__(self):
        from PySide6.QtCore import QTimer

        self.ticks: list[float] = []
        self.timer = QTimer()
        self.timer.setInterval(5)
        self.timer.timeout.connect(lambda: self.ticks.append(time.perf_counter()))

    def run(self, done, timeout: float, on_poll=lambda: None) -> np.ndarray:
        from PySide6.QtCore import QEventLoop, QTimer

        loop = QEventLoop()
        t0 = time.perf_counter()
        poll = QTimer()
        poll.setInterval(20)

        def check():
            on_poll()
            if done() or time.perf_counter() - t0 > timeout:
                loop.quit()
        poll.timeout.connect(check)
        self.ticks = []
        self.timer.start()
        poll.start()
        loop.exec()
        poll.stop()
        self.timer.stop()
        return np.asarray(self.ticks)


def _gaps(ticks: np.ndarray, since: float | None = None, until: float | None = None) -> np.ndarray:
    """Gaps between consecutive ticks; with since/until, the gaps that END in [since, until]."""
    g = np.diff(ticks)
    end = ticks[1:]
    keep = np.ones(len(g), bool)
    if since is not None:
        keep &= end >= since
    if until is not None:
        keep &= end <= until
    return g[keep]


def _fmt(g: np.ndarray, idle: np.ndarray | None = None) -> str:
    if len(g) == 0:
        return "no gap ended in this phase (shorter than a tick)"
    out = f"max {g.max() * 1e3:6.1f} ms, p99 {np.percentile(g, 99) * 1e3:5.1f} ms"
    if idle is not None:
        out += f" (x{g.max() / max(idle.max(), 1e-3):5.1f} idle max; target max < 50 ms)"
    return out


class RenderRecorder:
    """Start time, duration and size of every render of the main window's 3D views, and every
    size the views were given: tells a stall spent drawing (a view re-laid-out and redrawn on
    software GL) from one spent waiting for the engine thread's GIL."""

    def __init__(self, viewports):
        self.renders: list[tuple[float, float, tuple[int, int]]] = []
        self._t = 0.0
        window = viewports.window
        window.AddObserver("StartEvent", lambda *a: setattr(self, "_t", time.perf_counter()))
        window.AddObserver("EndEvent", lambda *a: self.renders.append(
            (self._t, time.perf_counter() - self._t, tuple(window.GetSize()))))

    def summary(self, since: float, until: float) -> str:
        inside = [r for r in self.renders if since <= r[0] <= until]
        if not inside:
            return "no render"
        sizes = []
        for r in inside:
            if not sizes or sizes[-1] != r[2]:
                sizes.append(r[2])
        slow = max(inside, key=lambda r: r[1])
        return (f"{len(inside)} renders, longest {slow[1] * 1e3:.0f} ms, total {sum(r[1] for r in inside) * 1e3:.0f} ms; "
                f"view sizes {' -> '.join(f'{w}x{h}' for w, h in sizes)}")


class EventRecorder:
    """Every Qt event delivered on the GUI thread, with when its delivery began (an application
    event filter sees each one first): the time until the next one began is roughly what that
    event cost, so the longest are the likely stalls. Spontaneous events arriving in a burst
    make it approximate; Python-level work of the engine thread holding the GIL shows as
    whichever event was waiting for it."""

    def __init__(self, app):
        from PySide6.QtCore import QObject

        self.events: list[tuple[float, str]] = []
        rec = self.events

        class Filter(QObject):
            def eventFilter(self, obj, ev):
                rec.append((time.perf_counter(), f"{type(obj).__name__}:{ev.type().name}"))
                return False
        self._filter = Filter()
        app.installEventFilter(self._filter)

    def explain(self, ticks: np.ndarray, n: int = 3) -> str:
        """The ``n`` longest gaps between timer ticks, each with the three costliest events inside it."""
        gaps = np.diff(ticks)
        out = []
        for i in sorted(np.argsort(gaps)[-n:]):
            a, b = ticks[i], ticks[i + 1]
            ev = [e for e in self.events if a <= e[0] <= b]
            costs = sorted(((y[0] - x[0], x[1]) for x, y in zip(ev, ev[1:])), reverse=True)[:3]
            out.append(f"{gaps[i] * 1e3:.0f} ms ({', '.join(f'{nm} {c * 1e3:.0f}' for c, nm in costs)})")
        return "; ".join(out)


def _checkpoints(tmp_path) -> list[tuple[str, str]]:
    import torch

    import engine.models.pointnet  # noqa: F401
    from engine.models.base import build_model
    from engine.models.checkpoints import demo_path, save_checkpoint

    torch.manual_seed(0)
    path = str(tmp_path / "pointnet_w1.safetensors")
    save_checkpoint(path, build_model("pointnet", num_classes=10, width=1.0),
                    {"classes": CLASSES, "normalisation": {"points": POINTS, "sampling": "random"}})
    out = [("PointNet width 1.0", path)]
    if demo_path("pointnet").is_file():
        out.append(("demo PointNet (width 0.25)", "demo:pointnet"))
    return out


def test_gui_stall_during_live_flowam_run(qapp, tmp_path):
    from viewer.settings import Settings
    from viewer.window import MainWindow
    from viewer.work import CANCELLED, FAILED

    win = MainWindow(data="builtin", checkpoint="none", settings=Settings(str(tmp_path / "s.ini")))
    win.resize(1300, 800)
    win.show()
    rec = TickRecorder()
    renders = RenderRecorder(win.viewports)
    events = EventRecorder(qapp)
    try:
        rec.run(lambda: win.viewports.frames > 0 and win.session.current is not None, 30.0)
        panel = next(p for p in win.method_panels if p.name == "flowam")
        win.tabs.setCurrentIndex(win.method_panels.index(panel))
        idle = _gaps(rec.run(lambda: False, 2.0))
        print(f"\n[flowam-gui] GUI timer gaps (5 ms timer), window idle (reference): {_fmt(idle)}")
        for run, (label, ckpt) in enumerate(_checkpoints(tmp_path)):
            win.session.open_checkpoint(ckpt)
            rec.run(lambda: win.session.checkpoint is not None and win.session.checkpoint.spec == ckpt
                    and panel.run_btn.isEnabled() and not win.client.busy, 60.0)
            rec.run(lambda: False, 0.5)     # the opened model's prediction drawn: its frame is not the run's
            panel.cls.setCurrentText("chair")
            panel.method.setCurrentText("flow")
            panel.steps.setValue(STEPS)
            panel.points.setValue(POINTS)
            panel.extra_params = {"preview_every": 1}
            frames0 = win.viewports.frames
            live = {}
            t0 = time.perf_counter()
            h = panel.run()
            assert h is not None

            def poll():     # when the first and the latest cloud preview were drawn
                if panel.previews and panel.previews != live.get("n"):
                    live.setdefault("first", time.perf_counter())
                    live["last"], live["n"] = time.perf_counter(), panel.previews
            # (the result counts once it is drawn, a moment after the job ends: not `h.active`)
            ticks = rec.run(lambda: panel.result is not None or h.state in (FAILED, CANCELLED), 300.0, poll)
            wall = time.perf_counter() - t0
            assert panel.result is not None, f"{label}: the Flow AM job did not finish"
            assert panel.previews > 0, f"{label}: no live preview was drawn"
            secs = float(panel.result.metrics.get("seconds", float("nan")))
            when = ("the window's first run: the Plots dock opens and the loss plot is built" if run == 0
                    else "a later run: the plot and its dock are in place")
            print(f"[flowam-gui] {label} ({when}), {STEPS} steps, {POINTS} points, preview every step "
                  f"({wall:.1f} s wall, engine {secs:.1f} s; {panel.previews} previews drawn, "
                  f"{win.viewports.frames - frames0} viewport renders; load average {os.getloadavg()[0]:.1f} "
                  f"on {os.cpu_count()} cores):")
            for name, g in (("whole job", _gaps(ticks)),
                            ("class statistics", _gaps(ticks, until=live["first"])),
                            ("live optimisation", _gaps(ticks, live["first"], live["last"])),
                            ("metrics + result", _gaps(ticks, since=live["last"]))):
                print(f"[flowam-gui]   {name:18s} {_fmt(g, idle)}")
            print(f"[flowam-gui]   3D views during class statistics: {renders.summary(t0, live['first'])}")
            print(f"[flowam-gui]   longest gaps and the Qt events in them: {events.explain(ticks)}")
    finally:
        qapp.removeEventFilter(events._filter)
        win.close()
        qapp.processEvents()


def test_compare_view_live_stall_and_linked_orbit(qapp, tmp_path):
    """The compare window: five jobs drawing live into five linked 3D views (GUI gaps as above),
    then an orbit of the shared camera: one frame = all five views redrawn, against one view
    alone (the reference)."""
    import statistics

    from viewer.settings import Settings
    from viewer.window import MainWindow

    ckpts = _checkpoints(tmp_path)
    label, ckpt = ckpts[-1]          # the demo when built (the width-1.0 run above covers the heavy model)
    win = MainWindow(data="builtin", checkpoint="none", settings=Settings(str(tmp_path / "s2.ini")))
    win.resize(1300, 800)
    win.show()
    rec = TickRecorder()
    try:
        rec.run(lambda: win.viewports.frames > 0 and win.session.current is not None, 30.0)
        panel = next(p for p in win.method_panels if p.name == "flowam")
        win.tabs.setCurrentIndex(win.method_panels.index(panel))
        win.session.open_checkpoint(ckpt)
        rec.run(lambda: win.session.checkpoint is not None and panel.run_btn.isEnabled() and not win.client.busy, 60.0)
        panel.cls.setCurrentText("chair")
        panel.steps.setValue(STEPS)
        panel.points.setValue(POINTS)
        panel.extra_params = {"preview_every": 1}
        view = panel.open_compare(run=False)
        view.resize(1230, 640)
        rec.run(lambda: view.views.built and all(f > 1 for f in view.views.frames()), 10.0)   # opened, drawn
        idle = _gaps(rec.run(lambda: False, 1.5))
        frames0 = sum(view.views.frames())
        t0 = time.perf_counter()
        view.start()
        g = _gaps(rec.run(lambda: len(view.results) + len(view.errors) == 5, 300.0))
        assert len(view.results) == 5, view.errors
        print(f"\n[flowam-gui] compare view, {label}: 5 methods x {STEPS} steps, {POINTS} points, live in 5 linked "
              f"views ({time.perf_counter() - t0:.1f} s, {sum(view.views.frames()) - frames0} view renders; "
              f"load average {os.getloadavg()[0]:.1f}):")
        print(f"[flowam-gui]   idle {_fmt(idle)}; during the 5 jobs {_fmt(g, idle)}")
        grids = view.views.grids
        cam = grids[0].views[0].renderer.GetActiveCamera()

        def frame(gs) -> float:
            cam.Azimuth(3.0)
            t = time.perf_counter()
            for gr in gs:
                gr.render_now()
            return time.perf_counter() - t
        one = statistics.median(frame(grids[:1]) for _ in range(30))
        five = statistics.median(frame(grids) for _ in range(30))
        w, h = grids[0].window.GetSize()
        print(f"[flowam-gui]   linked orbit frame (all 5 views, {w}x{h} px each): median {five * 1e3:.1f} ms; "
              f"one view alone {one * 1e3:.1f} ms (x{five / max(one, 1e-6):.1f}; 5 = no linking overhead)")
        view.close()
    finally:
        win.close()
        qapp.processEvents()
