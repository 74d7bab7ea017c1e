"""The panel screenshots of docs/figures.md, as a first-time user sees them: fresh settings, the
default 1500 x 900 window, the built-in data and the demo models, each panel after its default
run (the Plots dock closed before each, so a picture shows that panel's own output), then
presenter mode at 1280 x 720. Run under a display (about two minutes):
  xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python tests/viewer/panel_screenshots.py docs/images/panels
"""
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from PySide6.QtWidgets import QApplication  # noqa: E402

app = QApplication(sys.argv)

from viewer.session import CLOUD  # noqa: E402
from viewer.settings import Settings  # noqa: E402
from viewer.window import MainWindow  # noqa: E402

OUT = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/images/panels")
# file name, panel, how to start its default run
PANELS = [("01_inspect", "inspect", lambda p: p.run_btn.click()),
          ("02_pointmask", "pointmask", lambda p: p.run_btn.click()),
          ("03_sagemix", "sagemix", lambda p: p.run_btn.click()),
          ("04_parae", "parae", lambda p: p.run_btn.click()),
          ("05_serp", "serp", lambda p: p.run_btn.click()),
          ("06_flowam", "flowam", lambda p: p.run()),
          ("07_occlusion", "occlusion", lambda p: p.run())]


def pump(seconds: float) -> None:
    t = time.monotonic()
    while time.monotonic() - t < seconds:
        app.processEvents()
        time.sleep(0.01)


def until(cond, seconds: float = 300.0) -> bool:
    t = time.monotonic()
    while not cond() and time.monotonic() - t < seconds:
        app.processEvents()
        time.sleep(0.02)
    return cond()


def window(size: tuple[int, int]) -> MainWindow:
    win = MainWindow(data="builtin", checkpoint="demo:pointnet",
                     settings=Settings(os.path.join(tempfile.mkdtemp(), "settings.ini")))
    win.resize(*size)
    win.show()
    if not until(lambda: CLOUD in win.scene and win.session.checkpoint is not None and not win.client.busy, 120):
        sys.exit("the built-in data or demo:pointnet did not open")
    pump(1.0)
    return win


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    win = window((1500, 900))
    for name, key, start in PANELS:
        panel = next(p for p in win.method_panels if p.name == key)
        win.plots_dock.hide()
        win.tabs.setCurrentIndex(win._tab_panels.index(panel))
        pump(0.5)
        panel.result = None
        start(panel)
        if not until(lambda: panel.result is not None and not win.client.busy, 300):
            sys.exit(f"{key}: no result (status: {getattr(getattr(panel, 'status', None), 'text', lambda: '')()})")
        pump(1.5)
        win.save_window_screenshot(str(OUT / f"{name}.png"))
        print("saved", OUT / f"{name}.png", flush=True)
    win.close()
    pres = window((1280, 720))
    pres.extensions["presenter"].set_enabled(True)
    pump(3.0)
    pres.save_window_screenshot(str(OUT / "08_presenter_1280x720.png"))
    print("saved", OUT / "08_presenter_1280x720.png", flush=True)
    pres.close()
    pump(0.5)
    os._exit(0)     # not the interpreter's teardown: VTK windows must not outlive the X server


if __name__ == "__main__":
    main()
