"""Publication figures from the live views: render off-screen at a chosen size, optionally crop to
the content, and write PNG (with its DPI in the pHYs chunk), SVG or PDF. No Qt here.

A figure N times the on-screen size is drawn with point sizes and fonts N times larger, so it
looks like the screen enlarged, not like the same dots and text lost in a bigger picture. Points
are pixel-sized sprites in VTK, so the figure draws a copy of the shown layers with their
``point_size`` scaled (the live scene is never touched) and passes the factor on as the
off-screen view's ``text_scale``.

SVG and PDF embed the rendered picture as a raster image at the chosen DPI (page size = pixels /
DPI): the sphere-shaded points are rasterised by OpenGL anyway, and an embedded image keeps the
exact pixels of the PNG. Both formats keep the alpha channel (PDF through a soft mask).
"""
from __future__ import annotations

import base64
import io
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine import ParameterError, atomic_path

from . import provenance
from .render_offscreen import OffscreenView
from .scene import PointsLayer, Scene, replace

UNITS = {"px": None, "cm": 2.54, "in": 1.0}   # centimetres (or inches) per inch
FORMATS = ("png", "svg", "pdf")
MIN_SIDE, MAX_SIDE = 16, 10000    # pixels; beyond 10,000 the GL frame buffer and memory give out
MIN_DPI, MAX_DPI = 30, 2400


def pixels(length: float, unit: str, dpi: float) -> int:
    """A length in ``unit`` (px, cm, in) at ``dpi`` as whole pixels (8.5 cm at 300 dpi -> 1004)."""
    if unit not in UNITS:
        raise ParameterError(f"unit '{unit}' is not one of {', '.join(UNITS)}", hint="choose px, cm or in")
    per_inch = UNITS[unit]
    return int(round(length)) if per_inch is None else int(round(length / per_inch * dpi))


def check_size(width: int, height: int, dpi: float) -> None:
    """One message for an absurd size or DPI, naming the field and the range that works."""
    for name, value in (("width", width), ("height", height)):
        if not MIN_SIDE <= value <= MAX_SIDE:
            raise ParameterError(f"figure {name} {value:,} px is outside {MIN_SIDE}–{MAX_SIDE:,} px",
                                 hint="choose a smaller size or a lower DPI")
    if not MIN_DPI <= dpi <= MAX_DPI:
        raise ParameterError(f"figure DPI {dpi:g} is outside {MIN_DPI}–{MAX_DPI}", hint="300 suits print, 600 line art")


@dataclass(frozen=True)
class Panel:
    """One view in the figure: the scene's ``view``, seen through ``camera`` (a camera from
    ``render.camera_of``, copied; None: the off-screen view's own), whose on-screen size was
    ``screen`` pixels, placed at ``rect`` = (x0, y0, x1, y1) of the figure, normalised, y up
    (the viewport layout's convention)."""
    view: int
    camera: object
    screen: tuple[int, int]
    rect: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)
    text_scale: float = 1.0      # the live view's own font factor (presenter mode)


@dataclass(frozen=True)
class Look:
    transparent: bool = False
    caption: bool = True
    colour_bar: bool = True      # the colour bar or the category legend
    edl: bool = False


def figure_scene(scene: Scene, factor: float) -> Scene:
    """A copy of what ``scene`` shows, with point sizes times ``factor`` (arrays are shared)."""
    out = Scene()
    for layer in scene.layers():
        if not scene.shown(layer):
            continue
        if isinstance(layer, PointsLayer):
            layer = replace(layer, point_size=float(layer.point_size) * factor)
        out.add(layer)
    return out


def _placement(rect, width: int, height: int) -> tuple[int, int, int, int]:
    """(top row, bottom row, left col, right col) of a normalised rect in a width x height image."""
    x0, y0, x1, y1 = rect
    return (int(round((1 - y1) * height)), int(round((1 - y0) * height)),
            int(round(x0 * width)), int(round(x1 * width)))


def render_panel(scene: Scene, panel: Panel, size: tuple[int, int], look: Look) -> np.ndarray:
    """One view at ``size`` (w, h) pixels as (h, w, 3|4) uint8; points and text scaled by the
    output's height over the view's on-screen height (the camera's view angle is vertical, so
    that is the factor the cloud itself grows by)."""
    factor = size[1] / max(1, panel.screen[1])
    with OffscreenView(figure_scene(scene, factor), panel.view, size, look.transparent,
                       text_scale=factor * panel.text_scale, edl=look.edl) as off:
        content = off.content
        # an empty view's caption is a hint for the screen ("method panels draw here"), not figure text
        content.show_caption(look.caption and bool(content.actors))
        if not look.colour_bar:
            # ViewContent has no switch for these; they stay hidden because nothing in the
            # figure's scene changes after this (a change would re-sync the decorations).
            for prop in (content.bar, content.bar_title, content.legend):
                prop.SetVisibility(False)
        return off.capture(panel.camera)


def render_figure(scene: Scene, panels: list[Panel], size: tuple[int, int], look: Look) -> np.ndarray:
    """The panels laid out in one (h, w, 3|4) picture of ``size`` (w, h) pixels."""
    width, height = int(size[0]), int(size[1])
    image = None
    for panel in panels:
        top, bottom, left, right = _placement(panel.rect, width, height)
        part = render_panel(scene, panel, (right - left, bottom - top), look)
        if image is None:   # the first panel's corner is the background every panel shares
            image = np.empty((height, width, part.shape[2]), np.uint8)
            image[:] = part[0, 0]
        image[top:bottom, left:right] = part
    if image is None:
        raise ParameterError("the figure has no views to draw", hint="choose a view or 'all views'")
    return image


