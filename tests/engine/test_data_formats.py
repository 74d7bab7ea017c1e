"""Cloud and mesh file readers on files the tests write: geometry read back exactly, meshes
sampled on their surface in proportion to area, folders of per-class files."""
from __future__ import annotations

import numpy as np
import pytest

from engine.data import Loading, open_dataset
from engine.data.files import read_geometry
from engine.data.pcd import lzf_decompress
from engine.data.ply import strips_to_triangles
from engine.data.surface import sample_surface
from tests.engine.data_makers import (CUBE_QUADS, CUBE_V, quads_to_tris, tri_area, write_obj, write_off,
                                      write_pcd, write_ply, write_stl)

CUBE_T = quads_to_tris(CUBE_QUADS)


def _same_surface(g, area=6.0):
    assert g.is_mesh
    assert tri_area(g.vertices, g.triangles) == pytest.approx(area)


@pytest.mark.parametrize("header_bug", [False, True])
@pytest.mark.parametrize("keyword,extra", [("OFF", ""), ("COFF", " 255 0 0 255")])
def test_off_cube_with_and_without_the_modelnet_header_bug(tmp_path, header_bug, keyword, extra):
    p = write_off(tmp_path / "cube.off", CUBE_V, CUBE_QUADS, header_bug=header_bug, keyword=keyword, vertex_extra=extra)
    g = read_geometry(p)
    np.testing.assert_allclose(g.vertices, CUBE_V)
    _same_surface(g)   # quads fan-triangulated: 12 triangles of the unit cube


def test_off_mixed_polygons_take_the_slow_path(tmp_path):
    faces = [list(f) for f in CUBE_QUADS[:5]] + [[0, 4, 7], [0, 7, 3]]   # 5 quads + 2 triangles
    g = read_geometry(write_off(tmp_path / "mixed.off", CUBE_V, faces))
    assert len(g.triangles) == 12
    _same_surface(g)


@pytest.mark.parametrize("fmt", ["ascii", "binary_little_endian", "binary_big_endian"])
def test_ply_mesh_formats(tmp_path, fmt):
    g = read_geometry(write_ply(tmp_path / "cube.ply", CUBE_V, CUBE_QUADS, fmt=fmt))
    np.testing.assert_allclose(g.vertices, CUBE_V)
    _same_surface(g)


@pytest.mark.parametrize("fmt", ["ascii", "binary_little_endian"])
def test_ply_vertex_only_is_a_cloud_with_normals_and_labels(tmp_path, fmt):
    rng = np.random.default_rng(0)
    v, nrm, lab = rng.normal(size=(50, 3)), rng.normal(size=(50, 3)), rng.integers(0, 4, 50)
    g = read_geometry(write_ply(tmp_path / "cloud.ply", v, fmt=fmt, normals=nrm, labels=lab))
    assert not g.is_mesh
    np.testing.assert_allclose(g.vertices, v, rtol=1e-7)
    np.testing.assert_allclose(g.normals, nrm, rtol=1e-6)
    np.testing.assert_array_equal(g.part_ids, lab)


def test_tristrips_match_the_hand_triangulation():
    # strip 0 1 2 3 | restart | 4 5 6: triangles (0,1,2), (2,1,3) (flipped winding), (4,5,6)
    tris = strips_to_triangles(np.array([0, 1, 2, 3, -1, 4, 5, 6]))
    np.testing.assert_array_equal(tris, [[0, 1, 2], [2, 1, 3], [4, 5, 6]])
    # a degenerate (repeated-index) triangle used to join strips is dropped
    assert len(strips_to_triangles(np.array([0, 1, 1, 2]))) == 0


def test_ply_tristrips_element(tmp_path):
    # the cube's top face as one strip: 4 5 7 6 -> two triangles of area 1/2
    g = read_geometry(write_ply(tmp_path / "s.ply", CUBE_V, fmt="binary_little_endian", tristrips=[4, 5, 7, 6]))
    _same_surface(g, area=1.0)


@pytest.mark.parametrize("style", ["plain", "slash", "negative"])
def test_obj_index_styles(tmp_path, style):
    g = read_geometry(write_obj(tmp_path / "cube.obj", CUBE_V, CUBE_QUADS, style=style))
    np.testing.assert_allclose(g.vertices, CUBE_V)
    _same_surface(g)


