"""``pointlens`` with no sub-command: the GUI.

main(argv): Qt set-up, an exception hook (GUI-thread exceptions go to the log and a dialog; the
app stays up), an OpenGL check (a plain message instead of a crash), the window.

``--screenshot PATH`` opens the window as usual, waits until the first sample is drawn (or the
first prediction with ``--wait prediction``) and Qt has painted the window once, saves a screenshot
of the whole window (widgets by grab(), 3D views composited: nothing lying over it), exits 0.
The GUI path never imports torch: the engine thread does, after the first frame.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
import traceback

log = logging.getLogger("pointlens")

GL_HELP = ("PointLens needs OpenGL 3.2 or newer to draw point clouds, and no usable OpenGL context "
           "could be created{why}.\n\nTo run with software rendering, start it as\n"
           "    LIBGL_ALWAYS_SOFTWARE=1 pointlens\n"
           "(Mesa's llvmpipe; on a server without a display: xvfb-run -a pointlens). "
           "Headless commands (pointlens data/train/eval/render) work without OpenGL.")


def build_parser() -> argparse.ArgumentParser:
    """The GUI's options (``pointlens --help`` lists them with the sub-commands: viewer/launch.py)."""
    from engine import __version__

    p = argparse.ArgumentParser(prog="pointlens", description="PointLens: a workbench for deep point-cloud models.")
    p.add_argument("--version", action="version", version=f"pointlens {__version__}")
    p.add_argument("--data", help="dataset to open (path or 'builtin'; default: the last one)")
    p.add_argument("--checkpoint", help="checkpoint to open (path or demo:<model>; 'none' for no model)")
    p.add_argument("--screenshot", metavar="PATH", help="save a screenshot of the window once drawn, then exit")
    p.add_argument("--wait", choices=("sample", "prediction"), default="sample",
                   help="with --screenshot: wait for the first sample (default) or the first prediction")
    p.add_argument("--timeout", type=float, default=None,
                   help="with --screenshot: give up after this many seconds (60; --self-test: 600)")
    p.add_argument("--self-test", action="store_true",
                   help="run one tiny job of every method on the built-in dataset, print ok/FAIL per method, "
                        "save --screenshot if given, exit 0 only if all passed (see viewer/selftest.py)")
    p.add_argument("--size", default=None, help="window size WxH (e.g. 1500x900)")
    p.add_argument("--layout", type=int, choices=(1, 2, 4), help="number of viewports")
    p.add_argument("--settings", help="settings file (.ini) to use instead of the user's")
    return p


def parse_args(argv: list[str]) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def gl_problem() -> str | None:
    """None if an OpenGL >= 3.2 context can be made; otherwise what went wrong."""
    from PySide6.QtGui import QOffscreenSurface, QOpenGLContext, QSurfaceFormat

    ctx = QOpenGLContext()
    if not ctx.create():
        return " (the platform refused to create one)"
    surface = QOffscreenSurface()
    surface.setFormat(ctx.format())
    surface.create()
    if not ctx.makeCurrent(surface):
        return " (a context was created but could not be made current)"
    fmt: QSurfaceFormat = ctx.format()
    ctx.doneCurrent()
    if (fmt.majorVersion(), fmt.minorVersion()) < (3, 2):
        return f" (only OpenGL {fmt.majorVersion()}.{fmt.minorVersion()} is available)"
    return None


