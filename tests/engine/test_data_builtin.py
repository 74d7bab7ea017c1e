"""The built-in procedural dataset and the bias alphabet."""
from __future__ import annotations

import h5py
import numpy as np
import pytest
from scipy.spatial import cKDTree

from engine.data import Loading, open_dataset
from engine.data import builtin
from engine.data.alphabet import LETTERS, letter_points, place_letter
from engine.data.builtin_shapes import CLASSES
from engine.core.errors import DataError, ParameterError

MN10 = ["bathtub", "bed", "chair", "desk", "dresser", "monitor", "night_stand", "sofa", "table", "toilet"]


def test_generation_is_deterministic_from_the_seed():
    a = builtin.generate(3, {"train": 2, "test": 1}, points=256)
    b = builtin.generate(3, {"train": 2, "test": 1}, points=256)
    c = builtin.generate(4, {"train": 2, "test": 1}, points=256)
    for s in ("train", "test"):
        np.testing.assert_array_equal(a[s]["points"], b[s]["points"])
        assert not np.allclose(a[s]["points"], c[s]["points"])
    np.testing.assert_array_equal(a["train"]["labels"], np.repeat(np.arange(10), 2))
    pts, nrm = a["train"]["points"], a["train"]["normals"]
    assert pts.shape == (20, 256, 3) and pts.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(nrm, axis=-1), 1, atol=1e-5)
    assert np.linalg.norm(pts, axis=-1).max() < 1.05   # unit sphere plus a little jitter
    # z is up: every class stands on its lowest points, none is upside down (more mass low
    # than a mirror image would have is not required, but the floor must be flat-ish: the
    # lowest 5 % of points span a horizontal, not vertical, region)
    for k in range(20):
        low = pts[k][pts[k][:, 2] < np.quantile(pts[k][:, 2], 0.05)]
        assert np.ptp(low[:, 2]) < 0.5 * max(np.ptp(low[:, 0]), np.ptp(low[:, 1]))


def test_builtin_dataset_counts_classes_and_cache():
    ds = open_dataset("builtin")
    assert ds.format == "builtin" and ds.classes == MN10 == CLASSES
    assert ds.counts == {"train": 1000, "test": 300} and ds.info["points_per_sample"] == 2048
    for name, per in (("train", 100), ("test", 30)):
        np.testing.assert_array_equal(np.bincount(ds.split(name).labels), [per] * 10)
    c = ds.split("test")[45]
    assert c.points.shape == (2048, 3) and c.label == 1 and c.normals.shape == (2048, 3)
    # each shape has its own random stream: a small variant holds the same first shapes
    small = builtin.generate(0, {"train": 2, "test": 1})
    raw = open_dataset("builtin", Loading(normalize=False))
    np.testing.assert_array_equal(raw.split("train")[300 + 1].points, small["train"]["points"][3 * 2 + 1])
    np.testing.assert_array_equal(raw.split("test")[90].points, small["test"]["points"][3])


def test_cache_is_rebuilt_when_stale_or_corrupt(tmp_path, monkeypatch):
    monkeypatch.setenv("POINTLENS_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(builtin, "PER_CLASS", {"train": 2, "test": 1})
    monkeypatch.setattr(builtin, "POINTS", 64)
    (tmp_path / "builtin-v0-seed5.h5").write_bytes(b"an older generator's cache")
    ds = open_dataset("builtin:5")
    assert ds.counts == {"train": 20, "test": 10} and ds.path == "builtin:5"
    path = builtin.cache_path(5)
    assert path.parent == tmp_path and path.is_file()
    first = ds.split("train")[7].points
    builtin.release(path)
    path.write_bytes(b"not hdf5 at all")   # a crash mid-write cannot do this (atomic), a user can
    again = open_dataset("builtin:5")
    np.testing.assert_array_equal(again.split("train")[7].points, first)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]   # no temporary or stale files left
    with pytest.raises(DataError, match="seed"):
        open_dataset("builtin:x")


def _features(x):
    ext = np.ptp(x, axis=1)
    zh = np.stack([np.histogram(p[:, 2], bins=8, range=(-1, 1))[0] for p in x]) / x.shape[1]
    xh = np.stack([np.histogram(p[:, 0], bins=8, range=(-1, 1))[0] for p in x]) / x.shape[1]
    return np.concatenate([ext, zh, xh], 1)


def test_classes_are_distinguishable_but_not_by_one_number():
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.tree import DecisionTreeClassifier

    with h5py.File(open_dataset("builtin").info["file"]) as f:
        xtr, ytr = f["train/data"][:, :512], f["train/label"][:, 0]
        xte, yte = f["test/data"][:, :512], f["test/label"][:, 0]
    ftr, fte = _features(xtr), _features(xte)
    knn = KNeighborsClassifier(5).fit(ftr, ytr).score(fte, yte)
    single = max(DecisionTreeClassifier(max_depth=4, random_state=0).fit(ftr[:, [j]], ytr).score(fte[:, [j]], yte)
                 for j in range(ftr.shape[1]))
    assert knn > 0.85 and single < 0.6, (knn, single)


def test_alphabet_letters_in_the_unit_box_any_count():
    for letter in LETTERS:
        p = letter_points(letter, 300, np.random.default_rng(0))
        assert p.shape == (300, 3) and p.dtype == np.float32 and np.abs(p).max() <= 0.5
        assert np.ptp(p[:, 1]) > 0.8   # every letter is about one unit tall
    assert letter_points("q", 1, np.random.default_rng(0)).shape == (1, 3)
    assert letter_points("A", 0, np.random.default_rng(0)).shape == (0, 3)
    np.testing.assert_array_equal(letter_points("K", 50, np.random.default_rng(9)),
                                  letter_points("K", 50, np.random.default_rng(9)))
    for bad in ("1", "AB", ""):
        with pytest.raises(ParameterError):
            letter_points(bad, 10, np.random.default_rng(0))
    with pytest.raises(ParameterError):
        letter_points("A", -1, np.random.default_rng(0))


def test_alphabet_letters_are_distinct_shapes():
    def hausdorff(a, b):
        return max(cKDTree(b).query(a)[0].max(), cKDTree(a).query(b)[0].max())

    s = {k: letter_points(k, 1000, np.random.default_rng(1))[:, :2] for k in LETTERS}
    t = {k: letter_points(k, 1000, np.random.default_rng(2))[:, :2] for k in LETTERS}
    same = max(hausdorff(s[k], t[k]) for k in LETTERS)
    closest = min(hausdorff(s[a], s[b]) for i, a in enumerate(LETTERS) for b in LETTERS[i + 1:])
    assert closest > 3 * same, (closest, same)


def test_place_letter_appends_at_position_and_scale():
    cloud = np.random.default_rng(3).normal(size=(100, 3)).astype(np.float32)
    out = place_letter(cloud, "T", 64, position=(0.5, -0.2, 0.1), scale=0.3, rng=np.random.default_rng(4))
    assert out.shape == (164, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out[:100], cloud)
    letter = out[100:]
    assert (np.abs(letter - [0.5, -0.2, 0.1]) <= 0.15 + 1e-6).all()
    one = place_letter(cloud, "A", 1, position=(2, 2, 2), scale=0.1, rng=np.random.default_rng(0))
    assert one.shape == (101, 3) and np.abs(one[100] - 2).max() <= 0.05 + 1e-6
    with pytest.raises(ParameterError):
        place_letter(cloud, "A", 5, scale=0)
