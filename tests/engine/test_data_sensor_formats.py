"""KITTI velodyne .bin, LAS/LAZ and VTK (.vtp, .vtu, legacy .vtk) readers, on files the tests
write in each real format: KITTI's records by hand from its devkit layout, LAS/LAZ with laspy,
VTK files with VTK's own writers (the engine reads them without VTK)."""
from __future__ import annotations

import numpy as np
import pytest

from engine.core.errors import DataError
from engine.data import Loading, open_dataset
from engine.data.files import read_geometry
from engine.data.open import DATA_SUFFIXES

XYZ = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1.5]], np.float64)
RGB = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [9, 9, 9]], np.uint8)
VALUE = np.array([1.0, 2.0, 3.0, 4.0])


def test_kitti_bin_records(tmp_path):
    rec = np.concatenate([XYZ, [[0.1], [0.2], [0.3], [0.4]]], 1).astype("<f4")   # x y z reflectance
    p = tmp_path / "000000.bin"
    p.write_bytes(rec.tobytes())
    g = read_geometry(p)
    np.testing.assert_allclose(g.vertices, XYZ)
    np.testing.assert_allclose(g.fields["reflectance"], [0.1, 0.2, 0.3, 0.4], rtol=1e-6)
    p.write_bytes(rec.tobytes()[:-4])                                   # 60 bytes: not 16-byte records
    with pytest.raises(DataError, match="60 bytes is not a whole number of KITTI points"):
        read_geometry(tmp_path / "000000.bin")


@pytest.mark.parametrize("suffix", [".las", ".laz"])
def test_las_and_laz(tmp_path, suffix):
    laspy = pytest.importorskip("laspy")
    h = laspy.LasHeader(point_format=3, version="1.2")
    h.scales, h.offsets = np.array([0.001, 0.001, 0.001]), np.array([500.0, 1000.0, 0.0])
    las = laspy.LasData(h, points=laspy.ScaleAwarePointRecord.zeros(4, header=h))
    las.x, las.y, las.z = XYZ[:, 0] + 500.25, XYZ[:, 1] + 1000.5, XYZ[:, 2]   # scaled coordinates
    las.intensity = np.array([10, 20, 30, 40])
    las.classification = np.array([2, 2, 6, 9])                              # ground, ground, building, water
    rgb16 = RGB.astype(np.uint16) * 257                                       # 16-bit colour as LAS stores it
    las.red, las.green, las.blue = rgb16[:, 0], rgb16[:, 1], rgb16[:, 2]
    p = tmp_path / f"tile{suffix}"
    las.write(p)
    with laspy.open(p) as f:
        assert f.header.are_points_compressed == (suffix == ".laz")
    g = read_geometry(p)
    np.testing.assert_allclose(g.vertices, XYZ + [500.25, 1000.5, 0], atol=1e-9)
    np.testing.assert_array_equal(g.colors, RGB)
    np.testing.assert_array_equal(g.fields["intensity"], [10, 20, 30, 40])
    np.testing.assert_array_equal(g.fields["classification"], [2, 2, 6, 9])


def test_las_that_is_not_las(tmp_path):
    pytest.importorskip("laspy")
    (tmp_path / "bad.las").write_bytes(b"not a las file at all" * 20)
    with pytest.raises(DataError, match="bad.las"):
        read_geometry(tmp_path / "bad.las")


# ---- VTK ---------------------------------------------------------------------------------------

def _polydata(vtk, with_mesh=False):
    from vtk.util.numpy_support import numpy_to_vtk

    if with_mesh:
        src = vtk.vtkCubeSource()
        src.Update()
        return src.GetOutput()
    pts = vtk.vtkPoints()
    for p in XYZ:
        pts.InsertNextPoint(*p)
    pd = vtk.vtkPolyData()
    pd.SetPoints(pts)
    a = numpy_to_vtk(VALUE)
    a.SetName("intensity")
    pd.GetPointData().AddArray(a)
    c = numpy_to_vtk(RGB)
    c.SetName("RGB")
    pd.GetPointData().SetScalars(c)
    n = numpy_to_vtk(np.array([[0, 0, 1], [0, 1, 0], [1, 0, 0], [0, 0, 1]], np.float32))
    n.SetName("Normals")
    pd.GetPointData().SetNormals(n)
    return pd


def _check_cloud(g):
    assert not g.is_mesh
    np.testing.assert_allclose(g.vertices, XYZ)
    np.testing.assert_array_equal(g.colors, RGB)
    np.testing.assert_allclose(g.normals, [[0, 0, 1], [0, 1, 0], [1, 0, 0], [0, 0, 1]])
    np.testing.assert_allclose(g.fields["intensity"], VALUE)


