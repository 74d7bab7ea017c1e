"""File > Screenshot of window / of viewport: the window as Qt paints it with the 3D views'
own frames composited in, and one view redrawn at a scale, both stamped with provenance. A part
of ``MainWindow`` (``self`` is the window), kept apart as its own idea."""
from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtWidgets import QApplication, QFileDialog

log = logging.getLogger("pointlens")


class WindowScreenshots:
    """Screenshot methods of the main window (needs ``viewports``, ``settings``, ``browser`` and
    ``methods_pane``)."""

    def save_window_screenshot(self, path: str) -> bool:
        """The whole window as a PNG: the widgets as Qt paints them (grab(), no screen grab, so
        nothing lying over the window and no race with the first paint) with the 3D views' own
        rendering composited where they sit."""
        from engine import EngineError, atomic_path

        QApplication.processEvents()
        pix = self.grab()
        self.viewports.paint_into(pix, self)

        from . import provenance

        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as tmp:
                if not pix.save(str(tmp), "PNG"):
                    raise OSError("Qt could not encode the PNG")
                provenance.stamp_png(str(tmp), provenance.for_window(
                    self, "window screenshot", window_size=[self.width(), self.height()], regions=self._regions()))
        except (OSError, EngineError) as e:
            log.error("could not save the screenshot %s: %s", path, e)
            return False
        return True

    def _regions(self) -> dict:
        """Where the data browser, the method panels and the 3D views sit in the window, as
        [x, y, w, h] in window pixels (a window screenshot's provenance records them)."""
        from PySide6.QtCore import QPoint

        out = {}
        for name, w in (("data", self.browser), ("methods", self.methods_pane), ("views", self.viewports.vtk)):
            if w.isVisible():
                p = w.mapTo(self, QPoint(0, 0))
                out[name] = [p.x(), p.y(), w.width(), w.height()]
        return out

    def save_viewport_screenshot(self, path: str, view: int = 0, transparent: bool | None = None,
                                 scale: int | None = None) -> None:
        from . import provenance

        if transparent is None:
            transparent = bool(self.settings.get("screenshot/transparent"))

        img = self.viewports.view_image(view, scale or self.settings.get("screenshot/scale"), transparent)
        try:
            provenance.write_png(path, img, provenance.for_window(
                self, "viewport screenshot", view=min(view, self.viewports.count - 1),
                size=[int(img.shape[1]), int(img.shape[0])], transparent=bool(transparent)))
        except OSError as e:
            from engine import DataError

            raise DataError(f"{path}: could not save the screenshot: {e}",
                            hint="choose a writable folder and a .png name") from e

    def screenshot_window_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save a screenshot of the window", "pointlens.png", "PNG (*.png)")
        if path:
            self.save_window_screenshot(path)

    def screenshot_viewport_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save a screenshot of viewport 1", "viewport.png", "PNG (*.png)")
        if path:
            self.save_viewport_screenshot(path)
