"""The facade's mesh_surface: a mesh sample's triangles in the sample's own coordinates."""
from __future__ import annotations

import numpy as np

import engine

CUBE_OFF = """OFF
8 6 0
-1 -1 -1
1 -1 -1
1 1 -1
-1 1 -1
-1 -1 1
1 -1 1
1 1 1
-1 1 1
4 0 3 2 1
4 4 5 6 7
4 0 1 5 4
4 2 3 7 6
4 1 2 6 5
4 0 4 7 3
"""


def test_cube_surface_lies_under_its_sampled_points(tmp_path):
    path = tmp_path / "cube.off"
    path.write_text(CUBE_OFF)
    ds = engine.open_dataset(str(path), engine.Loading(points=256))
    cloud = ds.split("all")[0]
    vertices, faces = engine.mesh_surface(cloud.source, cloud.centre, cloud.scale)
    assert faces.shape == (12, 3)           # six squares, two triangles each
    lo, hi = vertices.min(0), vertices.max(0)
    centre, half = (lo + hi) / 2, (hi - lo) / 2
    # every sampled point lies on a face of the mapped cube: its largest offset is the half size
    offset = np.abs(cloud.points - centre).max(1)
    np.testing.assert_allclose(offset, half[0], atol=1e-5)
    assert not np.allclose(cloud.scale, 1.0)   # the mapping did something


def test_clouds_and_missing_sources_have_no_surface(tmp_path):
    xyz = tmp_path / "pts.xyz"
    xyz.write_text("0 0 0\n1 0 0\n0 1 0\n")
    faceless = tmp_path / "pts.off"
    faceless.write_text("OFF\n3 0 0\n0 0 0\n1 0 0\n0 1 0\n")
    assert engine.mesh_surface(str(xyz)) is None
    assert engine.mesh_surface(str(faceless)) is None
    assert engine.mesh_surface("") is None
    assert engine.mesh_surface(str(tmp_path / "gone.off")) is None
