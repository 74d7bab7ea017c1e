"""ModelNet40-C and ShapeNetPart layouts, written by the tests as the public releases lay them out:
labels from ModelNet40-C's separate label.npy, ShapeNetPart's category names and official splits."""
from __future__ import annotations

import json

import numpy as np
import pytest

from engine.core.errors import DataError
from engine.data import Loading, open_dataset
from engine.data.modelnet40c import MODELNET40_CLASSES


def _modelnet40c(root, n=5, points=16):
    rng = np.random.default_rng(0)
    labels = np.array([[0], [39], [23], [7], [0]], np.int64)[:n]     # (N, 1) as released
    np.save(root / "label.npy", labels)
    for name in ("data_gaussian_3.npy", "data_distortion_rbf_inv_5.npy", "data_original.npy"):
        np.save(root / name, rng.normal(size=(n, points, 3)).astype(np.float32))
    return labels[:, 0]


def test_modelnet40c_folder_splits_are_corruptions_with_shared_labels(tmp_path):
    labels = _modelnet40c(tmp_path)
    ds = open_dataset(tmp_path)
    assert ds.format == "modelnet40_c" and ds.classes == MODELNET40_CLASSES
    assert set(ds.splits) == {"gaussian_3", "distortion_rbf_inv_5", "original"}
    assert ds.info["corruptions"] == ["distortion_rbf_inv", "gaussian", "original"]
    for split in ds.splits.values():
        np.testing.assert_array_equal(split.labels, labels)
    assert ds.class_name(int(ds.split("gaussian_3")[1].label)) == "xbox"
    ref = np.load(tmp_path / "data_gaussian_3.npy")
    np.testing.assert_allclose(open_dataset(tmp_path, Loading(normalize=False)).split("gaussian_3")[2].points, ref[2])


def test_modelnet40c_one_data_file_takes_its_labels_from_beside_it(tmp_path):
    labels = _modelnet40c(tmp_path)
    ds = open_dataset(tmp_path / "data_gaussian_3.npy")
    assert next(iter(ds.splits)) == "gaussian_3"                      # the file picked comes first
    np.testing.assert_array_equal(ds.split("gaussian_3").labels, labels)


def test_modelnet40c_label_count_must_match(tmp_path):
    _modelnet40c(tmp_path)
    np.save(tmp_path / "label.npy", np.zeros((4, 1), np.int64))
    with pytest.raises(DataError, match="label.npy.*expected \\(5,\\)"):
        open_dataset(tmp_path)


CATS = [("Airplane", "02691156"), ("Chair", "03001627"), ("Mug", "03797390")]


def _shapenet_part(root, lists=True):
    """Three categories, two shapes each; lines 'x y z nx ny nz part' as the release writes them."""
    (root / "synsetoffset2category.txt").write_text("".join(f"{n}\t{s}\n" for n, s in CATS))
    rng = np.random.default_rng(1)
    shapes = {}
    for k, (_, synset) in enumerate(CATS):
        (root / synset).mkdir()
        for j in range(2):
            sid = f"{k}{j}abcdef"
            pts = rng.normal(size=(20, 6))
            part = rng.integers(4 * k, 4 * k + 3, 20)
            rows = np.concatenate([pts, part[:, None]], 1)
            (root / synset / f"{sid}.txt").write_text("\n".join(" ".join(f"{v:.6f}" for v in r) for r in rows) + "\n")
            shapes[(synset, sid)] = (pts, part)
    if lists:
        (root / "train_test_split").mkdir()
        ids = [f"shape_data/{s}/{sid}" for (s, sid) in shapes]
        for name, chosen in (("train", ids[0::2]), ("val", ids[1:2]), ("test", ids[3::2])):
            (root / "train_test_split" / f"shuffled_{name}_file_list.json").write_text(json.dumps(chosen))
    return shapes


def test_shapenet_part_category_names_and_official_splits(tmp_path):
    shapes = _shapenet_part(tmp_path)
    ds = open_dataset(tmp_path, Loading(normalize=False))
    assert ds.format == "shapenet_part" and ds.classes == ["Airplane", "Chair", "Mug"]
    assert ds.counts == {"train": 3, "val": 1, "test": 2}
    np.testing.assert_array_equal(ds.split("train").labels, [0, 1, 2])
    assert ds.split("test").source_name(1) == "03797390/21abcdef"
    cloud = ds.split("test")[1]
    pts, part = shapes[("03797390", "21abcdef")]
    assert ds.class_name(cloud.label) == "Mug"
    np.testing.assert_allclose(cloud.points, pts[:, :3], atol=1e-5)
    np.testing.assert_allclose(cloud.normals, pts[:, 3:], atol=1e-5)
    np.testing.assert_array_equal(cloud.part_ids, part)


def test_shapenet_part_without_lists_is_one_split(tmp_path):
    _shapenet_part(tmp_path, lists=False)
    ds = open_dataset(tmp_path)
    assert ds.counts == {"all": 6} and ds.info["splits_from"].startswith("all files")


def test_shapenet_part_list_naming_a_missing_shape(tmp_path):
    _shapenet_part(tmp_path)
    (tmp_path / "train_test_split" / "shuffled_val_file_list.json").write_text(json.dumps(["shape_data/02691156/nope"]))
    with pytest.raises(DataError, match="shuffled_val_file_list.json: lists 'shape_data/02691156/nope'"):
        open_dataset(tmp_path)
