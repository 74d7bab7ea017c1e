"""Training from the PointMask and ParAE panels, the bias-lab gallery and the ParAE embedding
plot's hover/select, in the real window under Xvfb (tiny models: width 0.0625, 64 points)."""
from __future__ import annotations

import numpy as np
import pytest

from .conftest import panel_named

pytestmark = pytest.mark.gui
TINY = {"width": 0.0625, "points": 64, "limit": 40, "batch_size": 8, "epochs": 1}


def _tiny(box, model, out):
    for k, v in TINY.items():
        box.fields[k].setValue(v)
    box.model.setCurrentText(model)
    box.out.setText(str(out))


def test_pointmask_panel_uses_the_checkpoint_it_trained(win, qtbot, tmp_path):
    panel = panel_named(win, "pointmask")
    box = panel.train_box
    assert [box.model.itemText(i) for i in range(box.model.count())] == ["pointmask", "pointmap", "randmask"]
    box.load_options()          # asked on first show; these boxes are not shown
    qtbot.waitUntil(lambda: "pointmask" in box.options, timeout=20000)
    out = tmp_path / "pm.safetensors"
    _tiny(box, "pointmask", out)
    box._option_widgets["alpha"][0].setValue(0.05)          # the paper's KL weight, changed
    assert box.values()["model_options"] == '{"alpha": 0.05}'
    with qtbot.waitSignal(box.trained, timeout=60000):
        box.start()
    assert panel.checkpoint.currentText() == str(out)         # added to the combo and selected
    qtbot.waitUntil(lambda: panel.result is not None and "pointmask.mask" in win.scene, timeout=30000)
    assert panel.result.metrics["model"] == "pointmask"
    from engine.models.checkpoints import load_checkpoint

    assert load_checkpoint(out).model.config["alpha"] == 0.05
    assert any(t == "train pointmask" for t, _ in win.session.results)


def test_parae_panel_trains_loss_only_and_switches_checkpoint(win, qtbot, tmp_path):
    panel = panel_named(win, "parae")
    box = panel.train_box
    box.load_options()          # asked on first show; these boxes are not shown
    qtbot.waitUntil(lambda: "parae" in box.options, timeout=20000)
    out = tmp_path / "parae.safetensors"
    _tiny(box, "parae", out)
    box.fields["epochs"].setValue(2)
    box._option_widgets["parts"][0].setValue(8)
    with qtbot.waitSignal(box.trained, timeout=60000):
        box.start()
    assert panel.ckpt.text() == str(out)
    res = box.last_result
    assert res.metrics["task"] == "self-supervised" and np.isnan(res.arrays["test_acc"]).all()
    item = win.plots.items["parae.train"]
    assert not item.getAxis("right").isVisible() and not item._right_vb.addedItems   # no accuracy axis
    step_curve, epoch_curve = item.listDataItems()              # both losses on the loss axis
    assert np.allclose(step_curve.yData, res.arrays["step_loss"])
    assert np.allclose(epoch_curve.yData, res.arrays["loss"]) and list(epoch_curve.xData) == [1, 2]
    assert "test" not in box.status.text().split("wrote")[0]
    qtbot.waitUntil(lambda: panel.result is not None and int(panel.result.metrics["parts"]) == 8, timeout=30000)


@pytest.fixture(scope="module")
def parae_ckpt(tmp_path_factory):
    import torch

    import engine.models.parae  # noqa: F401
    from engine.models.base import build_model
    from engine.models.checkpoints import save_checkpoint

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("parae") / "tiny.safetensors"
    save_checkpoint(path, build_model("parae", parts=8, eps=1e-3, width=0.125),
                    {"normalisation": {"points": 128, "sampling": "random"}})
    return str(path)


