"""Hardening of file reading: special files refused before opening, plain words for symlink loops
and permissions, and lying headers refused before memory is allocated. Bad files are written here."""
from __future__ import annotations

import errno
import json
import os
import signal
import socket
import struct
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from engine.core.errors import CheckpointError, DataError
from engine.data import h5 as h5mod
from engine.data.files import read_geometry
from engine.data.open import open_dataset
from engine.models.checkpoints import load_checkpoint, read_meta


@pytest.fixture(autouse=True)
def _no_hang():
    """A FIFO opened by mistake would block forever: fail the test instead."""
    old = signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(TimeoutError("hung")))
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)
    h5mod.close_all()


# --- special files, loops, permissions -----------------------------------------------------------

def test_fifo_as_dataset_is_refused_without_hanging(tmp_path):
    fifo = tmp_path / "cloud.ply"
    os.mkfifo(fifo)
    with pytest.raises(DataError, match="FIFO"):
        open_dataset(fifo)


def test_fifo_as_checkpoint_is_refused_without_hanging(tmp_path):
    fifo = tmp_path / "model.safetensors"
    os.mkfifo(fifo)
    with pytest.raises(CheckpointError, match="FIFO"):
        load_checkpoint(fifo)
    with pytest.raises(CheckpointError, match="FIFO"):
        read_meta(fifo)


def test_fifo_h5_is_refused(tmp_path):
    fifo = tmp_path / "train.h5"
    os.mkfifo(fifo)
    with pytest.raises(DataError, match="FIFO"):
        open_dataset(fifo)


def test_character_device_is_refused(tmp_path):
    link = tmp_path / "zero.npy"
    link.symlink_to("/dev/zero")
    with pytest.raises(DataError, match="character device"):
        open_dataset(link)


def test_socket_is_refused():
    d = tempfile.mkdtemp(prefix="plsock")
    path = os.path.join(d, "s.pcd")
    s = socket.socket(socket.AF_UNIX)
    try:
        s.bind(path)
        with pytest.raises(DataError, match="socket"):
            open_dataset(path)
    finally:
        s.close()
        os.unlink(path)
        os.rmdir(d)


def test_fifo_inside_a_folder_dataset_is_skipped(tmp_path):
    d = tmp_path / "chair"
    d.mkdir()
    (d / "a.xyz").write_text("0 0 0\n1 0 0\n0 1 0\n")
    os.mkfifo(d / "b.xyz")
    ds = open_dataset(tmp_path)
    assert len(ds.split("all")) == 1


def test_symlink_loop_dataset_says_symlink_loop(tmp_path):
    (tmp_path / "a.ply").symlink_to(tmp_path / "b.ply")
    (tmp_path / "b.ply").symlink_to(tmp_path / "a.ply")
    with pytest.raises(DataError, match="symlink loop"):
        open_dataset(tmp_path / "a.ply")


def test_symlink_loop_checkpoint_says_symlink_loop(tmp_path):
    (tmp_path / "m.pth").symlink_to(tmp_path / "m.pth")
    with pytest.raises(CheckpointError, match="symlink loop"):
        load_checkpoint(tmp_path / "m.pth")


def test_permission_denied_is_named(tmp_path, monkeypatch):
    p = tmp_path / "c.xyz"
    p.write_text("0 0 0\n1 1 1\n")

    def deny(self):
        raise PermissionError(errno.EACCES, "Permission denied", str(self))
    monkeypatch.setattr(Path, "read_bytes", deny)
    with pytest.raises(DataError) as e:
        read_geometry(p)
    assert "permission denied" in str(e.value) and "truncated" not in str(e.value)


def test_unreadable_checkpoint_says_permission_denied(tmp_path, monkeypatch):
    p = tmp_path / "m.safetensors"
    p.write_bytes(b"x" * 32)
    monkeypatch.setattr(os, "access", lambda *a, **k: False)
    with pytest.raises(CheckpointError, match="permission denied"):
        load_checkpoint(p)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_h5_says_permission_denied(tmp_path):  # pragma: no cover - needs a normal user
    p = tmp_path / "train.h5"
    with h5py.File(p, "w") as f:
        f["data"] = np.ones((2, 4, 3))
        f["label"] = np.zeros(2, int)
    p.chmod(0)
    with pytest.raises(DataError, match="permission denied"):
        open_dataset(p)


# --- lying headers -------------------------------------------------------------------------------

def test_binary_ply_with_huge_vertex_count(tmp_path):
    p = tmp_path / "c.ply"
    p.write_bytes(b"ply\nformat binary_little_endian 1.0\nelement vertex 4000000000\n"
                  b"property float x\nproperty float y\nproperty float z\nend_header\n" + b"\0" * 36)
    with pytest.raises(DataError, match="4,000,000,000 'vertex' records"):
        read_geometry(p)


