"""Screenshots of the stages walkthrough (docs/architecture.md): Inspect, PointMask, Mix at 4/2/1
views, back to Inspect, the bias demo. Run under a display:
  xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python tests/viewer/walkthrough.py OUT_DIR
"""
import sys, time
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[2]))
from PySide6.QtWidgets import QApplication
app = QApplication(sys.argv)
from viewer.settings import Settings
from viewer.window import MainWindow
from viewer.session import CLOUD
import tempfile, os
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
win = MainWindow(data="builtin", checkpoint="demo:pointnet", settings=Settings(tempfile.mktemp(suffix=".ini")))
win.resize(1500, 900); win.show()
def pump(sec):
    t = time.monotonic()
    while time.monotonic() - t < sec:
        app.processEvents(); time.sleep(0.01)
def until(cond, sec=120):
    t = time.monotonic()
    while not cond() and time.monotonic() - t < sec:
        app.processEvents(); time.sleep(0.02)
    return cond()
until(lambda: CLOUD in win.scene and win.session.checkpoint is not None)
pump(2)
def panel(name):
    p = next(p for p in win.method_panels if p.name == name)
    win.tabs.setCurrentIndex(win._tab_panels.index(p)); pump(0.3); return p
def shot(name):
    pump(0.5); win.save_window_screenshot(f"{out}/{name}.png"); print("shot", name, win.scene.stage, win.viewports.count,
        sorted(n for v in win.viewports.views[:win.viewports.count] for n in v.actors))
p = panel("inspect")
until(lambda: "inspect.input" in win.scene, 60); shot("01_inspect")
p = panel("pointmask")
shot("02_pointmask_before")
p = panel("sagemix")
p.run_btn.click(); until(lambda: any(n.startswith("sagemix.") for n in win.scene.names()), 120); shot("03_mix")
win.set_layout(2); shot("04_mix_2views"); win.set_layout(1); shot("05_mix_1view"); win.set_layout(4); shot("06_mix_back_to_4")
p = panel("inspect"); shot("07_inspect_again")
pres = win.extensions["presenter"]; pres.show_demo(); shot("08_bias_demo")
pres.demo_dock.hide(); shot("09_after_demo")
win.close()