def crop_to_content(image: np.ndarray, margin: int) -> np.ndarray:
    """Trim the uniform background around the content (background = transparent pixels in an
    image with alpha, else the top-left pixel's colour), then add ``margin`` pixels of
    background on every side, so the margin is even whatever the original framing."""
    if image.shape[2] == 4:
        background = np.zeros(4, np.uint8)
        content = image[..., 3] > 0
    else:
        background = image[0, 0].copy()
        content = np.any(image != background, axis=2)
    rows, cols = np.flatnonzero(content.any(axis=1)), np.flatnonzero(content.any(axis=0))
    if rows.size == 0:      # nothing drawn: keep the picture as it is
        return image
    inner = image[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    m = max(0, int(margin))
    out = np.empty((inner.shape[0] + 2 * m, inner.shape[1] + 2 * m, image.shape[2]), np.uint8)
    out[:] = background
    out[m:m + inner.shape[0], m:m + inner.shape[1]] = inner
    return out


# ---- writers ---------------------------------------------------------------------------------
def png_bytes(image: np.ndarray, dpi: float, prov: dict | None = None) -> bytes:
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Software", provenance.TOOL)
    if prov is not None:
        info.add_itxt(provenance.KEY, provenance.dumps(prov))
    buf = io.BytesIO()
    # PIL writes dpi as the pHYs chunk in pixels per metre (300 dpi -> 11811)
    Image.fromarray(image).save(buf, format="PNG", dpi=(float(dpi), float(dpi)), pnginfo=info)
    return buf.getvalue()


def svg_bytes(image: np.ndarray, dpi: float, prov: dict | None = None) -> bytes:
    """An SVG page of the picture's physical size holding it as an embedded PNG."""
    from xml.sax.saxutils import escape

    h, w = image.shape[:2]
    data = base64.b64encode(png_bytes(image, dpi)).decode("ascii")
    mm = 25.4 / dpi
    meta = f"<metadata>{escape(provenance.dumps(prov))}</metadata>\n" if prov is not None else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" version="1.1" '
            f'width="{w * mm:.3f}mm" height="{h * mm:.3f}mm" viewBox="0 0 {w} {h}">\n'
            f'<title>{escape(provenance.TOOL)} figure</title>\n{meta}'
            f'<image x="0" y="0" width="{w}" height="{h}" preserveAspectRatio="none" '
            f'xlink:href="data:image/png;base64,{data}"/>\n</svg>\n').encode("utf-8")


def _pdf_text(text: str) -> bytes:
    """A PDF text string that holds any Unicode: UTF-16BE with its byte-order mark, in hex."""
    return b"<" + ("\ufeff" + text).encode("utf-16-be").hex().upper().encode("ascii") + b">"


def pdf_bytes(image: np.ndarray, dpi: float, prov: dict | None = None) -> bytes:
    """A one-page PDF of the picture's physical size (1 pt = 1/72 in) drawing it as an image
    XObject, Flate-compressed; the alpha channel becomes a soft mask."""
    h, w = image.shape[:2]
    pw, ph = w * 72.0 / dpi, h * 72.0 / dpi
    rgb = np.ascontiguousarray(image[..., :3])
    alpha = image.shape[2] == 4
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {pw:.4f} {ph:.4f}] "
        f"/Resources << /XObject << /Im0 5 0 R >> >> /Contents 4 0 R >>".encode("ascii"),
    ]
    content = f"q {pw:.4f} 0 0 {ph:.4f} 0 0 cm /Im0 Do Q".encode("ascii")
    objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")

    def image_object(pixels: np.ndarray, space: str, extra: str = "") -> bytes:
        data = zlib.compress(pixels.tobytes(), 6)
        head = (f"<< /Type /XObject /Subtype /Image /Width {w} /Height {h} /ColorSpace /{space} "
                f"/BitsPerComponent 8 /Filter /FlateDecode{extra} /Length {len(data)} >>\nstream\n")
        return head.encode("ascii") + data + b"\nendstream"

    objects.append(image_object(rgb, "DeviceRGB", " /SMask 6 0 R" if alpha else ""))
    if alpha:
        objects.append(image_object(np.ascontiguousarray(image[..., 3]), "DeviceGray"))
    info = b"<< /Producer " + _pdf_text(provenance.TOOL)
    if prov is not None:
        info += b" /Subject " + _pdf_text(provenance.dumps(prov))
    objects.append(info + b" >>")

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, len(objects), xref)
    return bytes(out)


WRITERS = {"png": png_bytes, "svg": svg_bytes, "pdf": pdf_bytes}


def format_of(path: str) -> str:
    ext = Path(path).suffix.lower().lstrip(".")
    if ext not in WRITERS:
        raise ParameterError(f"{path}: '.{ext}' is not a figure format", hint="name the file .png, .svg or .pdf")
    return ext


def write_figure(path: str, image: np.ndarray, dpi: float, prov: dict | None = None) -> str:
    """Encode ``image`` in the format its extension names and write it atomically; returns the
    format. Raises the engine's one-line DataError for an unwritable place."""
    fmt = format_of(path)
    data = WRITERS[fmt](image, dpi, prov)
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(data)
    return fmt
