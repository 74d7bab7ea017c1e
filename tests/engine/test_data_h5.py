"""HDF5 datasets: the PointNet layout (files and folders), ScanObjectNN, save_h5 round trips,
lazy per-sample reading, fixed-N sampling and normalisation."""
from __future__ import annotations

import pickle
import threading

import h5py
import numpy as np
import pytest

from engine.data import Loading, open_dataset, save_h5, save_h5_folder
from engine.data.dataset import farthest_point_indices
from engine.data.scanobjectnn import CLASSES as SONN_CLASSES
from engine.core.errors import DataError
from tests.engine.data_makers import clouds, write_pointnet_h5


@pytest.mark.parametrize("label", [
    np.array([[0], [2], [1], [2]], np.uint8),
    np.array([0, 2, 1, 2], np.int64),
    np.array([0.0, 2.0, 1.0, 2.0], np.float64),
    np.array([[0], [2], [1], [2]], np.float32),
    np.array([0, 2, 1, 2], np.int16),
])
def test_label_dtypes_and_shapes(tmp_path, label):
    data, _ = clouds(4, 16)
    p = write_pointnet_h5(tmp_path / "x_train.h5", data, label)
    ds = open_dataset(p)
    assert ds.format == "pointnet_h5" and ds.counts == {"train": 4}
    assert ds.classes == ["class 0", "class 1", "class 2"]
    np.testing.assert_array_equal(ds.split("train").labels, [0, 2, 1, 2])
    assert ds.split("train").labels.dtype == np.int64


def test_non_integral_float_labels_are_refused(tmp_path):
    data, _ = clouds(3, 8)
    p = write_pointnet_h5(tmp_path / "f.h5", data, np.array([0.0, 1.5, 2.0]))
    with pytest.raises(DataError, match=r"f\.h5.*1\.5"):
        open_dataset(p)


def test_folder_layout_with_data_prefix_lists_names_normals_pids_and_id2file(tmp_path):
    names = [f"name{k}" for k in range(40)]
    (tmp_path / "shape_names.txt").write_text("\n".join(names) + "\n")
    rng = np.random.default_rng(0)
    parts = []
    for k in range(2):   # two training files, concatenated in list order
        data = rng.normal(size=(3, 32, 3)).astype(np.float32)
        lab = np.array([[5], [39], [17]], np.uint8)
        write_pointnet_h5(tmp_path / f"ply_data_train{k}.h5", data, lab, normal=np.ones_like(data),
                          pid=np.arange(96).reshape(3, 32) % 4)
        parts.append(data)
    write_pointnet_h5(tmp_path / "ply_data_test0.h5", parts[0][:1], np.array([[1]], np.uint8),
                      normal=np.ones_like(parts[0][:1]), pid=np.zeros((1, 32), int))
    (tmp_path / "ply_data_train_1_id2file.json").write_text('["a/a_1.off", "b/b_2.off", "c/c_3.off"]')
    (tmp_path / "train_files.txt").write_text(
        "data/modelnet40_ply_hdf5_2048/ply_data_train0.h5\ndata/modelnet40_ply_hdf5_2048/ply_data_train1.h5\n")
    (tmp_path / "test_files.txt").write_text("data/modelnet40_ply_hdf5_2048/ply_data_test0.h5\n")
    ds = open_dataset(tmp_path, Loading(normalize=False))
    assert ds.classes == names and ds.counts == {"train": 6, "test": 1}
    tr = ds.split("train")
    np.testing.assert_array_equal(tr.labels, [5, 39, 17, 5, 39, 17])
    c = tr[4]
    np.testing.assert_array_equal(c.points, parts[1][1])
    assert c.normals.shape == (32, 3) and c.part_ids.shape == (32,)
    assert tr.source_name(4) == "b/b_2.off" and tr.source_name(0) == "ply_data_train0.h5#0"
    assert ds.info["has_normals"] and ds.info["has_part_ids"]


