"""Qt-free state: scene layers and events, shared colour scales, colour maps, screen selection."""
from __future__ import annotations

import numpy as np
import pytest

from viewer import colormaps, selection
from viewer.result_layers import covariance_axes, generic_layers, inspect_layers
from viewer.scene import EllipsoidsLayer, PointsLayer, Scalar, Scene, Selection, format_pick
from engine.core.types import Result


def test_scalar_kind_is_guessed_from_values():
    assert Scalar.auto(np.array([0.1, 0.5])).kind == "continuous"
    assert Scalar.auto(np.array([-0.5, 0.5])).kind == "signed"
    assert Scalar.auto(np.array([0, 2, 1], dtype=np.int64)).kind == "categorical"
    assert Scalar.auto(np.array([0.0, 1.0]), names=("a", "b")).kind == "categorical"


def test_events_say_whether_shapes_changed():
    scene, events = Scene(), []
    scene.subscribe(lambda e, n: events.append((e, n)))
    pts = np.zeros((10, 3), np.float32)
    scene.add(PointsLayer("a", points=pts))
    scene.add(PointsLayer("a", points=pts + 1))            # same shape: values change in place
    scene.add(PointsLayer("a", points=np.zeros((11, 3))))  # new shape: rebuild
    scene.update_points("a", scalars={"s": np.arange(11.0)})
    scene.set_style("a", point_size=9.0)
    scene.remove("a")
    assert [e for e, _ in events] == ["added", "values", "style", "geometry", "values", "style", "removed"]
    with pytest.raises(AttributeError):
        scene.add(PointsLayer("b", points=pts))
        scene.set_style("b", no_such_setting=1)


def test_colour_scale_is_shared_between_layers_showing_the_same_scalar():
    scene = Scene()
    a = PointsLayer("a", points=np.zeros((3, 3)), scalars={"s": Scalar(np.array([0.0, 1.0, 2.0]), title="err")}, active="s")
    b = PointsLayer("b", points=np.zeros((2, 3)), view=1, scalars={"s": Scalar(np.array([-1.0, 5.0]), title="err")},
                    active="s")
    c = PointsLayer("c", points=np.zeros((2, 3)), scalars={"s": Scalar(np.array([100.0, 200.0]), title="other")},
                    active="s")
    for layer in (a, b, c):
        scene.add(layer)
    assert scene.shared_clim(a) == scene.shared_clim(b) == (-1.0, 5.0)
    assert scene.shared_clim(c) == (100.0, 200.0)
    scale = scene.color_scale(view=1)
    assert scale.cmap == "viridis" and "raw values" in scale.title and scale.title.startswith("err")


def test_signed_scalars_get_a_symmetric_diverging_scale():
    scene = Scene()
    scene.add(PointsLayer("a", points=np.zeros((3, 3)), scalars={"d": Scalar.auto(np.array([-0.2, 0.1, 0.5]))},
                          active="d"))
    scale = scene.color_scale()
    assert scale.kind == "signed" and scale.cmap in colormaps.DIVERGING and scale.clim == (-0.5, 0.5)


def test_pick_readout_has_index_coordinates_and_every_scalar():
    scene = Scene()
    pts = np.array([[0, 0, 0], [1, 2, 3]], np.float32)
    scene.add(PointsLayer("cloud", points=pts, scalars={
        "err": Scalar(np.array([0.5, 0.25]), title="error"),
        "part": Scalar(np.array([0, 1]), kind="categorical", title="part", names=("seat", "leg"))}))
    info = scene.describe_point("cloud", 1)
    assert info["index"] == 1 and info["xyz"] == (1.0, 2.0, 3.0)
    assert info["scalars"] == {"error": "0.25", "part": "leg (1)"}
    assert "point 1" in format_pick(info) and "part: leg (1)" in format_pick(info)


def test_selection_is_dropped_when_its_layer_changes_shape():
    scene = Scene()
    scene.add(PointsLayer("a", points=np.zeros((5, 3))))
    scene.set_selection(Selection("a", np.array([1, 2])))
    scene.add(PointsLayer("a", points=np.zeros((6, 3))))
    assert scene.selection is None


def test_colour_tables_match_the_published_maps():
    # Endpoints of matplotlib's viridis (#440154, #fde725) and cividis (#00224e, #fee838).
    v, c = colormaps.table("viridis"), colormaps.table("cividis")
    assert tuple(v[0]) == (0x44, 0x01, 0x54) and tuple(v[-1]) == (0xFD, 0xE7, 0x25)
    assert np.abs(c[0].astype(int) - (0x00, 0x22, 0x4E)).max() <= 1
    assert np.abs(c[-1].astype(int) - (0xFE, 0xE8, 0x38)).max() <= 1
    mid = colormaps.table("RdBu_r")[128].astype(int)   # diverging: near-white centre
    assert mid.min() > 225
    assert colormaps.table("RdBu_r")[0][2] > colormaps.table("RdBu_r")[0][0]   # negative end is blue


