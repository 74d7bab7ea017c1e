"""pointlens (the notebook API): every catalog method through pl.explain with its tiny example,
results as numpy and pyvista, the GUI's command line, and the import line it keeps."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import pointlens as pl
from engine import specs
from engine.specs.examples import EXAMPLES


@pytest.fixture(scope="module")
def ds():
    return pl.open_dataset("builtin", points=256)


def _call(key, ds):
    """pl.explain's arguments from the method's example: the cloud (or dataset) input becomes the
    sample, the other inputs and the parameters keywords."""
    spec, ex = specs.get(key), EXAMPLES[key]
    item = ds[0]
    inputs = ex.inputs(item.points, int(item.label))
    sample_input = next((i.name for i in spec.inputs if i.kind == "points" or i.name == "data"), None)
    sample = inputs.pop(sample_input)
    if isinstance(sample, np.ndarray):
        assert sample is item.points
        sample = item                                    # the dataset item itself: its label goes along
        inputs.pop(next((i.name for i in spec.inputs if i.kind == "label"), ""), None)
    return pl.explain(key, ex.model, sample, **inputs, **ex.params)


@pytest.mark.parametrize("key", sorted(EXAMPLES))
def test_every_method_runs_and_converts(key, ds, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                          # anything a method writes lands here
    r = _call(key, ds)
    assert r.kind == specs.get(key).produces
    assert all(isinstance(a, np.ndarray) for a in r.arrays.values())
    assert isinstance(r.metrics, dict)
    for cloud in r.clouds:
        poly = r.to_pyvista(cloud)
        ps = r.point_set(cloud)
        assert poly.n_points == ps.n and poly.n_cells == ps.n          # one vertex per point
        np.testing.assert_array_equal(np.asarray(poly.points), ps.points)
        assert set(poly.point_data.keys()) == set(ps.fields) | ({"colors"} if ps.colors is not None else set())
        for name, values in ps.fields.items():
            np.testing.assert_array_equal(np.asarray(poly.point_data[name]), values)
    r.save(tmp_path / "r.h5")
    again = pl.load_result(tmp_path / "r.h5")
    assert again.kind == r.kind and set(again.arrays) == set(r.arrays)


def test_per_point_scalars_reach_pyvista_with_their_values(ds):
    r = pl.explain("serp-explain", "demo:serp-pointnet", ds[0].points, centres=2, neighbours=8)
    poly = r.to_pyvista()
    np.testing.assert_array_equal(np.asarray(poly.points), r.arrays["original"])
    for name in ("error", "detection_probability"):
        np.testing.assert_array_equal(np.asarray(poly.point_data[name]), r.arrays[name])
    np.testing.assert_array_equal(np.asarray(poly.point_data["perturbed_mask"]), r.arrays["perturbed_mask"])


def test_bad_calls_are_one_clear_error(ds):
    with pytest.raises(pl.ParameterError, match="'patches' = 0 is outside"):
        pl.explain("occlusion", "demo:pointnet", ds[0], patches=0)
    with pytest.raises(pl.ParameterError, match="no parameter 'patchez'"):
        pl.explain("occlusion", "demo:pointnet", ds[0], patchez=3)
    with pytest.raises(pl.ParameterError, match=r"\(N, 3\) array"):
        pl.explain("occlusion", "demo:pointnet", np.zeros((5, 2)))
    with pytest.raises(pl.EngineError, match="Unknown method 'nope'"):
        pl.explain("nope", None, ds[0])
    r = pl.explain("occlusion", "demo:pointnet", ds[0], patches=4)
    with pytest.raises(pl.DataError, match="choose one of: points"):
        r.to_pyvista("mixed")


def test_show_builds_the_gui_command_line(ds, tmp_path):
    m = pl.load_checkpoint("demo:pointnet")
    launch = [sys.executable, "-c", "import sys; from viewer.launch import main; sys.exit(main())"]
    assert pl.show_command(ds) == [*launch, "builtin"]
    assert pl.show_command([ds, m]) == [*launch, "builtin", m.path]
    assert pl.show_command("demo:parae") == [*launch, "demo:parae"]
    assert pl.show_command(str(tmp_path / "d.h5")) == [*launch, str(tmp_path / "d.h5")]
    r = pl.explain("occlusion", m, ds[0], patches=4)
    cmd = pl.show_command(r)                              # an unsaved result is saved first
    saved = pl.load_result(cmd[-1])
    np.testing.assert_array_equal(saved.arrays["importance"], r.arrays["importance"])
    # the launcher routes these arguments to the GUI (a result file as the data, the checkpoint by suffix)
    from viewer.launch import route

    kind, args = route(cmd[3:] + [m.path])
    assert kind == "gui" and args == ["--data", cmd[-1], "--checkpoint", m.path]


def test_import_pointlens_stays_light():
    code = ("import sys, pointlens; bad = [m for m in ('torch', 'vtk', 'pyvista', 'PySide6') if m in sys.modules];"
            "print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