@pytest.mark.parametrize("mode,compress", [("ascii", False), ("binary", False), ("binary", True),
                                           ("appended", False), ("appended", True), ("appended64", True)])
def test_vtp_every_encoding(tmp_path, mode, compress):
    vtk = pytest.importorskip("vtk")
    w = vtk.vtkXMLPolyDataWriter()
    w.SetInputData(_polydata(vtk))
    w.SetFileName(str(tmp_path / "c.vtp"))
    {"ascii": w.SetDataModeToAscii, "binary": w.SetDataModeToBinary}.get(mode, w.SetDataModeToAppended)()
    w.SetEncodeAppendedData(mode == "appended64")
    if not compress:
        w.SetCompressorTypeToNone()
    else:
        w.SetCompressorTypeToZLib()
    assert w.Write() == 1
    _check_cloud(read_geometry(tmp_path / "c.vtp"))


def test_vtu_points_and_vtp_mesh(tmp_path):
    vtk = pytest.importorskip("vtk")
    pd = _polydata(vtk)
    ug = vtk.vtkUnstructuredGrid()
    ug.SetPoints(pd.GetPoints())
    ug.GetPointData().ShallowCopy(pd.GetPointData())
    w = vtk.vtkXMLUnstructuredGridWriter()
    w.SetInputData(ug)
    w.SetFileName(str(tmp_path / "c.vtu"))
    assert w.Write() == 1
    _check_cloud(read_geometry(tmp_path / "c.vtu"))
    w = vtk.vtkXMLPolyDataWriter()
    w.SetInputData(_polydata(vtk, with_mesh=True))      # the unit cube: 6 quads
    w.SetFileName(str(tmp_path / "cube.vtp"))
    assert w.Write() == 1
    g = read_geometry(tmp_path / "cube.vtp")
    assert g.is_mesh and len(g.triangles) == 12


def test_vtp_lz4_is_refused_with_a_reason(tmp_path):
    vtk = pytest.importorskip("vtk")
    w = vtk.vtkXMLPolyDataWriter()
    w.SetInputData(_polydata(vtk))
    w.SetFileName(str(tmp_path / "c.vtp"))
    w.SetCompressorTypeToLZ4()
    assert w.Write() == 1
    with pytest.raises(DataError, match="vtkLZ4DataCompressor"):
        read_geometry(tmp_path / "c.vtp")


@pytest.mark.parametrize("version", [42, 51])
@pytest.mark.parametrize("binary", [False, True])
def test_legacy_vtk_cloud_and_mesh(tmp_path, version, binary):
    vtk = pytest.importorskip("vtk")
    for name, data in (("c.vtk", _polydata(vtk)), ("cube.vtk", _polydata(vtk, with_mesh=True))):
        w = vtk.vtkPolyDataWriter()
        w.SetInputData(data)
        w.SetFileName(str(tmp_path / name))
        w.SetFileVersion(version)
        if binary:
            w.SetFileTypeToBinary()
        assert w.Write() == 1
    _check_cloud(read_geometry(tmp_path / "c.vtk"))
    g = read_geometry(tmp_path / "cube.vtk")
    assert g.is_mesh and len(g.triangles) == 12


def test_legacy_vtk_image_data_is_refused(tmp_path):
    (tmp_path / "img.vtk").write_text("# vtk DataFile Version 3.0\nimage\nASCII\nDATASET STRUCTURED_POINTS\n"
                                      "DIMENSIONS 2 2 1\nSPACING 1 1 1\nORIGIN 0 0 0\n")
    with pytest.raises(DataError, match="STRUCTURED_POINTS.*only POLYDATA"):
        read_geometry(tmp_path / "img.vtk")


def test_new_suffixes_open_as_datasets_and_are_listed(tmp_path):
    rec = np.concatenate([XYZ, np.zeros((4, 1))], 1).astype("<f4")
    (tmp_path / "scan.bin").write_bytes(rec.tobytes())
    ds = open_dataset(tmp_path / "scan.bin", Loading(normalize=False))
    cloud = ds.split("all")[0]
    np.testing.assert_allclose(cloud.points, XYZ)
    assert "reflectance" in cloud.fields and ds.info["fields"] == ["reflectance"]
    for s in (".bin", ".las", ".laz", ".vtk", ".vtp", ".vtu", ".csv", ".h5"):
        assert s in DATA_SUFFIXES
