"""File > Export figure…: the current view (or every view of the layout, as laid out) as a
publication figure. Size in pixels, or in cm / inches at a DPI (the pixels follow); PNG with the
DPI in its pHYs chunk, SVG or PDF (the picture embedded as a raster at that DPI); crop to the
content, transparent background, caption and colour bar on or off. Points and text grow with
the output (figure_writer). The choices persist in the settings under ``figure/``.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QApplication, QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFileDialog,
                               QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton, QSpinBox, QVBoxLayout,
                               QWidget)

from . import figure_writer as fw
from . import render
from .settings import SCHEMA
from .viewport import LAYOUTS

ALL_VIEWS = -1
# The dialog's own settings keys; registered here so viewer/settings.py needs no edit to know them.
FIGURE_SETTINGS = {
    "figure/view": (int, 0, None),                    # 0.. a view, -1 all views as laid out
    "figure/width": (float, 8.5, None),
    "figure/height": (float, 6.4, None),
    "figure/unit": (str, "cm", tuple(fw.UNITS)),
    "figure/dpi": (int, 300, None),
    "figure/keep_aspect": (bool, True, None),
    "figure/crop": (bool, False, None),
    "figure/transparent": (bool, False, None),
    "figure/caption": (bool, True, None),
    "figure/colour_bar": (bool, True, None),
    "figure/format": (str, "png", fw.FORMATS),
    "figure/folder": (str, "", None),
}
for _key, _spec in FIGURE_SETTINGS.items():
    SCHEMA.setdefault(_key, _spec)

RASTER_NOTE = "SVG and PDF hold the picture as a raster image at this DPI: points and text are pixels inside."
CROP_MARGIN = 8    # screen pixels of background kept around cropped content (scaled with the figure)


def panels_of(viewports, which: int) -> tuple[list[fw.Panel], tuple[int, int]]:
    """The panels to draw and the on-screen size (w, h) of what they cover: one view filling
    the figure, or every view of the layout at its place in it."""
    count = viewports.count
    chosen = range(count) if which == ALL_VIEWS else [min(max(which, 0), count - 1)]
    panels = []
    for i in chosen:
        v = viewports.views[i]
        rect = LAYOUTS[count][i] if which == ALL_VIEWS else (0.0, 0.0, 1.0, 1.0)
        panels.append(fw.Panel(v.view, render.camera_of(v.renderer), tuple(v.size()), rect, v.text_scale))
    if which == ALL_VIEWS:
        screen = (viewports.vtk.width(), viewports.vtk.height())
        if min(screen) <= 0:   # not shown yet: the views' own sizes, laid out
            x1 = max(p.rect[2] for p in panels)
            screen = (round(panels[0].screen[0] / (panels[0].rect[2] - panels[0].rect[0]) * x1),
                      round(panels[0].screen[1] / (panels[0].rect[3] - panels[0].rect[1])))
    else:
        screen = panels[0].screen
    return panels, (max(1, screen[0]), max(1, screen[1]))


class ExportFigureDialog(QDialog):
    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.settings = window.settings
        self.setWindowTitle("Export figure")
        s = self.settings.get
        self.view = QComboBox()
        self.width_box, self.height_box = self._length(), self._length()
        self.unit = QComboBox()
        self.unit.addItems(list(fw.UNITS))
        self.dpi = QSpinBox()
        self.dpi.setRange(1, 100000)     # absurd values get a message, not a silent clamp
        self.dpi.setSuffix(" dpi")
        self.keep_aspect = QCheckBox("Keep the view's proportions")
        self.pixels = QLabel()
        self.format = QComboBox()
        self.format.addItems([f.upper() for f in fw.FORMATS])
        self.note = QLabel(RASTER_NOTE)
        self.note.setWordWrap(True)
        self.crop = QCheckBox("Crop to the content (keep a small even margin)")
        self.transparent = QCheckBox("Transparent background")
        self.caption = QCheckBox("Caption")
        self.colour_bar = QCheckBox("Colour bar / legend")
        self.path = QLineEdit()
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.message = QLabel()
        self.message.setWordWrap(True)

        size_row = QHBoxLayout()
        for w in (self.width_box, QLabel("×"), self.height_box, self.unit, QLabel("at"), self.dpi):
            size_row.addWidget(w)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path, 1)
        path_row.addWidget(browse)
        form = QFormLayout()
        form.addRow("Export", self.view)
        form.addRow("Size", _wrap(size_row))
        form.addRow("", self.keep_aspect)
        form.addRow("", self.pixels)
        form.addRow("Format", self.format)
        form.addRow("", self.note)
        for box in (self.crop, self.transparent, self.caption, self.colour_bar):
            form.addRow("", box)
        form.addRow("File", _wrap(path_row))
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        self.export_button = buttons.addButton("Export", QDialogButtonBox.AcceptRole)
        buttons.accepted.connect(self.export)
        buttons.rejected.connect(self.close)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.message)
        lay.addWidget(buttons)

        self._fill_views(s("figure/view"))
        self.unit.setCurrentText(s("figure/unit"))
        self.width_box.setValue(s("figure/width"))
        self.height_box.setValue(s("figure/height"))
        self.dpi.setValue(s("figure/dpi"))
        self.keep_aspect.setChecked(s("figure/keep_aspect"))
        self.format.setCurrentText(s("figure/format").upper())
        for box, key in ((self.crop, "crop"), (self.transparent, "transparent"), (self.caption, "caption"),
                         (self.colour_bar, "colour_bar")):
            box.setChecked(s(f"figure/{key}"))
        folder = s("figure/folder") or str(Path.home())
        self.path.setText(str(Path(folder) / f"figure.{s('figure/format')}"))

        self.width_box.valueChanged.connect(lambda _: self._follow_aspect(self.width_box))
        self.height_box.valueChanged.connect(lambda _: self._follow_aspect(self.height_box))
        self.view.currentIndexChanged.connect(lambda _: self._follow_aspect(self.width_box))
        self.keep_aspect.toggled.connect(lambda _: self._follow_aspect(self.width_box))
        self.unit.currentTextChanged.connect(self._unit_changed)
        self.dpi.valueChanged.connect(lambda _: self._show_pixels())
        self.format.currentTextChanged.connect(self._format_changed)
        self._unit_before = self.unit.currentText()
        self._follow_aspect(self.width_box)
        self._format_changed(self.format.currentText())

    @staticmethod
    def _length() -> QDoubleSpinBox:
        box = QDoubleSpinBox()
        box.setRange(0.0, 1e6)
        box.setDecimals(2)
        box.setKeyboardTracking(False)
        return box

    def _fill_views(self, chosen: int) -> None:
        self.view.blockSignals(True)      # clearing would report 'no view' to _follow_aspect
        self.view.clear()
        for i in range(self.window.viewports.count):
            self.view.addItem(f"View {i + 1}", i)
        if self.window.viewports.count > 1:
            self.view.addItem("All views, as laid out", ALL_VIEWS)
        index = self.view.findData(chosen)
        self.view.setCurrentIndex(index if index >= 0 else 0)
        self.view.blockSignals(False)

    # ---- size ---------------------------------------------------------------------------------
    def which(self) -> int:
        data = self.view.currentData()
        return 0 if data is None else int(data)

    def pixel_size(self) -> tuple[int, int]:
        unit, dpi = self.unit.currentText(), float(self.dpi.value())
        return fw.pixels(self.width_box.value(), unit, dpi), fw.pixels(self.height_box.value(), unit, dpi)

    def _follow_aspect(self, changed: QDoubleSpinBox) -> None:
        if self.keep_aspect.isChecked():
            _, (sw, sh) = panels_of(self.window.viewports, self.which())
            other = self.height_box if changed is self.width_box else self.width_box
            value = changed.value() * (sh / sw if changed is self.width_box else sw / sh)
            other.blockSignals(True)
            other.setValue(round(value) if self.unit.currentText() == "px" else value)
            other.blockSignals(False)
        self._show_pixels()

    def _unit_changed(self, unit: str) -> None:
        """Keep the physical size when the unit changes (pixels go through the DPI)."""
        dpi = float(self.dpi.value())
        for box in (self.width_box, self.height_box):
            px = fw.pixels(box.value(), self._unit_before, dpi)
            box.blockSignals(True)
            box.setValue(px if unit == "px" else px / dpi * fw.UNITS[unit])
            box.blockSignals(False)
        self._unit_before = unit
        self._show_pixels()

    def _show_pixels(self) -> None:
        w, h = self.pixel_size()
        self.pixels.setText(f"= {w:,} × {h:,} pixels at {self.dpi.value()} dpi")

    def _format_changed(self, text: str) -> None:
        fmt = text.lower()
        self.note.setVisible(fmt != "png")
        path = self.path.text().strip()
        if path:
            self.path.setText(str(Path(path).with_suffix("." + fmt)))

    def _browse(self) -> None:
        fmt = self.format.currentText().lower()
        path, _ = QFileDialog.getSaveFileName(self, "Export figure", self.path.text(), f"{fmt.upper()} (*.{fmt})")
        if path:
            self.path.setText(path if Path(path).suffix else f"{path}.{fmt}")

    # ---- export ---------------------------------------------------------------------------------
    def _save_settings(self) -> None:
        set_ = self.settings.set
        set_("figure/view", self.which())
        set_("figure/width", float(self.width_box.value()))
        set_("figure/height", float(self.height_box.value()))
        set_("figure/unit", self.unit.currentText())
        set_("figure/dpi", int(self.dpi.value()))
        set_("figure/keep_aspect", self.keep_aspect.isChecked())
        set_("figure/format", self.format.currentText().lower())
        for box, key in ((self.crop, "crop"), (self.transparent, "transparent"), (self.caption, "caption"),
                         (self.colour_bar, "colour_bar")):
            set_(f"figure/{key}", box.isChecked())
        path = self.path.text().strip()
        if path:
            set_("figure/folder", str(Path(path).parent))

    def export(self, path: str | None = None) -> bool:
        """Render and write the figure; True when written. Any failure is one line in the dialog."""
        from engine import EngineError, ParameterError

        from . import provenance

        if path is not None:
            self.path.setText(path)
        path = self.path.text().strip()
        self._save_settings()
        try:
            if not path:
                raise ParameterError("no file chosen for the figure", hint="type a name or use Browse…")
            fw.format_of(path)
            dpi = float(self.dpi.value())
            width, height = self.pixel_size()
            fw.check_size(width, height, dpi)
            which = self.which()
            panels, screen = panels_of(self.window.viewports, which)
            look = fw.Look(self.transparent.isChecked(), self.caption.isChecked(), self.colour_bar.isChecked(),
                           bool(self.window.viewports.edl))
            # 10,000 px wide takes ~20 s on software GL: say so and show the busy cursor meanwhile
            self._say(f"Rendering {width:,} × {height:,} px…", error=False)
            QApplication.setOverrideCursor(Qt.WaitCursor)
            self.export_button.setEnabled(False)     # no second export from the events processed now
            QApplication.processEvents()
            try:
                image = fw.render_figure(self.window.scene, panels, (width, height), look)
            finally:
                self.export_button.setEnabled(True)
                QApplication.restoreOverrideCursor()
            if self.crop.isChecked():
                image = fw.crop_to_content(image, round(CROP_MARGIN * height / screen[1]))
            prov = provenance.for_window(
                self.window, "figure", view=None if which == ALL_VIEWS else which,
                size=[int(image.shape[1]), int(image.shape[0])], dpi=dpi, cropped=self.crop.isChecked(),
                transparent=look.transparent, caption=look.caption, colour_bar=look.colour_bar)
            fmt = fw.write_figure(path, image, dpi, prov)
        except (EngineError, OSError, MemoryError, RuntimeError) as e:
            self._say(str(e), error=True)
            return False
        h, w = image.shape[:2]
        done = f"{path}: {w:,} × {h:,} px {fmt.upper()} at {dpi:g} dpi ({w / dpi * 2.54:.1f} × {h / dpi * 2.54:.1f} cm)"
        self._say(done, error=False)
        if hasattr(self.window, "status"):
            self.window.status.setText(done)
        return True

    def _say(self, text: str, error: bool) -> None:
        self.message.setText(text)
        self.message.setStyleSheet("color: #b00020;" if error else "")
        self.adjustSize()     # room for a message that wraps onto several lines


def _wrap(layout) -> QWidget:
    w = QWidget()
    layout.setContentsMargins(0, 0, 0, 0)
    w.setLayout(layout)
    return w


def open_dialog(window) -> ExportFigureDialog:
    """Show the window's figure dialog (one per window, refreshed with the current layout)."""
    dialog = window.findChild(ExportFigureDialog)
    if dialog is None:
        dialog = ExportFigureDialog(window)
    else:
        dialog._fill_views(dialog.which())
        dialog._follow_aspect(dialog.width_box)
    dialog.show()
    dialog.raise_()
    return dialog


def attach(menu, window):
    """Add "Export &figure…" to ``menu`` (the File menu, beside the viewport screenshot)."""
    action = menu.addAction("Export &figure…")
    action.triggered.connect(lambda _=False: open_dialog(window))
    return action
