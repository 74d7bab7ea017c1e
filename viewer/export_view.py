"""File > Export points of view ▸ view N: the points a viewport shows, with every per-point scalar
of that layer, written by the engine's exporter (PLY for CloudCompare, VTP for ParaView, NPZ,
CSV; the format from the file name's extension).

A view may show several point layers (SageMix draws its query point as a one-point layer over
cloud A); the export takes the largest shown one, the cloud the view is about, and says which.
Points are written in data coordinates (a layer's display offset is left out). The menu is
refilled each time it opens, so it lists the views of the current layout with what they show.
"""
from __future__ import annotations

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMenu

from .scene import PointsLayer, Scene

FILTER = "PLY (*.ply);;VTK PolyData (*.vtp);;NumPy (*.npz);;CSV (*.csv)"


def shown_points(scene: Scene, view: int) -> PointsLayer | None:
    """The largest points layer shown in ``view`` (None when it shows no points)."""
    layers = [l for l in scene.layers(view) if isinstance(l, PointsLayer) and scene.shown(l) and l.n]
    return max(layers, key=lambda l: l.n, default=None)


def export_view(scene: Scene, view: int, path: str) -> str:
    """Write what ``view`` shows to ``path``; returns the status line. Raises the engine's
    one-line errors (bad extension, unwritable folder) for the caller to show."""
    from engine import DataError, export_points

    layer = shown_points(scene, view)
    if layer is None:
        raise DataError(f"view {view + 1} shows no points to export.", hint="Run a method or open a sample first.")
    fields = {name: s.values for name, s in layer.scalars.items() if s.values.shape[0] == layer.n}
    fmt = export_points(path, layer.points, fields, name=layer.title or layer.name)
    return f"{path}: {layer.n:,} points of '{layer.name}' with {len(fields)} scalar(s) as {fmt.upper()}"


def attach(menu: QMenu, window) -> None:
    """Fill ``menu`` with one entry per view each time it opens."""

    def fill() -> None:
        menu.clear()
        for view in range(window.viewports.count):
            layer = shown_points(window.scene, view)
            text = f"View {view + 1}: " + (f"{layer.title or layer.name} ({layer.n:,} points)…" if layer else "no points")
            a = QAction(text, menu)
            a.setEnabled(layer is not None)
            a.triggered.connect(lambda _=False, v=view: dialog(window, v))
            menu.addAction(a)

    menu.aboutToShow.connect(fill)


def dialog(window, view: int) -> None:
    from engine import EngineError

    layer = shown_points(window.scene, view)
    stem = (layer.name if layer else "points").replace(".", "_")
    path, chosen = QFileDialog.getSaveFileName(window, f"Export the points of view {view + 1}", f"{stem}.ply", FILTER)
    if not path:
        return
    if "." not in path.rsplit("/", 1)[-1]:       # no extension typed: the chosen filter's
        path += "." + (chosen.split("*.")[1].rstrip(")") if "*." in chosen else "ply")
    try:
        window.status.setText(export_view(window.scene, view, path))
    except EngineError as e:
        window.show_error("Export failed", str(e))
