"""Eye-dome lighting as drawn: a depth edge gets a dark line, the rest keeps most of its colour."""
from __future__ import annotations

import numpy as np

from viewer.render import set_camera
from viewer.render_offscreen import OffscreenView
from viewer.scene import PointsLayer, Scene

COLOUR = np.array([0x4C, 0x72, 0xB0])


def two_planes(n: int = 20_000) -> np.ndarray:
    """Two square sheets of points, the second shifted sideways and 0.8 nearer a +z camera:
    seen from +z its left and bottom edges lie in front of the first sheet (a depth edge)."""
    rng = np.random.default_rng(0)
    far = np.c_[rng.uniform(-1, 1, (n, 2)), np.zeros(n)]
    near = np.c_[rng.uniform(0, 2, (n, 2)), np.full(n, 0.8)]
    return np.r_[far, near].astype(np.float32)


def render(edl: bool, view: str = "+z") -> tuple[np.ndarray, np.ndarray]:
    """The image, and the band of pixels within 3 px of the near sheet's edges where it lies over
    the far sheet (from the camera's projection of the geometry, so it does not depend on EDL)."""
    scene = Scene()
    scene.add(PointsLayer("cloud", points=two_planes(), color="#4c72b0", point_size=3, style="points"))
    with OffscreenView(scene, 0, (400, 300), edl=edl) as off:
        set_camera(off.renderer, view)
        img = off.capture()[..., :3].astype(int)
        corners = []
        for x, y in ((0.0, 0.0), (0.0, 1.0), (1.0, 0.0)):    # the step's corner and its two far ends
            off.renderer.SetWorldPoint(x, y, 0.8, 1.0)
            off.renderer.WorldToDisplay()
            dx, dy, _ = off.renderer.GetDisplayPoint()
            corners.append((round(dx), img.shape[0] - 1 - round(dy)))
    band = np.zeros(img.shape[:2], bool)
    (cx, cy), (_, ty), (rx, _) = corners
    band[min(ty, cy) + 5:max(ty, cy) - 5, cx - 3:cx + 4] = True    # the near sheet's left edge
    band[cy - 3:cy + 4, min(cx, rx) + 5:max(cx, rx) - 5] = True    # and its bottom edge
    return img, band & cloud_mask(img)


def cloud_mask(img: np.ndarray) -> np.ndarray:
    return (255 - img).sum(-1) > 60        # not the white background


def test_eye_dome_darkens_the_depth_edge_and_keeps_the_colour_elsewhere():
    (plain, band), (shaded, _) = render(False), render(True)
    assert (cloud_mask(plain) == cloud_mask(shaded)).mean() > 0.99     # same picture, same place
    assert band.sum() > 100
    # Without EDL the two sheets are one flat colour: nothing marks the step.
    assert abs(plain[band].mean() - plain[cloud_mask(plain)].mean()) < 8
    # With EDL the step is a dark line ...
    line = shaded[band].sum(-1)
    assert np.percentile(line, 10) < 0.5 * COLOUR.sum()
    # ... and the faces of the sheets keep their colour (VTK's own strength left them ~15 %).
    inside = cloud_mask(shaded) & ~band
    face = np.median(shaded[inside].sum(-1))
    assert face > 0.8 * COLOUR.sum()
    assert shaded[inside].mean() > 0.7 * plain[inside].mean()


def test_a_tilted_cloud_under_eye_dome_lighting_is_not_black():
    (plain, _), (shaded, _) = render(False, "iso"), render(True, "iso")
    inside = cloud_mask(plain)
    assert inside.sum() > 5000
    ratio = shaded[inside].mean() / plain[inside].mean()
    assert 0.6 < ratio < 1.0          # darker (shaded) but not black
    assert np.median(shaded[inside].sum(-1)) > 0.75 * COLOUR.sum()
    assert (shaded[inside].sum(-1) < 100).mean() < 0.10   # the dark outline only (~5 % here)
