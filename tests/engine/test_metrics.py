"""Metrics against hand computation and scikit-learn; SageMix Table 3 corruptions."""
from __future__ import annotations

import numpy as np
import pytest

from engine import metrics
from engine.numeric import corruptions
from engine.core.errors import ParameterError


def _logits_from_probs(p):
    return np.log(np.asarray(p, dtype=np.float64))


# Five samples, two classes; softmax(log p) = p exactly.
PROBS = [[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.45, 0.55], [0.88, 0.12]]
LABELS = [0, 1, 1, 0, 1]


def test_ece_by_hand():
    # confidences 0.9, 0.8, 0.7, 0.55, 0.88; correct 1, 0, 1, 0, 0.
    # 15 bins of width 1/15: 0.9 and 0.88 share (0.8667, 0.9333]; the others are alone.
    # ECE = 2/5 |0.5 - 0.89| + 1/5 |0 - 0.8| + 1/5 |1 - 0.7| + 1/5 |0 - 0.55| = 0.486
    ece = metrics.expected_calibration_error(_logits_from_probs(PROBS), np.array(LABELS))
    assert ece == pytest.approx(0.486, abs=1e-9)
    # with 2 bins everything above 0.5 lands in one bin: |2/5 - mean conf 0.766|
    assert metrics.expected_calibration_error(_logits_from_probs(PROBS), np.array(LABELS), bins=2) == \
        pytest.approx(abs(0.4 - np.mean([0.9, 0.8, 0.7, 0.55, 0.88])), abs=1e-9)


def _ece_reference(logits, labels, bins=15):
    """Guo et al.'s reference loop: bins (lo, hi], weighted |accuracy - confidence|."""
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    conf, pred = p.max(1), p.argmax(1)
    ece = 0.0
    edges = np.linspace(0, 1, bins + 1)
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (conf > lo) & (conf <= hi)
        if sel.any():
            ece += sel.mean() * abs((pred[sel] == labels[sel]).mean() - conf[sel].mean())
    return ece


def test_ece_matches_the_reference_loop_on_random_logits():
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=3, size=(500, 7))
    labels = rng.integers(0, 7, 500)
    assert metrics.expected_calibration_error(logits, labels) == pytest.approx(_ece_reference(logits, labels), abs=1e-12)


def test_accuracy_topk_confusion_against_sklearn():
    from sklearn.metrics import confusion_matrix, recall_score, top_k_accuracy_score

    rng = np.random.default_rng(1)
    logits = rng.normal(size=(200, 6))
    labels = rng.integers(0, 6, 200)
    labels[:3] = 5
    assert metrics.accuracy(logits, labels) == pytest.approx((logits.argmax(1) == labels).mean())
    for k in (1, 2, 3, 5):
        assert metrics.top_k_accuracy(logits, labels, k) == pytest.approx(
            top_k_accuracy_score(labels, logits, k=k, labels=range(6)))
    np.testing.assert_array_equal(metrics.confusion_matrix(logits, labels),
                                  confusion_matrix(labels, logits.argmax(1), labels=range(6)))
    np.testing.assert_allclose(metrics.per_class_accuracy(logits, labels),
                               recall_score(labels, logits.argmax(1), average=None, labels=range(6)))


def test_hand_confusion_topk_and_summary():
    logits = np.array([[3, 2, 1], [1, 3, 2], [1, 2, 3], [2, 3, 1]], float)
    labels = np.array([0, 2, 2, 0])
    # predictions 0, 1, 2, 1 -> correct, wrong, correct, wrong; top-2 sets {0,1} {1,2} {2,1} {1,0}
    np.testing.assert_array_equal(metrics.confusion_matrix(logits, labels),
                                  [[1, 1, 0], [0, 0, 0], [0, 1, 1]])
    assert metrics.top_k_accuracy(logits, labels, 1) == 0.5
    assert metrics.top_k_accuracy(logits, labels, 2) == 1.0
    s = metrics.summary(logits, labels, ["a", "b", "c"])
    assert s["n"] == 4 and s["accuracy"] == 0.5
    assert s["per_class_accuracy"] == {"a": 0.5, "b": None, "c": 0.5}
    assert s["top_k"] == {"1": 0.5, "2": 1.0, "3": 1.0}             # k=5 > 3 classes is left out
    assert 0 <= s["ece"] <= 1 and s["confusion"] == [[1, 1, 0], [0, 0, 0], [0, 1, 1]]