def display_problem() -> str | None:
    """On Linux without X or Wayland, Qt would abort; say what to do instead."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return ("pointlens: there is no display to open a window on (DISPLAY is not set). Run it in a desktop "
            "session, or on a server as\n    xvfb-run -a pointlens\n"
            "Headless commands (pointlens data/train/eval/render) need no display.")


def install_exception_hook(window_getter) -> None:
    """Uncaught exceptions on the GUI thread: log with traceback, show a dialog, keep running."""

    def hook(etype, value, tb):
        if issubclass(etype, KeyboardInterrupt):
            sys.__excepthook__(etype, value, tb)
            return
        text = "".join(traceback.format_exception(etype, value, tb))
        log.error("unexpected error: %s: %s\n%s", etype.__name__, value, text)
        win = window_getter()
        if win is not None and not getattr(win, "_closing", False):
            try:
                win.show_error("Unexpected error", f"{etype.__name__}: {value}\n\nThe details are in the Log dock.")
            except Exception:
                pass

    def thread_hook(args):
        log.error("error in thread %s: %s", getattr(args.thread, "name", "?"),
                  "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback)))

    sys.excepthook = hook
    threading.excepthook = thread_hook


def leave_a_core_for_the_gui() -> None:
    """Compute threads = cores - 1 unless the user chose (set before numpy/torch load).

    With as many intra-op threads as cores, the GUI thread and the workers fight for the CPU:
    on a 2-core machine a PointNet saliency took 1-3 s instead of 0.05 s single-threaded.
    """
    if "OMP_NUM_THREADS" not in os.environ:
        os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 2) - 1))


def main(argv: list[str] | None = None) -> int:
    leave_a_core_for_the_gui()
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    t_start = time.perf_counter()
    if os.environ.get("POINTLENS_TIMING"):
        print(f"pointlens-timing main {time.time():.3f}", flush=True)
    if not log.handlers:   # our logger only: libraries' INFO chatter stays out of the terminal
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    problem = display_problem()
    if problem is not None:
        print(problem, file=sys.stderr)
        return 1
    from PySide6.QtCore import QCoreApplication, Qt, QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    QCoreApplication.setOrganizationName("PointLens")
    QCoreApplication.setApplicationName("PointLens")
    QCoreApplication.setAttribute(Qt.AA_ShareOpenGLContexts)
    app = QApplication.instance() or QApplication(sys.argv[:1])

    problem = gl_problem()
    if problem is not None:
        msg = GL_HELP.format(why=problem)
        print(f"pointlens: {msg}", file=sys.stderr)
        if not (args.screenshot or args.self_test):
            QMessageBox.critical(None, "PointLens: no OpenGL", msg)
        return 1

    from .engine_client import EngineClient
    from .session import Session
    from .settings import Settings

    holder: dict = {}
    install_exception_hook(lambda: holder.get("win"))
    if args.timeout is None:                   # the self-test runs every method: give it longer
        args.timeout = 600.0 if args.self_test else 60.0
    if args.self_test and not args.settings:   # leave the user's settings alone
        from .selftest import scratch_settings

        args.settings = scratch_settings()
    settings = Settings(args.settings)
    if args.layout:
        settings.set("layout/viewports", args.layout)
    # Start the engine thread reading the dataset now; VTK and the widgets import meanwhile.
    client = EngineClient()
    session = Session(client)
    session.open_dataset(args.data or settings.get("data/last_dataset") or "builtin")
    from .window import MainWindow

    win = MainWindow(data=args.data, checkpoint=args.checkpoint, settings=settings, client=client, session=session)
    holder["win"] = win
    if args.size:
        try:
            w, h = (int(v) for v in args.size.lower().split("x"))
            win.resize(w, h)
        except ValueError:
            print(f"pointlens: --size {args.size!r} is not WxH; ignored", file=sys.stderr)
    win.show()

    status = {"code": 0}
    selftest = None
    if args.self_test:
        from .selftest import install

        selftest = install(win, args.screenshot, args.timeout)
    elif args.screenshot:
        path = args.screenshot

        def shoot():
            ok = win.save_window_screenshot(path)
            log.info("screenshot %s %s (%.2f s after start)", path, "saved" if ok else "FAILED",
                     time.perf_counter() - t_start)
            status["code"] = 0 if ok else 1
            win.close()

        # Shoot once both have happened (no fixed delay): the 3D views drew what we wait for
        # (the signal comes from a rendered VTK frame), and Qt painted the window's widgets once
        # (a paint event to a widget of this window). shoot() then grabs the widgets with
        # grab() after the pending layout events, and composites a fresh VTK frame.
        waiting = {"drawn": False, "painted": False, "shot": False}

        def maybe_shoot():
            if waiting["drawn"] and waiting["painted"] and not waiting["shot"]:
                waiting["shot"] = True
                QTimer.singleShot(0, shoot)

        from PySide6.QtCore import QEvent, QObject
        from PySide6.QtWidgets import QWidget

        class FirstPaint(QObject):
            def eventFilter(self, obj, ev):
                if (ev.type() == QEvent.Paint and isinstance(obj, QWidget) and obj is not win.viewports.vtk
                        and obj.window() is win):
                    waiting["painted"] = True
                    app.removeEventFilter(self)
                    QTimer.singleShot(0, maybe_shoot)
                return False

        first_paint = FirstPaint(win)
        app.installEventFilter(first_paint)

        def unexposed():
            # a window lying wholly under another one gets no expose, so no paint event: grab()
            # paints the widgets all the same, so do not wait for what cannot come
            if not waiting["painted"]:
                log.info("screenshot: the window was not painted on screen (covered?); grabbing it anyway")
                waiting["painted"] = True
                app.removeEventFilter(first_paint)
                maybe_shoot()

        def ready():
            waiting["drawn"] = True
            maybe_shoot()
            QTimer.singleShot(1000, unexposed)

        signal = win.prediction_shown if args.wait == "prediction" else win.sample_drawn
        signal.connect(ready)

        def failed_early(event, payload):
            # what --screenshot waits for can no longer come: no data opened, or (waiting for a
            # prediction) no model; save what is there now instead of waiting out the timeout
            fatal = win.session.current is None or args.wait == "prediction"
            if event == "error" and fatal and win.isVisible() and not given_up:
                given_up.append(True)
                log.error("screenshot: %s; saving what is there", payload)
                win.save_window_screenshot(path)
                status["code"] = 1
                win.close()

        given_up: list = []
        win.session.listen(failed_early)

        def give_up():
            if win.isVisible():
                log.error("screenshot: nothing drawn within %.0f s; saving what is there", args.timeout)
                ok = win.save_window_screenshot(path)
                status["code"] = 3 if ok else 1
                win.close()

        QTimer.singleShot(int(args.timeout * 1000), give_up)
    app.exec()
    if selftest is not None:
        status["code"] = 1 if selftest.code is None else selftest.code
    # The window asked the engine thread to stop and waited 5 s. A step that cannot be
    # interrupted (importing torch on a busy machine) may need longer; destroying a running
    # QThread aborts the process, so wait for it here (bounded).
    if client.thread_running():
        log.info("waiting for the engine thread to finish its current step ...")
        if not client.shutdown(timeout=60.0):
            log.error("the engine thread did not stop within 60 s; exiting without it")
            sys.stderr.flush()
            os._exit(status["code"] or 1)
    return status["code"]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
