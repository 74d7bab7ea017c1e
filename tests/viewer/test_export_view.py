"""File > Export points of view: a saved SageMix result opened in the window, view 2 (cloud B with
its saliency) exported through the menu and read back by VTK with the values the result holds."""
from __future__ import annotations

import numpy as np
import pytest
from vtk.util.numpy_support import vtk_to_numpy

from .conftest import panel_named

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def mix_result(tmp_path_factory):
    from engine import Job, run, save_result
    from engine.data import Loading, open_dataset
    from engine.specs.examples import EXAMPLES

    c = open_dataset("builtin", Loading(points=128)).split("test")[0]
    ex = EXAMPLES["mix"]
    res = run(Job("mix", ex.inputs(c.points, int(c.label)), ex.params, model=ex.model))
    path = tmp_path_factory.mktemp("mix") / "mix.h5"
    save_result(res, path)
    return path, res


def _menu(win):
    return next(a.menu() for a in win.file_menu.actions() if a.menu() and "Export points" in a.text().replace("&", ""))


def test_export_a_view_through_the_menu(win, qtbot, tmp_path, monkeypatch, mix_result):
    import vtk

    from viewer import export_view

    path, res = mix_result
    win.open_path(str(path))
    qtbot.waitUntil(lambda: "sagemix.b" in win.scene, timeout=20000)
    panel_named(win, "sagemix")                  # its stage: the views show the mix's layers
    win.set_layout(4)
    menu = _menu(win)
    menu.aboutToShow.emit()
    entries = [a.text() for a in menu.actions()]
    assert len(entries) == 4 and entries[1].startswith("View 2: ") and "128 points" in entries[1]

    out = tmp_path / "view2"                     # no extension typed: the VTP filter's is added
    monkeypatch.setattr(export_view.QFileDialog, "getSaveFileName",
                        lambda *a, **k: (str(out), "VTK PolyData (*.vtp)"))
    menu.actions()[1].trigger()
    written = tmp_path / "view2.vtp"
    assert written.is_file(), win.status.text()
    assert "sagemix.b" in win.status.text()

    r = vtk.vtkXMLPolyDataReader()
    r.SetFileName(str(written))
    r.Update()
    poly = r.GetOutput()
    np.testing.assert_array_equal(vtk_to_numpy(poly.GetPoints().GetData()), res.arrays["source_b"])
    np.testing.assert_array_equal(vtk_to_numpy(poly.GetPointData().GetArray("saliency")), res.arrays["saliency_b"])


def test_a_bad_extension_is_one_message_not_a_file(win, qtbot, tmp_path, monkeypatch):
    from viewer import export_view

    shown = []
    monkeypatch.setattr(win, "show_error", lambda title, text: shown.append(text))
    monkeypatch.setattr(export_view.QFileDialog, "getSaveFileName",
                        lambda *a, **k: (str(tmp_path / "cloud.xyz"), "PLY (*.ply)"))
    export_view.dialog(win, 0)
    assert len(shown) == 1 and "ply, vtp, npz, csv" in shown[0]
    assert not (tmp_path / "cloud.xyz").exists()


def test_a_result_given_as_the_data_opens_as_a_result(qapp, qtbot, tmp_path, mix_result):
    """`pointlens RESULT.h5` (and pl.show(result)) passes the file as the data: the window opens
    the built-in data and the result over it, instead of refusing it as a dataset."""
    from .conftest import make_window

    path, res = mix_result
    w = make_window(tmp_path, data=str(path))
    try:
        qtbot.waitUntil(lambda: "sagemix.b" in w.scene and w.session.current is not None, timeout=30000)
        np.testing.assert_array_equal(w.scene.get("sagemix.b").points, res.arrays["source_b"])
        assert w.session.current.spec == "builtin"
    finally:
        w.close()
