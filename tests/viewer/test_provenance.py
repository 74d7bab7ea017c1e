"""Provenance on exports: PNG text chunk, CSV comment line, sidecar JSON; screenshots carry it."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.core.errors import DataError
from viewer import provenance as prov


def _png(path, w=12, h=8):
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[..., 0] = np.arange(w, dtype=np.uint8)[None] * 20
    rgb[..., 1] = np.arange(h, dtype=np.uint8)[:, None] * 30
    Image.fromarray(rgb).save(path)
    return rgb


def test_describe_has_the_keys_and_is_json_safe():
    session = {"dataset": "builtin", "dataset_fingerprint": "abc", "checkpoint": "demo:pointnet",
               "checkpoint_fingerprint": "f00", "sample": "test/3", "index": np.int64(3)}
    d = prov.describe("flowam", {"beta": np.float32(0.1), "lr": float("nan"), "w": np.array([1.5, np.inf]),
                                 "cls": np.int64(2), "flag": np.bool_(True), "shape": (2, 3)},
                      session, layers=["cloud"])
    for k in ("tool", "created", "method", "params", "checkpoint", "checkpoint_fingerprint", "data",
              "data_fingerprint", "sample"):
        assert k in d
    assert d["tool"].startswith("PointLens ") and d["created"].endswith("+00:00")
    assert d["data"] == "builtin" and d["data_fingerprint"] == "abc" and "dataset" not in d
    assert d["params"] == {"beta": pytest.approx(0.1), "lr": None, "w": [1.5, None], "cls": 2, "flag": True,
                           "shape": [2, 3]}
    assert type(d["params"]["cls"]) is int and type(d["index"]) is int
    # strict JSON: no NaN/Infinity tokens, round-trips to the same dict
    text = json.dumps(d, allow_nan=False)
    assert json.loads(text) == d
    empty = prov.describe("view", None, None)
    assert empty["checkpoint"] is None and empty["params"] == {}


def test_png_chunk_round_trips_and_keeps_pixels(tmp_path):
    p = tmp_path / "a.png"
    rgb = _png(p)
    d = prov.describe("inspect", {"k": 3, "nan": np.float64("nan")}, {"dataset": "x.h5"}, note="ünïcode ✓")
    assert prov.read_png_provenance(str(p)) == {}
    prov.stamp_png(str(p), d)
    assert prov.read_png_provenance(str(p)) == d
    with Image.open(p) as im:
        assert im.text["Software"].startswith("PointLens")
        assert np.array_equal(np.asarray(im.convert("RGB")), rgb)
    # stamping again replaces the chunk, it does not add a second one
    d2 = dict(d, method="other")
    prov.stamp_png(str(p), d2)
    assert prov.read_png_provenance(str(p))["method"] == "other"
    assert not list(tmp_path.glob(".*.tmp"))


def test_png_errors_are_data_errors(tmp_path):
    bad = tmp_path / "not.png"
    bad.write_text("hello")
    with pytest.raises(DataError, match="not.png"):
        prov.read_png_provenance(str(bad))
    with pytest.raises(DataError, match="not.png"):
        prov.stamp_png(str(bad), {"a": 1})
    jpg = tmp_path / "x.jpg"
    Image.new("RGB", (4, 4)).save(jpg)
    with pytest.raises(DataError, match="not a PNG"):
        prov.stamp_png(str(jpg), {"a": 1})


def test_csv_round_trip(tmp_path):
    p = tmp_path / "t.csv"
    d = prov.describe("robustness", {"sigma": 0.01}, {"checkpoint": "c.safetensors"})
    rows = [[1, np.float32(0.5), "a,b"], [np.int64(2), float("nan"), 'quote "x"']]
    prov.write_csv(str(p), ["n", "acc", "name"], rows, d)
    assert p.read_text().splitlines()[0].startswith("# provenance: {")
    got, header, back = prov.read_csv(str(p))
    assert got == d and header == ["n", "acc", "name"]
    assert back == [["1", "0.5", "a,b"], ["2", "", 'quote "x"']]
    # a plain CSV (no provenance line) still reads
    (tmp_path / "plain.csv").write_text("a,b\n1,2\n")
    assert prov.read_csv(str(tmp_path / "plain.csv")) == ({}, ["a", "b"], [["1", "2"]])
    (tmp_path / "f").write_text("a file, not a folder")
    with pytest.raises(DataError, match="nowhere.csv"):
        prov.write_csv(str(tmp_path / "f" / "nowhere.csv"), ["a"], [], d)


def test_sidecar_round_trip(tmp_path):
    movie = tmp_path / "m.gif"
    d = prov.describe("orbit", {"frames": np.int32(6)}, None)
    path = prov.sidecar(str(movie), d)
    assert path == str(movie) + ".provenance.json"
    assert prov.read_sidecar(str(movie)) == d == prov.read_sidecar(path)
    with pytest.raises(DataError, match="provenance"):
        prov.read_sidecar(str(tmp_path / "none.gif"))


def test_render_command_stamps_its_png(tmp_path):
    from engine.results import save_result
    from engine.core.types import Result
    from viewer.render_cli import main

    pts = np.random.default_rng(0).normal(size=(64, 3)).astype(np.float32)
    res = Result("inspect", arrays={"points": pts, "saliency": np.abs(pts[:, 0])}, params={"points": 64},
                 provenance={"dataset": "builtin", "checkpoint": "demo:pointnet", "seed": 0})
    save_result(res, tmp_path / "r.h5")
    out = tmp_path / "fig.png"
    assert main([str(tmp_path / "r.h5"), "--out", str(out), "--size", "64", "48"]) == 0
    d = prov.read_png_provenance(str(out))
    assert d["method"] == "inspect" and d["export"] == "pointlens render"
    assert d["data"] == "builtin" and d["checkpoint"] == "demo:pointnet" and d["params"] == {"points": 64}
    assert d["size"] == [64, 48] and d["layers"] and all("name" in l for l in d["layers"])


def test_window_and_viewport_screenshots_carry_provenance(win, tmp_path):
    whole, view = tmp_path / "w.png", tmp_path / "sub" / "v.png"
    assert win.save_window_screenshot(str(whole))
    win.save_viewport_screenshot(str(view), view=0, transparent=False, scale=1)
    session = win.session.provenance()
    for path, export in ((whole, "window screenshot"), (view, "viewport screenshot")):
        d = prov.read_png_provenance(str(path))
        assert d["export"] == export
        assert d["data"] == session["dataset"] and d["data_fingerprint"] == session["dataset_fingerprint"]
        assert d["sample"] == session["sample"]
        names = {l["name"] for l in d["layers"]}
        assert names and names <= set(win.scene.names())
    assert prov.read_png_provenance(str(view))["view"] == 1
    # an unwritable target: a clear message, no stray files
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert not win.save_window_screenshot(str(blocker / "w.png"))
    with pytest.raises(DataError, match="could not save"):
        win.save_viewport_screenshot(str(blocker / "v.png"))


def test_app_screenshot_flag_writes_provenance(tmp_path):
    """``pointlens --screenshot`` (the headless figure path) stamps the PNG it saves."""
    import os
    import subprocess
    import sys

    out = tmp_path / "app.png"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    run = subprocess.run([sys.executable, "-m", "viewer.launch", "--settings", str(tmp_path / "s.ini"),
                          "--screenshot", str(out)], env=env, capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[2])
    assert run.returncode == 0, run.stderr[-2000:]
    d = prov.read_png_provenance(str(out))
    assert d["export"] == "window screenshot" and d["data"] == "builtin" and d["sample"]
    assert "cloud" in [l["name"] for l in d["layers"]]
