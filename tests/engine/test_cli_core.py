"""`pointlens train` and `pointlens eval`: JSON contracts, predictions file, one-line errors."""
from __future__ import annotations

import json

import numpy as np
import pytest

from engine.cli import main
from engine.models.checkpoints import load_checkpoint
from tests.engine.core_helpers import CLASSES, toy_folder

TINY = ["--width", "0.125", "--points", "64", "--batch-size", "8", "--augmentations", "none"]


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return toy_folder(tmp_path_factory.mktemp("toy") / "toy")


@pytest.fixture(scope="module")
def trained(toy, tmp_path_factory):
    out = tmp_path_factory.mktemp("ckpt") / "m.safetensors"
    assert main(["train", "--data", str(toy), "--epochs", "2", "--out", str(out), "--json", *TINY]) == 0
    return out


def _json(capsys):
    out = capsys.readouterr().out.strip().splitlines()
    return json.loads(out[-1])


def test_train_json_and_checkpoint(toy, tmp_path, capsys):
    out = tmp_path / "m.safetensors"
    assert main(["train", "--data", str(toy), "--epochs", "1", "--out", str(out), "--json", "--seed", "3", *TINY]) == 0
    res = _json(capsys)
    assert res["checkpoint"] == str(out) and res["epochs"] == 1 and 0 <= res["test_accuracy"] <= 1
    meta = load_checkpoint(out).meta
    assert meta["classes"] == CLASSES and meta["params"]["seed"] == 3
    assert meta["command"].startswith("pointlens train") and "--seed 3" in meta["command"]


def test_model_options_reach_the_model(toy, tmp_path, capsys):
    out = tmp_path / "pm.safetensors"
    assert main(["train", "--model", "pointmask", "--alpha", "0.05", "--data", str(toy), "--epochs", "1",
                 "--limit", "12", "--out", str(out), "--json", *TINY]) == 0
    assert load_checkpoint(out).model.config["alpha"] == 0.05


def test_eval_json_contract_and_predictions(trained, toy, tmp_path, capsys):
    pred = tmp_path / "pred.npz"
    assert main(["eval", "--checkpoint", str(trained), "--data", str(toy), "--json",
                 "--save-predictions", str(pred)]) == 0
    res = _json(capsys)
    assert res["n"] == 12 and 0 <= res["accuracy"] <= 1 and 0 <= res["ece"] <= 1
    assert list(res["per_class_accuracy"]) == CLASSES
    assert set(res["top_k"]) == {"1", "2", "3"} and res["top_k"]["3"] == 1.0
    assert res["top_k"]["1"] == pytest.approx(res["accuracy"])
    assert np.asarray(res["confusion"]).sum() == 12
    with np.load(pred) as z:
        assert z["logits"].shape == (12, 3) and z["labels"].shape == (12,)
        assert list(z["indices"]) == list(range(12))
        assert (z["logits"].argmax(1) == z["labels"]).mean() == pytest.approx(res["accuracy"])
    assert not list(tmp_path.glob(".*.tmp"))


def test_eval_corruption_limit_and_class_warning(trained, tmp_path, capsys):
    other = toy_folder(tmp_path / "renamed", classes=["ball", "plate", "rod"])
    assert main(["eval", "--checkpoint", str(trained), "--data", str(other), "--limit", "6",
                 "--corrupt", "rotate-z:180", "--json"]) == 0
    captured = capsys.readouterr()
    res = json.loads(captured.out.strip().splitlines()[-1])
    assert res["n"] == 6 and res["corruption"] == "rotate-z:180"
    assert "warning" in captured.err and "differ" in captured.err


@pytest.mark.parametrize("argv, needle", [
    (["train", "--data", "builtin", "--out", "x.safetensors", "--epochs", "abc"], "--epochs"),
    (["train", "--data", "builtin", "--out", "x.safetensors", "--width", "wide"], "--width"),
    (["train", "--out", "x.safetensors"], "--data"),
    (["eval", "--data", "builtin"], "--checkpoint"),
    (["eval", "--checkpoint", "c", "--data", "builtin", "--batch-size", "0"], "--batch-size"),
])
def test_usage_errors_are_one_line(argv, needle, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0] and "Traceback" not in err[0]


def test_engine_errors_are_one_line(trained, toy, tmp_path, capsys):
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"\x00\x01 not a checkpoint" * 10)
    ssl = tmp_path / "ssl.safetensors"
    cases = [
        (["train", "--model", "pointnett", "--data", str(toy), "--out", "x.safetensors"], "Did you mean 'pointnet'"),
        (["train", "--data", str(toy), "--out", "x.safetensors", "--alpha", "0.1"], "--alpha does not apply to model 'pointnet'"),
        (["train", "--data", str(tmp_path / "missing"), "--out", "x.safetensors"], "missing"),
        (["train", "--data", str(toy), "--out", "x.safetensors", "--device", "cuda:7"], "cuda:7"),
        (["train", "--data", str(toy), "--out", "x.safetensors", "--augmentations", "wobble"], "wobble"),
        (["eval", "--checkpoint", str(tmp_path / "none.safetensors"), "--data", str(toy)], "none.safetensors"),
        (["eval", "--checkpoint", str(garbage), "--data", str(toy)], "garbage.pth"),
        (["eval", "--checkpoint", str(trained), "--data", str(toy), "--corrupt", "blur:2"], "blur:2"),
        (["eval", "--checkpoint", str(trained), "--data", str(toy), "--split", "val"], "val"),
        (["eval", "--checkpoint", str(ssl), "--data", str(toy)], "needs a classifier"),
    ]
    assert main(["train", "--model", "parae", "--parts", "4", "--data", str(toy), "--epochs", "1", "--limit", "8",
                 "--out", str(ssl), *TINY]) == 0
    capsys.readouterr()
    for argv, needle in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and needle in err[0], (argv, err)
        assert err[0].startswith(f"pointlens {argv[0]}: ")


def test_every_command_prints_its_help(capsys):
    # argparse formats help with %: a stray "%" in any option's help (registry options included)
    # would crash `--help` instead of printing it.
    from engine.cli import build_parser

    sub = next(a for a in build_parser()._actions if hasattr(a, "choices") and a.choices)
    for name in sub.choices:
        with pytest.raises(SystemExit) as done:
            main([name, "--help"])
        assert done.value.code == 0, name
        assert "usage:" in capsys.readouterr().out
