"""The text-dataset parse cache: parse once, re-parse an edited file, survive a damaged entry."""
import os

import numpy as np
import pytest

from engine.data import Loading, open_dataset
from engine.data import files as files_mod
from engine.data.parse_cache import cache_root, cached_cloud


@pytest.fixture
def counted(monkeypatch, tmp_path):
    monkeypatch.setenv("POINTLENS_CACHE_DIR", str(tmp_path / "cache"))
    calls = []

    def parse(path):
        calls.append(path)
        return files_mod.read_geometry(path)
    return parse, calls


def _cloud(path, rng, n=50):
    pts = rng.normal(size=(n, 6))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(",".join(f"{v:.6f}" for v in row) for row in pts) + "\n")
    return pts


def test_second_read_comes_from_the_cache_and_equals_the_parse(counted, tmp_path):
    parse, calls = counted
    rng = np.random.default_rng(0)
    f = tmp_path / "chair" / "chair_0001.txt"
    pts = _cloud(f, rng)
    first = cached_cloud(f, parse)
    second = cached_cloud(f, parse)
    assert len(calls) == 1
    np.testing.assert_allclose(second.vertices, pts[:, :3], atol=1e-6)
    np.testing.assert_allclose(second.normals, pts[:, 3:], atol=1e-6)
    np.testing.assert_array_equal(second.vertices, first.vertices)


def test_an_edited_file_is_parsed_again_and_a_damaged_entry_is_rewritten(counted, tmp_path):
    parse, calls = counted
    rng = np.random.default_rng(1)
    f = tmp_path / "a.txt"
    _cloud(f, rng)
    cached_cloud(f, parse)
    new = _cloud(f, rng, n=30)
    st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    got = cached_cloud(f, parse)
    assert len(calls) == 2 and got.vertices.shape == (30, 3)
    np.testing.assert_allclose(got.vertices, new[:, :3], atol=1e-6)
    for entry in cache_root().glob("*.npy"):
        entry.write_bytes(b"not a numpy file")
    again = cached_cloud(f, parse)
    assert len(calls) == 3
    np.testing.assert_array_equal(again.vertices, got.vertices)
    for entry in cache_root().glob("*.npy"):
        entry.write_bytes(b"")                 # left empty by a crash mid-write
    assert cached_cloud(f, parse).vertices.shape == (30, 3) and len(calls) == 4


def test_normal_resampled_layout_reads_through_the_cache(counted, tmp_path, monkeypatch):
    rng = np.random.default_rng(2)
    root = tmp_path / "modelnet10_normal_resampled"
    pts = _cloud(root / "chair" / "chair_0001.txt", rng)
    _cloud(root / "desk" / "desk_0001.txt", rng)
    (root / "modelnet10_shape_names.txt").write_text("chair\ndesk\n")
    (root / "modelnet10_train.txt").write_text("chair_0001\ndesk_0001\n")
    ds = open_dataset(root, Loading(normalize=False))
    ds.split("train")[0]
    assert len(list(cache_root().glob("*.npy"))) == 1
    np.testing.assert_allclose(ds.split("train")[0].points, pts[:, :3], atol=1e-5)
