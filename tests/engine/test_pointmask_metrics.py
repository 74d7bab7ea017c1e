"""Paper Table 2 (lowest-scoring classes) and Fig. 7 (top-n) helpers in engine.metrics."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import recall_score, top_k_accuracy_score

from engine.core.errors import ParameterError
from engine.metrics import lowest_classes, lowest_classes_table, per_class_accuracy, summary, top_k_accuracy


def _predictions(seed=0, n=300, k=6):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) + 2.0 * np.eye(k)[labels] * rng.random((n, 1))
    return logits, labels


def test_lowest_classes_match_sklearn_recall():
    logits, labels = _predictions()
    names = [f"c{i}" for i in range(6)]
    recall = recall_score(labels, logits.argmax(1), average=None)
    want = sorted(zip(names, recall), key=lambda t: t[1])[:3]
    got = lowest_classes(per_class_accuracy(logits, labels), 3, names)
    assert [g[0] for g in got] == [w[0] for w in want]
    np.testing.assert_allclose([g[1] for g in got], [w[1] for w in want])
    # the dict eval's summary gives works the same way
    assert lowest_classes(summary(logits, labels, names)["per_class_accuracy"], 3) == got


def test_lowest_classes_skips_empty_classes_and_keeps_ties_in_order():
    assert lowest_classes({"a": 0.5, "b": None, "c": 0.1, "d": 0.5, "e": float("nan")}, 5) == \
        [("c", 0.1), ("a", 0.5), ("d", 0.5)]
    with pytest.raises(ParameterError):
        lowest_classes({"a": 0.5}, 0)
    with pytest.raises(ParameterError):
        lowest_classes(np.array([0.1, 0.2]), 1, ["only one name"])


def test_table_2_layout_across_models():
    table = lowest_classes_table({"pointnet": {"flowerpot": 0.0, "cup": 0.35, "radio": 0.3, "wardrobe": 0.05},
                                  "pointmask": {"flowerpot": 0.25, "cup": 0.55, "radio": 0.6, "wardrobe": 0.4}}, 3)
    assert table["by"] == "pointnet" and table["classes"] == ["flowerpot", "wardrobe", "radio"]
    assert table["accuracy"]["pointmask"] == [0.25, 0.4, 0.6]


def test_top_n_matches_sklearn():
    logits, labels = _predictions(1)
    for n in range(1, 6):
        assert top_k_accuracy(logits, labels, n) == pytest.approx(top_k_accuracy_score(labels, logits, k=n))


def test_summary_reports_top_1_to_5_as_in_fig7():
    # Fig. 7 of the PointMask paper plots top-n for n = 1..5; eval's summary must carry each one.
    logits, labels = _predictions(1)
    s = summary(logits, labels)
    assert list(s["top_k"]) == ["1", "2", "3", "4", "5"]
    assert s["top_k"]["4"] == pytest.approx(top_k_accuracy_score(labels, logits, k=4))
