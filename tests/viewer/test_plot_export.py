"""Plots export as PNG (2x), and as SVG / PDF vectors: the curve is a path, the text is text."""
from __future__ import annotations

import struct
import xml.etree.ElementTree as ET

import numpy as np
import pytest

pytestmark = pytest.mark.gui


@pytest.fixture
def dock(qapp):
    from viewer.panels.plots_dock import PlotsDock

    d = PlotsDock()
    d.resize(600, 300)
    d.show()
    item = d.plot("deletion", title="Deletion curve", x_label="points removed", y_label="probability")
    item.plot(np.arange(20), np.linspace(1, 0, 20) ** 2, pen="b", name="saliency order")
    qapp.processEvents()
    yield d
    d.close()
    d.deleteLater()


def _png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_png_is_twice_the_plots_size(dock, tmp_path):
    w = dock.tabs.currentWidget()
    text = dock.export_current(str(tmp_path / "p.png"))
    assert _png_size(tmp_path / "p.png") == (2 * w.width(), 2 * w.height())
    assert "PNG" in text
    # the whole plot, laid out as on screen: the export shrunk to 1x matches the widget's own grab
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage

    def grey(img):
        img = img.convertToFormat(QImage.Format_Grayscale8)
        a = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())
        return a[:, :img.width()].astype(float)

    shown = grey(w.grab().toImage())
    exported = grey(QImage(str(tmp_path / "p.png")).scaled(w.width(), w.height(), Qt.IgnoreAspectRatio,
                                                           Qt.SmoothTransformation))
    ink = (shown < 200) | (exported < 200)          # lines and text, where a shifted or zoomed plot differs
    assert ink.mean() > 0.01 and np.abs(shown - exported)[ink].mean() < 90   # 51 here; 147 with the plot zoomed 2x


def test_svg_holds_the_curve_as_a_vector_and_the_title_as_text(dock, tmp_path):
    dock.export_current(str(tmp_path / "p.svg"))
    root = ET.parse(tmp_path / "p.svg").getroot()
    tags = {el.tag.rsplit("}", 1)[-1] for el in root.iter()}
    assert tags & {"path", "polyline"}
    words = " ".join(t for el in root.iter() for t in (el.text or "").split())
    assert "Deletion" in words and "probability" in words


def test_pdf_is_a_pdf_with_the_plots_page_size(dock, tmp_path):
    w = dock.tabs.currentWidget()
    dock.export_current(str(tmp_path / "p.pdf"))
    data = (tmp_path / "p.pdf").read_bytes()
    assert data.startswith(b"%PDF")
    import re

    box = re.search(rb"/MediaBox \[\s*([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+)\]", data)
    assert box is not None
    width_pt, height_pt = float(box.group(3)), float(box.group(4))
    assert width_pt == pytest.approx(w.width() * 72 / 96, abs=1.5)
    assert height_pt == pytest.approx(w.height() * 72 / 96, abs=1.5)


def test_a_bad_suffix_is_one_message_and_nothing_written(dock, tmp_path):
    from engine import ParameterError

    with pytest.raises(ParameterError, match=r"\.svg or \.pdf"):
        dock.export_current(str(tmp_path / "p.jpg"))
    assert list(tmp_path.iterdir()) == []
