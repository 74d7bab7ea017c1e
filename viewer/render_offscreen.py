"""Views drawn off-screen: one view of a live scene many times (``OffscreenView``, movies), once
(``render_view``, viewport exports), bare layers (``render_layers``, ``pointlens render``), and a
window's pixels (``grab``). No display needed: VTK picks EGL/OSMesa when there is no X server.
"""
from __future__ import annotations

import numpy as np
from vtkmodules.util.numpy_support import vtk_to_numpy
from vtkmodules.vtkRenderingCore import vtkRenderer, vtkRenderWindow, vtkWindowToImageFilter

from .render import ViewContent, set_camera
from .render_eyedome import EyeDome
from .scene import Layer, Scene

def _reader(window: vtkRenderWindow, alpha: bool) -> vtkWindowToImageFilter:
    f = vtkWindowToImageFilter()
    f.SetInput(window)
    f.SetInputBufferTypeToRGBA() if alpha else f.SetInputBufferTypeToRGB()
    f.ReadFrontBufferOff()
    return f


def _pixels(reader: vtkWindowToImageFilter) -> np.ndarray:
    """Read the window again (the filter caches its output) -> (H, W, 3|4) uint8, top row first."""
    reader.Modified()
    reader.Update()
    img = reader.GetOutput()
    w, h, _ = img.GetDimensions()
    arr = vtk_to_numpy(img.GetPointData().GetScalars()).reshape(h, w, -1)
    return np.ascontiguousarray(arr[::-1])


def grab(window: vtkRenderWindow, alpha: bool = False) -> np.ndarray:
    """The window's pixels as (H, W, 3|4) uint8, top row first."""
    return _pixels(_reader(window, alpha))


class OffscreenView:
    """One view of a live scene drawn off-screen again and again (movie frames).

    Building a render window, its GL context and every layer's actors costs far more than
    drawing a frame (about 10x, tests/bench/test_bench_movie.py), so a recording makes one
    ``OffscreenView`` and calls ``capture(camera)`` per frame. Layers the scene changes between frames (a slider sweep) are
    re-synced in place before the next frame, as the live viewport does. ``close()`` (or leaving
    the ``with`` block) releases the window and stops listening to the scene; it is idempotent.
    """

    def __init__(self, scene: Scene, view: int, size: tuple[int, int], transparent: bool = False,
                 text_scale: float = 1.0, edl: bool = False):
        """``text_scale``: fonts (and the categorical legend) times this, e.g. 2 for an image
        twice the view's size, so text keeps its share of the picture. ``edl``: eye-dome
        lighting, as the live view it copies has it."""
        self.scene, self.size, self.transparent = scene, (int(size[0]), int(size[1])), transparent
        self.window = vtkRenderWindow()
        self.window.SetOffScreenRendering(1)
        self.window.SetMultiSamples(0)
        self.window.SetAlphaBitPlanes(1 if transparent else 0)
        self.window.SetSize(*self.size)
        self.renderer = vtkRenderer()
        self.window.AddRenderer(self.renderer)
        self.content = ViewContent(self.renderer, scene, view)
        if text_scale != 1.0:
            self.content.set_look(self.content.look(), text_scale)
            self.content.legend_scale = float(text_scale)
        self.content.sync()
        self.eye_dome = EyeDome(self.renderer)
        self.eye_dome.set_enabled(edl)
        if transparent:
            self.renderer.SetBackgroundAlpha(0.0)
        self._dirty: set[str] = set()
        self._unsubscribe = scene.subscribe(self._changed)
        self._filter = _reader(self.window, transparent)
        self.frames = 0

    def _changed(self, event: str, name: str) -> None:
        if event != "selection" and name:
            self._dirty.add(name)

    @property
    def closed(self) -> bool:
        return self.window is None

    def sync(self) -> None:
        """Bring the layers the scene changed since the last frame up to date (before a camera
        fit to the visible props; ``capture`` does it anyway)."""
        dirty, self._dirty = self._dirty, set()
        for name in dirty:
            self.content.sync(name)

    def capture(self, camera=None) -> np.ndarray:
        """The view through ``camera`` (a vtkCamera, copied; None: this view's own camera, e.g.
        set with ``set_camera(off.renderer, ...)``) as (H, W, 3|4) uint8, top row first."""
        if self.window is None:
            raise RuntimeError("OffscreenView.capture after close()")
        self.sync()
        if camera is not None:
            self.renderer.GetActiveCamera().DeepCopy(camera)
        self.renderer.ResetCameraClippingRange()
        self.window.Render()
        self.frames += 1
        return _pixels(self._filter)

    def close(self) -> None:
        if self.window is None:
            return
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._filter.SetInput(None)
        self.window.RemoveRenderer(self.renderer)
        self.window.Finalize()
        self.window = None
        self.content = None

    def __enter__(self) -> "OffscreenView":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def render_view(scene: Scene, view: int, camera, size: tuple[int, int], transparent: bool = False,
                text_scale: float = 1.0, edl: bool = False) -> np.ndarray:
    """One view of a live scene re-drawn off-screen with a given camera (viewport screenshots:
    any size, optionally with a transparent background, fonts times ``text_scale``). For many
    frames use ``OffscreenView``."""
    with OffscreenView(scene, view, size, transparent, text_scale, edl) as off:
        return off.capture(camera)


def render_layers(layers: list[Layer], size: tuple[int, int] = (800, 600), view: str = "iso",
                  up_axis: str = "z", parallel: bool = False, transparent: bool = False) -> np.ndarray:
    """Draw layers off-screen (one panel per ``layer.view``, side by side) -> (H, W, 3|4) uint8."""
    scene = Scene()
    for layer in layers:
        scene.add(layer)
    views = sorted({l.view for l in layers}) or [0]
    window = vtkRenderWindow()
    window.SetOffScreenRendering(1)
    window.SetMultiSamples(0)
    window.SetSize(int(size[0]), int(size[1]))
    window.SetAlphaBitPlanes(1 if transparent else 0)
    contents = []
    for k, v in enumerate(views):
        ren = vtkRenderer()
        ren.SetViewport(k / len(views), 0.0, (k + 1) / len(views), 1.0)
        window.AddRenderer(ren)
        content = ViewContent(ren, scene, v)
        content.sync()
        if transparent:
            ren.SetBackgroundAlpha(0.0)
        set_camera(ren, view, up_axis, parallel)
        contents.append(content)
    window.Render()
    image = grab(window, alpha=transparent)
    window.Finalize()
    return image
