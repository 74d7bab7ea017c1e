"""A sample's colours, fields, normals and mesh surface in the scene (no Qt, no VTK)."""
from __future__ import annotations

import numpy as np
import pytest

from tests.engine.test_mesh_surface import CUBE_OFF
from viewer.sample_extras import NORMALS, SURFACE
from viewer.scene import RGB
from viewer.session import CLOUD, Session
from viewer.work import SyncClient

RED, GREEN = (220, 20, 20), (20, 200, 40)


def write_ply(path, n=40):
    """n points on a line, the left half red, the right half green, with intensity and normals."""
    x = np.linspace(-1, 1, n)
    rows = []
    for k, xi in enumerate(x):
        r, g, b = RED if xi < 0 else GREEN
        rows.append(f"{xi:.4f} 0 {0.1 * (k % 3):.4f} 0 0 1 {r} {g} {b} {k * 0.5:.2f}")
    path.write_text("ply\nformat ascii 1.0\nelement vertex %d\n" % n
                    + "".join(f"property float {p}\n" for p in ("x", "y", "z", "nx", "ny", "nz"))
                    + "property uchar red\nproperty uchar green\nproperty uchar blue\nproperty float intensity\n"
                    + "end_header\n" + "\n".join(rows) + "\n")
    return path


@pytest.fixture()
def session():
    return Session(SyncClient())


def test_an_rgb_cloud_is_shown_in_its_own_colours_with_every_field_offered(session, tmp_path):
    session.open_dataset(str(write_ply(tmp_path / "two.ply")))
    cloud = session.scene.get(CLOUD)
    assert cloud.active == RGB and cloud.shows_rgb()
    left = cloud.points[:, 0] < 0
    assert (cloud.colors[left] == RED).all() and (cloud.colors[~left] == GREEN).all()
    assert set(cloud.scalars) == {"intensity", "normal x", "normal y", "normal z"}
    assert cloud.scalars["intensity"].kind == "continuous" and cloud.scalars["intensity"].values.max() == 19.5
    assert session.scene.color_scale(0) is None          # direct colours: no colour bar
    assert session.scene.describe_point(CLOUD, 0)["scalars"]["RGB"] == "220 20 20"
    session.scene.set_style(CLOUD, active="intensity")    # a field, then, has its colour bar
    assert session.scene.color_scale(0).title.startswith("intensity")


def test_normals_layer_is_one_line_per_point_and_off_until_asked(session, tmp_path):
    session.open_dataset(str(write_ply(tmp_path / "two.ply")))
    normals = session.scene.get(NORMALS)
    assert len(normals.origins) == 40 and normals.glyph == "line" and not normals.visible
    np.testing.assert_allclose(normals.vectors, np.tile([0, 0, 1], (40, 1)))
    session.extras.set_wanted(NORMALS, True)
    assert session.scene.get(NORMALS).visible
    assert SURFACE not in session.scene                   # a cloud file has no surface


def test_a_mesh_shows_its_surface_which_follows_the_cloud(session, tmp_path):
    (tmp_path / "cube.off").write_text(CUBE_OFF)
    session.open_dataset(str(tmp_path / "cube.off"))
    scene = session.scene
    surface = scene.get(SURFACE)
    assert surface.visible and surface.faces.shape == (12, 3)
    scene.set_style(CLOUD, visible=False)                 # a panel hides the sample: its surface goes too
    assert not scene.get(SURFACE).visible
    scene.set_style(CLOUD, visible=True)
    assert scene.get(SURFACE).visible
    scene.set_style(SURFACE, visible=False)               # the user turns it off (Layers panel) ...
    scene.set_style(CLOUD, visible=False)
    scene.set_style(CLOUD, visible=True)
    assert not scene.get(SURFACE).visible and not session.extras.wanted[SURFACE]   # ... and it stays off
    session.extras.set_wanted(SURFACE, True)
    assert scene.get(SURFACE).visible


def test_the_next_sample_never_keeps_the_last_ones_surface(session, tmp_path):
    (tmp_path / "cube.off").write_text(CUBE_OFF)
    session.open_dataset(str(tmp_path / "cube.off"))
    assert SURFACE in session.scene
    session.open_dataset(str(write_ply(tmp_path / "two.ply")))
    assert SURFACE not in session.scene and session.scene.get(CLOUD).n == 40


def test_each_stage_keeps_its_own_colouring_of_the_sample(session, tmp_path):
    session.open_dataset(str(write_ply(tmp_path / "two.ply")))
    scene = session.scene
    scene.set_stage("pointmask")
    scene.set_stage("inspect")
    scene.set_style(CLOUD, active=None, color="#b0b0b0")   # Inspect greys the unused points
    scene.set_stage("pointmask")
    assert scene.get(CLOUD).active == RGB                  # the scan's colours are back elsewhere
    scene.set_stage("inspect")
    assert scene.get(CLOUD).active is None
