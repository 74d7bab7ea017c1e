"""Provenance stamped on every exported image, table and movie (Qt-free).

Each export carries one JSON dict that says what made it: the tool and version, when, the method
and its parameters, the checkpoint and dataset with their fingerprints, the sample, and whatever
the caller adds (viewport layers, frame counts ...). It travels

- in a PNG as a text chunk ``PointLens-provenance`` (plus the standard ``Software`` key), so
  the image alone is enough to reproduce it;
- in a CSV as a first comment line ``# provenance: {json}`` (spreadsheet tools skip or show it;
  ``read_csv`` strips it);
- beside an MP4/GIF as ``PATH.provenance.json`` (neither container has a portable text field).

All writes are atomic (engine.atomic.atomic_path): a crash leaves the previous file intact.
"""
from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import math
import os
from typing import Any

from engine import __version__
from engine import atomic_path
from engine import DataError

KEY = "PointLens-provenance"
CSV_PREFIX = "# provenance: "
SIDECAR_SUFFIX = ".provenance.json"
TOOL = f"PointLens {__version__}"

# Session.provenance() names -> the names exports use (the brief's vocabulary).
_RENAMES = {"dataset": "data", "dataset_fingerprint": "data_fingerprint"}


def json_safe(value: Any) -> Any:
    """Plain JSON values only: numpy scalars/arrays -> numbers/lists, NaN/inf -> None (JSON has
    no NaN; a strict reader rejects it), tuples/sets -> lists, paths and other objects -> str."""
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy is a hard dependency of the engine
        np = None
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if np is not None:
        if isinstance(value, np.bool_):
            return bool(value)
        if isinstance(value, np.integer):
            return int(value)
        if isinstance(value, np.floating):
            return json_safe(float(value))
        if isinstance(value, np.ndarray):
            return [json_safe(v) for v in value.tolist()] if value.ndim else json_safe(value.item())
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_safe(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        import dataclasses

        return json_safe(dataclasses.asdict(value))
    return str(value)


def describe(method: str, params: dict | None = None, session_prov: dict | None = None, **extra) -> dict:
    """The provenance dict of one export. ``session_prov`` is ``Session.provenance()`` (its
    dataset keys are renamed to data/data_fingerprint); ``extra`` adds anything else (layers,
    view, frames). Always has the keys tool, created, method, params, checkpoint,
    checkpoint_fingerprint, data, data_fingerprint, sample (None where unknown)."""
    out: dict[str, Any] = {
        "tool": TOOL,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "method": method,
        "params": dict(params or {}),
        "checkpoint": None, "checkpoint_fingerprint": None,
        "data": None, "data_fingerprint": None, "sample": None,
    }
    for k, v in (session_prov or {}).items():
        out[_RENAMES.get(k, k)] = v
    out.update(extra)
    return json_safe(out)


def dumps(prov: dict) -> str:
    """Compact, single-line, strict JSON (allow_nan=False: json_safe removed NaN already)."""
    return json.dumps(json_safe(prov), separators=(",", ":"), allow_nan=False, sort_keys=False)


# ---- PNG ---------------------------------------------------------------------------------------
def _png_info(prov: dict, keep: dict | None = None):
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    for k, v in (keep or {}).items():
        if k not in (KEY, "Software"):
            info.add_itxt(k, str(v))
    info.add_text("Software", TOOL)
    info.add_itxt(KEY, dumps(prov))
    return info


def write_png(path: str, rgb, prov: dict) -> None:
    """An (H, W, 3|4) uint8 image as a PNG carrying ``prov``: encoded once, written atomically."""
    from PIL import Image

    with atomic_path(path, suffix=".png") as tmp:
        Image.fromarray(rgb).save(tmp, format="PNG", pnginfo=_png_info(prov))


def stamp_png(path: str, prov: dict) -> None:
    """Rewrite the PNG at ``path`` with the provenance as an iTXt chunk (UTF-8; keeps other text
    chunks the file had). Pixels are unchanged (PNG is lossless)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.load()
            info = _png_info(prov, getattr(im, "text", None))
            if im.format != "PNG":
                raise DataError(f"{path}: is a {im.format} image, not a PNG",
                                hint="save screenshots with a .png name to carry provenance")
            with atomic_path(path) as tmp:
                im.save(tmp, format="PNG", pnginfo=info)
    except OSError as e:
        raise DataError(f"{path}: could not stamp provenance: {e}",
                        hint="check that the file is a PNG and the folder is writable") from e


def read_png_provenance(path: str) -> dict:
    """The provenance dict stamped in a PNG ({} when the PNG has none)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.load()  # text chunks after the image data are read only with the pixels
            text = dict(getattr(im, "text", None) or {})
    except OSError as e:
        raise DataError(f"{path}: not a readable PNG: {e}", hint="pick a PNG saved by PointLens") from e
    raw = text.get(KEY)
    if raw is None:
        return {}
    try:
        return json.loads(raw)
    except ValueError as e:
        raise DataError(f"{path}: the {KEY} text chunk is not JSON: {e}",
                        hint="the image was edited by another tool; re-export it from PointLens") from e


# ---- CSV ---------------------------------------------------------------------------------------
def write_csv(path: str, header: list[str], rows: list[list], prov: dict) -> None:
    """A CSV whose first line is ``# provenance: {json}``; cells are written as JSON-safe values
    (NaN -> empty cell, numpy numbers -> numbers)."""
    buf = io.StringIO()
    buf.write(CSV_PREFIX + dumps(prov) + "\n")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([str(h) for h in header])
    for r in rows:
        w.writerow(["" if c is None else c for c in json_safe(list(r))])
    try:
        with atomic_path(path) as tmp:
            with open(tmp, "w", encoding="utf-8", newline="") as f:
                f.write(buf.getvalue())
    except OSError as e:
        raise DataError(f"{path}: could not write the table: {e}", hint="choose a writable folder") from e


def read_csv(path: str) -> tuple[dict, list[str], list[list[str]]]:
    """(provenance, header, rows as strings) of a CSV written by ``write_csv``; a plain CSV
    without the provenance line gives ({}, header, rows)."""
    try:
        with open(path, encoding="utf-8", newline="") as f:
            text = f.read()
    except OSError as e:
        raise DataError(f"{path}: could not read the table: {e}", hint="check the path") from e
    prov: dict = {}
    if text.startswith(CSV_PREFIX):
        first, _, text = text.partition("\n")
        try:
            prov = json.loads(first[len(CSV_PREFIX):])
        except ValueError as e:
            raise DataError(f"{path}: line 1: the provenance is not JSON: {e}",
                            hint="the file was edited by hand; re-export it") from e
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return prov, [], []
    return prov, rows[0], rows[1:]


# ---- sidecar (MP4/GIF) -------------------------------------------------------------------------
def sidecar_path(path: str) -> str:
    return os.fspath(path) + SIDECAR_SUFFIX


def sidecar(path: str, prov: dict) -> str:
    """Write ``PATH.provenance.json`` atomically; returns its path."""
    out = sidecar_path(path)
    try:
        with atomic_path(out) as tmp:
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(json_safe(prov), f, indent=1, allow_nan=False)
                f.write("\n")
    except OSError as e:
        raise DataError(f"{out}: could not write the provenance: {e}", hint="choose a writable folder") from e
    return out


def read_sidecar(path: str) -> dict:
    """The provenance beside a movie (``path`` is the movie or the sidecar itself)."""
    p = os.fspath(path)
    p = p if p.endswith(SIDECAR_SUFFIX) else sidecar_path(p)
    try:
        with open(p, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise DataError(f"{p}: no readable provenance: {e}", hint="the movie was not saved by PointLens") from e


# ---- what a window shows -------------------------------------------------------------------------
def layers_shown(scene, view: int | None = None) -> list[dict]:
    """Visible layers (of one view, or all): name, view, title, and the active scalar's title."""
    out = []
    for layer in scene.layers(view):
        if not getattr(layer, "visible", True):
            continue
        d = {"name": layer.name, "view": layer.view, "title": layer.title}
        active = getattr(layer, "active_scalar", None)
        s = active() if callable(active) else None
        if s is not None:
            d["colour"] = s.title or getattr(layer, "active", "")
        out.append(d)
    return out


def visible_panel(window):
    """The method panel on the window's current tab (None for the Layers tab or no window)."""
    tabs = getattr(window, "tabs", None)
    if tabs is None:
        return None
    w = tabs.currentWidget()
    inner = w.widget() if w is not None and hasattr(w, "widget") else w
    return inner if inner in getattr(window, "method_panels", []) else None


def for_window(window, export: str, view: int | None = None, **extra) -> dict:
    """Provenance of an export from the main window: the session (data, sample, checkpoint),
    the visible method panel, the newest result's method and parameters, and the layers the
    exported view(s) show. Duck-typed on MainWindow so this module stays Qt-free."""
    session = window.session
    panel = visible_panel(window)
    results = list(getattr(session, "results", []) or [])
    method, params, result_info = (getattr(panel, "name", None) or "view"), {}, None
    if results:
        title, res = results[-1]
        params = dict(res.params or {})
        result_info = {"title": title, "kind": res.kind}
        method = res.kind if panel is None else method
    vp = getattr(window, "viewports", None)
    return describe(method, params, session.provenance(), export=export,
                    panel=getattr(panel, "title", None), result=result_info,
                    view=None if view is None else view + 1,
                    layout=getattr(vp, "count", None),
                    layers=layers_shown(window.scene, view), **extra)
