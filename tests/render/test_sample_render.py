"""Off-screen images of a sample's own colours, its mesh surface and its normals as glyphs."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.engine.test_mesh_surface import CUBE_OFF
from tests.viewer.test_sample_extras import write_ply
from viewer.render import BACKGROUND, make_actor
from viewer.render_offscreen import render_layers
from viewer.sample_extras import NORMALS, SURFACE
from viewer.scene import replace
from viewer.session import CLOUD, Session
from viewer.work import SyncClient

SIZE = (320, 240)
BG = np.array(BACKGROUND) * 255
SCAN = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "scans" / "open3d-ml" / "fragment.pcd"


def foreground(img: np.ndarray) -> np.ndarray:
    return np.abs(img[..., :3].astype(int) - BG).sum(-1) > 30


def opened(path) -> Session:
    s = Session(SyncClient())
    s.open_dataset(str(path))
    return s


def test_red_and_green_points_draw_red_and_green(tmp_path):
    cloud = opened(write_ply(tmp_path / "two.ply")).scene.get(CLOUD)
    flat = replace(cloud, style="points", point_size=8.0, title="", note="")   # flat points: the file's exact colours; no caption text
    img = render_layers([flat], SIZE, view="-y").astype(int)   # from -y: +x runs to the right
    fg = foreground(img)
    cols = np.nonzero(fg.any(0))[0]
    mid = (cols.min() + cols.max()) // 2
    left, right = img[:, :mid][fg[:, :mid]], img[:, mid + 1:][fg[:, mid + 1:]]
    assert len(left) > 50 and len(right) > 50
    red = (left[:, 0] > 180) & (left[:, 1] < 60)
    green = (right[:, 1] > 160) & (right[:, 0] < 60)
    assert red.mean() > 0.9 and green.mean() > 0.9


@pytest.mark.skipif(not SCAN.exists(), reason=f"the Open3D scan is not at {SCAN} (see shared/data/README.md)")
def test_the_open3d_scan_renders_in_colour_not_grey():
    cloud = opened(SCAN).scene.get(CLOUD)
    assert cloud.n == 113_662 and cloud.shows_rgb()
    assert {"curvature", "normal x"} <= set(cloud.scalars)
    img = render_layers([replace(cloud, style="points", point_size=2.0, title="", note="")], SIZE, view="+z").astype(int)
    px = img[foreground(img)]
    chroma = px.max(1) - px.min(1)
    # Solid grey would be one colour (#5a5a5a) with no chroma. The scan's beige wall and its
    # picture are not: a quarter of its points have chroma above 20, its mean colour is ~(121, 117, 112).
    assert len(px) > 0.2 * SIZE[0] * SIZE[1]
    assert (chroma > 20).mean() > 0.1 and len(np.unique(px // 8, axis=0)) > 100
    assert np.abs(px.mean(0) - cloud.colors.mean(0)).max() < 15


def cube_silhouette_fill(layers) -> float:
    """How much of the middle of the cube's silhouette is drawn (not background)."""
    fg = foreground(render_layers(layers, SIZE, view="iso"))
    ys, xs = np.nonzero(fg)
    cy, cx = (ys.min() + ys.max()) // 2, (xs.min() + xs.max()) // 2
    hy, hx = (ys.max() - ys.min()) // 5, (xs.max() - xs.min()) // 5
    return float(fg[cy - hy:cy + hy, cx - hx:cx + hx].mean())


def test_a_cube_mesh_draws_as_a_filled_surface(tmp_path):
    (tmp_path / "cube.off").write_text(CUBE_OFF)
    scene = opened(tmp_path / "cube.off").scene
    cloud = replace(scene.get(CLOUD), style="points", point_size=2.0, title="", note="")   # no caption text
    surface = scene.get(SURFACE)
    assert cube_silhouette_fill([cloud, surface]) > 0.99
    assert cube_silhouette_fill([cloud]) < 0.6                  # the points alone leave gaps
    img = render_layers([surface], SIZE, view="iso").astype(int)
    h, w = img.shape[:2]
    grey = img[h // 2 - 5:h // 2 + 5, w // 2 - 5:w // 2 + 5].reshape(-1, 3)
    assert (np.ptp(grey, axis=1) < 12).all() and (grey.mean(1) < 235).all()   # shaded light grey, not white


def test_normals_draw_as_one_line_glyph_per_point(tmp_path):
    normals = opened(write_ply(tmp_path / "two.ply")).scene.get(NORMALS)
    actor = make_actor(replace(normals, visible=True))
    actor.glyph.Update()
    out = actor.glyph.GetOutput()
    assert out.GetNumberOfLines() == 40 and out.GetNumberOfPoints() == 80
    img = render_layers([replace(normals, visible=True)], SIZE, view="-y").astype(int)
    blue = (img[..., 2] > 120) & (img[..., 0] < 60)
    assert blue.sum() > 100                                     # the lines themselves, in their blue