def test_metrics_reject_bad_input():
    with pytest.raises(ParameterError, match="labels must lie in 0..1"):
        metrics.accuracy(np.zeros((2, 2)), np.array([0, 2]))
    with pytest.raises(ParameterError, match="NaN"):
        metrics.accuracy(np.array([[np.nan, 0.0]]), np.array([0]))
    with pytest.raises(ParameterError, match="1 <= k <= 2"):
        metrics.top_k_accuracy(np.zeros((2, 2)), np.array([0, 1]), 3)


# --- corruptions (SageMix Table 3) ------------------------------------------------------------

@pytest.fixture
def clouds():
    return np.random.default_rng(2).uniform(-1, 1, size=(6, 64, 3)).astype(np.float32)


def test_every_table3_level_parses():
    assert [corruptions.parse(s).spec for s in corruptions.TABLE3] == \
        ["noise:0.01", "noise:0.05", "rotate-x:180", "rotate-z:180", "scale:0.6", "scale:2",
         "dropout:0.25", "dropout:0.5"]


@pytest.mark.parametrize("bad", ["noise", "blur:1", "noise:abc", "dropout:1.0", "scale:0", "noise:-1",
                                 "rotate-z:nan"])
def test_bad_corruption_specs(bad):
    with pytest.raises(ParameterError, match="corruption"):
        corruptions.parse(bad)


def test_rotations_scaling_by_hand(clouds):
    z = corruptions.apply(clouds, "rotate-z:180")
    np.testing.assert_allclose(z, clouds * np.array([-1, -1, 1], np.float32), atol=1e-6)
    x = corruptions.apply(clouds, "rotate-x:180")
    np.testing.assert_allclose(x, clouds * np.array([1, -1, -1], np.float32), atol=1e-6)
    q = corruptions.apply(clouds, "rotate-z:90")                     # (x, y) -> (-y, x)
    np.testing.assert_allclose(q[..., 0], -clouds[..., 1], atol=1e-6)
    np.testing.assert_allclose(q[..., 1], clouds[..., 0], atol=1e-6)
    np.testing.assert_allclose(corruptions.apply(clouds, "scale:0.6"), clouds * 0.6, rtol=1e-6)
    assert corruptions.apply(clouds[0], "scale:2.0").shape == (64, 3)


def test_noise_is_seeded_with_the_right_sigma():
    pts = np.zeros((20, 512, 3), np.float32)
    a = corruptions.apply(pts, "noise:0.05", seed=1)
    assert a.std() == pytest.approx(0.05, rel=0.03) and abs(a.mean()) < 0.002
    np.testing.assert_array_equal(a, corruptions.apply(pts, "noise:0.05", seed=1))
    assert not np.array_equal(a, corruptions.apply(pts, "noise:0.05", seed=2))
    assert not pts.any()                                            # input untouched


def test_dropout_keeps_a_random_subset(clouds):
    out = corruptions.apply(clouds, "dropout:0.25", seed=0)
    assert out.shape == (6, 48, 3)
    for c, o in zip(clouds, out):
        rows = {tuple(r) for r in c}
        assert all(tuple(r) in rows for r in o) and len({tuple(r) for r in o}) == 48
    kept0 = {tuple(r) for r in out[0]}
    kept_idx = [i for i, r in enumerate(clouds[0]) if tuple(r) in kept0]
    assert kept_idx != list(range(48))                              # not just the first points
    assert corruptions.apply(clouds, "dropout:0.5").shape == (6, 32, 3)
