"""What a first-time user meets in the real window: Inspect while the model loads, the caption when
the model uses every point, Inspect's 'order by' list, text in a 2x viewport export."""
from __future__ import annotations

import numpy as np
import pytest

from viewer.scene import PointsLayer, Scalar
from viewer.session import CLOUD

from .conftest import panel_named, save_tiny_checkpoint

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def every_point_model(tmp_path_factory):
    """A tiny classifier that takes all 2,048 points of a built-in sample."""
    return save_tiny_checkpoint(tmp_path_factory.mktemp("all") / "all_points.safetensors", points=2048)


def test_inspect_says_loading_until_the_model_is_there_and_keeps_the_caption_whole(win, qtbot, every_point_model):
    panel = panel_named(win, "inspect")
    assert panel.model_label.text().startswith("No model")
    win.session.open_checkpoint(every_point_model)
    assert panel.model_label.text().startswith("Loading model")
    qtbot.waitUntil(lambda: panel.result is not None, timeout=30000)
    assert panel.model_label.text().startswith("Model: ")
    s = win.session.sample
    assert not win.scene.get(CLOUD).visible                    # every point is in the model input
    win.viewports.render_now()
    caption = win.viewports.views[0].caption.GetInput()
    assert s.name in caption and f"true label: {s.label_name}" in caption and "…" not in caption


def test_a_failed_model_load_says_no_model_again(win, qtbot, tmp_path):
    panel = panel_named(win, "inspect")
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"not a checkpoint")
    before = win.session.checkpoint
    win.session.open_checkpoint(str(bad), quiet=True)
    assert "loading" in panel.model_label.text()
    qtbot.waitUntil(lambda: "loading" not in panel.model_label.text(), timeout=20000)
    assert panel.model_label.text() == f"Model: {before.title}"


def test_order_by_lists_only_the_scalars_on_inspects_stage(win, qtbot):
    panel = panel_named(win, "inspect")
    qtbot.waitUntil(lambda: "inspect.input" in win.scene, timeout=30000)
    win.scene.add(PointsLayer("pointmask.probability", points=np.zeros((4, 3)),
                              scalars={"p": Scalar(np.linspace(0, 1, 4), title="mask probability")}, active="p"))
    try:
        listed = [panel.source.itemData(i)[0] for i in range(panel.source.count())]
        assert "inspect.input" in listed and "pointmask.probability" not in listed
        # until the user picks another, Inspect's own scalar (saliency) is the default, not a
        # field of the shared cloud
        assert panel.source.currentData()[0].startswith("inspect.")
    finally:
        win.scene.remove("pointmask.probability")


def _text_width(img: np.ndarray) -> int:
    top = img[: img.shape[0] // 12, : img.shape[1] // 2, :3].astype(int)   # caption: top left
    cols = np.flatnonzero(((255 - top).sum(-1) > 90).any(axis=0))
    return int(cols.max() - cols.min() + 1) if cols.size else 0


def test_a_2x_viewport_export_has_text_twice_as_large(win):
    one, two = win.viewports.view_image(0, scale=1), win.viewports.view_image(0, scale=2)
    assert two.shape[1] == 2 * one.shape[1]
    assert _text_width(one) > 50
    assert 1.8 <= _text_width(two) / _text_width(one) <= 2.2


def test_the_selected_parae_part_is_the_highlight_colour_and_the_others_recede(win):
    from engine import Result
    from viewer import colormaps
    from viewer.panels.parae import DIMMED, HIGHLIGHT

    panel = panel_named(win, "parae")
    partition = np.array([0, 0, 1, 1, 1, 2])
    eye = np.tile(np.eye(3) * 0.01, (3, 1, 1))
    panel.result = Result("parae", arrays={"points": np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32),
                                           "partition": partition, "pi": np.full(3, 1 / 3), "mu": np.zeros((3, 3)),
                                           "sigma": eye})
    win.scene.add(PointsLayer("parae.points", points=panel.result.arrays["points"], active="partition",
                              scalars={"partition": Scalar(partition, kind="categorical", title="part")}))
    try:
        panel.select_part(1)
        layer = win.scene.get("parae.points")
        colours = colormaps.categorical_colors(2, layer.effective_cmap())
        shown = colours[layer.active_scalar().values]
        assert (shown[partition == 1] == HIGHLIGHT).all() and (shown[partition != 1] == DIMMED).all()
        assert HIGHLIGHT.tolist() == [0xD5, 0x5E, 0x00]                        # vermillion, not blue
        ell = win.scene.get("parae.ellipsoids").colors
        assert (ell[1] == HIGHLIGHT).all() and (ell[[0, 2]] == DIMMED).all()   # the ellipsoids agree
        panel.select_part(None)
        assert layer.active == "partition" and layer.effective_cmap() == "okabe-ito"
    finally:
        panel.result = None
        win.scene.clear("parae.")


def test_mix_pairs_cloud_a_with_another_class_by_default(win, qtbot):
    from viewer.panels.sagemix import partner_index

    panel = panel_named(win, "sagemix")
    qtbot.waitUntil(lambda: panel.sample is not None, timeout=10000)
    s = panel.sample
    labels = np.asarray(s.dataset.split(s.split).labels)
    assert labels[panel.b_index.value()] != labels[s.index]
    assert partner_index(np.array([0, 0, 1, 1, 2]), 0) == 2        # first of the next class
    assert partner_index(np.array([0, 0, 1, 1, 2]), 4) == 0        # wraps to the first class
    assert partner_index(np.array([3, 3, 3]), 1) == 2              # one class only: the next sample
