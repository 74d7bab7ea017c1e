"""The ParAE (and later SERP, FlowAM) method panels in the real window under Xvfb.

A tiny ParAE checkpoint is built here (width 0.125, 8 parts) so the test does not depend on
assets/demo_parae.safetensors; the level slider re-contours the cached density grid and must
agree with an independent marching-cubes run on the same grid.
"""
from __future__ import annotations

import time

import numpy as np
import pytest

from .conftest import panel_named

from viewer.session import CLOUD

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def parae_checkpoint(tmp_path_factory):
    import torch

    import engine.models.parae  # noqa: F401
    from engine.models.base import build_model
    from engine.models.checkpoints import save_checkpoint

    torch.manual_seed(0)
    model = build_model("parae", parts=8, eps=1e-3, width=0.125)
    path = tmp_path_factory.mktemp("parae") / "tiny_parae.safetensors"
    save_checkpoint(path, model, {"normalisation": {"points": 256, "sampling": "random"}})
    return str(path)


def test_parae_panel_parts_ellipsoids_isosurface_slider_and_pick(win, qtbot, parae_checkpoint):
    from skimage.measure import marching_cubes

    panel = panel_named(win, "parae")
    win.set_layout(2)
    panel.ckpt.setText(parae_checkpoint)
    panel.resolution.setValue(24)
    assert panel.run_explain() is not None
    qtbot.waitUntil(lambda: panel.result is not None, timeout=30000)
    res = panel.result
    n = len(win.session.sample.model_input)
    pts = win.scene.get("parae.points")
    assert pts.n == n and pts.active == "partition"
    part = pts.active_scalar()
    assert part.kind == "categorical" and len(part.names) == 8
    assert np.array_equal(part.values, res.arrays["responsibilities"].argmax(1))
    # the ellipsoids' semi-axes are sqrt(eigenvalues of Sigma): axes^T axes = diag(eigenvalues)
    ell = win.scene.get("parae.ellipsoids")
    gram = np.einsum("kij,kil->kjl", ell.axes, ell.axes)
    assert np.allclose(np.sort(np.diagonal(gram, axis1=1, axis2=2), 1),
                       np.sort(np.linalg.eigvalsh(res.arrays["sigma"]), 1), rtol=1e-4, atol=1e-9)
    # scale by pi shrinks every non-heaviest part
    panel.by_pi.setChecked(True)
    scaled = win.scene.get("parae.ellipsoids").axes
    pi = res.arrays["pi"]
    assert np.allclose(np.linalg.norm(scaled, axis=1) / np.linalg.norm(ell.axes, axis=1),
                       np.cbrt(pi / pi.max())[:, None], rtol=1e-5)
    panel.by_pi.setChecked(False)
    panel.show_ellipsoids.setChecked(False)
    assert not win.scene.get("parae.ellipsoids").visible
    panel.show_ellipsoids.setChecked(True)
    # level slider: re-contours the cached grid (no job), matches marching cubes at that level
    before = win.scene.get("parae.surface")
    jobs_before = len(win.session.results)
    pos = max(panel.level.value() - 40, 1)
    panel.level.setValue(pos)
    after = win.scene.get("parae.surface")
    assert after is not before and len(win.session.results) == jobs_before
    level = panel.level_of(pos)
    vol = panel.grid.values
    if (vol >= level).any():
        _, faces, _, _ = marching_cubes(np.pad(vol, 1), level=level)
        assert len(after.faces) > 0 and abs(len(after.faces) - len(faces)) <= 0.02 * len(faces) + 8
    assert f"{level:.4g}" in panel.level_label.text()
    # a lower level encloses more: the surface's bounding box grows
    panel.level.setValue(min(pos + 40, 200))
    hi = win.scene.get("parae.surface").vertices
    if len(hi) and len(after.vertices):
        assert np.ptp(after.vertices, 0).max() >= np.ptp(hi, 0).max() - 1e-6
    # component table: selecting part j highlights exactly its points
    j = int(np.bincount(part.values).argmax())
    panel.table.selectRow(j)
    sel = win.scene.get("parae.points").active_scalar()
    assert sel.title == "selected ParAE part"
    assert np.array_equal(sel.values.astype(bool), part.values == j)
    assert win.scene.get("parae.ellipsoids").colors is not None
    # pick: 3D distance in view 0, feature distance in view 1
    panel.on_pick({"layer": "parae.points", "index": 3})
    d = win.scene.get("parae.points").active_scalar().values
    p = res.arrays["points"]
    assert np.allclose(d, np.linalg.norm(p - p[3], axis=1), atol=1e-5) and d[3] == 0
    feat = win.scene.get("parae.features")
    f = res.arrays["point_features"]
    assert feat.view == 1 and np.allclose(feat.active_scalar().values, np.linalg.norm(f - f[3], axis=1), rtol=1e-4)


