"""The Layers tab: every layer in the scene with its display settings — visibility, which scalar
colours it, colour map, how its values map to colours (linear, log, percentile-clipped, rank or a
typed range), point size, flat points or spheres, opacity."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QHBoxLayout, QLabel,
                               QListWidget, QListWidgetItem, QSlider, QVBoxLayout, QWidget)

from .. import colormaps, colour_norm
from ..colour_norm import Norm
from ..scene import RGB, PointsLayer, Scene

SOLID = "(solid colour)"
OWN_COLOURS = "RGB (the file's own colours)"
DEFAULT = "default"
SCALE_HELP = {
    DEFAULT: "what suits the values: linear, or percentile-clipped / rank when a few points lie far above the rest",
    "linear": "data min to max",
    "log": "log10, from the smallest positive value to the max",
    "percentile": "linear between two percentiles; the points beyond take the end colours",
    "rank": "each point's rank among the layer's points: colours spread evenly",
    "custom": "linear over the range typed here"}


class LayersPanel(QWidget):
    def __init__(self, scene: Scene, parent=None):
        super().__init__(parent)
        self.scene = scene
        self.list = QListWidget()
        self.list.setMaximumHeight(150)
        self.visible = QCheckBox("visible")
        self.scalar = QComboBox()
        self.cmap = QComboBox()
        self.size = QDoubleSpinBox()
        self.size.setRange(1.0, 40.0)
        self.size.setSingleStep(1.0)
        self.size.setSuffix(" px")
        self.radius = QDoubleSpinBox()      # world-space size: points grow and shrink with the zoom
        self.radius.setRange(0.0, 1.0)
        self.radius.setDecimals(3)
        self.radius.setSingleStep(0.005)
        self.radius.setSpecialValueText("off (size in px)")
        self.radius.setKeyboardTracking(False)
        self.radius.setToolTip("a radius in the cloud's own units (clouds are scaled to the unit sphere): "
                               "near points look larger than far ones, as in a figure of real objects")
        self.style = QComboBox()
        self.style.addItems(["points", "spheres"])
        self.style.setToolTip("flat points show the colour map's exact colours; spheres add shading for depth")
        self.scale = QComboBox()
        self.scale.setToolTip("how values map to colours (stated in the colour-bar title)")
        self.low, self.high = QDoubleSpinBox(), QDoubleSpinBox()
        for box in (self.low, self.high):
            box.setDecimals(4)
            box.setRange(-1e9, 1e9)
            box.setKeyboardTracking(False)   # one update per typed number, not per keystroke
            box.setMinimumWidth(70)          # its hint fits -1e9: the range row would widen the dock
        span = QHBoxLayout()
        span.setContentsMargins(0, 0, 0, 0)
        span.addWidget(self.low)
        span.addWidget(QLabel("to"))
        span.addWidget(self.high)
        self.opacity = QSlider(Qt.Horizontal)
        self.opacity.setRange(5, 100)
        self.info = QLabel("")
        self.info.setWordWrap(True)
        form = QFormLayout()
        form.addRow(self.visible)
        form.addRow("colour by", self.scalar)
        form.addRow("colour map", self.cmap)
        form.addRow("colour scale", self.scale)
        form.addRow("range", span)
        form.addRow("point size", self.size)
        form.addRow("world radius", self.radius)
        form.addRow("draw as", self.style)
        form.addRow("opacity", self.opacity)
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("Layers"))
        lay.addWidget(self.list)
        lay.addLayout(form)
        lay.addWidget(self.info)
        lay.addStretch(1)
        self._loading = False
        self.list.currentItemChanged.connect(lambda *_: self._load())
        self.visible.toggled.connect(lambda v: self._set(visible=bool(v)))
        self.scalar.currentIndexChanged.connect(self._scalar_changed)
        self.cmap.currentIndexChanged.connect(lambda _: self._set(cmap=self.cmap.currentText() or None))
        self.scale.currentIndexChanged.connect(lambda _: self._scale_changed())
        self.low.valueChanged.connect(lambda _: self._scale_changed())
        self.high.valueChanged.connect(lambda _: self._scale_changed())
        self.size.valueChanged.connect(lambda v: self._set(point_size=float(v)))
        self.radius.valueChanged.connect(self._radius_changed)
        self.style.currentIndexChanged.connect(lambda _: self._set(style=self.style.currentText()))
        self.opacity.valueChanged.connect(lambda v: self._set(opacity=v / 100.0))
        scene.subscribe(self._on_scene)
        self._fill()            # layers added before the panel existed

    def _radius_changed(self, value: float) -> None:
        self.size.setEnabled(value <= 0)          # a world radius replaces the pixel size
        self._set(radius=float(value))

    def current_name(self) -> str | None:
        item = self.list.currentItem()
        return item.data(Qt.UserRole) if item else None

    def select(self, name: str) -> None:
        for i in range(self.list.count()):
            if self.list.item(i).data(Qt.UserRole) == name:
                self.list.setCurrentRow(i)
                return

    def _on_scene(self, event: str, name: str) -> None:
        if event in ("added", "removed", "geometry"):
            self._fill()
        elif event == "style" and name == self.current_name() and not self._loading:
            self._load()

    def _fill(self) -> None:
        cur = self.current_name()
        self.list.blockSignals(True)
        self.list.clear()
        for layer in self.scene.layers():
            if layer.name.startswith("_"):
                continue
            item = QListWidgetItem(f"{layer.name}  (view {layer.view + 1})")
            item.setData(Qt.UserRole, layer.name)
            self.list.addItem(item)
        self.list.blockSignals(False)
        names = [self.list.item(i).data(Qt.UserRole) for i in range(self.list.count())]
        if names:
            self.select(cur if cur in names else names[-1])
        self._load()

    def _load(self) -> None:
        name = self.current_name()
        enabled = name is not None and name in self.scene
        for w in (self.visible, self.scalar, self.cmap, self.scale, self.low, self.high, self.size, self.style,
                  self.opacity):
            w.setEnabled(enabled)
        if not enabled:
            self.info.setText("")
            return
        layer = self.scene.get(name)
        self._loading = True
        try:
            self.visible.setChecked(layer.visible)
            self.opacity.setValue(int(round(layer.opacity * 100)))
            is_points = isinstance(layer, PointsLayer)
            for w in (self.scalar, self.cmap, self.scale, self.low, self.high, self.size, self.style):
                w.setEnabled(is_points)
            self.scalar.clear()
            self.cmap.clear()
            self.scale.clear()
            if is_points:
                self.scalar.addItem(SOLID, None)
                if layer.colors is not None:
                    self.scalar.addItem(OWN_COLOURS, RGB)
                for key, s in layer.scalars.items():
                    self.scalar.addItem(s.title or key, key)
                self.scalar.setCurrentIndex(max(0, self.scalar.findData(layer.active)) if layer.active else 0)
                s = layer.active_scalar()
                kind = s.kind if s else "continuous"
                self.cmap.addItems(list(colormaps.choices_for(kind)))
                self.cmap.setCurrentText(layer.effective_cmap())
                self.cmap.setEnabled(s is not None)
                self._load_scale(layer)
                self.size.setValue(layer.point_size)
                self.radius.setValue(layer.radius)
                self.size.setEnabled(layer.radius <= 0)
                self.style.setCurrentText(layer.style)
                self.info.setText(f"{layer.n:,} points" + (f" · {layer.note}" if layer.note else ""))
            else:
                self.info.setText(type(layer).__name__.replace("Layer", "").lower())
        finally:
            self._loading = False

    def _load_scale(self, layer: PointsLayer) -> None:
        """The colour-scale choices for the active scalar's kind, the layer's choice, and the range
        boxes: values for a custom range, percents for percentile clipping, else the range shown."""
        s = layer.active_scalar()
        modes = colour_norm.modes_for(s.kind) if s is not None else ()
        self.scale.addItem(DEFAULT, None)
        for mode in modes:
            self.scale.addItem(mode, mode)
        for i in range(self.scale.count()):
            self.scale.setItemData(i, SCALE_HELP.get(self.scale.itemData(i) or DEFAULT, ""), Qt.ToolTipRole)
        chosen = layer.norm.mode if layer.norm is not None and layer.norm.mode in modes else None
        self.scale.setCurrentIndex(max(0, self.scale.findData(chosen)) if chosen else 0)
        self.scale.setEnabled(bool(modes))
        if chosen == "percentile":
            lo, hi = layer.norm.percentiles
        else:
            lo, hi = self.scene.shared_clim(layer) if s is not None else (0.0, 1.0)
        for box, v in ((self.low, lo), (self.high, hi)):
            box.setSuffix(" %" if chosen == "percentile" else "")
            box.setValue(float(v))
            box.setEnabled(chosen in ("custom", "percentile"))
        if s is not None and modes:
            self.scale.setToolTip(f"now: {self.scene.norm(layer).label}")

    def _scale_changed(self) -> None:
        """A new colour scale from the combo and the range boxes (an invalid range is ignored)."""
        name = self.current_name()
        if self._loading or name is None or name not in self.scene:
            return
        layer = self.scene.get(name)
        mode = self.scale.currentData()
        lo, hi = self.low.value(), self.high.value()
        if mode is None:
            norm = None
        elif mode == "percentile":
            same = layer.norm is not None and layer.norm.mode == "percentile"
            p = (lo, hi) if same and 0.0 <= lo < hi <= 100.0 else Norm().percentiles
            norm = Norm("percentile", percentiles=p)
        elif mode == "custom":
            if layer.norm is None or layer.norm.mode != "custom":   # start from the range shown now
                s = layer.active_scalar()
                now = self.scene.norm(layer)
                lo, hi = colour_norm.limits(s.values, Norm("linear") if now.mode == "rank" else now, s.kind)
            if not lo < hi:
                return
            norm = Norm("custom", range=(lo, hi))
        else:
            norm = Norm(mode)
        self._set(norm=norm)
        self._load()        # the range boxes follow the new scale

    def _set(self, **changes) -> None:
        name = self.current_name()
        if self._loading or name is None or name not in self.scene:
            return
        layer = self.scene.get(name)
        changes = {k: v for k, v in changes.items() if hasattr(layer, k)}
        if changes:
            self._loading = True
            try:
                self.scene.set_style(name, **changes)
            finally:
                self._loading = False

    def _scalar_changed(self, _index: int) -> None:
        if self._loading:
            return
        self._set(active=self.scalar.currentData(), norm=None)   # a scale chosen for one scalar may not fit another
        self._load()
