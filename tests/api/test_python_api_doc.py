"""docs/python-api.md runs: every ```python block, in order, in one namespace, in an empty folder
(pyvista off-screen; pytest-xvfb gives it a display)."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

DOC = Path(__file__).resolve().parents[2] / "docs" / "python-api.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def test_every_python_block_of_the_doc_runs(tmp_path, monkeypatch):
    blocks = BLOCK.findall(DOC.read_text(encoding="utf-8"))
    assert len(blocks) >= 5, "the page lost its examples"
    monkeypatch.chdir(tmp_path)
    ns: dict = {"__name__": "python_api_doc"}
    for i, code in enumerate(blocks):
        exec(compile(code, f"{DOC.name} block {i + 1}", "exec"), ns)
    # what the page promises, checked against independent readers
    import vtk
    from vtk.util.numpy_support import vtk_to_numpy

    r = ns["r"]
    reader = vtk.vtkXMLPolyDataReader()
    reader.SetFileName(str(tmp_path / "occlusion.vtp"))
    reader.Update()
    np.testing.assert_array_equal(vtk_to_numpy(reader.GetOutput().GetPointData().GetArray("importance")),
                                  r.arrays["importance"])
    import imageio.v3 as iio

    png = iio.imread(tmp_path / "occlusion.png")
    assert png.shape[:2] == ns["image"].shape[:2] and len(np.unique(png.reshape(-1, png.shape[-1]), axis=0)) > 10
    assert ns["cmd"][-2:] == ["builtin", str(Path(ns["model"].path))]
