"""File > Export figure… (issue 17): exact pixel sizes, the DPI in the PNG's pHYs chunk, cm/inch
sizes through the DPI, crop to content, transparent background, points that grow with the
output, valid PDF and SVG, and one clear message for an absurd size or an unwritable folder.

The writer is checked on hand-made scenes (one point, a few points) drawn off-screen; the
dialog on the real window. The PNG chunks are read by a small parser here, not by the writer's
library, so a wrong pHYs would show.
"""
from __future__ import annotations

import re
import struct
import xml.etree.ElementTree as ET
import zlib

import numpy as np
import pytest

pytestmark = pytest.mark.gui


def png_chunks(data: bytes) -> dict[bytes, bytes]:
    """{chunk type: payload} of a PNG, each chunk's CRC checked (PNG spec, section 5.3)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    out, pos = {}, 8
    while pos < len(data):
        (length,), kind = struct.unpack(">I", data[pos:pos + 4]), data[pos + 4:pos + 8]
        payload = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + payload), f"bad CRC in {kind!r}"
        out.setdefault(kind, payload)
        pos += 12 + length
    return out


def read_png(path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im)


def one_point_scene(size=6.0, style="spheres"):
    from viewer.scene import PointsLayer, Scene

    scene = Scene()
    scene.add(PointsLayer("dot", points=np.zeros((1, 3), np.float32), color="#1f4e9c", point_size=size, style=style))
    return scene


def cloud_scene():
    from viewer.scene import PointsLayer, Scalar, Scene

    pts = np.array([[x, y, 0.0] for x in (-1, 0, 1) for y in (-1, 0, 1)], np.float32)
    scene = Scene()
    scene.add(PointsLayer("cloud", points=pts, title="nine points", point_size=8.0, style="spheres",
                          scalars={"x": Scalar(pts[:, 0], title="x")}, active="x"))
    return scene


def draw(scene, screen, size, **look):
    from viewer import figure_writer as fw

    return fw.render_figure(scene, [fw.Panel(0, None, screen)], size, fw.Look(**look))


def foreground(image) -> np.ndarray:
    """Pixels that are not the (white or transparent) background."""
    if image.shape[2] == 4:
        return image[..., 3] > 0
    return np.any(image != image[0, 0], axis=2)


# ---- sizes -----------------------------------------------------------------------------------
def test_physical_sizes_become_pixels_through_the_dpi():
    from viewer.figure_writer import pixels

    assert pixels(8.5, "cm", 300) == 1004        # 8.5 / 2.54 * 300 = 1003.9
    assert pixels(17.8, "cm", 600) == 4205       # a two-column figure at 600 dpi
    assert pixels(3.5, "in", 300) == 1050
    assert pixels(640, "px", 72) == 640          # pixels ignore the DPI


def test_absurd_sizes_and_dpi_name_the_field():
    from engine import ParameterError
    from viewer.figure_writer import check_size

    check_size(1004, 753, 300)
    for w, h, dpi, word in ((0, 500, 300, "width"), (50000, 500, 300, "width"), (500, 12, 300, "height"),
                            (500, 500, 5, "DPI")):
        with pytest.raises(ParameterError, match=word):
            check_size(w, h, dpi)


# ---- PNG -------------------------------------------------------------------------------------
def test_png_has_the_exact_size_and_its_dpi_in_phys(qapp, tmp_path):
    from viewer.figure_writer import write_figure
    from viewer.provenance import read_png_provenance

    image = draw(cloud_scene(), (320, 240), (1004, 753))
    path = tmp_path / "fig.png"
    assert write_figure(str(path), image, 300, {"export": "figure"}) == "png"
    chunks = png_chunks(path.read_bytes())
    width, height = struct.unpack(">II", chunks[b"IHDR"][:8])
    assert (width, height) == (1004, 753)
    ppx, ppy, unit = struct.unpack(">IIB", chunks[b"pHYs"])
    assert unit == 1 and ppx == ppy == round(300 / 0.0254)    # pixels per metre: 11811
    assert read_png_provenance(str(path))["export"] == "figure"
    assert read_png(path).shape[:2] == (753, 1004)


def test_points_and_text_grow_with_the_output():
    """A 2x export of a view shows a point twice as wide as the 1x export (not the same dots)."""
    scene = one_point_scene(size=6.0)
    widths = []
    for k in (1, 2):
        image = draw(scene, (160, 120), (160 * k, 120 * k), caption=False, colour_bar=False)
        fg = foreground(image)
        cols = np.flatnonzero(fg.any(axis=0))
        rows = np.flatnonzero(fg.any(axis=1))
        assert cols.size and rows.size, f"the point is missing from the {k}x export"
        widths.append(cols[-1] - cols[0] + 1)
    assert widths[0] == pytest.approx(6, abs=1)
    assert widths[1] / widths[0] == pytest.approx(2.0, abs=0.3)


def test_a_figure_of_the_same_size_draws_the_live_point_size(qapp):
    """Factor 1 leaves the scene's point size as it is (the copy does not change the scene)."""
    from viewer.figure_writer import figure_scene

    scene = one_point_scene(size=7.0)
    copy = figure_scene(scene, 3.0)
    assert copy.get("dot").point_size == 21.0 and scene.get("dot").point_size == 7.0


