"""Every reader on the real third-party files in ../shared/data (see its README).

Where two copies of the same shapes exist in different formats, the readers must agree: the
PCD test split against the ModelNet10 HDF5 (which the README says was made from it), the
PointNet++ text files against the ModelNet40 HDF5 subset (their first 2,048 rows). Mesh areas
are compared with VTK's readers (through pyvista, an independent implementation).
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from engine.data import Loading, open_dataset
from engine.data.files import read_geometry
from tests.engine.data_makers import tri_area

MN10 = ["bathtub", "bed", "chair", "desk", "dresser", "monitor", "night_stand", "sofa", "table", "toilet"]


def test_modelnet10_hdf5_folder(shared_data):
    ds = open_dataset(shared_data / "modelnet10_hdf5_1024")
    assert ds.format == "pointnet_h5" and ds.classes == MN10
    assert ds.counts == {"train": 3991, "test": 908} and ds.info["points_per_sample"] == 1024
    test = ds.split("test")
    assert set(np.unique(test.labels)) == set(range(10))
    c = test[0]
    assert c.points.shape == (1024, 3) and c.label == 0 and test.source_name(0) == "bathtub/bathtub_0107.pcd"


def test_binary_pcd_folder_agrees_with_the_hdf5_made_from_it(shared_data):
    pcd = open_dataset(shared_data / "modelnet10_pcd_test", Loading(normalize=False))
    assert pcd.format == "folder" and pcd.classes == MN10 and pcd.counts == {"all": 908}
    h5 = open_dataset(shared_data / "modelnet10_hdf5_1024" / "ply_data_test0.h5", Loading(normalize=False))
    import h5py

    with h5py.File(shared_data / "modelnet10_hdf5_1024" / "ply_data_test0.h5") as f:
        centroid, scale = f["centroid"][:], f["scale"][:]
    names = json.loads((shared_data / "modelnet10_hdf5_1024" / "ply_data_test_0_id2file.json").read_text())
    split = pcd.split("all")
    where = {split.source_name(i): i for i in range(len(split))}
    for row in (0, 400, 907):
        raw = split[where[names[row]]]
        assert raw.label == h5.split("test").labels[row]
        np.testing.assert_allclose((raw.points - centroid[row]) / scale[row], h5.split("test")[row].points, atol=1e-5)


def test_modelnet40_hdf5_subset_with_forty_names_and_normals(shared_data):
    ds = open_dataset(shared_data / "modelnet40_hdf5_2048_subset")
    assert len(ds.classes) == 40 and ds.classes[39] == "xbox"
    assert ds.counts == {"train": 127, "test": 29}
    present = set(np.unique(ds.split("test").labels))
    assert len(present) == 20 and max(present) < 40
    c = ds.split("train")[0]
    assert c.points.shape == (2048, 3) and c.normals.shape == (2048, 3)


def test_pointnet2_text_layout_agrees_with_the_hdf5_subset(shared_data):
    txt = open_dataset(shared_data / "modelnet40_normal_resampled", Loading(normalize=False))
    assert txt.format == "modelnet_normal_resampled" and len(txt.classes) == 40
    assert txt.counts == {"train": 14, "test": 12}
    assert set(np.unique(txt.split("test").labels)) < set(range(40))   # classes missing from a split
    h5 = open_dataset(shared_data / "modelnet40_hdf5_2048_subset", Loading(normalize=False))
    ids = json.loads((shared_data / "modelnet40_hdf5_2048_subset" / "ply_data_test_0_id2file.json").read_text())
    t = txt.split("test")
    row = ids.index("airplane/airplane_0703.txt")
    i = t.ids.index("airplane_0703")
    c = t[i]
    assert c.points.shape == (10000, 3) and c.normals.shape == (10000, 3)
    assert c.label == h5.split("test").labels[row] == 0
    np.testing.assert_allclose(c.points[:2048], h5.split("test")[row].points, atol=1e-6)
    np.testing.assert_allclose(c.normals[:2048], h5.split("test")[row].normals, atol=1e-6)
    # the list file opens the same dataset
    assert open_dataset(shared_data / "modelnet40_normal_resampled" / "modelnet40_test.txt").counts == txt.counts


@pytest.mark.parametrize("name,count,classes,dtype", [
    ("ycb_objects_train.h5", 60, 6, "int64"), ("ycb_test_model.h5", 6, 6, "int64"),
    ("lidar_clusters_float64.h5", 32, 2, "float64")])
def test_h5_variants(shared_data, name, count, classes, dtype):
    ds = open_dataset(shared_data / "h5_variants" / name)
    assert sum(ds.counts.values()) == count and len(ds.classes) == classes
    c = next(iter(ds.splits.values()))[0]
    assert c.points.dtype == np.float32 and np.linalg.norm(c.points, axis=1).max() == pytest.approx(1, abs=1e-5)
    if name.startswith("ycb"):
        assert ds.classes[0] == "003_cracker_box"   # ycb_shape_names.txt beside the files
    else:
        assert ds.classes == ["class 0", "class 1"] and c.scale > 10   # metres of lidar, normalised


def test_modelnet_off_header_bug_loads_like_the_fixed_file(shared_data, tmp_path):
    bug = shared_data / "modelnet_off" / "modelnet40_bathtub_0001.off"
    assert bug.read_text().startswith("OFF3514 3546 0")
    text = bug.read_text().replace("OFF3514 3546 0", "OFF\n3514 3546 0", 1)
    (tmp_path / "fixed.off").write_text(text)
    a, b = read_geometry(bug), read_geometry(tmp_path / "fixed.off")
    assert a.vertices.shape == (3514, 3)
    np.testing.assert_array_equal(a.vertices, b.vertices)
    np.testing.assert_array_equal(a.triangles, b.triangles)


def test_all_modelnet_off_files_open_and_sample(shared_data):
    for p in sorted((shared_data / "modelnet_off").glob("*.off")):
        c = open_dataset(p, Loading(points=256)).split("all")[0]
        assert c.n == 256 and np.isfinite(c.points).all() and c.normals.shape == (256, 3)


@pytest.mark.parametrize("rel", ["meshes/cgal/pig.stl", "meshes/common-3d-test-models/spot.obj",
                                 "meshes/common-3d-test-models/beetle.obj", "meshes/common-3d-test-models/teapot.obj",
                                 "meshes/pyvista/ant.ply", "meshes/pyvista/nut.ply"])
def test_mesh_area_matches_vtk(shared_data, rel):
    pv = pytest.importorskip("pyvista")
    g = read_geometry(shared_data / rel)
    ref = pv.read(str(shared_data / rel)).triangulate()
    assert tri_area(g.vertices, g.triangles) == pytest.approx(ref.area, rel=1e-6)
    np.testing.assert_allclose(g.vertices.min(0), np.asarray(ref.bounds).reshape(3, 2)[:, 0], rtol=1e-6)


def test_cgal_off_meshes_and_coff(shared_data):
    for name in ("cow.off", "dino.off", "elephant.off"):   # dino.off is COFF (per-vertex colours)
        g = read_geometry(shared_data / "meshes" / "cgal" / name)
        head = (shared_data / "meshes" / "cgal" / name).read_text().split()
        assert g.vertices.shape[0] == int(head[1]) and len(g.triangles) == int(head[2])


def test_igea_tristrips_cover_every_vertex_with_consistent_winding(shared_data):
    g = read_geometry(shared_data / "meshes" / "common-3d-test-models" / "igea.ply")
    t, n = g.triangles, len(g.vertices)
    assert n == 134345 and len(np.unique(t)) == n
    e = np.concatenate([t[:, [0, 1]], t[:, [1, 2]], t[:, [2, 0]]])
    fwd, rev = e[:, 0] * n + e[:, 1], e[:, 1] * n + e[:, 0]
    assert np.isin(rev, fwd).mean() > 0.99   # alternating strip winding handled: edges pair up


@pytest.mark.parametrize("rel,n,normals,parts", [
    ("scans/open3d-ml/fragment.pcd", 113662, True, False),
    ("scans/pcn_shapenet_partial/airplane.pcd", 753, False, False),
    ("scans/pcn_shapenet_partial/lamp.pcd", 1715, False, False),
    ("scans/cgal/kitten.xyz", None, True, False),
    ("scans/cgal/radar.xyz", None, False, False),
    ("scans/cgal/hippo1.ply", 6104, True, False),
    ("scans/cgal/b9_training.ply", 22300, False, True)])
def test_scans(shared_data, rel, n, normals, parts):
    p = shared_data / rel
    if n is None:
        n = sum(1 for ln in p.read_text().splitlines() if ln.strip())
    ds = open_dataset(p, Loading(points=1024))
    c = ds.split("all")[0]
    assert ds.info["points_per_sample"] == 1024 and c.original_count == n and c.n == 1024
    assert (c.normals is not None) == normals and (c.part_ids is not None) == parts
    assert np.linalg.norm(c.points, axis=1).max() == pytest.approx(1, abs=1e-5)


@pytest.mark.parametrize("folder", ["meshes/cgal", "meshes/common-3d-test-models", "meshes/pyvista", "scans/cgal",
                                    "scans/pcn_shapenet_partial", "modelnet_off"])
def test_every_real_mesh_and_scan_file_opens(shared_data, folder):
    files = sorted(p for p in (shared_data / folder).iterdir() if p.is_file())
    assert files
    for p in files:
        g = read_geometry(p)
        assert np.isfinite(g.vertices).all() and len(g.vertices) > 100, p
        if g.is_mesh:
            assert tri_area(g.vertices, g.triangles) > 0, p
    # the same folder opened as a dataset: one class named after it, every file a sample
    ds = open_dataset(shared_data / folder, Loading(points=32))
    assert ds.counts == {"all": len(files)} and ds.classes == [folder.split("/")[-1]]