def test_parae_probe_reports_accuracies_and_plots_tsne(win, qtbot, parae_checkpoint):
    panel = panel_named(win, "parae")
    panel.ckpt.setText(parae_checkpoint)
    panel.probe_limit.setValue(20)
    panel.probe_points.setValue(128)
    assert panel.run_probe() is not None
    qtbot.waitUntil(lambda: panel.probe_result is not None, timeout=40000)
    m = panel.probe_result.metrics
    assert 0.0 <= m["pretrained"] <= 1.0 and "random init" in panel.probe_label.text()
    plot = win.plots.items["parae.tsne"]
    emb = panel.probe_result.arrays["embedding"]
    shown = sum(len(it.data) for it in plot.listDataItems())
    assert shown == len(emb) == m["n_test"]


def demo_or_skip(key):
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "assets" / f"demo_{key}.safetensors"
    if not path.is_file():
        pytest.skip(f"{path.name} is absent: build it with `make demo-models` (assets/make_demo_models.sh)")
    return f"demo:{key}"


def test_serp_modes_match_the_engine():
    from engine.ops.perturb import MODES
    from viewer.panels.serp import MODES as shown

    assert tuple(shown) == tuple(MODES)


def test_serp_panel_four_views_and_noise_controls_rerun(win, qtbot, tmp_path):
    spec = demo_or_skip("serp-pointnet")
    panel = panel_named(win, "serp")
    panel.ckpt.setCurrentText(spec)
    panel.points.setValue(256)
    panel.run_explain()
    qtbot.waitUntil(lambda: panel.result is not None, timeout=30000)
    assert win.viewports.count == 4
    res = panel.result
    n = 256
    orig, pert = win.scene.get("serp.original"), win.scene.get("serp.perturbed")
    assert orig.n == pert.n == n and orig.view == 0 and pert.view == 1
    assert win.scene.get("serp.reconstructed").view == 2 and win.scene.get("serp.detection").view == 3
    flag = pert.active_scalar()
    assert flag.kind == "categorical" and flag.names == ("clean", "perturbed")
    moved = np.linalg.norm(res.arrays["perturbed"] - res.arrays["original"], axis=1) > 0
    assert np.array_equal(flag.values.astype(bool), moved)       # the highlighted points are the moved ones
    err = orig.active_scalar().values
    assert np.allclose(err, np.linalg.norm(res.arrays["reconstructed"] - res.arrays["original"], axis=1), atol=1e-5)
    assert "Chamfer" in panel.metrics.text() and "detection accuracy" in panel.metrics.text()
    # more noise: the panel re-runs by itself; more points move, Chamfer(original, perturbed) grows
    before_pert = pert.points.copy()
    before_cd = res.metrics["chamfer_perturbed"]
    panel.centres.setValue(40)
    panel.std.setValue(0.1)
    qtbot.waitUntil(lambda: panel.result is not res and panel.result.params["std"] == pytest.approx(0.1),
                    timeout=30000)
    after = win.scene.get("serp.perturbed")
    assert after.n == n and not np.allclose(after.points, before_pert)
    assert panel.result.params["centres"] == 40 and panel.result.metrics["chamfer_perturbed"] > before_cd
    assert after.active_scalar().values.sum() > flag.values.sum()

    # a saved result re-opens as the same four views (File > Open result, pointlens render)
    from engine.results import load_result, save_result
    from viewer.result_layers import layers_for

    path = tmp_path / "serp.h5"
    save_result(panel.result, path)
    again = {l.name: l for l in layers_for(load_result(path))}
    assert sorted(again) == ["serp.detection", "serp.original", "serp.perturbed", "serp.reconstructed"]
    assert np.allclose(again["serp.perturbed"].points, after.points)
    assert np.array_equal(again["serp.perturbed"].active_scalar().values, after.active_scalar().values)


