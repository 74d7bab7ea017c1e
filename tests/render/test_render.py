"""Off-screen images of the rendering functions (no window, no Qt)."""
from __future__ import annotations

import numpy as np
import pytest

from engine.results import save_result
from engine.core.types import Result
from viewer import colormaps, selection
from viewer.render import BACKGROUND, make_actor, set_camera, view_direction
from viewer.render_offscreen import render_layers
from viewer.scene import EllipsoidsLayer, PointsLayer, Scalar, Scene, SurfaceLayer

SIZE = (320, 240)
BG = np.array(BACKGROUND) * 255


def foreground(img: np.ndarray) -> np.ndarray:
    return np.abs(img[..., :3].astype(int) - BG).sum(-1) > 30


def bbox(mask: np.ndarray) -> tuple[int, int]:
    ys, xs = np.nonzero(mask)
    return xs.max() - xs.min() + 1, ys.max() - ys.min() + 1


def blob(centre, n=400, r=0.05, seed=0):
    return (np.asarray(centre) + np.random.default_rng(seed).normal(scale=r, size=(n, 3))).astype(np.float32)


def test_a_solid_layer_draws_its_colour_in_the_middle():
    img = render_layers([PointsLayer("a", points=blob((0, 0, 0)), color="#d55e00", point_size=12)], SIZE)
    assert img.shape == (SIZE[1], SIZE[0], 3)
    h, w = img.shape[:2]
    centre = img[h // 2 - 3:h // 2 + 3, w // 2 - 3:w // 2 + 3].reshape(-1, 3)
    assert np.abs(centre.astype(int) - (0xD5, 0x5E, 0x00)).max(axis=1).min() <= 3
    assert foreground(img)[0].sum() == 0                      # the corners stay background


@pytest.mark.parametrize("cmap", ["viridis", "cividis"])
def test_scalar_colours_follow_the_colour_map(cmap):
    pts = np.concatenate([blob((-0.6, 0, 0)), blob((0.6, 0, 0), seed=1)])
    values = np.r_[np.zeros(400), np.ones(400)]
    layer = PointsLayer("a", points=pts, scalars={"v": Scalar(values, title="v")}, active="v", cmap=cmap,
                        point_size=10)
    img = render_layers([layer], (400, 300), view="-y")      # x runs left to right
    table = colormaps.table(cmap)
    fg = img[:240]                                           # above the colour bar
    for col, colour in ((slice(40, 190), table[0]), (slice(210, 360), table[-1])):
        px = fg[:, col].reshape(-1, 3).astype(int)
        assert (np.abs(px - colour).max(axis=1) <= 4).sum() > 200


def test_categorical_layer_draws_a_legend_with_palette_colours():
    pts = np.concatenate([blob((-0.5, 0, 0)), blob((0.5, 0, 0), seed=1)])
    labels = np.r_[np.zeros(400, int), np.ones(400, int)]
    layer = PointsLayer("a", points=pts, scalars={"part": Scalar(labels, kind="categorical", title="part",
                                                                 names=("seat", "leg"))},
                        active="part", point_size=10)
    img = render_layers([layer], (400, 300), view="-y")
    cols = colormaps.categorical_colors(2)
    legend = img[:, 320:].reshape(-1, 3).astype(int)         # the legend sits on the right
    for c in cols:
        assert (np.abs(legend - c).max(axis=1) <= 3).sum() > 5


def test_camera_presets_look_along_the_named_axis():
    line = np.zeros((200, 3), np.float32)
    line[:, 0] = np.linspace(-1, 1, 200)                      # a rod along x
    layer = PointsLayer("rod", points=line, point_size=6)
    wide = bbox(foreground(render_layers([layer], SIZE, view="+z")))
    end_on = bbox(foreground(render_layers([layer], SIZE, view="+x")))
    assert wide[0] > 5 * wide[1]
    assert max(end_on) < 30
    d, up = view_direction("+z", "z")
    assert np.allclose(d, (0, 0, 1)) and abs(np.dot(d, up)) < 1e-9


def test_ellipsoid_axes_set_its_shape():
    layer = EllipsoidsLayer("e", centres=np.zeros((1, 3)), axes=np.diag([0.5, 0.1, 0.1])[None], opacity=1.0)
    w, h = bbox(foreground(render_layers([layer], SIZE, view="+z", parallel=True)))
    assert 4.0 < w / h < 6.0


def test_surface_and_transparent_background():
    tri = SurfaceLayer("s", vertices=np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], float), faces=np.array([[0, 1, 2]]))
    img = render_layers([tri], SIZE, view="+z", transparent=True)
    assert img.shape[2] == 4 and img[0, 0, 3] == 0 and (img[..., 3] == 255).sum() > 1000


def test_values_update_in_place_on_the_same_actor():
    scene = Scene()
    layer = PointsLayer("a", points=blob((0, 0, 0)), scalars={"v": Scalar(np.zeros(400), title="v", clim=(0, 1))},
                        active="v")
    scene.add(layer)
    actor = make_actor(layer)
    actor.update(layer, scene, (0, 0, 0))
    vtk_array = actor.scalars
    layer.scalars["v"].values = np.ones(400)
    actor.update(layer, scene, (0, 0, 0))
    from vtkmodules.util.numpy_support import vtk_to_numpy

    assert actor.scalars is vtk_array                         # same VTK array, new values
    assert np.all(vtk_to_numpy(vtk_array) == 1.0)


def test_projection_matches_vtk_world_to_display():
    from vtkmodules.vtkRenderingCore import vtkRenderer, vtkRenderWindow

    window = vtkRenderWindow()
    window.SetOffScreenRendering(1)
    window.SetSize(300, 200)
    ren = vtkRenderer()
    window.AddRenderer(ren)
    actor = make_actor(PointsLayer("a", points=blob((0, 0, 0), r=0.5)))
    ren.AddActor(actor.actor)
    set_camera(ren, "iso")
    window.Render()
    m = ren.GetActiveCamera().GetCompositeProjectionTransformMatrix(ren.GetTiledAspectRatio(), -1, 1)
    mat = np.array([[m.GetElement(i, j) for j in range(4)] for i in range(4)])
    pts = blob((0.1, 0.2, 0.3), n=20, r=0.4)
    xy, _ = selection.project(pts, mat, 300, 200)
    for p, q in zip(pts, xy):
        ren.SetWorldPoint(*p, 1.0)
        ren.WorldToDisplay()
        dx, dy, _ = ren.GetDisplayPoint()
        assert abs(dx - q[0]) < 1e-3 and abs(dy - q[1]) < 1e-3
    window.Finalize()


def test_render_command_draws_a_saved_result(tmp_path):
    from viewer.render_cli import main

    pts = blob((0, 0, 0), n=300, r=0.3)
    res = Result("inspect", arrays={"points": pts, "saliency": np.abs(pts[:, 0]), "transformed": pts * 0.8,
                                    "probabilities": np.full(3, 1 / 3, np.float32)},
                 metrics={"predicted": 0, "predicted_name": "chair"})
    save_result(res, tmp_path / "r.h5")
    out = tmp_path / "fig.png"
    assert main([str(tmp_path / "r.h5"), "--out", str(out), "--size", "400", "300", "--view", "x"]) == 0
    import imageio.v3 as iio

    img = iio.imread(out)
    assert img.shape[:2] == (300, 400)
    left, right = foreground(img[:, :200]), foreground(img[:, 200:])
    assert left.sum() > 200 and right.sum() > 200            # input and T-Net view side by side
    assert main([str(tmp_path / "missing.h5"), "--out", str(out)]) == 2
