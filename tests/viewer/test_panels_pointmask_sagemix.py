"""GUI tests of the PointMask and Mix panels: the real window under Xvfb, tiny untrained models.

Each test runs its method once, then moves a slider and checks that the layer's scalars change
in place with no job submitted (the recolouring/reblending happens on the GUI thread)."""
from __future__ import annotations

import time

import numpy as np
import pytest

from viewer.session import CLOUD

pytestmark = pytest.mark.gui
CLASSES = ["bathtub", "bed", "chair", "desk", "dresser", "monitor", "night_stand", "sofa", "table", "toilet"]


def _save(key: str, path) -> str:
    import torch

    import engine.models  # noqa: F401 - registers the models
    from engine.models.base import build_model
    from engine.models.checkpoints import save_checkpoint

    torch.manual_seed(0)
    model = build_model(key, num_classes=10, width=0.125)
    if key == "pointmask":   # untrained, mu is ~0 everywhere (sigmoid 0.5); spread it as training would
        torch.nn.init.normal_(model.encoder.mu.weight, std=1.0)
    save_checkpoint(path, model, {"classes": CLASSES, "normalisation": {"points": 256, "sampling": "random"}})
    return str(path)


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    import engine.models.pointmask  # noqa: F401
    import engine.models.pointnet  # noqa: F401

    d = tmp_path_factory.mktemp("ck")
    return {"pointmask": _save("pointmask", d / "pm.safetensors"), "pointnet": _save("pointnet", d / "pn.safetensors")}


def _panel(win, name):
    return next(p for p in win.method_panels if p.name == name)


class _Count:
    """Counts job submissions through the window's engine client."""

    def __init__(self, client):
        self.n, self.client, self.orig = 0, client, client.submit

        def submit(req):
            self.n += 1
            return self.orig(req)
        client.submit = submit

    def close(self):
        self.client.submit = self.orig


def test_pointmask_threshold_recolours_without_a_job(win, qtbot, ckpts):
    panel = _panel(win, "pointmask")
    win.tabs.setCurrentIndex(win.method_panels.index(panel))
    panel.checkpoint.setEditText(ckpts["pointmask"])
    panel.letter.setValue(20)                                    # the class letter as 20 bias points
    assert panel.run_btn.isEnabled()
    win.set_layout(4)                                            # as another panel may leave it
    panel.run_btn.click()
    qtbot.waitUntil(lambda: "pointmask.mask" in win.scene, timeout=20000)
    qtbot.waitUntil(lambda: "kept points only" in panel.kept_pred.text(), timeout=20000)
    assert win.viewports.count == 2                              # the views the result draws in, no empty ones
    prob = panel.result.arrays["mask_probability"]
    layer = win.scene.get("pointmask.mask")
    n_model = len(win.session.sample.model_input)
    assert layer.n == n_model + 20 and prob.shape == (layer.n,)
    cat = layer.scalars["category"].values
    assert (cat[-20:] == 2).all()                                # bias points are their own category
    assert np.array_equal(cat[:-20] == 0, prob[:-20] > 0.5)      # kept = sigmoid(J) > t
    # the engine's own kept at t = 0.5 agrees with the panel's
    assert np.array_equal(panel.result.arrays["kept"][:-20], cat[:-20] == 0)
    assert win.scene.get("pointmask.probability").scalars["mask_probability"].clim == (0.0, 1.0)
    # a threshold at the median of the probabilities: the kept count must change, no new job
    t = int(np.clip(np.round(100 * np.median(prob[:-20])), 1, 98))
    if t == 50:
        t = 49 if (prob[:-20] > 0.49).sum() != (prob[:-20] > 0.5).sum() else 51
    count = _Count(win.client)
    before = cat.copy()
    try:
        panel.slider.setValue(t)
        assert count.n == 0
    finally:
        count.close()
    after = win.scene.get("pointmask.mask").scalars["category"].values
    assert win.scene.get("pointmask.mask") is layer                      # updated in place
    assert np.array_equal(after[:-20] == 0, prob[:-20] > t / 100)
    assert not np.array_equal(after, before) or (prob[:-20] > t / 100).sum() == (prob[:-20] > 0.5).sum()
    assert f"{int((after == 0).sum()):,} of" in panel.count.text()
    # kept-only prediction on release: one latest-wins job
    h = panel.predict_kept()
    assert h is not None, panel.kept_pred.text()
    try:
        qtbot.waitUntil(lambda: f"t = {t / 100:.2f}" in panel.kept_pred.text() and "predicted" in panel.kept_pred.text(),
                        timeout=15000)
    except Exception:
        raise AssertionError(f"{panel.kept_pred.text()!r} {h.state} {getattr(h, 'error', None)}")
    assert h.request.target == "pointmask.kept"