# ---- crop and transparency -------------------------------------------------------------------
def test_crop_keeps_every_content_pixel_and_an_even_margin():
    from viewer.figure_writer import crop_to_content

    image = draw(cloud_scene(), (300, 300), (300, 300), caption=False, colour_bar=False)
    cropped = crop_to_content(image, 5)
    assert cropped.shape[0] < image.shape[0] and cropped.shape[1] < image.shape[1]
    assert foreground(cropped).sum() == foreground(image).sum()      # nothing of the content lost
    fg = foreground(cropped)
    for side in (fg[:5], fg[-5:], fg[:, :5], fg[:, -5:]):
        assert not side.any()                                          # the margin is background
    assert fg[5].any() and fg[-6].any() and fg[:, 5].any() and fg[:, -6].any()   # content touches it


def test_crop_on_a_hand_made_image():
    from viewer.figure_writer import crop_to_content

    image = np.full((20, 30, 3), 255, np.uint8)
    image[4:7, 10:18] = (200, 0, 0)
    out = crop_to_content(image, 2)
    assert out.shape == (3 + 4, 8 + 4, 3)
    assert (out[2:5, 2:10] == (200, 0, 0)).all() and (out[:2] == 255).all()


def test_transparent_background_is_alpha_zero_and_points_opaque(tmp_path):
    from viewer.figure_writer import write_figure

    image = draw(one_point_scene(size=20.0, style="points"), (100, 100), (100, 100), transparent=True,
                 caption=False, colour_bar=False)
    assert image.shape[2] == 4
    write_figure(str(tmp_path / "t.png"), image, 300)
    back = read_png(tmp_path / "t.png")
    assert back.shape == (100, 100, 4)
    for corner in (back[0, 0], back[0, -1], back[-1, 0], back[-1, -1]):
        assert corner[3] == 0
    assert back[50, 50, 3] == 255 and tuple(back[50, 50, :3]) == (0x1F, 0x4E, 0x9C)


