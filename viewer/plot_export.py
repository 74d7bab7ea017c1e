"""A 2D plot (or any widget of the Plots dock) written as a figure: PNG at a chosen scale, or SVG
and PDF as vectors (Qt paints the plot's lines, markers and text into the SVG/PDF painter, so
curves stay sharp at any zoom and the text stays text).

The format is the file name's suffix. Writes are atomic (a temporary file beside the target,
then one rename), so a failed export leaves the previous file as it was.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMarginsF, QPoint, QRect, QSize, QSizeF
from PySide6.QtGui import QColor, QImage, QPageLayout, QPageSize, QPainter, QPdfWriter
from PySide6.QtWidgets import QWidget

FORMATS = (".png", ".svg", ".pdf")
FILTER = "PNG image (*.png);;SVG vector figure (*.svg);;PDF vector figure (*.pdf)"
PNG_SCALE = 2.0          # a plot at 2x its screen size: sharp on a slide, lines not hairline-thin
PDF_DPI = 96             # the widget's pixels map to points at this resolution (page = screen size)


def export_plot(widget: QWidget, path: str | Path, png_scale: float = PNG_SCALE) -> str:
    """Write ``widget`` as it is drawn to ``path`` (.png, .svg or .pdf); returns a status line.
    Raises the engine's one-line errors (unknown suffix, unwritable folder).

    ``QWidget.render`` is called as the base class's: a plot is a QGraphicsView, whose own
    ``render`` draws its scene stretched over the whole target (with a scaled painter the plot
    came out 4x, cut to its top-left quarter)."""
    from engine import ParameterError, atomic_path

    path = Path(path)
    fmt = path.suffix.lower()
    if fmt not in FORMATS:
        raise ParameterError(f"{path}: cannot export a plot as '{fmt or '(no suffix)'}'.",
                             hint="Use a .png, .svg or .pdf file name.")
    size = widget.size()
    with atomic_path(path, suffix=fmt) as tmp:
        if fmt == ".png":
            _png(widget, str(tmp), size, png_scale)
        elif fmt == ".svg":
            _svg(widget, str(tmp), size, path.stem)
        else:
            _pdf(widget, str(tmp), size, path.stem)
    kind = f"{round(size.width() * png_scale)} x {round(size.height() * png_scale)} px" if fmt == ".png" \
        else "vector"
    return f"{path}: plot written ({fmt[1:].upper()}, {kind})"


def _png(widget: QWidget, target: str, size: QSize, scale: float) -> None:
    # A device pixel ratio, not a scaled painter: Qt draws everything, text included, at twice
    # the resolution with the same layout.
    image = QImage(round(size.width() * scale), round(size.height() * scale), QImage.Format_ARGB32)
    image.setDevicePixelRatio(scale)
    image.fill(QColor("white"))
    QWidget.render(widget, image)
    if not image.save(target, "PNG"):
        raise OSError(f"could not write {target}")


def _svg(widget: QWidget, target: str, size: QSize, title: str) -> None:
    from PySide6.QtSvg import QSvgGenerator

    gen = QSvgGenerator()
    gen.setFileName(target)
    gen.setSize(size)
    gen.setViewBox(QRect(0, 0, size.width(), size.height()))
    gen.setResolution(PDF_DPI)             # as on screen: point-sized text keeps its size
    gen.setTitle(title)
    gen.setDescription("PointLens plot")
    painter = QPainter(gen)
    QWidget.render(widget, painter, QPoint(0, 0))
    painter.end()


def _pdf(widget: QWidget, target: str, size: QSize, title: str) -> None:
    writer = QPdfWriter(target)
    writer.setTitle(title)
    writer.setCreator("PointLens")
    writer.setResolution(PDF_DPI)
    points = QSizeF(size.width() * 72.0 / PDF_DPI, size.height() * 72.0 / PDF_DPI)
    writer.setPageLayout(QPageLayout(QPageSize(points, QPageSize.Point), QPageLayout.Portrait, QMarginsF(0, 0, 0, 0)))
    painter = QPainter(writer)
    QWidget.render(widget, painter, QPoint(0, 0))
    painter.end()
