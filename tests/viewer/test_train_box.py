"""The TrainBox (viewer/panels/train_box.py) in the real window under Xvfb: a tiny training run on
the built-in dataset (width 0.0625, 64 points, 40 clouds per split) from the box's own form.

Checked against the engine's own record: the curves hold the Result's per-step losses and
per-epoch test accuracies, the checkpoint written loads with the form's settings, a cancel ends
the job and the box trains again, the model's cli_options come from the registry, and a bad
output path is one message with no job."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

pytestmark = pytest.mark.gui


@pytest.fixture()
def box(win):
    from viewer.panels.base import MethodPanel
    from viewer.panels.train_box import TrainBox

    panel = MethodPanel(win.ctx)
    panel.name, panel.title = "tbtest", "Box test"
    b = TrainBox(panel, ("pointnet", "parae"), defaults={"width": 0.0625, "points": 64, "limit": 40,
                                                         "batch_size": 8, "epochs": 2})
    yield b
    import shiboken6

    if b.running:
        b.cancel()
    shiboken6.delete(b)          # now, not deleteLater: the session-end cleanup walks top-level widgets
    shiboken6.delete(panel)


def _curves(box):
    item = box.panel.plots.items[box.plot_key]
    return item.listDataItems(), item._right_vb.addedItems


def test_cancel_then_train_writes_a_checkpoint_and_draws_the_curves(box, qtbot, tmp_path):
    from engine.models.checkpoints import load_checkpoint

    out = tmp_path / "pn.safetensors"
    box.out.setText(str(out))
    assert box.values()["out"] == str(out) and box.values()["model"] == "pointnet"
    # a long run: the curves fill in from previews, then cancel mid-run
    box.fields["epochs"].setValue(500)
    box.start()
    assert box.running and not box.train_btn.isEnabled() and box.cancel_btn.isEnabled()
    qtbot.waitUntil(lambda: len(box.history.get("step", [])) >= 3 and bool(_curves(box)[0])
                    and len(_curves(box)[0][0].xData) >= 3, timeout=30000)
    assert box.last_result is None                       # the data came from Progress.preview
    assert re.match(r"epoch \d+/500, loss \d", box.status.text()), box.status.text()
    box.cancel()
    qtbot.waitUntil(lambda: not box.running and box.train_btn.isEnabled(), timeout=15000)
    assert box.handle.state == "cancelled" and "cancelled" in box.status.text()
    assert not box.cancel_btn.isEnabled() and box.last_result is None

    # usable again: a short run to the end
    box.fields["epochs"].setValue(2)
    with qtbot.waitSignal(box.trained, timeout=60000) as sig:
        box.start()
    assert sig.args == [str(out)]
    res = box.last_result
    assert res.metrics["checkpoint"] == str(out) and res.metrics["epoch"] == 2
    loaded = load_checkpoint(out)
    assert loaded.key == "pointnet" and loaded.model.config["width"] == 0.0625
    assert loaded.meta["params"]["points"] == 64 and loaded.meta["params"]["limit"] == 40
    # loss per step at its fractional epoch; test accuracy per epoch in % (the engine's numbers)
    loss_curves, acc_curves = _curves(box)
    steps, losses = res.arrays["step"], res.arrays["step_loss"]
    spe = len(steps) / 2                                 # 2 epochs of equal length
    assert np.allclose(loss_curves[0].yData, losses) and np.allclose(loss_curves[0].xData, steps / spe)
    assert np.allclose(acc_curves[0].yData, 100 * res.arrays["test_acc"]) and list(acc_curves[0].xData) == [1, 2]
    item = box.panel.plots.items[box.plot_key]
    assert "test accuracy (%)" in item.getAxis("right").labelText
    assert f"test {100 * res.arrays['test_acc'][-1]:.0f} %" in box.status.text()
    assert box.session.results[-1][1] is res


def test_model_options_come_from_the_registry(box, qtbot):
    box.load_options()          # asked on first show; these boxes are not shown
    qtbot.waitUntil(lambda: "parae" in box.options, timeout=20000)
    assert box._option_widgets == {}                     # pointnet declares no options
    box.model.setCurrentText("parae")
    from engine.core.registry import MODELS

    declared = set(MODELS.get("parae").cli_options)      # the model's own declaration, not a copy
    assert {"parts", "eps", "encoder"} <= declared and set(box._option_widgets) == declared
    assert box.values()["model_options"] == ""           # defaults are left to the model
    box._option_widgets["parts"][0].setValue(8)
    assert json.loads(box.values()["model_options"]) == {"parts": 8}
    assert box.values()["out"].endswith(".safetensors") and "parae-" in box.values()["out"]


def test_bad_output_path_is_one_message_and_no_job(box, tmp_path, win):
    box.load_options()                          # the one request a box makes by itself
    jobs = len(win.client.jobs)
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    for bad, words in ((blocker / "x.safetensors", "cannot create the folder"),
                       (tmp_path / "model.pt", "must end in .safetensors"),
                       (tmp_path, "is a folder")):
        box.out.setText(str(bad))
        box.start()
        assert box.handle is None and not box.running and box.train_btn.isEnabled()
        assert words in box.status.text() and str(bad) in box.status.text()
    box.out.setText(str(tmp_path / "ok.safetensors"))
    box.init.setText(str(tmp_path / "missing.safetensors"))
    box.start()
    assert box.handle is None and "is not a file" in box.status.text()
    assert len(win.client.jobs) == jobs


def test_a_deleted_box_ignores_session_events_and_late_results(win, qapp):
    import shiboken6

    from viewer.panels.base import MethodPanel
    from viewer.panels.train_box import TrainBox

    panel = MethodPanel(win.ctx)
    panel.name = "tbgone"
    box = TrainBox(panel, ("pointnet",))
    got = box._got_options
    shiboken6.delete(box)                       # e.g. its panel was closed
    win.session.emit("dataset", win.session.current)     # must not raise on the dead widget
    got({"pointnet": {}})                       # nor a reply that arrives afterwards
    shiboken6.delete(panel)
