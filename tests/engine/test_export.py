"""`pointlens export` and engine.export: real methods' results (their tiny examples) written as
PLY, VTP, NPZ and CSV and read back by independent readers: VTK (vtkPLYReader, vtkXMLPolyDataReader),
meshio (PLY's scalar properties, which vtkPLYReader does not read) and numpy."""
from __future__ import annotations

import numpy as np
import pytest
from vtk.util.numpy_support import vtk_to_numpy

import engine.cli as cli
from engine import Job, Result, export_points, load_result, run, save_result
from engine.specs.examples import EXAMPLES

N = 256          # ParAE's global feature has 256 values: the same length as the cloud, on purpose

# method -> (default cloud, per-point fields it must carry, arrays it must not carry)
EXPECT = {
    "pointmask-explain": ("points", {"mask_probability", "mask", "kept", "kept_sampled", "mu", "sigma",
                           "keep_probability"},
                          {"probabilities", "probabilities_masked"}),
    "serp-explain": ("original", {"error", "detection_probability", "perturbed_mask"}, {"centres"}),
    "mix": ("mixed", {"lambda", "assignment"}, {"saliency_a", "saliency_b"}),
    "parae-explain": ("points", {"partition", "point_density", "responsibilities", "point_features"},
                      {"global_feature", "pi"}),
    "occlusion": ("points", {"importance"}, {"drops", "probabilities"}),
}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    from engine.data import Loading, open_dataset

    folder = tmp_path_factory.mktemp("results")
    c = open_dataset("builtin", Loading(points=N)).split("test")[0]
    out = {}
    for key in EXPECT:
        ex = EXAMPLES[key]
        save_result(run(Job(key, ex.inputs(c.points, int(c.label)), ex.params, model=ex.model)), folder / f"{key}.h5")
        out[key] = folder / f"{key}.h5"
    return out


def _cli(capsys, argv):
    code = cli.main(["export", *map(str, argv)])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def _vtk_read(reader_cls, path):
    r = reader_cls()
    r.SetFileName(str(path))
    r.Update()
    return r.GetOutput()


def _point_data(poly) -> dict[str, np.ndarray]:
    pd = poly.GetPointData()
    return {pd.GetArrayName(i): vtk_to_numpy(pd.GetArray(i)) for i in range(pd.GetNumberOfArrays())}


def _columns(a: np.ndarray, name: str) -> dict[str, np.ndarray]:
    """What the PLY/CSV column naming promises for one array."""
    a = a.astype(np.uint8) if a.dtype == bool else a
    if a.ndim == 1:
        return {name: a}
    if a.shape[1] == 3:
        return {f"{name}_{ax}": a[:, i] for i, ax in enumerate("xyz")}
    return {f"{name}_{i}": a[:, i] for i in range(a.shape[1])}


@pytest.mark.parametrize("key", sorted(EXPECT))
def test_every_format_reads_back_with_its_scalars(key, results, tmp_path, capsys):
    import meshio
    import vtk

    cloud, wanted, unwanted = EXPECT[key]
    res = load_result(results[key])
    pts = np.asarray(res.arrays[cloud], np.float32)
    assert pts.shape == (N, 3)
    expected = {k: np.asarray(res.arrays[k]) for k in wanted}
    cols = {c: v for k, a in expected.items() for c, v in _columns(a, k).items()}

    for fmt in ("ply", "vtp", "npz", "csv"):
        code, out, err = _cli(capsys, [results[key], "--format", fmt, "--out", tmp_path / f"o.{fmt}"])
        assert (code, err) == (0, ""), err
        assert f"'{cloud}'" in out

    ply = _vtk_read(vtk.vtkPLYReader, tmp_path / "o.ply")
    assert ply.GetNumberOfPoints() == N
    np.testing.assert_array_equal(vtk_to_numpy(ply.GetPoints().GetData()), pts)
    mesh = meshio.read(tmp_path / "o.ply")
    assert set(mesh.point_data) == set(cols)              # every field, nothing else, names intact
    for name, v in cols.items():
        np.testing.assert_array_equal(mesh.point_data[name], v.astype(np.float32), err_msg=name)

    vtp = _vtk_read(vtk.vtkXMLPolyDataReader, tmp_path / "o.vtp")
    assert vtp.GetNumberOfPoints() == N and vtp.GetNumberOfVerts() == N
    np.testing.assert_array_equal(vtk_to_numpy(vtp.GetPoints().GetData()), pts)
    arrays = _point_data(vtp)
    assert set(arrays) == wanted and not set(arrays) & unwanted
    for name, v in expected.items():
        np.testing.assert_array_equal(arrays[name], v.astype(np.uint8) if v.dtype == bool else v, err_msg=name)

    with np.load(tmp_path / "o.npz") as z:
        assert set(z.files) == {"points", *wanted}
        np.testing.assert_array_equal(z["points"], pts)
        for name, v in expected.items():
            assert z[name].shape == v.shape
            np.testing.assert_array_equal(z[name], v.astype(np.uint8) if v.dtype == bool else v)

    header = (tmp_path / "o.csv").read_text().splitlines()[0].split(",")
    table = np.loadtxt(tmp_path / "o.csv", delimiter=",", skiprows=1, ndmin=2)
    assert header[:3] == ["x", "y", "z"] and set(header[3:]) == set(cols)
    np.testing.assert_array_equal(table[:, :3].astype(np.float32), pts)
    for name, v in cols.items():
        np.testing.assert_array_equal(table[:, header.index(name)].astype(v.dtype), v, err_msg=name)