def test_serp_transformer_colours_patches(win, qtbot):
    spec = demo_or_skip("serp-transformer")
    panel = panel_named(win, "serp")
    panel.ckpt.setCurrentText(spec)
    old = panel.result
    panel.run_explain()
    qtbot.waitUntil(lambda: panel.result is not old and panel.result.metrics.get("model") == "serp-transformer",
                    timeout=30000)
    rec = win.scene.get("serp.reconstructed")
    s = rec.active_scalar()
    g = panel.result.metrics["patches"]
    assert s.kind == "categorical" and len(s.names) == g and rec.n == g * panel.result.metrics["patch_size"]
    assert "cover" in panel.metrics.text()



def test_flowam_panel_live_cloud_loss_plot_timeline_and_ply(win, qtbot, classifier, tmp_path):
    from viewer.panels.flowam import METHODS

    from engine.specs.flowam import METHOD_CHOICES

    assert tuple(METHODS) == tuple(METHOD_CHOICES)
    # Earlier tests may leave a debounced SeRP re-run in flight; let it land first so its layers
    # are drawn before the Flow AM panel takes the view (as when a user switches tabs).
    serp = panel_named(win, "serp")
    qtbot.waitUntil(lambda: not serp._timer.isActive() and not win.session.client.busy, timeout=30000)
    panel = panel_named(win, "flowam")
    win.session.open_checkpoint(classifier)
    qtbot.waitUntil(lambda: win.session.checkpoint is not None and panel.run_btn.isEnabled(), timeout=20000)
    panel.cls.setCurrentText("chair")
    panel.method.setCurrentText("vanilla")
    # Enough steps that previews reach the GUI before the result even on a loaded machine
    # (progress is throttled to ~30 Hz and a finished job's pending preview is dropped).
    panel.steps.setValue(80)
    panel.points.setValue(64)
    panel.extra_params = {"preview_every": 1, "stats_per_class": 2, "fid_reals": 2, "init_objects": 2}
    seen = []
    win.scene.subscribe(lambda ev, name: seen.append(ev) if name == "flowam.cloud" else None)
    assert panel.run() is not None
    qtbot.waitUntil(lambda: panel.result is not None, timeout=40000)
    res = panel.result
    assert res.metrics["class"] == "chair" and res.metrics["method"] == "vanilla"
    # the first preview added the layer; later previews and the final cloud moved the same actor
    # in place (value updates, never a rebuild)
    assert panel.previews >= 1 and seen[0] == "added" and seen.count("added") == 1
    assert "geometry" not in seen and "removed" not in seen and seen.count("values") >= 1
    layer = win.scene.get("flowam.cloud")
    others = [l.name for l in win.scene.layers(0) if l.visible and not l.name.startswith(("flowam.", "_"))]
    assert others == [], f"other panels' layers overlap the Flow AM cloud: {others}"
    assert np.allclose(layer.points, res.arrays["points"])
    # a real chair beside the explanation, in the second view, and the class it looks like
    real = win.scene.get("flowam.real_example")
    assert win.viewports.count == 2 and real.view == 1 and real.visible     # after SeRP's 2x2: no empty views
    assert np.allclose(real.points, res.arrays["real_examples"][0])
    assert f">{res.metrics['nearest_real_class']}<" in panel.status.text()
    plot = win.plots.items["flowam.loss"]
    names = {it.name() for it in plot.listDataItems()}
    assert "total L" in names
    total = next(it for it in plot.listDataItems() if it.name() == "total L")
    loss = np.asarray(res.arrays["loss_total"], float)       # drawn divided by its largest |value|
    assert np.allclose(total.yData * np.abs(loss).max(), loss)
    # timeline: the first frame is the start cloud
    panel.timeline.setValue(0)
    assert np.allclose(win.scene.get("flowam.cloud").points, res.arrays["history"][0])
    assert "step 0" in panel.step_label.text()
    # PLY export reads back (independent parser: plain text lines)
    out = tmp_path / "chair.ply"
    panel.export_ply(str(out))
    lines = out.read_text().splitlines()
    n = int(next(l for l in lines if l.startswith("element vertex")).split()[-1])
    body = np.loadtxt(lines[lines.index("end_header") + 1:])
    assert n == 64 and np.allclose(body, res.arrays["points"], atol=1e-5)
    # Cancel during the optimisation: the job ends CANCELLED, no result is shown
    from viewer.work import CANCELLED

    panel.steps.setValue(100000)
    before = panel.previews
    h = panel.run()
    qtbot.waitUntil(lambda: panel.previews > before, timeout=30000)
    assert panel.cancel_btn.isEnabled()
    panel.cancel()
    qtbot.waitUntil(lambda: h.state == CANCELLED, timeout=10000)
    assert panel.result is None and "cancelled" in panel.status.text() and not panel.cancel_btn.isEnabled()


