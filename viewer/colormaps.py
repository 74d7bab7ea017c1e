"""Colour maps: colour-blind-safe defaults, chosen by what a scalar is (Qt-free, VTK-free).

Sequential scalars (saliency, error, density) default to viridis; signed scalars (a difference,
a signed attribution) to a diverging map centred on zero; labels and partitions to a categorical
palette (Okabe-Ito for up to 8 classes, Paul Tol's "muted" for up to 10, then tab20-like cycling)
with a legend. Tables are stored in ``colormap_tables`` so start-up never imports matplotlib.
"""
from __future__ import annotations

import numpy as np

from .colormap_tables import _TABLES

SEQUENTIAL = ("viridis", "cividis", "plasma", "magma")
DIVERGING = ("RdBu_r", "PuOr_r")
CATEGORICAL = ("okabe-ito", "tol-muted", "kept-masked-bias", "dimmed-highlight")
CONTINUOUS = SEQUENTIAL + DIVERGING
ALL = CONTINUOUS + CATEGORICAL

# Okabe & Ito (2008), "Color Universal Design": distinguishable under the common colour-vision
# deficiencies. Black is left out (it vanishes against dark points); grey stands in.
# PointMask's kept / masked / bias. The paper draws masked points black; black vanishes on the
# high-contrast (black) viewports, so masked is the grey with equal contrast against white and
# black (#767676: WCAG contrast 4.5:1 on both); blue and red reach 3.8:1 or more on both.
KEPT_MASKED_BIAS = ("#0072B2", "#767676", "#D55E00")
# One category picked out of the rest (0 = the rest, 1 = the pick): light grey recedes, Okabe-Ito
# vermillion stands out, also to the colour-blind.
DIMMED_HIGHLIGHT = ("#BEBEBE", "#D55E00")
OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#999999")
# Paul Tol's "muted" qualitative scheme (10 colours incl. pale grey), colour-blind safe.
TOL_MUTED = ("#CC6677", "#332288", "#DDCC77", "#117733", "#88CCEE", "#882255", "#44AA99",
             "#999933", "#AA4499", "#DDDDDD")
# Beyond 10 categories nothing stays colour-blind safe; these extend the muted scheme.
EXTRA = ("#1F77B4", "#FF7F0E", "#2CA02C", "#D62728", "#9467BD", "#8C564B", "#E377C2", "#7F7F7F",
         "#BCBD22", "#17BECF", "#AEC7E8", "#FFBB78", "#98DF8A", "#FF9896", "#C5B0D5", "#C49C94")


def _hex_to_rgb(h: str) -> tuple[int, int, int]:
    h = h.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def table(name: str, n: int = 256) -> np.ndarray:
    """(n, 3) uint8 RGB table of a continuous map; unknown names fall back to viridis."""
    hexes = _TABLES.get(name) or _TABLES["viridis"]
    rgb = np.frombuffer(bytes.fromhex("".join(hexes)), dtype=np.uint8).reshape(256, 3)
    if n == 256:
        return rgb.copy()
    x = np.linspace(0, 255, n)
    return np.stack([np.interp(x, np.arange(256), rgb[:, c]) for c in range(3)], 1).round().astype(np.uint8)


def categorical_colors(count: int, name: str = "") -> np.ndarray:
    """(count, 3) uint8 colours for ``count`` categories, as distinct as the palette allows."""
    if name == "kept-masked-bias":      # PointMask paper Fig. 3: blue kept, masked (black there; grey here), red bias
        base = KEPT_MASKED_BIAS + OKABE_ITO
    elif name == "dimmed-highlight":
        base = DIMMED_HIGHLIGHT + OKABE_ITO
    elif name == "okabe-ito" or (not name and count <= len(OKABE_ITO)):
        base = OKABE_ITO
    else:
        base = TOL_MUTED + EXTRA
    return np.array([_hex_to_rgb(base[i % len(base)]) for i in range(max(count, 0))], dtype=np.uint8).reshape(-1, 3)


def default_cmap(kind: str) -> str:
    """Default map for a scalar kind: 'continuous', 'signed' or 'categorical'."""
    return {"signed": "RdBu_r", "categorical": "okabe-ito"}.get(kind, "viridis")


def choices_for(kind: str) -> tuple[str, ...]:
    """Maps that make sense for a scalar kind (a categorical map on a continuous field does not)."""
    return CATEGORICAL if kind == "categorical" else CONTINUOUS


def auto_clim(values: np.ndarray, kind: str) -> tuple[float, float]:
    """Colour limits: data min..max; symmetric about 0 for signed scalars; never degenerate."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return (0.0, 1.0)
    if kind == "signed":
        m = float(np.abs(v).max()) or 1.0
        return (-m, m)
    lo, hi = float(v.min()), float(v.max())
    if hi <= lo:
        hi = lo + 1.0 if lo == 0 else lo + abs(lo) * 1e-6 + 1e-12
    return (lo, hi)


def map_values(values: np.ndarray, name: str, clim: tuple[float, float]) -> np.ndarray:
    """(N, 3) uint8 colours for values through a continuous map (used by tests and legends)."""
    rgb = table(name)
    lo, hi = clim
    t = (np.asarray(values, dtype=np.float64) - lo) / ((hi - lo) or 1.0)
    idx = np.clip(np.nan_to_num(t, nan=0.0) * 255.0, 0, 255).round().astype(np.int64)
    return rgb[idx]
