"""`pointlens` argument routing (viewer/launch.py): --version, --help, sub-commands, and paths
opening the GUI, tested without opening a window (the GUI's main is replaced)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from viewer import launch

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def gui(monkeypatch):
    """Replace the GUI's main: record the arguments it would get."""
    import viewer.app

    calls: list[list[str]] = []
    monkeypatch.setattr(viewer.app, "main", lambda argv: calls.append(list(argv)) or 0)
    return calls


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "clouds").mkdir()
    for name in ("chair.ply", "set.h5", "model.safetensors", "model.pt", "model.pth", "model.t7", "model.tar",
                 "model.bin", "model.ckpt"):
        (tmp_path / name).write_bytes(b"x")
    return tmp_path


def test_version(capsys, gui):
    assert launch.main(["--version"]) == 0
    assert capsys.readouterr().out == "pointlens 0.1.0\n" and gui == []


def test_help_lists_gui_options_and_every_command(capsys, gui):
    assert launch.main(["--help"]) == 0
    text = capsys.readouterr().out
    for option in ("--data", "--checkpoint", "--screenshot", "--self-test", "--layout", "--version"):
        assert option in text
    commands = text.split("commands (headless", 1)[1]
    for command in ("data", "train", "eval", "explain", "mix", "robustness", "bias-lab", "render", "run"):
        assert f"\n  {command} " in commands, command
    assert gui == []


def test_no_arguments_open_the_gui(gui):
    assert launch.main([]) == 0
    assert gui == [[]]


@pytest.mark.parametrize("path, option", [("set.h5", "--data"), ("chair.ply", "--data"), ("clouds", "--data"),
                                          ("model.safetensors", "--checkpoint"), ("model.pt", "--checkpoint"),
                                          ("model.pth", "--checkpoint"), ("model.t7", "--checkpoint"),
                                          ("model.tar", "--checkpoint"), ("model.bin", "--checkpoint"),
                                          ("model.ckpt", "--checkpoint")])
def test_a_path_opens_the_gui_on_it(files, gui, path, option):
    assert launch.main([path]) == 0
    assert gui == [[option, str(files / path)]]


def test_data_and_checkpoint_with_gui_options(files, gui):
    assert launch.main(["--layout", "2", "model.pt", "clouds", "--size", "800x600"]) == 0
    assert gui == [["--layout", "2", "--size", "800x600", "--data", str(files / "clouds"),
                    "--checkpoint", str(files / "model.pt")]]


def test_builtin_and_demo_models_need_no_file(files, gui):
    assert launch.main(["builtin", "demo:pointnet"]) == 0
    assert gui == [["--data", "builtin", "--checkpoint", "demo:pointnet"]]


@pytest.mark.parametrize("argv, words", [
    (["missing.h5"], "missing.h5: no such file or folder"),
    (["set.h5", "chair.ply"], "one dataset at a time"),
    (["--data", "builtin", "set.h5"], "one dataset at a time"),
    (["model.pt", "--checkpoint", "demo:pointnet"], "one checkpoint at a time"),
])
def test_bad_paths_exit_2_with_one_line(files, gui, capsys, argv, words):
    assert launch.main(argv) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1 and gui == []


def test_sub_commands_stay_commands_even_beside_a_folder_of_their_name(files, gui, monkeypatch):
    (files / "data").mkdir()
    (files / "notacommand").mkdir()
    assert launch.route(["data", "info", "builtin"]) == ("cli", ["data", "info", "builtin"])
    assert launch.route(["render", "r.h5", "--out", "x.png"]) == ("render", ["r.h5", "--out", "x.png"])
    assert launch.route(["run", "occlusion", "--help"])[0] == "cli"
    assert launch.route(["--data", "builtin", "--screenshot", "x.png"]) == \
        ("gui", ["--data", "builtin", "--screenshot", "x.png"])
    assert launch.route(["notacommand"]) == ("gui", ["--data", str(files / "notacommand")])
    assert launch.route(["nonsense"]) == ("cli", ["nonsense"])          # argparse: invalid choice, exit 2


def test_unknown_word_exits_2_in_a_subprocess():
    out = subprocess.run([sys.executable, "-m", "viewer.launch", "no-such-command"], cwd=ROOT, capture_output=True,
                         text=True, timeout=120, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert out.returncode == 2 and "invalid choice" in out.stderr


def test_a_light_bundle_says_what_it_lacks(tmp_path, capsys, monkeypatch):
    import sys

    from viewer.bundle_info import bundle_lacks
    from viewer.launch import main

    assert bundle_lacks(str(tmp_path)) == ""                   # a full bundle: no file
    (tmp_path / "bundle-lacks.txt").write_text("light bundle: no MP4 export (ffmpeg)\n")
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert main(["--version"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("pointlens ") and "no MP4 export (ffmpeg)" in out
