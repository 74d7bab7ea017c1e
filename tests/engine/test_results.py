"""Result files: arrays, JSON metadata and text arrays (non-ASCII included) survive a round trip."""
import numpy as np

from engine.results import load_result, save_result
from engine.core.types import Result


def test_result_round_trip_keeps_text_and_numbers(tmp_path):
    res = Result("demo", arrays={"points": np.arange(12, dtype=np.float32).reshape(4, 3),
                                 "names": np.array(["café", "chair", "naïve"])},
                 metrics={"acc": 0.5, "missing": float("nan")}, params={"sigma": 0.3, "method": "flow"},
                 provenance={"data": "builtin"})
    path = tmp_path / "r.h5"
    save_result(res, path)
    back = load_result(path)
    np.testing.assert_array_equal(back.arrays["points"], res.arrays["points"])
    assert back.arrays["names"].tolist() == ["café", "chair", "naïve"]
    assert back.kind == "demo" and back.params == {"sigma": 0.3, "method": "flow"}
    assert back.metrics == {"acc": 0.5, "missing": None} and back.provenance == {"data": "builtin"}
