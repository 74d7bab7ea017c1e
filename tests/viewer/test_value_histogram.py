"""The histogram beside threshold/level sliders: its bins, its marker, its counts, and its place
in the PointMask, ParAE and SeRP panels after a result (the real window under Xvfb)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from .conftest import panel_named
from .test_panels_parae_serp_flowam import demo_or_skip, parae_checkpoint  # noqa: F401 - fixture
from .test_panels_pointmask_sagemix import ckpts  # noqa: F401 - fixture

pytestmark = pytest.mark.gui


@pytest.fixture
def hist(qtbot):
    from viewer.value_histogram import ValueHistogram

    w = ValueHistogram(bins=10, words=("kept", "masked"), label=lambda v: f"t = {v:.2f}")
    w.resize(210, 60)
    qtbot.addWidget(w)
    w.show()
    return w


def test_bins_are_numpys_histogram_of_the_values(hist):
    v = np.random.default_rng(0).beta(2, 5, 1000)
    hist.set_values(v, 0.0, 1.0)
    counts, edges = np.histogram(v, bins=10, range=(0.0, 1.0))
    assert np.array_equal(hist.counts, counts) and np.allclose(hist.edges, edges)
    # values outside the range go to the end bins: every value is counted once
    hist.set_values(np.r_[-1.0, 0.05, 0.55, 2.0], 0.0, 1.0)
    assert hist.counts.tolist() == [2, 0, 0, 0, 0, 1, 0, 0, 0, 1]


def test_marker_follows_the_value_and_counts_split_at_it(hist):
    v = np.array([0.1, 0.2, 0.2, 0.5, 0.7, 0.9])
    hist.set_values(v, 0.0, 1.0)
    r = hist.plot_rect()
    binned = hist.binnings
    for t in (0.0, 0.2, 0.25, 0.5, 1.0):
        hist.set_value(t)
        assert hist.marker_x() == pytest.approx(r.left() + t * r.width())
        assert hist.above() == (int((v > t).sum()), int((v <= t).sum()))   # kept <=> value > t
        assert hist.text() == f"{int((v > t).sum())} kept · {int((v <= t).sum())} masked"
    assert hist.binnings == binned                     # moving the marker never re-bins
    hist.set_value(3.0)                                # past the range: pinned to the right edge
    assert hist.marker_x() == pytest.approx(r.right())


def test_the_marker_is_drawn_where_it_says(hist, qtbot):
    hist.set_values(np.linspace(0, 1, 200), 0.0, 1.0)
    hist.set_value(0.25)
    img = hist.grab().toImage()
    y = int(hist.plot_rect().top() + 3)
    reds = [x for x in range(img.width()) if img.pixelColor(x, y).red() > 180 and img.pixelColor(x, y).blue() < 80]
    assert reds and abs(np.mean(reds) - hist.marker_x()) <= 1.5


def test_no_values_and_one_value_do_not_break_it(hist):
    hist.set_values([], 0.0, 1.0)
    assert hist.counts.sum() == 0 and hist.above() == (0, 0) and hist.text() == "no values yet"
    hist.set_values([0.3, 0.3])                        # one distinct value, no range given
    assert hist.counts.sum() == 2
    bare = type(hist)(bins=5, words=None, label=lambda v: f"std = {v:.3f}")
    bare.set_values([0.01, 0.02])
    bare.set_value(0.03)
    assert bare.text() == "std = 0.030" and bare.above() == (0, 2)
    with pytest.raises(ValueError, match="bin"):
        type(hist)(bins=0)


# ---- in the panels -------------------------------------------------------------------------------
def test_pointmask_histogram_of_the_mask_with_t_and_counts(win, qtbot, ckpts):  # noqa: F811
    panel = panel_named(win, "pointmask")
    panel.checkpoint.setEditText(ckpts["pointmask"])
    panel.letter.setValue(0)
    panel.slider.setValue(50)
    panel.run_btn.click()
    qtbot.waitUntil(lambda: panel.result is not None and panel.hist.n > 0, timeout=30000)
    prob = np.asarray(panel.result.arrays["mask_probability"], np.float64)
    counts, _ = np.histogram(prob, bins=panel.hist.bins, range=(0.0, 1.0))
    assert np.array_equal(panel.hist.counts, counts)
    binned = panel.hist.binnings
    panel.slider.setValue(30)
    assert panel.hist.value == pytest.approx(0.30)
    kept = int((prob > 0.30).sum())
    assert panel.hist.above() == (kept, len(prob) - kept)
    assert f"{kept:,} kept" in panel.hist.text()
    assert panel.hist.binnings == binned
    assert panel.hist.isVisible() and abs(panel.hist.width() - panel.slider.width()) <= 2   # right over it


def test_parae_histogram_of_point_densities_with_the_level(win, qtbot, parae_checkpoint):  # noqa: F811
    panel = panel_named(win, "parae")
    panel.ckpt.setText(parae_checkpoint)
    panel.resolution.setValue(16)
    old = panel.result
    assert panel.run_explain() is not None
    qtbot.waitUntil(lambda: panel.result is not None and panel.result is not old, timeout=30000)
    dens = np.asarray(panel.result.arrays["point_density"], np.float64)
    assert panel.hist.n == len(dens) and panel.hist.counts.sum() == len(dens)
    a, b = panel.level_range
    assert panel.hist.edges[0] == pytest.approx(a) and panel.hist.edges[-1] == pytest.approx(b)
    binned = panel.hist.binnings
    pos = panel.level.value() // 2
    panel.level.setValue(pos)
    level = panel.level_of(pos)
    assert panel.hist.value == pytest.approx(math.log(level))
    inside = int((dens > level).sum())
    assert panel.hist.above() == (inside, len(dens) - inside)
    assert panel.hist.binnings == binned
    assert panel.hist.isVisible()


def test_serp_histogram_of_offsets_with_the_std(win, qtbot):
    spec = demo_or_skip("serp-pointnet")
    panel = panel_named(win, "serp")
    panel.ckpt.setCurrentText(spec)
    panel.points.setValue(256)
    old = panel.result
    panel.run_explain()
    qtbot.waitUntil(lambda: panel.result is not None and panel.result is not old, timeout=30000)
    a = panel.result.arrays
    off = np.linalg.norm(np.asarray(a["perturbed"], np.float64) - np.asarray(a["original"], np.float64), axis=1)
    moved = off[np.asarray(a["perturbed_mask"]).astype(bool)]
    counts, _ = np.histogram(moved, bins=panel.std_hist.bins, range=(panel.std_hist.edges[0], panel.std_hist.edges[-1]))
    assert np.array_equal(panel.std_hist.counts, counts) and panel.std_hist.n == moved.size
    assert panel.std_hist.value == pytest.approx(panel.std.value())
    panel.std.setValue(0.05)              # the marker moves at once, before the re-run arrives
    assert panel.std_hist.value == pytest.approx(0.05)
    assert panel.std_hist.isVisible()
