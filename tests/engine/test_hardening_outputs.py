"""Hardening of outputs: no input is overwritten, atomic writes leave at most one temp file with
normal permissions, and every write failure is one line through engine.cli.main."""
from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.atomic import OutputError, atomic_path, temp_name
from engine.cli import main
from engine.core.errors import DataError
from engine.data import h5 as h5mod
from engine.inputs import begin_command, end_command, record_input
from tests.engine.core_helpers import CLASSES, toy_clouds

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--width", "0.125", "--points", "64", "--batch-size", "8", "--augmentations", "none"]


@pytest.fixture(autouse=True)
def _clean():
    yield
    end_command()
    h5mod.close_all()


def _h5(path, n=12):
    from engine.data import save_h5
    x, y = toy_clouds(n, 64, seed=3)
    return save_h5(path, x, y, CLASSES)


def _one_line_error(capsys, *words):
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


# --- atomic writes -------------------------------------------------------------------------------

def test_temp_name_is_fixed_per_target(tmp_path):
    assert temp_name(tmp_path / "a.h5") == tmp_path / ".a.h5.pointlens-tmp"
    assert temp_name(tmp_path / "a.mp4", ".part.mp4") == tmp_path / ".a.mp4.pointlens-tmp.part.mp4"


def test_killed_write_leaves_one_temp_removed_by_the_next_write(tmp_path):
    target = tmp_path / "out.bin"
    code = ("import os, sys; from engine.atomic import atomic_path\n"
            "with atomic_path(sys.argv[1]) as t:\n"
            "    open(t, 'wb').write(b'half'); os._exit(9)\n")
    for _ in range(2):   # killed twice: still one temp file
        subprocess.run([sys.executable, "-c", code, str(target)], cwd=ROOT, check=False)
    assert [p.name for p in tmp_path.iterdir()] == [".out.bin.pointlens-tmp"]
    with atomic_path(target) as t:
        t.write_bytes(b"whole")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]
    assert target.read_bytes() == b"whole"