@pytest.mark.parametrize("binary", [True, False])
def test_stl_binary_and_ascii(tmp_path, binary):
    g = read_geometry(write_stl(tmp_path / "cube.stl", CUBE_V, CUBE_T, binary=binary))
    _same_surface(g)   # a binary STL whose header starts with "solid" is still read as binary


@pytest.mark.parametrize("fmt", ["ascii", "binary", "binary_compressed"])
def test_pcd_formats_with_extra_fields(tmp_path, fmt):
    rng = np.random.default_rng(1)
    pts, nrm = rng.normal(size=(40, 3)).astype(np.float32), rng.normal(size=(40, 3)).astype(np.float32)
    g = read_geometry(write_pcd(tmp_path / "c.pcd", pts, fmt=fmt, normals=nrm, extra_rgb=True))
    np.testing.assert_allclose(g.vertices, pts, rtol=1e-6)
    np.testing.assert_allclose(g.normals, nrm, rtol=1e-6)


def test_pcd_organized_cloud_drops_nan_points(tmp_path):
    pts = np.arange(24, dtype=np.float32).reshape(8, 3)
    pts[3] = np.nan
    g = read_geometry(write_pcd(tmp_path / "o.pcd", pts, fmt="binary", height=2))
    np.testing.assert_array_equal(g.vertices, np.delete(pts, 3, axis=0))


def test_lzf_back_references_by_hand():
    # literal "abc", then a back-reference of length 5 at distance 3: "abcabcab"
    stream = bytes([2]) + b"abc" + bytes([(3 << 5) | 0, 2])
    assert lzf_decompress(stream, 8) == b"abcabcab"
    # long match (len code 7 + extra byte): 2 + 7 + 1 = 10 bytes repeating "x"
    assert lzf_decompress(bytes([0]) + b"x" + bytes([7 << 5, 1, 0]), 11) == b"x" * 11


@pytest.mark.parametrize("sep,cols", [(" ", 3), ("\t", 6), (",", 6)])
def test_xyz_tables(tmp_path, sep, cols):
    rng = np.random.default_rng(2)
    tab = rng.normal(size=(30, cols))
    p = tmp_path / "c.xyz"
    p.write_text("# comment line\n" + "\n".join(sep.join(f"{x:.10g}" for x in r) for r in tab) + "\n")
    g = read_geometry(p)
    np.testing.assert_allclose(g.vertices, tab[:, :3], rtol=1e-9)
    assert (g.normals is not None) == (cols == 6)


def test_npy_and_npz(tmp_path):
    rng = np.random.default_rng(3)
    one = rng.normal(size=(100, 3)).astype(np.float32)
    np.save(tmp_path / "one.npy", one)
    ds = open_dataset(tmp_path / "one.npy", Loading(normalize=False))
    assert ds.counts == {"all": 1}
    np.testing.assert_array_equal(ds.split("all")[0].points, one)
    many = rng.normal(size=(5, 64, 3))
    np.savez(tmp_path / "many.npz", data=many, label=np.array([0, 1, 2, 1, 0]))
    ds = open_dataset(tmp_path / "many.npz", Loading(normalize=False))
    assert ds.counts == {"all": 5} and ds.classes == ["class 0", "class 1", "class 2"]
    np.testing.assert_array_equal(ds.split("all").labels, [0, 1, 2, 1, 0])
    np.testing.assert_allclose(ds.split("all")[3].points, many[3], rtol=1e-6)


def test_area_weighted_sampling_matches_the_area_ratio():
    # two triangles with areas 1 and 3 in separate places: a quarter of the points on the first
    v = np.array([[0, 0, 0], [2, 0, 0], [0, 1, 0], [10, 0, 0], [13, 0, 0], [10, 2, 0]], float)
    t = np.array([[0, 1, 2], [3, 4, 5]])
    pts, nrm = sample_surface(v, t, 40000, np.random.default_rng(0))
    frac = (pts[:, 0] < 5).mean()
    assert abs(frac - 0.25) < 4 * np.sqrt(0.25 * 0.75 / 40000)
    first = pts[pts[:, 0] < 5]
    assert (first[:, 0] >= 0).all() and (first[:, 1] >= 0).all() and (first[:, 0] / 2 + first[:, 1] <= 1 + 1e-6).all()
    # uniform inside a triangle: the mean is the centroid
    np.testing.assert_allclose(first.mean(0), v[:3].mean(0), atol=0.02)
    np.testing.assert_allclose(np.abs(nrm[:, 2]), 1.0)