def test_parae_on_a_classifier_says_so_in_the_panel_and_a_dialog(win, qtbot, classifier):
    panel = panel_named(win, "parae")
    panel.ckpt.setText(classifier)
    n_dialogs = len(win.error_dialogs)
    panel.run_explain()
    qtbot.waitUntil(lambda: panel.summary.text().startswith("failed"), timeout=20000)
    assert "needs a 'parae' model" in panel.summary.text()
    qtbot.waitUntil(lambda: len(win.error_dialogs) > n_dialogs, timeout=5000)
    for d in list(win.error_dialogs):
        d.close()


def test_flowam_pause_holds_the_run_and_resume_finishes_it(win, qtbot, classifier):
    import time

    panel = panel_named(win, "flowam")
    win.session.open_checkpoint(classifier)
    qtbot.waitUntil(lambda: win.session.checkpoint is not None and panel.run_btn.isEnabled(), timeout=20000)
    panel.cls.setCurrentText("chair")
    panel.method.setCurrentText("flow")
    panel.steps.setValue(400)
    panel.points.setValue(64)
    panel.layer_weights.setText("fc2=1")
    panel.extra_params = {"preview_every": 1, "stats_per_class": 2, "fid_reals": 2, "init_objects": 2}
    handle = panel.run()
    qtbot.waitUntil(lambda: panel.previews >= 1, timeout=40000)
    panel.pause_btn.click()
    assert handle.paused and panel.pause_btn.text() == "Resume"
    qtbot.wait(300)                                   # a preview already on its way may still land
    frozen = handle.progress.done if handle.progress is not None else 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < 0.8:
        qtbot.wait(100)
    assert handle.active and panel.result is None
    assert (handle.progress.done if handle.progress is not None else 0) == frozen   # no step while paused
    row = win.jobs.row_of(handle)
    assert row is not None and win.jobs.item(row, 1).text() == "paused"
    panel.pause_btn.click()
    assert not handle.paused
    qtbot.waitUntil(lambda: panel.result is not None, timeout=60000)
    assert panel.result.params["layer_weights"] == "fc2=1"
