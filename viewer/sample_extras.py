"""What a sample carries beyond x y z, as scene content (Qt- and VTK-free).

- its per-point data as colourings of the sample cloud: the file's RGB (drawn as it is, the
  default when present), part ids, every extra field by the file's own name (intensity,
  classification, curvature ...) and the normals' three components;
- its normals as short line glyphs (the ``normals`` layer, off until asked for);
- the surface of a mesh file under its sampled points (the ``surface`` layer, on by default).

The two extra layers are shared (no stage prefix) and follow the cloud: a panel that hides the
sample cloud hides them too, and they come back as the user last chose when the cloud does.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .scene import RGB, ArrowsLayer, PointsLayer, Scalar, Scene, SurfaceLayer

SURFACE = "surface"
NORMALS = "normals"
SURFACE_COLOUR = "#d4d4d4"     # light grey: the sample's dark-grey (or coloured) points read over it
NORMAL_COLOUR = "#0072b2"      # Okabe-Ito blue: apart from grey points and the vermillion default
NORMAL_LENGTH = 0.04           # of the cloud's largest extent: short enough to leave the shape readable


def cloud_scalars(cloud) -> dict[str, Scalar]:
    """Every per-point value of a ``PointCloud`` as a colouring, keyed by a unique name."""
    n = cloud.n
    out: dict[str, Scalar] = {}
    if cloud.part_ids is not None and len(cloud.part_ids) == n:
        out["part"] = Scalar(np.asarray(cloud.part_ids).astype(np.int64), kind="categorical", title="part id")
    for name, values in (cloud.fields or {}).items():
        v = np.asarray(values)
        if v.shape != (n,) or v.dtype.kind not in "biuf":
            continue        # a field of another length or text is not a colouring
        key = name if name not in out else f"file {name}"
        out[key] = Scalar.auto(v, title=name)
    if cloud.normals is not None and len(cloud.normals) == n:
        for k, axis in enumerate("xyz"):
            out[f"normal {axis}"] = Scalar(np.asarray(cloud.normals)[:, k].astype(np.float32), kind="signed",
                                           title=f"normal {axis}")
    return out


def cloud_colors(cloud) -> np.ndarray | None:
    """The cloud's own (N,3) uint8 colours, or None."""
    c = cloud.colors
    return None if c is None or len(c) != cloud.n else np.asarray(c, np.uint8)


def default_colouring(cloud) -> str | None:
    """What the sample is coloured by when shown: its own colours if it has them, else solid."""
    return RGB if cloud_colors(cloud) is not None else None


def normals_layer(cloud, visible: bool = False) -> ArrowsLayer | None:
    """One short segment along each point's normal, or None when the cloud has no normals."""
    if cloud.normals is None or len(cloud.normals) != cloud.n:
        return None
    pts = np.asarray(cloud.points, np.float32)
    extent = float(np.ptp(pts, axis=0).max()) if len(pts) else 1.0
    return ArrowsLayer(NORMALS, origins=pts, vectors=np.asarray(cloud.normals, np.float32),
                       scale=NORMAL_LENGTH * (extent or 1.0), glyph="line", color=NORMAL_COLOUR, visible=visible)


def surface_layer(vertices: np.ndarray, faces: np.ndarray, visible: bool = True) -> SurfaceLayer:
    return SurfaceLayer(SURFACE, vertices=vertices, faces=faces, color=SURFACE_COLOUR, visible=visible)


class CloudExtras:
    """Keeps the ``surface`` and ``normals`` layers shown only while the sample cloud is, each
    as the user last chose (``wanted``: the View menu's toggles or the Layers panel's box)."""

    def __init__(self, scene: Scene, cloud: str):
        self.scene, self.cloud = scene, cloud
        self.wanted = {SURFACE: True, NORMALS: False}
        self.listeners: list[Callable[[], None]] = []      # told when ``wanted`` changes
        self._applying = False
        scene.subscribe(self._on_scene)

    def cloud_shown(self) -> bool:
        layer = self.scene.get(self.cloud) if self.cloud in self.scene else None
        return isinstance(layer, PointsLayer) and layer.visible

    def set_wanted(self, name: str, on: bool) -> None:
        self.wanted[name] = bool(on)
        self.apply()
        self._tell()

    def apply(self) -> None:
        shown = self.cloud_shown()
        self._applying = True
        try:
            for name, on in self.wanted.items():
                if name in self.scene and self.scene.get(name).visible != (on and shown):
                    self.scene.set_style(name, visible=on and shown)
        finally:
            self._applying = False

    def _tell(self) -> None:
        for fn in list(self.listeners):
            fn()

    def _on_scene(self, event: str, name: str) -> None:
        if self._applying:
            return
        if name == self.cloud or (name in self.wanted and event == "added"):
            self.apply()
        elif name in self.wanted and event == "style" and name in self.scene and self.cloud_shown():
            visible = self.scene.get(name).visible     # the user's own choice (Layers panel)
            if visible != self.wanted[name]:
                self.wanted[name] = visible
                self._tell()
