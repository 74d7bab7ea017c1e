"""The bad-input corpus: every broken file gives one DataError that names the file, never a raw
traceback, NaN or hang; a pickle payload never runs."""
from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import pytest

from engine.data import Loading, open_dataset
from engine.core.errors import DataError
from tests.engine.data_makers import CUBE_QUADS, CUBE_V, clouds, write_off, write_pcd, write_ply, write_pointnet_h5


def _h5(p, **arrays):
    with h5py.File(p, "w") as f:
        for k, v in arrays.items():
            f.create_dataset(k, data=v)


def truncated_h5(d):
    data, lab = clouds(50, 256)
    p = write_pointnet_h5(d / "truncated.h5", data, lab)
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    return p


def garbage_h5(d):
    p = d / "garbage.h5"
    p.write_bytes(np.random.default_rng(0).bytes(5000))
    return p


def h5_missing_data(d):
    _h5(d / "nodata.h5", label=np.zeros(3))
    return d / "nodata.h5"


def h5_missing_label(d):
    _h5(d / "nolabel.h5", data=np.zeros((3, 8, 3)))
    return d / "nolabel.h5"


def h5_wrong_shape(d):
    _h5(d / "flat.h5", data=np.zeros((30, 3)), label=np.zeros(30))
    return d / "flat.h5"


def h5_label_count(d):
    _h5(d / "count.h5", data=np.zeros((4, 8, 3)), label=np.zeros(3))
    return d / "count.h5"


def h5_nan(d):
    data, lab = clouds(3, 8)
    data[2, 5, 1] = np.nan
    return write_pointnet_h5(d / "nan.h5", data, lab)


def h5_inf(d):
    data, lab = clouds(3, 8)
    data[1, 0, 0] = np.inf
    return write_pointnet_h5(d / "inf.h5", data, lab)


def h5_empty(d):
    _h5(d / "empty.h5", data=np.zeros((0, 1024, 3), np.float32), label=np.zeros(0))
    return d / "empty.h5"


def h5_strings(d):
    _h5(d / "strings.h5", data=np.full((2, 4, 3), b"x"), label=np.zeros(2))
    return d / "strings.h5"


def h5_negative_label(d):
    _h5(d / "neg.h5", data=np.ones((2, 4, 3)), label=np.array([0, -1]))
    return d / "neg.h5"


def h5_list_missing_file(d):
    (d / "train_files.txt").write_text("data/x/ply_data_train0.h5\n")
    return d


def empty_xyz(d):
    (d / "empty.xyz").write_text("")
    return d / "empty.xyz"


def one_point(d):
    (d / "one.xyz").write_text("1 2 3\n")
    return d / "one.xyz"


def ragged_xyz(d):
    (d / "ragged.xyz").write_text("1 2 3\n4 5\n6 7 8\n")
    return d / "ragged.xyz"


def nan_xyz(d):
    (d / "nan.xyz").write_text("1 2 3\nnan 5 6\n6 7 8\n")
    return d / "nan.xyz"


def non_utf8(d):
    (d / "latin1.xyz").write_bytes("0.5 1 2 # caf\u00e9\n1 2 3\n".encode("latin-1"))
    return d / "latin1.xyz"


def wrong_extension(d):
    p = write_ply(d / "really_a_ply.off", CUBE_V, CUBE_QUADS)   # PLY text under an .off name
    return p


def binary_as_text(d):
    p = write_ply(d / "binary.xyz", CUBE_V, CUBE_QUADS, fmt="binary_little_endian")
    return p


def unknown_extension(d):
    (d / "cloud.foo").write_text("1 2 3\n")
    return d / "cloud.foo"


def empty_folder(d):
    (d / "nothing").mkdir()
    return d / "nothing"


def folder_without_data(d):
    (d / "docs").mkdir()
    (d / "docs" / "README.md").write_text("hello")
    return d / "docs"


def off_too_few_vertices(d):
    p = d / "short.off"
    p.write_text("OFF\n8 6 0\n0 0 0\n1 0 0\n1 1 0\n")
    return p


def off_wrong_counts(d):
    p = write_off(d / "counts.off", CUBE_V, CUBE_QUADS)
    p.write_text(p.read_text().replace("8 6 0", "6 6 0"))   # faces start on a vertex line
    return p


def off_bad_index(d):
    faces = [list(f) for f in CUBE_QUADS]
    faces[2] = [0, 1, 99]
    return write_off(d / "index.off", CUBE_V, faces)


def off_degenerate(d):
    return write_off(d / "flat.off", np.zeros((4, 3)), [[0, 1, 2], [1, 2, 3]])


