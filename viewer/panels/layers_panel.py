"""The Layers tab: every layer in the scene with its display settings — visibility, which scalar
colours it, colour map, point size, flat points or spheres, opacity."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QLabel, QListWidget,
                               QListWidgetItem, QSlider, QVBoxLayout, QWidget)

from .. import colormaps
from ..scene import PointsLayer, Scene

SOLID = "(solid colour)"


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
        self.style = QComboBox()
        self.style.addItems(["points", "spheres"])
        self.style.setToolTip("flat points show the colour map's exact colours; spheres add shading for depth")
        self.opacity = QSlider(Qt.Horizontal)
        self.opacity.setRange(5, 100)
        self.info = QLabel("")
        self.info.setWordWrap(True)
        form = QFormLayout()
        form.addRow(self.visible)
        form.addRow("colour by", self.scalar)
        form.addRow("colour map", self.cmap)
        form.addRow("point size", self.size)
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
        self.size.valueChanged.connect(lambda v: self._set(point_size=float(v)))
        self.style.currentIndexChanged.connect(lambda _: self._set(style=self.style.currentText()))
        self.opacity.valueChanged.connect(lambda v: self._set(opacity=v / 100.0))
        scene.subscribe(self._on_scene)

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
        for w in (self.visible, self.scalar, self.cmap, self.size, self.style, self.opacity):
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
            for w in (self.scalar, self.cmap, self.size, self.style):
                w.setEnabled(is_points)
            self.scalar.clear()
            self.cmap.clear()
            if is_points:
                self.scalar.addItem(SOLID, None)
                for key, s in layer.scalars.items():
                    self.scalar.addItem(s.title or key, key)
                self.scalar.setCurrentIndex(max(0, self.scalar.findData(layer.active)) if layer.active else 0)
                s = layer.active_scalar()
                kind = s.kind if s else "continuous"
                self.cmap.addItems(list(colormaps.choices_for(kind)))
                self.cmap.setCurrentText(layer.effective_cmap())
                self.cmap.setEnabled(s is not None)
                self.size.setValue(layer.point_size)
                self.style.setCurrentText(layer.style)
                self.info.setText(f"{layer.n:,} points" + (f" · {layer.note}" if layer.note else ""))
            else:
                self.info.setText(type(layer).__name__.replace("Layer", "").lower())
        finally:
            self._loading = False

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
        self._set(active=self.scalar.currentData())
        self._load()