def test_names_file_too_short_for_the_labels(tmp_path):
    data, _ = clouds(2, 8)
    write_pointnet_h5(tmp_path / "d.h5", data, np.array([0, 7]))
    (tmp_path / "shape_names.txt").write_text("a\nb\n")
    with pytest.raises(DataError, match="labels go up to 7.*shape_names.txt lists only 2"):
        open_dataset(tmp_path / "d.h5")


def test_six_channel_data_gives_normals(tmp_path):
    data = np.random.default_rng(1).normal(size=(2, 10, 6)).astype(np.float32)
    c = open_dataset(write_pointnet_h5(tmp_path / "d.h5", data, np.array([0, 1])), Loading(normalize=False)).splits["all"][1]
    np.testing.assert_array_equal(c.points, data[1, :, :3])
    np.testing.assert_array_equal(c.normals, data[1, :, 3:])


def test_reading_is_lazy_per_sample(tmp_path):
    # every row but row 0 is poisoned: opening and reading row 0 never touch them
    data = np.full((50, 16, 3), np.nan, np.float32)
    data[0] = np.random.default_rng(2).normal(size=(16, 3))
    ds = open_dataset(write_pointnet_h5(tmp_path / "lazy.h5", data, np.zeros(50, int)))
    assert ds.split("all")[0].n == 16
    with pytest.raises(DataError, match=r"lazy\.h5 shape 7"):
        ds.split("all")[7]


def test_threads_read_the_same_samples(tmp_path):
    data, lab = clouds(40, 64)
    split = open_dataset(write_pointnet_h5(tmp_path / "t.h5", data, lab), Loading(normalize=False)).split("all")
    out = {}

    def work(k):
        out[k] = [split[i].points for i in range(len(split))]

    ts = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    for k in range(3):
        np.testing.assert_array_equal(np.stack(out[k]), data)
    # a split pickles (for DataLoader worker processes): no open handle inside
    again = pickle.loads(pickle.dumps(split))
    np.testing.assert_array_equal(again[5].points, data[5])


def test_fixed_n_sampling_modes_and_normalisation(tmp_path):
    data = np.random.default_rng(3).uniform(-3, 5, size=(2, 200, 3)).astype(np.float32)
    p = write_pointnet_h5(tmp_path / "s.h5", data, np.array([0, 1]))
    raw = data[1].astype(np.float64)
    first = open_dataset(p, Loading(points=50, sampling="first", normalize=False)).split("all")[1]
    np.testing.assert_array_equal(first.points, data[1, :50])
    r1 = open_dataset(p, Loading(points=50, sampling="random", seed=7, normalize=False)).split("all")[1].points
    r2 = open_dataset(p, Loading(points=50, sampling="random", seed=7, normalize=False)).split("all")[1].points
    r3 = open_dataset(p, Loading(points=50, sampling="random", seed=8, normalize=False)).split("all")[1].points
    np.testing.assert_array_equal(r1, r2)
    assert not np.array_equal(r1, r3) and len({tuple(x) for x in r1}) == 50   # distinct rows
    assert {tuple(x) for x in r1} <= {tuple(x) for x in data[1]}
    fps = open_dataset(p, Loading(points=20, sampling="fps", normalize=False)).split("all")[1].points
    # brute force: greedy farthest point from row 0
    chosen = [0]
    for _ in range(19):
        d = np.min(((raw[:, None] - raw[chosen][None]) ** 2).sum(-1), axis=1)
        chosen.append(int(np.argmax(d)))
    np.testing.assert_array_equal(fps, data[1, chosen])
    np.testing.assert_array_equal(farthest_point_indices(raw, 20), chosen)
    # more points than stored: drawn with replacement
    assert open_dataset(p, Loading(points=300, sampling="first")).split("all")[0].n == 300
    # normalisation: centred, max norm 1, and centre/scale map it back
    c = open_dataset(p, Loading()).split("all")[1]
    np.testing.assert_allclose(c.points.mean(0), 0, atol=1e-5)
    assert np.linalg.norm(c.points, axis=1).max() == pytest.approx(1, abs=1e-6)
    np.testing.assert_allclose(c.points * c.scale + np.array(c.centre), data[1], atol=1e-4)


