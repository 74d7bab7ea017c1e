"""What is shown, without Qt or VTK: layers, their scalars, a shared colour scale, the selection.

Layers (points, ellipsoids, surfaces, arrows) live in named slots; each has a ``view`` (which
viewport) and display settings. Listeners get ``(event, layer_name)`` through plain callbacks:

- ``added`` / ``removed``: a layer appeared or went;
- ``geometry``: the layer's arrays changed shape (the viewport rebuilds that layer's actor);
- ``values``: only values changed (same shapes): the viewport updates arrays IN PLACE;
- ``style``: colour map, size, opacity, visibility, active scalar;
- ``selection``: the selected points changed (layer name of the selection).

Colour scales are shared: layers whose active scalars have the same title use one range, so the
same colour means the same value in every viewport.

Stages: a layer named ``"<stage>.<rest>"`` belongs to that stage (each method panel names its
layers with its own prefix); a name without a dot (the sample's ``cloud``) is shared. Only the
active stage's layers are drawn (``on_stage``); switching stages hides the others' layers without
removing them, and each stage remembers how it shows the shared layers (visible, size, colour).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import colormaps, colour_norm
from .colour_norm import Norm

KINDS = ("continuous", "signed", "categorical")
STYLES = ("points", "spheres")
GLYPHS = ("arrow", "line")
# ``PointsLayer.active`` naming the file's own colours (``PointsLayer.colors``): drawn as they are,
# with no colour map and no colour bar.
RGB = "rgb"


@dataclass
class Scalar:
    """A per-point (or per-item) value. ``title`` says what it is, ``normalisation`` how it was
    scaled (e.g. "raw", "divided by max"); both appear in the colour bar title."""

    values: np.ndarray
    kind: str = "continuous"
    title: str = ""
    normalisation: str = "raw values"
    names: tuple[str, ...] = ()          # categorical: legend name of value i
    clim: tuple[float, float] | None = None

    def __post_init__(self):
        self.values = np.asarray(self.values).reshape(-1)
        if self.kind not in KINDS:
            raise ValueError(f"scalar kind '{self.kind}' is not one of {KINDS}")

    @classmethod
    def auto(cls, values, title: str = "", normalisation: str = "raw values",
             names: tuple[str, ...] = ()) -> "Scalar":
        """Guess the kind: named or small-integer -> categorical; both signs -> signed."""
        v = np.asarray(values).reshape(-1)
        if names or (v.dtype.kind in "iub" and v.size and int(v.max()) - int(v.min()) < 64):
            kind = "categorical"
        elif v.size and np.nanmin(v) < 0 < np.nanmax(v):
            kind = "signed"
        else:
            kind = "continuous"
        return cls(v, kind=kind, title=title, normalisation=normalisation, names=tuple(names))

    def label(self, value) -> str:
        """Text for one value, as the pick read-out shows it."""
        if self.kind == "categorical":
            i = int(value)
            return f"{self.names[i]} ({i})" if 0 <= i < len(self.names) else str(i)
        return f"{float(value):.4g}"


@dataclass
class Layer:
    name: str
    view: int = 0
    visible: bool = True
    opacity: float = 1.0
    offset: tuple[float, float, float] = (0.0, 0.0, 0.0)
    title: str = ""       # shown in the viewport's caption
    note: str = ""        # e.g. "1,024 of 113,662 points used by the model"

    def shape_key(self) -> tuple:
        """Shapes of the arrays; a change means the actor must be rebuilt."""
        return ()


@dataclass
class PointsLayer(Layer):
    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.float32))
    scalars: dict[str, Scalar] = field(default_factory=dict)
    active: str | None = None        # name of the scalar colouring the points; None = solid colour
    cmap: str | None = None          # None = default for the scalar's kind
    color: str = "#5a5a5a"
    point_size: float = 5.0          # screen-space: pixels across, whatever the zoom
    radius: float = 0.0              # > 0: world-space radius (scene units) instead, so points grow as you zoom in
    style: str = "points"
    pickable: bool = True
    norm: Norm | None = None         # how values map to colours; None = the scalar's own range or the default
    colors: np.ndarray | None = None  # (N,3) uint8 colours of the points themselves (an RGB scan)

    def __post_init__(self):
        self.points = np.ascontiguousarray(self.points, dtype=np.float32).reshape(-1, 3)
        if self.style not in STYLES:
            raise ValueError(f"point style '{self.style}' is not one of {STYLES}")
        if not np.isfinite(self.radius) or self.radius < 0:
            raise ValueError(f"point radius {self.radius} of layer '{self.name}' must be 0 (screen-space "
                             "size) or a positive length in scene units")
        if self.colors is not None:
            self.colors = np.ascontiguousarray(self.colors, dtype=np.uint8).reshape(-1, 3)

    def shows_rgb(self) -> bool:
        """Drawn in its own colours (``active == RGB``) rather than a scalar or a solid colour."""
        return self.active == RGB and self.colors is not None and len(self.colors) == self.n

    @property
    def n(self) -> int:
        return int(self.points.shape[0])

    def shape_key(self) -> tuple:
        return ("points", self.n)

    def active_scalar(self) -> Scalar | None:
        return self.scalars.get(self.active) if self.active else None

    def effective_cmap(self) -> str:
        s = self.active_scalar()
        kind = s.kind if s else "continuous"
        if self.cmap and self.cmap in colormaps.choices_for(kind):
            return self.cmap
        return colormaps.default_cmap(kind)


@dataclass
class EllipsoidsLayer(Layer):
    """Ellipsoids: centre (K,3) and axes (K,3,3) whose COLUMNS are the semi-axis vectors (for a
    Gaussian's 1-sigma ellipsoid: eigenvectors times sqrt(eigenvalues))."""

    centres: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    axes: np.ndarray = field(default_factory=lambda: np.zeros((0, 3, 3)))
    colors: np.ndarray | None = None   # (K,3) uint8; None = categorical palette by index
    resolution: int = 16

    def __post_init__(self):
        self.centres = np.asarray(self.centres, dtype=np.float64).reshape(-1, 3)
        self.axes = np.asarray(self.axes, dtype=np.float64).reshape(-1, 3, 3)
        if len(self.centres) != len(self.axes):
            raise ValueError(f"{len(self.centres)} centres but {len(self.axes)} axis sets")

    def shape_key(self) -> tuple:
        return ("ellipsoids", len(self.centres), self.resolution)


@dataclass
class SurfaceLayer(Layer):
    vertices: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    faces: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.int64))
    color: str = "#88ccee"

    def __post_init__(self):
        self.vertices = np.asarray(self.vertices, dtype=np.float32).reshape(-1, 3)
        self.faces = np.asarray(self.faces, dtype=np.int64).reshape(-1, 3)

    def shape_key(self) -> tuple:
        return ("surface", len(self.vertices), len(self.faces))


