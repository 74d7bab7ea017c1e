"""Hardening of HDF5 and list-file reading: nothing outside the opened file or dataset folder is
read; loops and lying shapes give one clear error. Every bad file is written here."""
from __future__ import annotations

import h5py
import numpy as np
import pytest

from engine.core.errors import DataError
from engine.core.types import Result
from engine.data import h5 as h5mod
from engine.data.open import open_dataset
from engine.results import load_result, save_result


@pytest.fixture(autouse=True)
def _close_pool():
    yield
    h5mod.close_all()


def good(path, n=4, p=16, label=None):
    with h5py.File(path, "w") as f:
        f.create_dataset("data", data=np.random.default_rng(0).normal(size=(n, p, 3)).astype("f4"))
        f.create_dataset("label", data=np.arange(n) % 2 if label is None else label)
    return path


def refused(path, *words):
    with pytest.raises(DataError) as e:
        open_dataset(path)
    msg = str(e.value)
    for w in words:
        assert w in msg, msg
    assert "\n" not in msg
    return msg


def test_external_link_is_refused_naming_object_and_target(tmp_path):
    secret = good(tmp_path / "secret.h5")
    p = good(tmp_path / "train.h5")
    with h5py.File(p, "a") as f:
        f["extra"] = h5py.ExternalLink(str(secret), "/data")
    refused(p, "'/extra'", "external link", str(secret))


def test_external_link_replacing_data_is_refused(tmp_path):
    secret = good(tmp_path / "other.h5")
    p = tmp_path / "train.h5"
    with h5py.File(p, "w") as f:
        f["data"] = h5py.ExternalLink(str(secret), "/data")
        f.create_dataset("label", data=np.zeros(4, int))
    refused(p, "'/data'", "other.h5:/data")


def test_external_raw_storage_is_refused(tmp_path):
    raw = tmp_path / "raw.bin"
    raw.write_bytes(np.zeros(4 * 16 * 3, "f4").tobytes())
    p = tmp_path / "train.h5"
    with h5py.File(p, "w") as f:
        f.create_dataset("data", shape=(4, 16, 3), dtype="f4", external=[(str(raw), 0, h5py.h5f.UNLIMITED)])
        f.create_dataset("label", data=np.zeros(4, int))
    refused(p, "'/data'", "external file", "raw.bin")


def test_virtual_dataset_reading_another_file_is_refused(tmp_path):
    src = good(tmp_path / "src.h5")
    p = tmp_path / "train.h5"
    layout = h5py.VirtualLayout(shape=(4, 16, 3), dtype="f4")
    layout[:] = h5py.VirtualSource(str(src), "data", shape=(4, 16, 3))
    with h5py.File(p, "w") as f:
        f.create_virtual_dataset("data", layout)
        f.create_dataset("label", data=np.zeros(4, int))
    refused(p, "virtual dataset '/data'", "src.h5")


def test_virtual_dataset_inside_the_same_file_is_allowed(tmp_path):
    p = tmp_path / "train.h5"
    with h5py.File(p, "w") as f:
        f.create_dataset("raw", data=np.ones((4, 16, 3), "f4"))
        layout = h5py.VirtualLayout(shape=(4, 16, 3), dtype="f4")
        layout[:] = h5py.VirtualSource(".", "raw", shape=(4, 16, 3))
        f.create_virtual_dataset("data", layout)
        f.create_dataset("label", data=np.zeros(4, int))
    ds = open_dataset(p)
    assert len(ds.split("train")) == 4


def test_soft_link_loop_gives_one_clear_error(tmp_path):
    p = good(tmp_path / "train.h5")
    with h5py.File(p, "a") as f:
        f["a"] = h5py.SoftLink("/b")
        f["b"] = h5py.SoftLink("/a")
    refused(p, "soft link", "loops back")


def test_soft_link_to_itself_in_a_group(tmp_path):
    p = good(tmp_path / "train.h5")
    with h5py.File(p, "a") as f:
        f.create_group("g")["self"] = h5py.SoftLink("/g/self")
    refused(p, "'/g/self'", "loops back")