def _scanobjectnn(folder, variant="", n=(5, 3)):
    rng = np.random.default_rng(4)
    for kind, k in (("training", n[0]), ("test", n[1])):
        write_pointnet_h5(folder / f"{kind}_objectdataset{variant}.h5", rng.normal(size=(k, 64, 3)).astype(np.float32),
                          (np.arange(k) * 4 % 15).astype(np.int64), mask=(rng.random((k, 64)) > 0.5).astype(np.int8))


def test_scanobjectnn_pairs_and_variants(tmp_path):
    _scanobjectnn(tmp_path)
    _scanobjectnn(tmp_path, "_augmentedrot_scale75", (4, 2))
    ds = open_dataset(tmp_path)
    assert ds.format == "scanobjectnn_h5" and ds.classes == SONN_CLASSES
    assert ds.counts == {"train": 5, "test": 3, "train_augmentedrot_scale75": 4, "test_augmentedrot_scale75": 2}
    assert ds.split("train").mask(1).shape == (64,) and ds.info["has_mask"]
    one = open_dataset(tmp_path / "test_objectdataset_augmentedrot_scale75.h5")
    assert one.counts == {"train": 4, "test": 2}


def test_save_h5_round_trip(tmp_path):
    data, lab = clouds(6, 32, classes=3)
    normals, pids = np.ones_like(data), np.arange(6 * 32).reshape(6, 32) % 5
    p = save_h5(tmp_path / "out" / "mine_train.h5", data, lab, ["a", "b", "c"], normals=normals, part_ids=pids)
    assert (tmp_path / "out" / "shape_names.txt").read_text().split() == ["a", "b", "c"]
    ds = open_dataset(p, Loading(normalize=False))
    assert ds.classes == ["a", "b", "c"] and ds.counts == {"train": 6}
    c = ds.split("train")[4]
    np.testing.assert_array_equal(c.points, data[4])
    np.testing.assert_array_equal(c.part_ids, pids[4])
    assert c.label == lab[4]
    with h5py.File(p) as f:
        assert f["label"].shape == (6, 1) and f["label"].dtype == np.uint8
    # another dataset with other classes in the same folder keeps its own names file
    save_h5(tmp_path / "out" / "other.h5", data[:2], np.array([0, 1]), ["x", "y"])
    assert open_dataset(tmp_path / "out" / "other.h5").classes == ["x", "y"]
    assert (tmp_path / "out" / "other_shape_names.txt").is_file()
    # overwriting an open file works (the pooled handle is released first)
    save_h5(p, data[:3], lab[:3], ["a", "b", "c"])
    assert open_dataset(p).counts == {"train": 3}


def test_save_h5_folder_round_trip_and_bad_arrays(tmp_path):
    data, lab = clouds(8, 16, classes=2)
    save_h5_folder(tmp_path / "ds", {"train": {"points": data[:6], "labels": lab[:6]},
                                     "test": {"points": data[6:], "labels": lab[6:]}}, ["p", "q"])
    ds = open_dataset(tmp_path / "ds", Loading(normalize=False))
    assert ds.classes == ["p", "q"] and ds.counts == {"train": 6, "test": 2}
    np.testing.assert_array_equal(ds.split("test")[1].points, data[7])
    x, y = open_dataset(tmp_path / "ds", Loading(points=16, normalize=False)).split("train").arrays()
    np.testing.assert_array_equal(x, data[:6])
    np.testing.assert_array_equal(y, lab[:6])
    with pytest.raises(DataError, match="labels must lie in 0..1"):
        save_h5(tmp_path / "bad.h5", data, lab + 1, ["p", "q"])
    bad = data.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(DataError, match="finite"):
        save_h5(tmp_path / "bad.h5", bad, lab, ["p", "q"])
    assert not (tmp_path / "bad.h5").exists()