def test_binary_ply_with_huge_face_list_count(tmp_path):
    p = tmp_path / "c.ply"
    p.write_bytes(b"ply\nformat binary_little_endian 1.0\nelement vertex 3\nproperty float x\nproperty float y\n"
                  b"property float z\nelement face 3000000000\nproperty list uchar int vertex_indices\nend_header\n"
                  + np.zeros(9, "<f4").tobytes() + b"\x03" + np.arange(3, dtype="<i4").tobytes())
    with pytest.raises(DataError, match="'face' records"):
        read_geometry(p)


def test_ascii_ply_with_huge_count(tmp_path):
    p = tmp_path / "c.ply"
    p.write_text("ply\nformat ascii 1.0\nelement vertex 999999999999\nproperty float x\nproperty float y\n"
                 "property float z\nend_header\n0 0 0\n")
    with pytest.raises(DataError, match="more than the"):
        read_geometry(p)


def test_ply_negative_count(tmp_path):
    p = tmp_path / "c.ply"
    p.write_text("ply\nformat ascii 1.0\nelement vertex -5\nproperty float x\nproperty float y\n"
                 "property float z\nend_header\n")
    with pytest.raises(DataError, match="negative count"):
        read_geometry(p)


def test_off_with_huge_counts(tmp_path):
    p = tmp_path / "c.off"
    p.write_text("OFF\n2000000000 2000000000 0\n0 0 0\n")
    with pytest.raises(DataError, match="truncated"):
        read_geometry(p)


def test_binary_stl_with_huge_triangle_count(tmp_path):
    p = tmp_path / "c.stl"
    p.write_bytes(b"\0" * 80 + struct.pack("<I", 2**32 - 1) + b"\0" * 50)
    with pytest.raises(DataError, match="4294967295 triangles"):
        read_geometry(p)


def test_compressed_pcd_beyond_lzf_ratio(tmp_path):
    p = tmp_path / "c.pcd"
    n = 100_000_000
    head = (f"VERSION .7\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\nWIDTH {n}\nHEIGHT 1\n"
            f"POINTS {n}\nDATA binary_compressed\n").encode()
    p.write_bytes(head + struct.pack("<II", 10, 12 * n) + b"\0" * 10)
    with pytest.raises(DataError, match="more than LZF can give"):
        read_geometry(p)


def test_binary_pcd_with_huge_point_count(tmp_path):
    p = tmp_path / "c.pcd"
    p.write_bytes(b"FIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\nWIDTH 1000000000\nHEIGHT 1\n"
                  b"DATA binary\n" + b"\0" * 24)
    with pytest.raises(DataError, match="truncated"):
        read_geometry(p)


def _npy_header(shape, dtype="<f4"):
    import io
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def test_npy_header_declaring_more_than_the_file(tmp_path):
    p = tmp_path / "c.npy"
    p.write_bytes(_npy_header((10**9, 2048, 3)) + b"\0" * 48)
    with pytest.raises(DataError, match="declares"):
        open_dataset(p)


def test_npz_member_declaring_more_than_it_holds(tmp_path):
    import zipfile
    p = tmp_path / "c.npz"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("points.npy", _npy_header((10**8, 1024, 3)) + b"\0" * 48)
    with pytest.raises(DataError, match="array 'points.npy' declares"):
        open_dataset(p)


def test_honest_npz_still_loads(tmp_path):
    p = tmp_path / "c.npz"
    np.savez_compressed(p, points=np.zeros((3, 50, 3), "f4"), labels=np.array([0, 1, 1]))
    assert len(open_dataset(p).split("all")) == 3


def _labels_h5(path, labels):
    with h5py.File(path, "w") as f:
        f["data"] = np.random.default_rng(0).normal(size=(len(labels), 8, 3)).astype("f4")
        f["label"] = labels
    return path


def test_label_2_pow_40_without_names_is_an_error(tmp_path):
    p = _labels_h5(tmp_path / "train.h5", np.array([0, 2**40], np.int64))
    with pytest.raises(DataError, match="1099511627776, too large for a class index"):
        open_dataset(p)


def test_float_label_1e30_is_reported_as_1e30(tmp_path):
    p = _labels_h5(tmp_path / "train.h5", np.array([0.0, 1e30]))
    with pytest.raises(DataError, match=r"is 1e\+30, too large"):
        open_dataset(p)


def test_uint64_max_label_is_reported_exactly(tmp_path):
    p = _labels_h5(tmp_path / "train.h5", np.array([0, 2**64 - 1], np.uint64))
    with pytest.raises(DataError, match="18446744073709551615, too large"):
        open_dataset(p)


def test_negative_float_label_keeps_its_value(tmp_path):
    p = _labels_h5(tmp_path / "train.h5", np.array([0.0, -1e30]))
    with pytest.raises(DataError, match=r"found -1e\+30"):
        open_dataset(p)


# --- checkpoints ---------------------------------------------------------------------------------