def test_bias_lab_csv_is_written_from_the_table(win, tmp_path):
    panel = _panel(win, "pointmask")
    levels = np.array([1.0, 50.0])
    panel.lab.draw(levels, ["pointnet", "pointmask"], np.array([[0.5, np.nan], [0.25, 0.75]]),
                    np.array([[0.9, np.nan], [0.3, 0.8]]))
    assert len(win.plots.items["pointmask.bias"].listDataItems()) == 2
    path = tmp_path / "lab.csv"
    panel.export_csv(str(path))
    lines = path.read_text().splitlines()
    assert lines[0].startswith("# provenance: ")             # the export is stamped (viewer/provenance.py)
    rows = lines[1:]
    assert rows[0].startswith("model,bias_points") and rows[2] == "pointnet,50,,"
    assert rows[3] == "pointmask,1,0.250000,0.300000"
    png = tmp_path / "lab.png"
    panel.export_png(str(png))
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_sagemix_sigma_slider_reads_the_spec_range_on_a_log_scale():
    from engine.core.params import describe
    from engine.specs.mix import MixParams
    from viewer.panels.sagemix import SIGMA_STEPS, sigma_of, slider_of

    d = next(f for f in describe(MixParams) if f["name"] == "sigma")
    assert d["scale"] == "log"
    assert sigma_of(0) == pytest.approx(d["lo"]) and sigma_of(SIGMA_STEPS) == pytest.approx(d["hi"])
    mid = sigma_of(SIGMA_STEPS // 2)                       # log scale: the middle is the geometric mean
    assert mid == pytest.approx((d["lo"] * d["hi"]) ** 0.5)
    assert slider_of(d["default"]) in range(SIGMA_STEPS + 1)
    assert sigma_of(slider_of(d["default"])) == pytest.approx(d["default"], rel=0.01)


def test_sagemix_sigma_reblends_without_a_job(win, qtbot, ckpts):
    from viewer.panels.sagemix import sigma_of, slider_of

    panel = _panel(win, "sagemix")
    _panel(win, "inspect").auto.setChecked(False)
    win.tabs.setCurrentIndex(win.method_panels.index(panel))
    win.session.open_checkpoint(ckpts["pointnet"])
    qtbot.waitUntil(lambda: win.session.checkpoint is not None and win.session.sample is not None
                    and len(win.session.sample.model_input) == 256, timeout=20000)
    qtbot.waitUntil(lambda: panel.sample is win.session.sample, timeout=5000)
    panel.b_index.setValue(3)
    panel.run_btn.click()
    qtbot.waitUntil(lambda: "sagemix.mix" in win.scene, timeout=30000)
    res = panel.result
    a, b = res.arrays["source_a"], res.arrays["source_b"]
    perm = res.arrays["assignment"]
    assert sorted(perm.tolist()) == list(range(256))             # a bijection
    qa, qb = res.arrays["queries"]
    assert "sagemix.query_a" in win.scene and np.allclose(win.scene.get("sagemix.query_a").points[0], a[qa])
    assert win.scene.get("sagemix.a").active == "saliency"
    count = _Count(win.client)
    layer = win.scene.get("sagemix.mix")
    try:
        panel.sigma.setValue(slider_of(2.0))                      # sigma about 2.0 (a log slider)
        assert count.n == 0
    finally:
        count.close()
    lam = win.scene.get("sagemix.mix").scalars["lambda"].values
    assert win.scene.get("sagemix.mix") is layer
    # eq. 9 literally, by hand
    pi, sigma = panel.pi.value() / 100, sigma_of(panel.sigma.value())
    assert abs(sigma - 2.0) < 0.02 and f"σ = {sigma:.3g}" == panel.sigma_label.text()
    wa = np.exp(-((a - a[qa]) ** 2).sum(1) / (2 * sigma ** 2))
    wb = np.exp(-((b[perm] - b[qb]) ** 2).sum(1) / (2 * sigma ** 2))
    expect = pi * wa / (pi * wa + (1 - pi) * wb)
    assert np.allclose(lam, expect, atol=1e-5)
    assert np.allclose(layer.points, lam[:, None] * a + (1 - lam[:, None]) * b[perm], atol=1e-5)
    assert abs(sum(p for _, p in panel.bars.rows) - 1.0) < 1e-6
    # switching method on the same pair keeps the assignment
    panel.method.setCurrentIndex(1)                               # PointMixup
    qtbot.waitUntil(lambda: panel.result is not res and panel.result.metrics["method"] == "pointmixup", timeout=30000)
    assert np.array_equal(panel.result.arrays["assignment"], perm)


def test_saved_results_redraw_with_the_panel_layers(win):
    from viewer.result_layers import layers_for

    pm = next(r for _, r in reversed(win.session.results) if r.kind == "pointmask-explain")
    layers = {l.name: l for l in layers_for(pm)}
    cat = layers["pointmask.mask"].scalars["category"].values
    assert (cat[pm.arrays["is_bias"]] == 2).all() and layers["pointmask.mask"].cmap == "kept-masked-bias"
    mix = next(r for _, r in reversed(win.session.results) if r.kind == "mix")
    names = {l.name for l in layers_for(mix)}
    assert {"sagemix.a", "sagemix.b", "sagemix.mix", "sagemix.source"} <= names