# ---- PDF and SVG -----------------------------------------------------------------------------
def test_pdf_is_a_page_of_the_physical_size_with_a_valid_xref(tmp_path):
    from viewer.figure_writer import write_figure

    image = np.zeros((150, 300, 4), np.uint8)
    image[50:100, 100:200] = (10, 20, 30, 255)
    path = tmp_path / "f.pdf"
    assert write_figure(str(path), image, 150) == "pdf"
    data = path.read_bytes()
    assert data.startswith(b"%PDF-1.4") and data.rstrip().endswith(b"%%EOF")
    box = re.search(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", data)
    assert float(box.group(1)) == pytest.approx(300 / 150 * 72) and float(box.group(2)) == pytest.approx(72)
    start = int(re.search(rb"startxref\n(\d+)", data).group(1))
    assert data[start:start + 4] == b"xref"
    offsets = [int(m) for m in re.findall(rb"(\d{10}) 00000 n", data[start:])]
    for number, offset in enumerate(offsets, start=1):     # every object where the table says
        assert data[offset:].startswith(b"%d 0 obj" % number)
    assert b"/SMask" in data                                # the alpha channel kept


def test_svg_parses_and_has_the_physical_size(tmp_path):
    from viewer.figure_writer import write_figure

    image = np.full((100, 200, 3), 255, np.uint8)
    path = tmp_path / "f.svg"
    write_figure(str(path), image, 254, {"export": "figure & <test>"})
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg")
    assert root.get("width") == "20.000mm" and root.get("height") == "10.000mm"   # 200 px at 10 px/mm
    href = root.find("{http://www.w3.org/2000/svg}image").get("{http://www.w3.org/1999/xlink}href")
    assert href.startswith("data:image/png;base64,")


def test_unknown_extension_is_one_message(tmp_path):
    from engine import ParameterError
    from viewer.figure_writer import write_figure

    with pytest.raises(ParameterError, match=r"\.tiff"):
        write_figure(str(tmp_path / "f.tiff"), np.zeros((20, 20, 3), np.uint8), 300)


# ---- the dialog on the real window ---------------------------------------------------------
def _dialog(win):
    from viewer.export_figure import open_dialog

    dlg = open_dialog(win)
    dlg.format.setCurrentText("PNG")
    dlg.keep_aspect.setChecked(True)
    return dlg


def test_dialog_cm_and_dpi_give_the_pixels_and_the_file(win, tmp_path):
    dlg = _dialog(win)
    dlg.view.setCurrentIndex(dlg.view.findData(0))
    dlg.unit.setCurrentText("cm")
    dlg.dpi.setValue(300)
    dlg.width_box.setValue(8.5)
    w, h = dlg.pixel_size()
    vw, vh = win.viewports.views[0].size()
    assert w == 1004 and abs(h - 1004 * vh / vw) <= 1       # the height follows the view's proportions
    path = tmp_path / "view1.png"
    assert dlg.export(str(path)), dlg.message.text()
    img = read_png(path)
    assert img.shape[:2] == (h, w)
    ppx, _, unit = struct.unpack(">IIB", png_chunks(path.read_bytes())[b"pHYs"])
    assert unit == 1 and ppx == 11811
    assert foreground(img).mean() > 0.01                     # the sample cloud is in it


def test_dialog_all_views_side_by_side_and_cropped(win, tmp_path):
    from viewer.export_figure import ALL_VIEWS

    dlg = _dialog(win)
    if win.viewports.count < 2:
        win.viewports.set_layout(2)
        dlg = _dialog(win)
    dlg.view.setCurrentIndex(dlg.view.findData(ALL_VIEWS))
    dlg.unit.setCurrentText("px")
    dlg.keep_aspect.setChecked(False)
    dlg.width_box.setValue(1200)
    dlg.height_box.setValue(400)
    dlg.crop.setChecked(False)
    assert dlg.export(str(tmp_path / "all.png")), dlg.message.text()
    assert read_png(tmp_path / "all.png").shape[:2] == (400, 1200)
    dlg.crop.setChecked(True)
    dlg.transparent.setChecked(True)
    assert dlg.export(str(tmp_path / "all_cropped.pdf")), dlg.message.text()
    assert (tmp_path / "all_cropped.pdf").read_bytes().startswith(b"%PDF")
    dlg.transparent.setChecked(False)
    dlg.crop.setChecked(False)


def test_dialog_absurd_size_and_unwritable_folder_are_one_message(win, tmp_path):
    dlg = _dialog(win)
    dlg.unit.setCurrentText("px")
    dlg.keep_aspect.setChecked(False)
    dlg.height_box.setValue(500)
    for width in (0, 50000):
        dlg.width_box.setValue(width)
        assert not dlg.export(str(tmp_path / "x.png"))
        assert "width" in dlg.message.text() and "10,000" in dlg.message.text()
        assert not (tmp_path / "x.png").exists()
    dlg.width_box.setValue(600)
    (tmp_path / "a_file").write_text("not a folder")
    assert not dlg.export(str(tmp_path / "a_file" / "x.png"))     # a folder that cannot exist
    assert "x.png" in dlg.message.text() and "\n" not in dlg.message.text().strip()
    assert win.isVisible()


def test_dialog_settings_persist(win, tmp_path):
    from viewer.export_figure import ExportFigureDialog

    dlg = _dialog(win)
    dlg.unit.setCurrentText("in")
    dlg.keep_aspect.setChecked(False)
    dlg.width_box.setValue(3.0)
    dlg.height_box.setValue(2.0)
    dlg.dpi.setValue(200)
    dlg.crop.setChecked(True)
    dlg.caption.setChecked(False)
    dlg.format.setCurrentText("SVG")
    assert dlg.export(str(tmp_path / "keep.svg")), dlg.message.text()
    again = ExportFigureDialog(win)
    try:
        assert again.unit.currentText() == "in" and again.dpi.value() == 200
        assert (again.width_box.value(), again.height_box.value()) == (3.0, 2.0)
        assert again.crop.isChecked() and not again.caption.isChecked() and again.format.currentText() == "SVG"
        assert again.path.text() == str(tmp_path / "figure.svg")
        assert again.pixel_size() == (600, 400)
    finally:
        again.deleteLater()
        dlg.crop.setChecked(False)
        dlg.caption.setChecked(True)


def test_all_views_keep_their_places_and_an_empty_view_draws_no_hint():
    """Two views side by side: the cloud of view 1 lands in the left half; view 2 is empty, and
    its on-screen hint ("method panels draw here") is not figure text, so the right half is blank."""
    from viewer import figure_writer as fw

    scene = cloud_scene()
    panels = [fw.Panel(0, None, (200, 200), (0.0, 0.0, 0.5, 1.0)), fw.Panel(1, None, (200, 200), (0.5, 0.0, 1.0, 1.0))]
    image = fw.render_figure(scene, panels, (400, 200), fw.Look())
    fg = foreground(image)
    assert image.shape[:2] == (200, 400)
    assert fg[:, :200].mean() > 0.01 and not fg[:, 200:].any()