def ply_truncated(d):
    p = write_ply(d / "trunc.ply", CUBE_V, CUBE_QUADS, fmt="binary_little_endian")
    p.write_bytes(p.read_bytes()[:-20])
    return p


def ply_no_end_header(d):
    (d / "head.ply").write_text("ply\nformat ascii 1.0\nelement vertex 2\nproperty float x\n")
    return d / "head.ply"


def obj_no_vertices(d):
    (d / "empty.obj").write_text("# nothing\no empty\n")
    return d / "empty.obj"


def obj_zero_index(d):
    (d / "zero.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 0 1 2\n")
    return d / "zero.obj"


def stl_truncated(d):
    p = d / "trunc.stl"
    p.write_bytes(b"\0" * 80 + np.uint32(10).tobytes() + b"\0" * 100)
    return p


def pcd_binary_truncated(d):
    p = write_pcd(d / "trunc.pcd", np.ones((100, 3)), fmt="binary")
    p.write_bytes(p.read_bytes()[:-50])
    return p


def pcd_garbage_header(d):
    (d / "garbage.pcd").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    return d / "garbage.pcd"


def pcd_ascii_words(d):
    p = write_pcd(d / "words.pcd", np.full((3, 3), 7.0), fmt="ascii")
    p.write_text(p.read_text().replace("7 7 7\n", "seven 7 7\n", 1))
    return p


def pcd_bad_count(d):
    p = write_pcd(d / "count.pcd", np.ones((3, 3)), fmt="binary")
    p.write_bytes(p.read_bytes().replace(b"COUNT 1 1 1", b"COUNT 1 x 1"))
    return p


def npy_wrong_shape(d):
    np.save(d / "two_cols.npy", np.zeros((10, 2)))
    return d / "two_cols.npy"


def npz_no_points(d):
    np.savez(d / "keys.npz", stuff=np.zeros((10, 3)))
    return d / "keys.npz"


def float_label(d):
    _h5(d / "halves.h5", data=np.ones((2, 4, 3)), label=np.array([0.5, 1.0]))
    return d / "halves.h5"


def names_not_utf8(d):
    write_pointnet_h5(d / "ply_data_train0.h5", *clouds(2, 8))
    (d / "shape_names.txt").write_bytes(b"caf\xe9\nbar\n")
    return d


CORPUS = [truncated_h5, garbage_h5, h5_missing_data, h5_missing_label, h5_wrong_shape, h5_label_count, h5_nan,
          h5_inf, h5_empty, h5_strings, h5_negative_label, h5_list_missing_file, empty_xyz, one_point, ragged_xyz,
          nan_xyz, non_utf8, wrong_extension, binary_as_text, unknown_extension, empty_folder, folder_without_data,
          off_too_few_vertices, off_wrong_counts, off_bad_index, off_degenerate, ply_truncated, ply_no_end_header,
          obj_no_vertices, obj_zero_index, stl_truncated, pcd_binary_truncated, pcd_garbage_header, pcd_ascii_words, pcd_bad_count,
          npy_wrong_shape, npz_no_points, float_label, names_not_utf8]


@pytest.mark.parametrize("make", CORPUS, ids=[f.__name__ for f in CORPUS])
def test_bad_input_gives_a_data_error_naming_the_file(tmp_path, make):
    path = make(tmp_path)
    with pytest.raises(DataError) as err:
        ds = open_dataset(path, Loading(points=16))
        for split in ds.splits.values():
            for i in range(len(split)):
                split[i]
    msg = str(err.value)
    named = path.name if path.is_file() else path.name
    assert named in msg or any(p.name in msg for p in Path(path).glob("*")), msg
    assert "\n" not in msg.strip() and len(msg) < 400


def test_pickled_npy_is_refused_and_its_payload_never_runs(tmp_path):
    marker = tmp_path / "PWNED"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    np.save(tmp_path / "evil.npy", np.array([Payload(), 1], dtype=object), allow_pickle=True)
    assert not marker.exists()
    with pytest.raises(DataError, match=r"evil\.npy.*pickle"):
        open_dataset(tmp_path / "evil.npy")
    assert not marker.exists()
    os.replace(tmp_path / "evil.npy", tmp_path / "evil_in_folder.npy")
    (tmp_path / "cls").mkdir()
    os.replace(tmp_path / "evil_in_folder.npy", tmp_path / "cls" / "evil.npy")
    with pytest.raises(DataError, match="pickle"):
        open_dataset(tmp_path)
    assert not marker.exists()


def test_corpus_is_large_enough():
    assert len(CORPUS) >= 20