def test_mesh_file_is_sampled_to_the_asked_number_of_points_on_its_surface(tmp_path):
    p = write_off(tmp_path / "cube.off", CUBE_V * 2, CUBE_QUADS)
    for points, want in ((None, 2048), (500, 500)):
        c = open_dataset(p, Loading(points=points, normalize=False)).split("all")[0]
        assert c.n == want
        on_face = np.isclose(c.points, 0, atol=1e-5) | np.isclose(c.points, 2, atol=1e-5)
        assert on_face.any(axis=1).all()
    a = open_dataset(p, Loading(points=300, seed=4)).split("all")[0].points
    b = open_dataset(p, Loading(points=300, seed=4)).split("all")[0].points
    np.testing.assert_array_equal(a, b)   # seeded


def test_folder_of_class_subfolders_with_and_without_train_test(tmp_path):
    rng = np.random.default_rng(4)
    for cls, k in (("chair", 3), ("table", 2)):
        for i in range(k):
            (tmp_path / "flat" / cls).mkdir(parents=True, exist_ok=True)
            write_pcd(tmp_path / "flat" / cls / f"{cls}_{i}.pcd", rng.normal(size=(20, 3)), fmt="binary")
            for split in ("train", "test"):
                (tmp_path / "mn" / cls / split).mkdir(parents=True, exist_ok=True)
                write_off(tmp_path / "mn" / cls / split / f"{cls}_{i}.off", CUBE_V, CUBE_QUADS)
    (tmp_path / "flat" / "README.md").write_text("not data")
    (tmp_path / "flat" / "chair" / "readme.txt").write_text("not data either")
    (tmp_path / "flat" / "shape_names.txt").write_text("chair\ntable\n")
    ds = open_dataset(tmp_path / "flat")
    assert ds.format == "folder" and ds.classes == ["chair", "table"] and ds.counts == {"all": 5}
    np.testing.assert_array_equal(ds.split("all").labels, [0, 0, 0, 1, 1])
    assert ds.split("all").source_name(3) == "table/table_0.pcd"
    assert ds.info["points_per_sample"] == 20
    ds = open_dataset(tmp_path / "mn", Loading(points=128))
    assert ds.counts == {"train": 5, "test": 5} and ds.split("test")[4].n == 128


def test_single_cloud_file_is_a_one_sample_dataset(tmp_path):
    p = write_pcd(tmp_path / "scan.pcd", np.random.default_rng(5).normal(size=(77, 3)), fmt="ascii")
    ds = open_dataset(p)
    assert ds.format == "pcd" and ds.classes == ["scan"] and ds.counts == {"all": 1}
    assert ds.info["points_per_sample"] == 77 and ds.split("all")[0].original_count == 77


def test_fps_on_a_mesh_spreads_points_more_evenly_than_random(tmp_path):
    from scipy.spatial.distance import pdist

    p = write_off(tmp_path / "cube.off", CUBE_V, CUBE_QUADS)
    fps = open_dataset(p, Loading(points=100, sampling="fps", normalize=False)).split("all")[0].points
    rnd = open_dataset(p, Loading(points=100, sampling="random", normalize=False)).split("all")[0].points
    assert fps.shape == rnd.shape == (100, 3)
    assert (np.isclose(fps, 0, atol=1e-5) | np.isclose(fps, 1, atol=1e-5)).any(axis=1).all()
    assert pdist(fps).min() > 2 * pdist(rnd).min()


def test_folder_of_dataset_folders_points_to_them(tmp_path):
    from engine.core.errors import DataError
    from tests.engine.data_makers import clouds, write_pointnet_h5

    (tmp_path / "main_split").mkdir()
    write_pointnet_h5(tmp_path / "main_split" / "training_objectdataset.h5", *clouds(2, 8))
    with pytest.raises(DataError, match="main_split"):
        open_dataset(tmp_path)