@dataclass
class ArrowsLayer(Layer):
    origins: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    color: str = "#d55e00"
    scale: float = 1.0
    glyph: str = "arrow"      # "line": a bare segment, 2 vertices a glyph (normals of 100k points)

    def __post_init__(self):
        self.origins = np.asarray(self.origins, dtype=np.float32).reshape(-1, 3)
        self.vectors = np.asarray(self.vectors, dtype=np.float32).reshape(-1, 3)
        if self.glyph not in GLYPHS:
            raise ValueError(f"glyph '{self.glyph}' is not one of {GLYPHS}")

    def shape_key(self) -> tuple:
        return ("arrows", len(self.origins), self.glyph)


@dataclass(frozen=True)
class ColorScale:
    """What a colour bar shows: title (what + how normalised), map, range or categories."""

    title: str
    cmap: str
    clim: tuple[float, float]
    kind: str
    categories: tuple[str, ...] = ()
    log: bool = False          # a log10 colour scale (the values and clim stay in data units)


@dataclass(frozen=True)
class Selection:
    layer: str
    indices: np.ndarray


Listener = Callable[[str, str], None]


# what a stage may change on a shared layer
LOOK = ("visible", "style", "point_size", "radius", "color", "active", "opacity", "note")


def _look(layer: Layer) -> dict:
    return {k: getattr(layer, k) for k in LOOK if hasattr(layer, k)}


def stage_of(name: str) -> str | None:
    """The stage a layer name belongs to (its prefix before the first dot), None if shared."""
    head, dot, _ = name.partition(".")
    return head if dot and not head.startswith("_") else None