def test_cloud_choice_keeps_each_clouds_own_fields(results, tmp_path, capsys):
    import vtk

    res = load_result(results["mix"])
    for cloud, own, other in (("source_a", "saliency_a", "saliency_b"), ("source_b", "saliency_b", "saliency_a")):
        code, _, err = _cli(capsys, [results["mix"], "--cloud", cloud, "--out", tmp_path / f"{cloud}.vtp"])
        assert (code, err) == (0, "")
        poly = _vtk_read(vtk.vtkXMLPolyDataReader, tmp_path / f"{cloud}.vtp")
        np.testing.assert_array_equal(vtk_to_numpy(poly.GetPoints().GetData()), res.arrays[cloud])
        arrays = _point_data(poly)
        assert own in arrays and other not in arrays
        np.testing.assert_array_equal(arrays[own], res.arrays[own])


def test_stacked_clouds_and_colours(tmp_path):
    """A (K, N, 3) stack gives clouds name[k]; colours become PLY uchar red/green/blue (VTK's RGB)."""
    import vtk

    from engine import export_result

    rng = np.random.default_rng(1)
    history = rng.normal(size=(3, 40, 3)).astype(np.float32)
    rgb = rng.integers(0, 256, size=(40, 3)).astype(np.uint8)
    res = Result("toy", arrays={"history": history, "colors": rgb, "weight": np.arange(40.0)})
    ps = export_result(res, tmp_path / "h.ply", cloud="history[2]")
    assert ps.name == "history[2]" and set(ps.fields) == {"weight"}
    ply = _vtk_read(vtk.vtkPLYReader, tmp_path / "h.ply")
    np.testing.assert_array_equal(vtk_to_numpy(ply.GetPoints().GetData()), history[2])
    np.testing.assert_array_equal(_point_data(ply)["RGB"], rgb)


def test_awkward_field_names_stay_readable(tmp_path):
    import meshio

    pts = np.zeros((5, 3), np.float32)
    export_points(tmp_path / "a.ply", pts, {"keep prob (%)": np.arange(5.0), "x": np.ones(5)})
    assert set(meshio.read(tmp_path / "a.ply").point_data) == {"keep_prob", "x_2"}


def test_bad_input_is_one_line_exit_2(results, tmp_path, capsys):
    not_result = tmp_path / "cloud.txt"
    not_result.write_text("0 0 0\n1 1 1\n")
    code, out, err = _cli(capsys, [not_result, "--format", "ply", "--out", tmp_path / "x.ply"])
    assert code == 2 and err.count("\n") == 1 and str(not_result) in err and out == ""

    code, _, err = _cli(capsys, [results["mix"], "--cloud", "blend", "--out", tmp_path / "x.ply"])
    assert code == 2 and err.count("\n") == 1
    assert "'blend'" in err and "mixed, source_a, source_b" in err
    assert not (tmp_path / "x.ply").exists()

    before = results["serp-explain"].read_bytes()
    code, _, err = _cli(capsys, [results["serp-explain"], "--format", "csv", "--out", results["serp-explain"]])
    assert code == 2 and err.count("\n") == 1 and "inputs" in err
    assert results["serp-explain"].read_bytes() == before

    code, _, err = _cli(capsys, [results["mix"], "--out", tmp_path / "x.xyz"])
    assert code == 2 and err.count("\n") == 1 and "ply, vtp, npz, csv" in err