def _demo_with_meta(tmp_path, change):
    from safetensors import safe_open
    from safetensors.torch import save_file
    from engine.assets import demo_path

    with safe_open(str(demo_path("pointnet")), framework="pt") as f:
        meta = json.loads(f.metadata()["pointlens"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    change(meta)
    out = tmp_path / "m.safetensors"
    save_file(tensors, str(out), metadata={"pointlens": json.dumps(meta), "format": meta.get("format", "")})
    return out


def test_checkpoint_num_classes_out_of_range(tmp_path, monkeypatch):
    p = _demo_with_meta(tmp_path, lambda m: m["config"].update(num_classes=10**9))
    monkeypatch.setattr("engine.models.checkpoints.build_model", lambda *a, **k: pytest.fail("model built"))
    with pytest.raises(CheckpointError, match="'num_classes' = 1000000000 is out of range"):
        load_checkpoint(p)


def test_checkpoint_width_out_of_range(tmp_path):
    p = _demo_with_meta(tmp_path, lambda m: m["config"].update(width=1e6))
    with pytest.raises(CheckpointError, match="'width'"):
        load_checkpoint(p)


def test_checkpoint_class_list_too_long(tmp_path):
    p = _demo_with_meta(tmp_path, lambda m: m.update(classes=["x"] * 200_001))
    with pytest.raises(CheckpointError, match="'classes'"):
        load_checkpoint(p)


def test_checkpoint_config_not_matching_tensors_fails_before_a_model_is_built(tmp_path, monkeypatch):
    p = _demo_with_meta(tmp_path, lambda m: m["config"].update(num_classes=m["config"].get("num_classes", 10) + 7))
    import engine.models.checkpoints as ck
    real = ck.build_model
    monkeypatch.setattr(ck, "build_model", lambda *a, **k: pytest.fail("real model built") or real(*a, **k))
    with pytest.raises(CheckpointError, match="does not fit"):
        load_checkpoint(p)


def test_pth_with_stride_zero_tensor_is_refused(tmp_path):
    p = tmp_path / "m.pth"
    torch.save({"fc3.weight": torch.zeros(1).expand(1 << 20)}, p)
    with pytest.raises(CheckpointError, match="stride 0"):
        load_checkpoint(p)


def test_pth_with_two_billion_element_view_is_refused(tmp_path):
    p = tmp_path / "m.pth"
    torch.save({"model_state_dict": {"fc3.weight": torch.zeros(1).expand(1 << 31)}}, p)
    with pytest.raises(CheckpointError, match="2,147,483,648 elements"):
        load_checkpoint(p)


def test_pth_with_huge_shape_is_refused(tmp_path):
    from engine.models.checkpoint_limits import check_tensor
    t = torch.zeros(4).as_strided((1 << 31, 1), (0, 1))
    with pytest.raises(CheckpointError, match="elements|stride 0"):
        check_tensor("w", t, tmp_path / "m.pth")
    view = torch.zeros(4)[:2]
    check_tensor("ok", view, "m.pth")   # a view inside its storage is fine


def test_truncated_binary_stl_with_a_solid_header_says_binary(tmp_path):
    import numpy as np

    from engine.data.stl import read_stl

    header = b"solid exported by a CAD tool".ljust(80, b"\0")     # says 3 triangles, carries 2
    path = tmp_path / "part.stl"
    path.write_bytes(header + np.array([3], "<u4").tobytes() + bytes(50 * 2))
    with pytest.raises(DataError, match="binary STL .* header says 3 triangles"):
        read_stl(path)


def test_resume_state_without_its_optimizer_is_a_clear_error(tmp_path):
    import torch

    from engine.core.errors import CheckpointError
    from engine.training.state import STATE_FORMAT, load_state

    path = tmp_path / "m.safetensors.state.pt"
    torch.save({"format": STATE_FORMAT, "model": {}, "rng": torch.get_rng_state(), "params": {}}, str(path))
    with pytest.raises(CheckpointError, match="incomplete .no optimizer"):
        load_state(path, {}, "")


def test_float_weights_stored_as_int8_are_refused(tmp_path):
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    from engine.core.errors import CheckpointError
    from engine.models.checkpoints import load_checkpoint, save_checkpoint
    from engine.models.zoo import build_model

    path = tmp_path / "q.safetensors"
    save_checkpoint(path, build_model("pointnet", num_classes=3, width=0.125), {"classes": ["a", "b", "c"]})
    with safe_open(str(path), "pt") as f:
        meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    save_file({k: v.to(torch.int8) if v.is_floating_point() else v for k, v in tensors.items()}, str(path),
              metadata=meta)
    with pytest.raises(CheckpointError, match="stored as integers .*int8"):
        load_checkpoint(path)


def test_absurd_model_settings_are_refused_before_building(capsys):
    from engine.cli import main

    code = main(["train", "--model", "parae", "--parts", "100000000", "--epochs", "1", "--data", "builtin",
                 "--limit", "10", "--out", "never.safetensors"])
    assert code == 2
    assert "parts = 100000000 is outside 1..10000" in capsys.readouterr().err