class Scene:
    def __init__(self) -> None:
        self._layers: dict[str, Layer] = {}
        self._listeners: list[Listener] = []
        self.selection: Selection | None = None
        self.stage: str | None = None           # None: every layer is on stage
        # How each stage shows the shared layers: {stage: {layer: {field: value}}}, and how a
        # shared layer looked when it was added (what a stage shown for the first time uses).
        self._shared_look: dict[str | None, dict[str, dict]] = {}
        self._shared_default: dict[str, dict] = {}

    # ---- stages ---------------------------------------------------------------------------------
    def on_stage(self, layer: Layer | str) -> bool:
        name = layer if isinstance(layer, str) else layer.name
        s = stage_of(name)
        return self.stage is None or s is None or s == self.stage

    def shown(self, layer: Layer) -> bool:
        return layer.visible and self.on_stage(layer)

    def set_stage(self, stage: str | None, empty: bool = False) -> None:
        """Show ``stage``'s layers and hide every other stage's (kept, not removed). Shared layers
        (no prefix) look as they did when ``stage`` was last shown (a panel that greyed or hid
        the sample cloud does so on its own stage only); on a stage shown for the first time
        they look as added, or are hidden when ``empty``."""
        if stage == self.stage and not empty:
            return
        before = {n: self.on_stage(n) for n in self._layers}
        shared = [l for l in self._layers.values() if stage_of(l.name) is None and not l.name.startswith("_")]
        self._shared_look[self.stage] = {l.name: _look(l) for l in shared}
        self.stage = stage
        remembered = {} if empty else self._shared_look.get(stage, {})
        for l in shared:
            look = dict(remembered.get(l.name) or self._shared_default.get(l.name) or _look(l))
            if empty:
                look["visible"] = False
            if look != _look(l):
                for key, value in look.items():
                    setattr(l, key, value)
                self._emit("style", l.name)
        for name, was in before.items():
            if name in self._layers and self.on_stage(name) != was:
                self._emit("geometry", name)
        if self.selection and not self.on_stage(self.selection.layer):
            self.set_selection(None)

    # ---- notifications ----------------------------------------------------------------------
    def subscribe(self, fn: Listener) -> Callable[[], None]:
        self._listeners.append(fn)
        return lambda: self._listeners.remove(fn) if fn in self._listeners else None

    def _emit(self, event: str, name: str) -> None:
        for fn in list(self._listeners):
            fn(event, name)

    # ---- layers ------------------------------------------------------------------------------
    def __contains__(self, name: str) -> bool:
        return name in self._layers

    def get(self, name: str) -> Layer:
        return self._layers[name]

    def layers(self, view: int | None = None) -> list[Layer]:
        return [l for l in self._layers.values() if view is None or l.view == view]

    def names(self) -> list[str]:
        return list(self._layers)

    def add(self, layer: Layer) -> Layer:
        """Add, or replace a layer of the same name (in place when the shapes agree)."""
        old = self._layers.get(layer.name)
        self._layers[layer.name] = layer
        if stage_of(layer.name) is None and not layer.name.startswith("_"):
            # a new shared layer (the next sample): every stage starts from how it looks now
            self._shared_default[layer.name] = _look(layer)
            for looks in self._shared_look.values():
                looks.pop(layer.name, None)
        if old is None:
            self._emit("added", layer.name)
        elif type(old) is type(layer) and old.shape_key() == layer.shape_key() and old.view == layer.view:
            self._emit("values", layer.name)
            self._emit("style", layer.name)
        else:
            self._emit("geometry", layer.name)
        if self.selection and self.selection.layer == layer.name and (
                not isinstance(layer, PointsLayer) or old is None or old.shape_key() != layer.shape_key()):
            self.set_selection(None)
        return layer

    def remove(self, name: str) -> None:
        if self._layers.pop(name, None) is not None:
            self._emit("removed", name)
            if self.selection and self.selection.layer == name:
                self.set_selection(None)

    def clear(self, prefix: str = "") -> None:
        for name in [n for n in self._layers if n.startswith(prefix)]:
            self.remove(name)

    def update_points(self, name: str, points: np.ndarray | None = None,
                      scalars: dict[str, np.ndarray] | None = None) -> None:
        """Replace coordinates and/or scalar values of a points layer; in place if shapes agree."""
        layer = self._layers[name]
        assert isinstance(layer, PointsLayer)
        shape = layer.shape_key()
        if points is not None:
            layer.points = np.ascontiguousarray(points, dtype=np.float32).reshape(-1, 3)
        for key, vals in (scalars or {}).items():
            if key in layer.scalars:
                layer.scalars[key].values = np.asarray(vals).reshape(-1)
            else:
                layer.scalars[key] = Scalar.auto(vals, title=key)
        self._emit("values" if layer.shape_key() == shape else "geometry", name)

    def set_scalar(self, name: str, key: str, scalar: Scalar, activate: bool = True) -> None:
        layer = self._layers[name]
        assert isinstance(layer, PointsLayer)
        if scalar.values.shape[0] != layer.n:
            raise ValueError(f"scalar '{key}' has {scalar.values.shape[0]} values for {layer.n} points")
        layer.scalars[key] = scalar
        if activate:
            layer.active = key
        self._emit("values", name)
        self._emit("style", name)

    def set_style(self, name: str, **changes) -> None:
        """Change display fields (cmap, point_size, style, opacity, visible, active, color ...)."""
        layer = self._layers[name]
        for key, value in changes.items():
            if not hasattr(layer, key):
                raise AttributeError(f"layer '{name}' has no setting '{key}'")
            setattr(layer, key, value)
        self._emit("style", name)

    def notify_values(self, name: str) -> None:
        """Tell listeners a layer's arrays were changed in place by the caller."""
        self._emit("values", name)

    # ---- selection -----------------------------------------------------------------------------
    def set_selection(self, selection: Selection | None) -> None:
        self.selection = selection
        self._emit("selection", selection.layer if selection else "")

    # ---- colour scale ------------------------------------------------------------------------
    def norm(self, layer: PointsLayer) -> Norm | None:
        """How the active scalar's values map to colours: the layer's choice when it fits the
        scalar's kind; else a range the scalar fixed itself (as 'custom'); else the default for
        its values (percentile-clipped when heavy-tailed). None for categories."""
        s = layer.active_scalar()
        if s is None or s.kind == "categorical":
            return None
        if layer.norm is not None and layer.norm.mode in colour_norm.modes_for(s.kind):
            return layer.norm
        if s.clim is not None:
            return Norm("custom", range=_ordered(s.clim))
        return colour_norm.default_norm(s.values, s.kind)

    def colour_values(self, layer: PointsLayer) -> np.ndarray:
        """The values the colour map reads (percentile ranks in rank mode; else the data)."""
        s = layer.active_scalar()
        norm = self.norm(layer)
        if s is None or norm is None:
            return np.asarray(s.values if s is not None else (), dtype=np.float32)
        return colour_norm.display_values(s.values, norm, s.kind)

    def shared_clim(self, layer: PointsLayer) -> tuple[float, float]:
        """Colour range of a layer's active scalar, unioned over the shown layers whose active
        scalar has the same title, kind and normalisation (rank and fixed ranges are not unioned)."""
        s = layer.active_scalar()
        if s is None:
            return (0.0, 1.0)
        if s.kind == "categorical":
            if s.clim is not None:
                return s.clim
            return (0.0, float(max(len(s.names), int(s.values.max()) + 1 if s.values.size else 1) - 1))
        norm = self.norm(layer)
        lo, hi = colour_norm.limits(s.values, norm, s.kind)
        if norm.mode in ("custom", "rank"):
            return (lo, hi)
        for other in self._layers.values():
            if other is layer or not isinstance(other, PointsLayer) or not self.shown(other):
                continue
            o = other.active_scalar()
            if o is not None and o.title == s.title and o.kind == s.kind and self.norm(other) == norm:
                a, b = colour_norm.limits(o.values, norm, o.kind)
                lo, hi = min(lo, a), max(hi, b)
        return (lo, hi)

    def scale_of(self, layer: PointsLayer) -> ColorScale | None:
        """The colour scale a points layer is drawn with; its title says what the scalar is, how
        its values map to colours (unless the scalar fixed its own range) and how it was
        normalised before."""
        s = layer.active_scalar()
        if s is None:
            return None
        title = s.title or layer.active or ""
        norm = self.norm(layer)
        if norm is not None and (layer.norm is not None or s.clim is None):
            title = f"{title} ({norm.label})"
        overridden = layer.norm is not None and s.clim is not None   # its text described the range it fixed
        if s.normalisation and s.kind != "categorical" and not overridden:
            title = f"{title}\n({s.normalisation})"
        return ColorScale(title=title, cmap=layer.effective_cmap(), clim=self.shared_clim(layer), kind=s.kind,
                          categories=tuple(s.names), log=norm is not None and norm.mode == "log")

    def color_scale(self, view: int | None = None) -> ColorScale | None:
        """The colour bar of a viewport: the last-added visible points layer with a scalar."""
        for layer in reversed(self.layers(view)):
            if isinstance(layer, PointsLayer) and self.shown(layer) and layer.active_scalar() is not None:
                return self.scale_of(layer)
        return None

    # ---- picking read-out --------------------------------------------------------------------
    def describe_point(self, name: str, index: int) -> dict:
        """Index, coordinates and every scalar on one point of a points layer."""
        layer = self._layers[name]
        assert isinstance(layer, PointsLayer)
        p = layer.points[index]
        out = {"layer": name, "index": int(index), "xyz": tuple(float(c) for c in p), "scalars": {}}
        for key, s in layer.scalars.items():
            if s.values.shape[0] == layer.n:
                out["scalars"][s.title or key] = s.label(s.values[index])
        if layer.colors is not None and len(layer.colors) == layer.n:
            out["scalars"]["RGB"] = " ".join(str(int(c)) for c in layer.colors[index])
        return out


def _ordered(clim) -> tuple[float, float]:
    lo, hi = float(clim[0]), float(clim[1])
    return (lo, hi) if hi > lo else (lo, lo + 1.0)


def format_pick(info: dict) -> str:
    x, y, z = info["xyz"]
    lines = [f"{info['layer']} · point {info['index']:,}", f"x {x:+.4f}  y {y:+.4f}  z {z:+.4f}"]
    lines += [f"{k}: {v}" for k, v in info["scalars"].items()]
    return "\n".join(lines)


def replace(layer: Layer, **changes) -> Layer:
    """A copy of a layer with some fields changed (arrays are shared, not copied)."""
    return dataclasses.replace(layer, **changes)
