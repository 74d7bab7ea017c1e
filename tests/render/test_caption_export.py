"""Captions as drawn: wrapped to the view (never elided) and text that scales with an export."""
from __future__ import annotations

import numpy as np
import pytest

from viewer.render import set_camera
from viewer.render_offscreen import OffscreenView, render_view
from viewer.scene import PointsLayer, Scene

TITLE, NOTE = "chair_0941 · true label: chair", "all 2,048 points used by the model"


def captioned_scene() -> Scene:
    pts = np.random.default_rng(0).normal(scale=0.2, size=(300, 3)).astype(np.float32)
    scene = Scene()
    scene.add(PointsLayer("cloud", points=pts, color="#88ccee", point_size=4, title=TITLE, note=NOTE))
    return scene


def text_width(img: np.ndarray) -> int:
    """Width in pixels of the caption's ink in the top tenth of the image (the cloud sits lower)."""
    top = img[: img.shape[0] // 10, :, :3].astype(int)
    cols = np.flatnonzero(((255 - top).sum(-1) > 90).any(axis=0))
    return int(cols.max() - cols.min() + 1) if cols.size else 0


def test_a_long_caption_is_wrapped_whole_inside_a_narrow_view():
    with OffscreenView(captioned_scene(), 0, (300, 300)) as off:
        img = off.capture()
        text = off.content.caption.GetInput()
    assert "…" not in text
    assert text.split("\n") == [TITLE, NOTE] or all(p in text for p in ("chair_0941", "true label: chair"))
    dark = (img[: 100, :, :3].astype(int).sum(-1) < 200)
    cols = np.flatnonzero(dark.any(axis=0))
    assert cols.size and cols.max() < 300 - 3                  # no glyph runs off the right edge
    assert len(text.split("\n")) >= 2


def test_a_caption_that_fits_stays_on_one_line():
    with OffscreenView(captioned_scene(), 0, (900, 400)) as off:
        off.capture()
        assert off.content.caption.GetInput() == f"{TITLE} · {NOTE}"


@pytest.mark.parametrize("scale", [2, 3])
def test_text_grows_with_the_export_scale(scale):
    scene = captioned_scene()
    with OffscreenView(scene, 0, (390, 300)) as off:
        set_camera(off.renderer, "iso")
        camera = off.renderer.GetActiveCamera()
        small = off.capture()
        big = render_view(scene, 0, camera, (390 * scale, 300 * scale), text_scale=scale)
    w_small, w_big = text_width(small), text_width(big)
    assert w_small > 100
    assert scale * 0.9 <= w_big / w_small <= scale * 1.1