def test_categorical_colours_are_distinct_and_colour_blind_safe_for_eight():
    cols = colormaps.categorical_colors(8)
    assert len({tuple(c) for c in cols}) == 8
    assert [f"#{r:02X}{g:02X}{b:02X}" for r, g, b in cols] == list(colormaps.OKABE_ITO)
    assert len({tuple(c) for c in colormaps.categorical_colors(10)}) == 10


def test_map_values_uses_the_colour_limits():
    out = colormaps.map_values(np.array([0.0, 10.0, 20.0]), "viridis", (0.0, 10.0))
    assert tuple(out[0]) == tuple(colormaps.table("viridis")[0])
    assert tuple(out[1]) == tuple(out[2]) == tuple(colormaps.table("viridis")[-1])


# ---- screen-space selection ---------------------------------------------------------------------

def _ortho(scale=1.0):
    """World -> NDC for an orthographic camera looking down -z: x, y scaled; z kept."""
    m = np.eye(4)
    m[0, 0] = m[1, 1] = scale
    m[2, 2] = -0.1
    return m


def test_project_maps_ndc_to_pixels():
    xy, depth = selection.project(np.array([[0, 0, 0], [1, 1, 0], [-1, -1, 1]]), _ortho(), 200, 100)
    assert np.allclose(xy, [[100, 50], [200, 100], [0, 0]])
    assert depth[2] < depth[0]   # larger z is nearer for this camera


def test_points_behind_the_camera_are_never_selected():
    m = np.zeros((4, 4))
    m[0, 0] = m[1, 1] = m[2, 2] = 1.0
    m[3, 2] = -1.0   # w = -z: points with z > 0 are behind
    xy, depth = selection.project(np.array([[0, 0, -1], [0, 0, 1]]), m, 100, 100)
    assert np.isfinite(depth[0]) and np.isinf(depth[1])


def test_lasso_agrees_with_matplotlib_path():
    Path = pytest.importorskip("matplotlib.path").Path   # an independent point-in-polygon test

    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 100, size=(2000, 2))
    star = [(50 + 40 * np.cos(t) * (1 if k % 2 else 0.4), 50 + 40 * np.sin(t) * (1 if k % 2 else 0.4))
            for k, t in enumerate(np.linspace(0, 2 * np.pi, 10, endpoint=False))]
    mine = selection.in_polygon(xy, star)
    ref = Path(np.array(star)).contains_points(xy)
    assert mine.sum() > 100 and (mine == ref).mean() > 0.999


def test_box_and_pick():
    xy = np.array([[10, 10], [20, 20], [30, 30], [21, 21]], float)
    assert selection.in_box(xy, (25, 5), (15, 25)).tolist() == [False, True, False, True]
    depth = np.array([0.5, 0.4, 0.1, 0.2])
    assert selection.pick(xy, depth, (20.5, 20.5), 3) == 3        # the nearer of two close points
    assert selection.pick(xy, depth, (60, 60), 3) is None


# ---- results -> layers -----------------------------------------------------------------------------

def test_covariance_axes_reconstruct_the_covariance():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(4, 3, 3))
    cov = a @ np.transpose(a, (0, 2, 1))
    axes = covariance_axes(cov)
    assert np.allclose(axes @ np.transpose(axes, (0, 2, 1)), cov, atol=1e-10)


def test_generic_result_mapping():
    pts = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)
    res = Result("x", arrays={"points": pts, "error": np.linspace(0, 1, 50, dtype=np.float32),
                              "label_part": np.arange(50) % 3, "recon": pts * 2,
                              "means": np.zeros((2, 3)), "covariances": np.stack([np.eye(3)] * 2)})
    layers = {l.name: l for l in generic_layers(res)}
    main = layers["x.points"]
    assert set(main.scalars) == {"error", "label_part"} and main.scalars["label_part"].kind == "categorical"
    assert layers["x.recon"].view == 1
    assert isinstance(layers["x.ellipsoids"], EllipsoidsLayer)


def test_inspect_mapping_draws_saliency_and_the_tnet_view():
    pts = np.random.default_rng(0).normal(size=(64, 3)).astype(np.float32)
    sal = np.abs(pts[:, 0])
    res = Result("inspect", arrays={"points": pts, "saliency": sal, "transformed": pts @ np.eye(3),
                                    "probabilities": np.full(10, 0.1, np.float32)},
                 metrics={"predicted": 2, "predicted_name": "chair"})
    inp, tr = inspect_layers(res)
    assert inp.active == "saliency" and "chair" in inp.scalars["saliency"].title
    assert inp.scalars["saliency"].clim is None                 # the scene's default for heavy tails applies
    assert tr.view == 1 and np.allclose(tr.points, pts)
    assert "stretch 1.00, 1.00, 1.00, det +1.00" in tr.title


def test_transform_note_recovers_the_tnet_matrix():
    from viewer.result_layers import transform_note

    pts = np.random.default_rng(0).normal(size=(100, 3))
    t = np.diag([3.0, 2.0, 0.5]) @ np.array([[0, 1, 0], [-1, 0, 0], [0, 0, 1.0]])   # scale after a rotation
    assert transform_note(pts, pts @ t).endswith("stretch 3.00, 2.00, 0.50, det +3.00")