def test_clicking_an_embedding_dot_shows_that_sample(win, qtbot, parae_ckpt):
    from PySide6.QtCore import QPointF, Qt

    panel = panel_named(win, "parae")
    panel.ckpt.setText(parae_ckpt)
    panel.probe_limit.setValue(20)
    panel.probe_points.setValue(128)
    panel.probe_result = None
    assert panel.run_probe() is not None
    qtbot.waitUntil(lambda: panel.probe_result is not None, timeout=40000)
    res = panel.probe_result
    widget = win.plots.widgets["parae.tsne"]
    qtbot.waitUntil(lambda: widget.isVisible(), timeout=5000)
    sp = panel.scatters[-1]
    spot = sp.points()[0]
    index = int(spot.data())
    # the dot's data is its test-split index; the probe's label of that index names its class
    row = int(np.flatnonzero(res.arrays["indices"] == index)[0])
    cls = res.metrics["classes"][int(res.arrays["labels"][row])]
    assert cls in sp.opts["tip"](x=0.0, y=0.0, data=index) and str(index) in sp.opts["tip"](x=0.0, y=0.0, data=index)
    assert np.allclose([spot.pos().x(), spot.pos().y()], res.arrays["embedding"][row])
    # a real click on the dot (plot coordinates -> widget pixels)
    widget.getPlotItem().vb.setRange(xRange=(spot.pos().x() - 1e-3, spot.pos().x() + 1e-3),
                                     yRange=(spot.pos().y() - 1e-3, spot.pos().y() + 1e-3), padding=0)
    qtbot.wait(50)
    scene_pt = widget.getPlotItem().vb.mapViewToScene(QPointF(spot.pos().x(), spot.pos().y()))
    px = widget.mapFromScene(scene_pt)
    qtbot.mouseClick(widget.viewport(), Qt.LeftButton, pos=px)
    qtbot.waitUntil(lambda: win.session.sample.split == "test" and win.session.sample.index == index, timeout=10000)
    assert win.session.sample.label_name == cls
    assert f"test sample {index}" in panel.embed_label.text()


def test_bias_lab_gallery_shows_every_level(win, qtbot, tmp_path):
    panel = panel_named(win, "pointmask")
    lab = panel.lab
    lab.levels.setText("5,20")
    for m, c in lab.model_checks.items():
        c.setChecked(m == "pointnet")
    lab.epochs.setValue(1)
    lab.points.setValue(64)
    lab.limit.setValue(20)
    lab.width_box.setValue(0.0625)
    lab.run()
    qtbot.waitUntil(lambda: lab.result is not None and len(lab.thumbs) == 2, timeout=60000)
    a = lab.result.arrays
    classes = lab.result.metrics["classes"]
    # the rebuilt largest level is exactly the cloud the engine returned
    clouds, is_bias = lab.gallery[20]
    assert np.array_equal(clouds, a["gallery"]) and np.array_equal(is_bias, a["gallery_is_bias"])
    lab.gallery_class.setCurrentIndex(1)
    qtbot.waitUntil(lambda: len(lab.thumbs) == 2 and "class " + classes[int(a["gallery_labels"][1])]
                    in lab.thumbs[0].titleLabel.text, timeout=5000)
    for item, level in zip(lab.thumbs, (5, 20)):
        title = item.titleLabel.text.replace("<br>", " ")
        assert f"k = {level} letter points, class {classes[int(a['gallery_labels'][1])]}" in title
        obj, letter = item.listDataItems()
        assert len(letter.data) == level and len(obj.data) == 64
    lab.show_in_viewport(20)
    assert win.scene.get("pointmask.gallery.letter").n == 20
    assert win.scene.get("pointmask.gallery.object").n == 64

    # exports carry the lab's provenance (params, data); an unwritable path is one message
    from viewer import provenance

    tmp = tmp_path
    assert panel.export("csv", str(tmp / "lab.csv")) and panel.export("png", str(tmp / "lab.png"))
    prov, header, rows = provenance.read_csv(str(tmp / "lab.csv"))
    assert prov["method"] == "bias-lab" and prov["params"]["levels"] == "5,20" and prov["levels"] == [5, 20]
    assert prov["data"] == lab.result.provenance["data"] and prov["data_fingerprint"]
    assert header[0] == "model" and [r[:2] for r in rows] == [["pointnet", "5"], ["pointnet", "20"]]
    assert float(rows[1][2]) == pytest.approx(a["accuracy_unbiased"][0, 1], abs=1e-6)
    assert provenance.read_png_provenance(str(tmp / "lab.png"))["params"]["levels"] == "5,20"
    blocker = tmp / "a_file"
    blocker.write_text("x")
    assert not panel.export("csv", str(blocker / "lab.csv"))
    assert "failed" in lab.status.text() and "lab.csv" in lab.status.text()


def test_gallery_projection_is_a_rotation_and_honours_the_up_axis():
    from viewer.panels.bias_lab_box import oblique

    rng = np.random.default_rng(0)
    p = rng.normal(size=(50, 3))
    uv = oblique(p, "z", azimuth=0.0, elevation=0.0)
    assert np.allclose(uv, p[:, [0, 2]])                       # az = el = 0: the front view (x, z)
    # an orthographic view of a rigid rotation keeps pairwise distances within the view plane <= 3D
    d2 = np.linalg.norm(uv[:, None] - uv[None], axis=-1)
    assert (d2 <= np.linalg.norm(p[:, None] - p[None], axis=-1) + 1e-9).all()
    # the same cloud stored y-up gives the same picture
    y_up = np.stack([p[:, 0], p[:, 2], -p[:, 1]], axis=1)
    assert np.allclose(oblique(y_up, "y"), oblique(p, "z"))