def test_failed_write_keeps_the_previous_file_and_removes_the_temp(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(ValueError):
        with atomic_path(target) as t:
            t.write_bytes(b"new")
            raise ValueError("boom")
    assert target.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_written_files_get_normal_permissions(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        with atomic_path(tmp_path / "f.txt") as t:
            t.write_text("x")
    finally:
        os.umask(old)
    assert (tmp_path / "f.txt").stat().st_mode & 0o777 == mode


def test_stale_temp_symlink_is_replaced_not_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    temp_name(tmp_path / "out.txt").symlink_to(victim)
    with atomic_path(tmp_path / "out.txt") as t:
        t.write_text("new")
    assert victim.read_text() == "keep" and (tmp_path / "out.txt").read_text() == "new"


def test_target_that_is_a_folder_is_refused(tmp_path):
    with pytest.raises(DataError, match="is a folder; choose an output file"):
        with atomic_path(tmp_path):
            pass


def test_target_under_a_file_is_refused(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(DataError, match="is a file, not a folder"):
        with atomic_path(tmp_path / "f" / "out.h5"):
            pass


def test_output_error_is_also_an_oserror_for_optional_caches(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(OSError):
        with atomic_path(tmp_path / "f" / "cache.npy"):
            pass


# --- inputs are never outputs --------------------------------------------------------------------

def test_recorded_input_is_refused_with_one_message(tmp_path):
    p = tmp_path / "in.h5"
    p.write_bytes(b"x")
    begin_command()
    record_input(p, "dataset")
    with pytest.raises(DataError) as e:
        with atomic_path(p):
            pass
    assert str(e.value) == f"{p} is one of this command's inputs (dataset); choose another output file."
    link = tmp_path / "link.h5"
    link.symlink_to(p)
    with pytest.raises(DataError, match="inputs"):
        with atomic_path(link):
            pass
    assert p.read_bytes() == b"x"


def test_no_record_outside_a_command(tmp_path):
    p = tmp_path / "in.h5"
    record_input(p, "dataset")
    with atomic_path(p) as t:
        t.write_bytes(b"ok")
    assert p.read_bytes() == b"ok"


def test_own_outputs_read_back_are_not_inputs(tmp_path):
    p = tmp_path / "ck.bin"
    begin_command()
    with atomic_path(p) as t:
        t.write_bytes(b"1")
    record_input(p, "checkpoint")          # the command reloads what it wrote
    with atomic_path(p) as t:
        t.write_bytes(b"2")
    assert p.read_bytes() == b"2"


def test_train_out_equal_to_the_training_h5_is_refused(tmp_path, capsys):
    data = _h5(tmp_path / "train.h5")
    before = data.read_bytes()
    rc = main(["train", "--data", str(data), "--epochs", "1", "--out", str(data), *TINY])
    assert rc == 2
    _one_line_error(capsys, "pointlens train:", "is one of this command's inputs (dataset)")
    assert data.read_bytes() == before


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("hard")
    data = _h5(d / "train.h5")
    ck = d / "m.safetensors"
    assert main(["train", "--data", str(data), "--epochs", "1", "--out", str(ck), *TINY]) == 0
    return data, ck


def test_eval_predictions_onto_the_checkpoint_is_refused(trained, capsys):
    data, ck = trained
    before = ck.read_bytes()
    rc = main(["eval", "--checkpoint", str(ck), "--data", str(data), "--split", "train",
               "--save-predictions", str(ck), "--points", "64"])
    assert rc == 2
    _one_line_error(capsys, "pointlens eval:", "inputs (checkpoint)")
    assert ck.read_bytes() == before


def test_mix_out_onto_its_input_is_refused(trained, capsys):
    data, _ = trained
    before = data.read_bytes()
    rc = main(["mix", "rsmix", "--data", str(data), "--split", "train", "--a", "0", "--b", "1", "--out", str(data)])
    assert rc == 2
    _one_line_error(capsys, "pointlens mix:", "inputs (dataset)")
    assert data.read_bytes() == before


def test_explain_out_onto_the_data_file_is_refused(tmp_path, capsys):
    data = _h5(tmp_path / "d.h5")
    before = data.read_bytes()
    rc = main(["explain", "pointmask", "--checkpoint", "demo:pointmask", "--data", str(data), "--split", "all",
               "--index", "0", "--out", str(data)])
    assert rc == 2
    _one_line_error(capsys, "pointlens explain:", "inputs (dataset)")
    assert data.read_bytes() == before


def test_render_onto_its_result_is_refused(tmp_path, capsys):
    from engine.core.types import Result
    from engine.results import save_result
    from viewer.render_cli import main as render_main

    r = tmp_path / "R.h5"
    pts = toy_clouds(1, 64)[0][0]
    save_result(Result("inspect", arrays={"points": pts, "saliency": np.abs(pts[:, 0]),
                                          "probabilities": np.full(3, 1 / 3, np.float32)}), r)
    before = r.read_bytes()
    try:
        rc = render_main([str(r), "--out", str(r), "--size", "64", "64"])
    finally:
        end_command()
    assert rc == 2
    _one_line_error(capsys, "pointlens render:", "inputs (result file)")
    assert r.read_bytes() == before


# --- failures are one line -----------------------------------------------------------------------

def test_explain_out_naming_a_folder_is_one_line(tmp_path, capsys):
    data = _h5(tmp_path / "d.h5")
    rc = main(["explain", "pointmask", "--data", str(data), "--split", "all", "--out", str(tmp_path)])
    assert rc == 2
    _one_line_error(capsys, "is a folder")


def test_out_under_a_file_is_one_line(tmp_path, capsys):
    data = _h5(tmp_path / "d.h5")
    rc = main(["explain", "pointmask", "--data", str(data), "--split", "all", "--out", str(data / "r.h5")])
    assert rc == 2
    _one_line_error(capsys, "is a file, not a folder")


def test_disk_full_while_writing_is_one_line(tmp_path, capsys, monkeypatch):
    data = _h5(tmp_path / "d.h5")

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr("engine.atomic.replace_durably", full)
    rc = main(["explain", "pointmask", "--data", str(data), "--split", "all", "--out", str(tmp_path / "r.h5")])
    assert rc == 2
    _one_line_error(capsys, "r.h5: cannot write it: disk full")
    assert not list(tmp_path.glob(".*pointlens-tmp*"))


def test_read_only_target_is_one_line(tmp_path, capsys, monkeypatch):
    data = _h5(tmp_path / "d.h5")
    real_open = os.open

    def ro(path, *a, **k):
        if str(path).endswith("pointlens-tmp"):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, *a, **k)
    monkeypatch.setattr(os, "open", ro)
    rc = main(["explain", "pointmask", "--data", str(data), "--split", "all", "--out", str(tmp_path / "r.h5")])
    assert rc == 2
    _one_line_error(capsys, "cannot write it: read-only file system")


def test_stray_oserror_is_one_line(capsys, monkeypatch):
    import engine.cli.data as data_cli

    def boom(args):
        raise FileNotFoundError(errno.ENOENT, "No such file", "/x/\x1b[2Jy")
    parser_func = data_cli.register

    def register(sub):
        parser_func(sub)
        sub.choices["data"].set_defaults(func=boom)
    monkeypatch.setattr(data_cli, "register", register)
    assert main(["data"]) == 2
    line = _one_line_error(capsys, "pointlens data:", "no such file or folder")
    assert "\x1b" not in line and "\\x1b" in line


def test_control_characters_in_names_are_escaped(tmp_path, capsys):
    bad = tmp_path / "evil\x1b]0;pwned\x07\nname.ply"
    bad.write_text("not a ply")
    assert main(["data", "info", str(bad)]) == 2
    line = _one_line_error(capsys, "pointlens data:", "\\x1b]0;pwned\\x07\\nname.ply")
    assert not any(ord(c) < 32 for c in line)


def test_broken_pipe_exits_quietly():
    code = ("import sys, time; time.sleep(0.3); from engine.cli import main; "
            "sys.exit(main(['data', 'info', 'builtin', '--json']))")
    p = subprocess.run(f"{sys.executable} -c \"{code}\" | head -c 0", shell=True, cwd=ROOT,
                       capture_output=True, text=True, timeout=300, executable="/bin/bash")
    assert "Traceback" not in p.stderr and "BrokenPipe" not in p.stderr, p.stderr
    assert p.stderr.strip() == ""


# --- a real full / read-only disk (needs root to mount a tmpfs) ----------------------------------

@pytest.fixture
def tiny_fs(tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("needs root to mount a tmpfs")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True)
    if r.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.decode().strip()})")
    yield mnt
    subprocess.run(["umount", str(mnt)], check=False)


def test_disk_full_on_a_real_tiny_tmpfs(tmp_path, tiny_fs, capsys):
    data = _h5(tmp_path / "d.h5")
    try:                                   # fill the disk to the last block
        with open(tiny_fs / "fill", "wb") as f:
            while True:
                f.write(b"\0" * 4096)
                f.flush()
    except OSError as e:
        assert e.errno == errno.ENOSPC
    out = tiny_fs / "r.h5"
    rc = main(["mix", "rsmix", "--data", str(data), "--split", "all", "--a", "0", "--b", "1", "--out", str(out)])
    assert rc == 2
    _one_line_error(capsys, "pointlens mix:", "disk full")
    assert not out.exists() and sorted(p.name for p in tiny_fs.iterdir()) == ["fill"]


def test_read_only_mount_is_one_line(tmp_path, tiny_fs, capsys):
    data = _h5(tmp_path / "d.h5")
    r = subprocess.run(["mount", "-o", "remount,ro", str(tiny_fs)], capture_output=True)
    if r.returncode:
        pytest.skip("cannot remount read-only")
    rc = main(["mix", "rsmix", "--data", str(data), "--split", "all", "--a", "0", "--b", "1",
               "--out", str(tiny_fs / "r.h5")])
    assert rc == 2
    _one_line_error(capsys, "read-only file system")