def test_plain_soft_link_inside_the_file_still_works(tmp_path):
    p = tmp_path / "train.h5"
    with h5py.File(p, "w") as f:
        f.create_dataset("points", data=np.ones((4, 16, 3), "f4"))
        f["data"] = h5py.SoftLink("/points")
        f.create_dataset("label", data=np.zeros(4, int))
    assert len(open_dataset(p).split("train")) == 4


def test_chunked_dataset_larger_than_its_chunks_is_refused(tmp_path):
    p = good(tmp_path / "train.h5")
    with h5py.File(p, "a") as f:
        del f["label"]
        f.create_dataset("label", shape=(4,), maxshape=(None,), dtype="i8", chunks=(1,))
        f["label"][:2] = 0      # two of four chunks written
    refused(p, "'/label'", "2 of its 4 chunks")


def test_lying_label_shape_is_refused_before_reading(tmp_path):
    p = tmp_path / "train.h5"
    with h5py.File(p, "w") as f:
        f.create_dataset("data", data=np.ones((4, 16, 3), "f4"))
        f.create_dataset("label", shape=(10**10,), dtype="i8", chunks=(4096,))
    refused(p, "'/label'", "declares shape (10000000000,)")


def test_contiguous_dataset_without_storage_is_refused(tmp_path):
    p = tmp_path / "train.h5"
    with h5py.File(p, "w") as f:
        f.create_dataset("data", shape=(4, 16, 3), dtype="f4")   # never written
        f.create_dataset("label", data=np.zeros(4, int))
    refused(p, "'/data'", "stores only 0 bytes")


def test_result_file_with_external_link_is_refused(tmp_path):
    p = tmp_path / "r.h5"
    save_result(Result("inspect", arrays={"points": np.ones((5, 3), "f4")}), p)
    with h5py.File(p, "a") as f:
        f["leak"] = h5py.ExternalLink("/etc/hostname", "/x")
    with pytest.raises(DataError, match="external link to /etc/hostname"):
        load_result(p)


def test_result_file_still_round_trips(tmp_path):
    p = tmp_path / "r.h5"
    save_result(Result("inspect", arrays={"points": np.zeros((5000, 3), "f4")}), p)   # gzip'd zeros
    assert load_result(p).arrays["points"].shape == (5000, 3)


# --- list files ----------------------------------------------------------------------------------

def _folder(tmp_path, lines):
    d = tmp_path / "ds"
    d.mkdir()
    good(d / "ply_data_train0.h5")
    (d / "train_files.txt").write_text("\n".join(lines) + "\n")
    return d


def test_list_entry_absolute_is_refused_with_line(tmp_path):
    outside = good(tmp_path / "outside.h5")
    d = _folder(tmp_path, ["ply_data_train0.h5", str(outside)])
    refused(d, "train_files.txt: line 2", "absolute path")


def test_list_entry_escaping_with_dotdot_is_refused(tmp_path):
    good(tmp_path / "outside.h5")
    d = _folder(tmp_path, ["../outside.h5"])
    refused(d, "train_files.txt: line 1", "points outside")


def test_list_entry_with_hidden_dotdot_is_refused(tmp_path):
    good(tmp_path / "outside.h5")
    d = _folder(tmp_path, ["sub/../../outside.h5"])
    refused(d, "line 1", "points outside")


def test_list_entry_with_authors_prefix_still_resolves(tmp_path):
    d = _folder(tmp_path, ["data/modelnet40_ply_hdf5_2048/ply_data_train0.h5"])
    assert len(open_dataset(d).split("train")) == 4


def test_windows_drive_entry_is_refused(tmp_path):
    d = _folder(tmp_path, ["C:\\data\\ply_data_train0.h5"])
    refused(d, "line 1", "absolute path")


def test_modelnet_text_class_name_escaping_is_refused(tmp_path):
    d = tmp_path / "mn"
    d.mkdir()
    (d / "modelnet40_shape_names.txt").write_text("chair\n../../etc\n")
    (d / "modelnet40_train.txt").write_text("chair_0001\n")
    (d / "chair").mkdir()
    (d / "chair" / "chair_0001.txt").write_text("0,0,0,0,0,1\n1,0,0,0,0,1\n")
    refused(d, "modelnet40_shape_names.txt: line 2", "not a plain folder name")
