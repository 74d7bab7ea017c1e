"""`pointlens data info`: the JSON contract and the one-line error."""
from __future__ import annotations

import json

import numpy as np

import engine.cli as cli
from engine.data import save_h5_folder


def _run(monkeypatch, capsys, argv):
    monkeypatch.setattr(cli, "COMMANDS", ["data"])   # only this command's module is needed here
    code = cli.main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_data_info_json_contract(tmp_path, monkeypatch, capsys):
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(7, 32, 3)).astype(np.float32)
    save_h5_folder(tmp_path / "d", {"train": {"points": pts[:5], "labels": np.array([0, 1, 1, 2, 2])},
                                    "test": {"points": pts[5:], "labels": np.array([2, 0])}}, ["a", "b", "c"])
    code, out, _ = _run(monkeypatch, capsys, ["data", "info", str(tmp_path / "d"), "--json"])
    assert code == 0
    d = json.loads(out)
    assert d["format"] == "pointnet_h5" and d["classes"] == ["a", "b", "c"]
    assert d["splits"] == {"train": 5, "test": 2} and d["points_per_sample"] == 32
    assert d["class_counts"]["train"] == {"a": 1, "b": 2, "c": 2}
    code, out, _ = _run(monkeypatch, capsys, ["data", "info", str(tmp_path / "d")])
    assert code == 0 and "train" in out and "a, b, c" in out


def test_data_info_builtin(monkeypatch, capsys):
    code, out, _ = _run(monkeypatch, capsys, ["data", "info", "builtin", "--json"])
    d = json.loads(out)
    assert code == 0 and d["format"] == "builtin" and d["splits"] == {"train": 1000, "test": 300}
    assert len(d["classes"]) == 10 and d["points_per_sample"] == 2048


def test_data_info_bad_path_is_one_line(tmp_path, monkeypatch, capsys):
    (tmp_path / "broken.h5").write_bytes(b"\0" * 100)
    code, out, err = _run(monkeypatch, capsys, ["data", "info", str(tmp_path / "broken.h5")])
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "broken.h5" in err and "Traceback" not in err
