"""The ten ModelNet10-like classes of the built-in dataset, each assembled from parts.

Coordinates in metres-like units, z up, the front facing +x, the long side along y (as the
ModelNet10 files). Every size is drawn from a range, part counts vary (legs,
drawers, cushions, pillows ...) and several classes have structural variants, so the classes
overlap in their simple statistics (a dresser and a night stand differ mostly in proportion,
a desk and a table in what holds the top up) and a classifier has to look at the structure.
"""
from __future__ import annotations

import numpy as np

from engine.data.primitives import Parts

CLASSES = ["bathtub", "bed", "chair", "desk", "dresser", "monitor", "night_stand", "sofa", "table", "toilet"]


def _legs(p: Parts, rng, xs, ys, h, z0=0.0, r=None, square=None):
    """Legs at the corners (xs, ys): round or square, one style per piece of furniture."""
    r = r if r is not None else rng.uniform(0.015, 0.035)
    square = rng.random() < 0.4 if square is None else square
    for x in xs:
        for y in ys:
            if square:
                p.box((x, y, z0 + h / 2), (2 * r, 2 * r, h), skip="-z+z")
            else:
                p.cylinder((x, y, z0), r, h, caps=False)


def bathtub(p: Parts, rng):
    L, W, H = rng.uniform(1.3, 1.9), rng.uniform(0.65, 0.95), rng.uniform(0.38, 0.62)
    t = rng.uniform(0.05, 0.12)
    z0 = rng.uniform(0.08, 0.18) if rng.random() < 0.3 else 0.0   # on feet
    p.box((0, 0, z0 + H / 2), (W, L, H), skip="+z")
    depth = H * rng.uniform(0.75, 0.92)
    p.box((0, 0, z0 + H - depth / 2), (W - 2 * t, L - 2 * t, depth), skip="+z")
    for sx, sy, cx, cy in ((W, t, 0, (L - t) / 2), (W, t, 0, -(L - t) / 2),
                           (t, L - 2 * t, (W - t) / 2, 0), (t, L - 2 * t, -(W - t) / 2, 0)):
        p.rect((cx - sx / 2, cy - sy / 2, z0 + H), (sx, 0, 0), (0, sy, 0))   # the rim
    if z0:
        _legs(p, rng, (-W / 2 + 0.08, W / 2 - 0.08), (-L / 2 + 0.1, L / 2 - 0.1), z0, r=0.04, square=False)
    if rng.random() < 0.4:   # a tap at one end
        p.cylinder((0, -L / 2 + t / 2, z0 + H), 0.02, rng.uniform(0.1, 0.25), caps=False)


def bed(p: Parts, rng):
    L, W = rng.uniform(1.9, 2.3), rng.uniform(0.9, 1.9)
    legs = rng.uniform(0.06, 0.2) if rng.random() < 0.5 else 0.0
    hf = rng.uniform(0.12, 0.3)
    p.box((0, 0, legs + hf / 2), (W, L, hf), skip="" if legs else "-z")
    hm = rng.uniform(0.12, 0.3)
    inset = rng.uniform(0.0, 0.05)
    p.box((0, 0.02, legs + hf + hm / 2), (W - 2 * inset, L - 0.06 - 2 * inset, hm), skip="-z")
    if legs:
        _legs(p, rng, (-W / 2 + 0.05, W / 2 - 0.05), (-L / 2 + 0.05, L / 2 - 0.05), legs)
    hh, th = rng.uniform(0.7, 1.3), rng.uniform(0.04, 0.1)
    p.box((0, -L / 2 - th / 2, hh / 2), (W + rng.uniform(0, 0.1), th, hh))
    if rng.random() < 0.5:   # footboard
        hfb = rng.uniform(0.35, 0.7)
        p.box((0, L / 2 + th / 2, hfb / 2), (W, th, hfb))
    top = legs + hf + hm
    for k in range(rng.integers(0, 3)):   # pillows
        pw = W / 2 - 0.1 if W > 1.3 else W - 0.2
        px = 0 if W <= 1.3 else (-W / 4 if k == 0 else W / 4)
        p.zone((px, -L / 2 + 0.3, top + 0.02), (pw / 2, 0.18, rng.uniform(0.05, 0.09)), -0.2, 1.0)


def chair(p: Parts, rng):
    sx, sy = rng.uniform(0.4, 0.58), rng.uniform(0.4, 0.58)
    hs, ts = rng.uniform(0.38, 0.5), rng.uniform(0.03, 0.09)
    p.box((0, 0, hs - ts / 2), (sx, sy, ts))
    inset = rng.uniform(0.02, 0.05)
    if rng.random() < 0.2:   # pedestal chair: a column on a star/disc base
        p.cylinder((0, 0, 0.06), 0.03, hs - ts - 0.06, caps=False)
        p.disc((0, 0, 0.06), 0.3, 0.3)
        p.cylinder((0, 0, 0), 0.3, 0.06, caps=False)
    else:
        _legs(p, rng, (-sx / 2 + inset, sx / 2 - inset), (-sy / 2 + inset, sy / 2 - inset), hs - ts)
    hb, tb = rng.uniform(0.35, 0.62), rng.uniform(0.025, 0.06)
    lean = rng.uniform(0.0, 0.08)
    bx = -sx / 2 + tb / 2 - lean / 2
    if rng.random() < 0.3:   # slatted back: two posts and 2-4 slats
        for y in (-sy / 2 + 0.03, sy / 2 - 0.03):
            p.box((bx, y, hs + hb / 2), (tb, 0.04, hb))
        for k in range(rng.integers(2, 5)):
            p.box((bx, 0, hs + hb * (0.3 + 0.65 * k / 4)), (tb, sy - 0.06, 0.05))
    else:
        p.box((bx, 0, hs + hb / 2), (tb, sy * rng.uniform(0.8, 1.0), hb))
    if rng.random() < 0.3:   # armrests on posts
        ha = rng.uniform(0.18, 0.26)
        for y in (-sy / 2, sy / 2):
            p.box((0, y, hs + ha), (sx * 0.9, 0.05, 0.03))
            p.box((sx * 0.35, y, hs + ha / 2), (0.03, 0.03, ha), skip="-z+z")


def _drawers(p: Parts, rng, x_front, y0, y1, z0, z1, cols, rows):
    gap, th = 0.012, 0.018
    w, h = (y1 - y0) / cols, (z1 - z0) / rows
    for i in range(cols):
        for j in range(rows):
            p.box((x_front + th / 2, y0 + (i + 0.5) * w, z0 + (j + 0.5) * h), (th, w - gap, h - gap), skip="-x")


def desk(p: Parts, rng):
    W, D = rng.uniform(1.0, 1.7), rng.uniform(0.5, 0.8)
    H, t = rng.uniform(0.7, 0.78), rng.uniform(0.025, 0.05)
    p.box((0, 0, H - t / 2), (D, W, t))
    tp = rng.uniform(0.025, 0.05)
    style = rng.random()
    if style < 0.2:         # writing desk: four legs and a shallow centre drawer, like a table
        _legs(p, rng, (-D / 2 + 0.04, D / 2 - 0.04), (-W / 2 + 0.04, W / 2 - 0.04), H - t)
        p.box((D / 2 - 0.25, 0, H - t - 0.05), (0.5, W * rng.uniform(0.3, 0.6), 0.1), skip="+z")
    elif style < 0.55:      # two side panels
        for y in (-W / 2 + tp / 2, W / 2 - tp / 2):
            p.box((0, y, (H - t) / 2), (D * 0.95, tp, H - t), skip="+z")
    else:                   # a drawer pedestal on one side, a panel or two legs on the other
        pw = rng.uniform(0.35, 0.5)
        side = 1 if rng.random() < 0.5 else -1
        cy = side * (W / 2 - pw / 2)
        p.box((0, cy, (H - t) / 2), (D * 0.95, pw, H - t), skip="+z")
        _drawers(p, rng, D * 0.475, cy - pw / 2, cy + pw / 2, 0.05, H - t - 0.02, 1, int(rng.integers(2, 5)))
        if style < 0.75:
            p.box((0, -side * (W / 2 - tp / 2), (H - t) / 2), (D * 0.95, tp, H - t), skip="+z")
        else:
            _legs(p, rng, (-D / 2 + 0.04, D / 2 - 0.04), (-side * (W / 2 - 0.04),), H - t)
    if rng.random() < 0.7:  # modesty panel at the back
        hp = rng.uniform(0.25, 0.5)
        p.box((-D / 2 + 0.05, 0, H - t - hp / 2), (0.02, W - 0.1, hp))
    if rng.random() < 0.25:  # a hutch shelf on the back edge
        hh = rng.uniform(0.25, 0.45)
        p.box((-D / 2 + 0.12, 0, H + hh), (0.24, W, 0.025))
        for y in (-W / 2 + 0.015, W / 2 - 0.015):
            p.box((-D / 2 + 0.12, y, H + hh / 2), (0.24, 0.025, hh), skip="-z+z")


def dresser(p: Parts, rng):
    W, D, H = rng.uniform(0.7, 1.7), rng.uniform(0.4, 0.6), rng.uniform(0.7, 1.35)
    feet = rng.uniform(0.04, 0.12) if rng.random() < 0.5 else 0.0
    p.box((0, 0, feet + H / 2), (D, W, H), skip="-z" if not feet else "")
    if feet:
        _legs(p, rng, (-D / 2 + 0.04, D / 2 - 0.04), (-W / 2 + 0.04, W / 2 - 0.04), feet, r=0.03)
    cols = int(rng.integers(1, 4)) if W > 1.0 else int(rng.integers(1, 3))
    rows = int(rng.integers(3, 6))
    _drawers(p, rng, D / 2, -W / 2 + 0.03, W / 2 - 0.03, feet + 0.04, feet + H - 0.04, cols, rows)
    if rng.random() < 0.5:   # overhanging top
        p.box((0.01, 0, feet + H + 0.015), (D + 0.04, W + 0.04, 0.03), skip="-z")
    if rng.random() < 0.2:   # a mirror on the back
        hm = rng.uniform(0.5, 0.9)
        p.box((-D / 2 + 0.02, 0, feet + H + hm / 2), (0.03, W * rng.uniform(0.6, 0.9), hm))


def night_stand(p: Parts, rng):
    W, D, H = rng.uniform(0.38, 0.8), rng.uniform(0.33, 0.55), rng.uniform(0.42, 0.8)
    legs = rng.uniform(0.05, 0.18) if rng.random() < 0.5 else 0.0
    z0 = legs
    if legs:
        _legs(p, rng, (-D / 2 + 0.03, D / 2 - 0.03), (-W / 2 + 0.03, W / 2 - 0.03), legs, r=0.02)
    if rng.random() < 0.45:   # an open shelf below one or two drawers
        ndr = int(rng.integers(1, 3))
        split = z0 + H * rng.uniform(0.45, 0.65)
        p.box((0, 0, z0 + H / 2), (D, W, H), skip="+x" + ("" if legs else "-z"))
        p.rect((D / 2, -W / 2, split), (0, W, 0), (0, 0, z0 + H - split))   # front above the opening
        p.rect((-D / 2, -W / 2 + 0.02, split), (D - 0.02, 0, 0), (0, W - 0.04, 0))   # shelf board
        _drawers(p, rng, D / 2, -W / 2 + 0.02, W / 2 - 0.02, split + 0.02, z0 + H - 0.02, 1, ndr)
    else:
        p.box((0, 0, z0 + H / 2), (D, W, H), skip="" if legs else "-z")
        _drawers(p, rng, D / 2, -W / 2 + 0.02, W / 2 - 0.02, z0 + 0.03, z0 + H - 0.03, 1, int(rng.integers(1, 4)))
    if rng.random() < 0.4:
        p.box((0.01, 0, z0 + H + 0.012), (D + 0.03, W + 0.03, 0.024), skip="-z")


def monitor(p: Parts, rng):
    W = rng.uniform(0.42, 0.8)
    Hs, ts = W * rng.uniform(0.55, 0.8), rng.uniform(0.02, 0.06)
    hb = rng.uniform(0.08, 0.25)
    p.box((0, 0, hb + Hs / 2), (ts, W, Hs))
    if rng.random() < 0.3:   # CRT-style back
        dd = rng.uniform(0.1, 0.35)
        p.box((-ts / 2 - dd / 2, 0, hb + Hs / 2), (dd, W * 0.7, Hs * 0.7), skip="+x")
    neck_x = -ts / 2 - 0.03
    p.box((neck_x, 0, (hb + Hs / 3) / 2), (0.03, rng.uniform(0.04, 0.1), hb + Hs / 3), skip="-z+z")
    if rng.random() < 0.5:
        r = rng.uniform(0.1, 0.18)
        p.cylinder((neck_x, 0, 0), r, 0.02)
    else:
        bd, bw = rng.uniform(0.15, 0.25), rng.uniform(0.2, 0.4)
        p.box((neck_x, 0, 0.01), (bd, bw, 0.02))


def sofa(p: Parts, rng):
    W, D = rng.uniform(1.5, 2.4), rng.uniform(0.75, 1.0)
    hs = rng.uniform(0.35, 0.48)
    hc = rng.uniform(0.08, 0.18)
    legs = rng.uniform(0.05, 0.12) if rng.random() < 0.4 else 0.0
    tb, hbk = rng.uniform(0.15, 0.28), rng.uniform(0.7, 0.95)
    arms = rng.random() < 0.85
    ta = rng.uniform(0.1, 0.25) if arms else 0.0
    p.box((0, 0, legs + (hs - hc - legs) / 2), (D, W, hs - hc - legs), skip="" if legs else "-z")
    if legs:
        _legs(p, rng, (-D / 2 + 0.05, D / 2 - 0.05), (-W / 2 + 0.05, W / 2 - 0.05), legs, r=0.025)
    n = int(rng.integers(1, 4))
    cw = (W - 2 * ta) / n
    for k in range(n):
        p.box((tb / 2, -W / 2 + ta + (k + 0.5) * cw, hs - hc / 2), (D - tb - 0.01, cw - 0.01, hc), skip="-z")
    p.box((-D / 2 + tb / 2, 0, legs + (hbk - legs) / 2), (tb, W, hbk - legs))
    if arms:
        ha = rng.uniform(0.5, 0.7)
        for y in (-W / 2 + ta / 2, W / 2 - ta / 2):
            p.box((0, y, legs + (ha - legs) / 2), (D, ta, ha - legs))
    if rng.random() < 0.5:   # back cushions
        for k in range(n):
            p.box((-D / 2 + tb + 0.06, -W / 2 + ta + (k + 0.5) * cw, hs + 0.2), (0.12, cw - 0.02, 0.38))


def table(p: Parts, rng):
    H = rng.uniform(0.68, 0.78) if rng.random() < 0.8 else rng.uniform(0.4, 0.5)   # some coffee tables
    t = rng.uniform(0.025, 0.06)
    if rng.random() < 0.3:   # round top
        R = rng.uniform(0.4, 0.65)
        p.cylinder((0, 0, H - t), R, t)
        if rng.random() < 0.5:
            p.cylinder((0, 0, 0.03), rng.uniform(0.04, 0.08), H - t - 0.03, caps=False)
            p.cylinder((0, 0, 0), rng.uniform(0.2, 0.35), 0.03)
        else:
            a = R * 0.6
            n = int(rng.integers(3, 5))
            ang = np.arange(n) * 2 * np.pi / n + rng.uniform(0, np.pi)
            for ca, sa in zip(np.cos(ang), np.sin(ang)):
                p.cylinder((a * ca, a * sa, 0), rng.uniform(0.015, 0.03), H - t, caps=False)
        return
    W, D = rng.uniform(0.8, 1.8), rng.uniform(0.6, 1.0)
    p.box((0, 0, H - t / 2), (D, W, t))
    inset = rng.uniform(0.03, 0.1)
    _legs(p, rng, (-D / 2 + inset, D / 2 - inset), (-W / 2 + inset, W / 2 - inset), H - t)
    if rng.random() < 0.5:   # apron
        ha = rng.uniform(0.06, 0.12)
        for y in (-W / 2 + inset, W / 2 - inset):
            p.rect((-D / 2 + inset, y, H - t - ha), (D - 2 * inset, 0, 0), (0, 0, ha))
        for x in (-D / 2 + inset, D / 2 - inset):
            p.rect((x, -W / 2 + inset, H - t - ha), (0, W - 2 * inset, 0), (0, 0, ha))
    if rng.random() < 0.15:  # a drawer under the top, like a desk
        p.box((D / 2 - 0.2, 0, H - t - 0.05), (0.4, W * rng.uniform(0.25, 0.5), 0.1), skip="+z")
    if rng.random() < 0.2:   # lower shelf
        p.rect((-D / 2 + inset, -W / 2 + inset, rng.uniform(0.1, 0.25)), (D - 2 * inset, 0, 0), (0, W - 2 * inset, 0))


def toilet(p: Parts, rng):
    hs = rng.uniform(0.38, 0.46)
    rx, ry, rz = rng.uniform(0.2, 0.3), rng.uniform(0.16, 0.22), rng.uniform(0.18, 0.28)
    p.zone((0.05, 0, hs), (rx, ry, rz), -1.0, 0.0)   # the bowl: lower half of an ellipsoid
    p.zone((0.05, 0, hs), (rx * 0.8, ry * 0.75, rz * 0.8), -1.0, 0.0)   # its inner surface
    rp = rng.uniform(0.09, 0.14)
    p.cylinder((0.0, 0, 0), rp, max(hs - rz * 0.8, 0.05), caps=False)
    p.disc((0.0, 0, 0), rp * 1.3, rp * 1.1)
    p.disc((0.05, 0, hs + 0.015), rx * 1.02, ry * 1.05, inner=0.72)   # seat ring
    if rng.random() < 0.5:   # closed lid
        p.disc((0.05, 0, hs + 0.03), rx, ry)
    if rng.random() < 0.85:   # the tank (wall-hung ones have none)
        tw, td, th = rng.uniform(0.35, 0.52), rng.uniform(0.14, 0.22), rng.uniform(0.3, 0.45)
        tx = 0.05 - rx - td / 2 + 0.03
        p.box((tx, 0, hs - 0.05 + th / 2), (td, tw, th))
        if rng.random() < 0.5:
            p.box((tx, 0, (hs - 0.05) / 2), (td * 0.6, tw * 0.4, hs - 0.05), skip="-z+z")


BUILDERS = [bathtub, bed, chair, desk, dresser, monitor, night_stand, sofa, table, toilet]
assert [b.__name__ for b in BUILDERS] == CLASSES


def make_shape(label: int, n: int, rng: np.random.Generator, jitter: float = 0.006):
    """One shape of class ``label``: (n, 3) points in the unit sphere and their normals."""
    p = Parts()
    BUILDERS[label](p, rng)
    pts, nrm = p.sample(n, rng)
    stretch = rng.uniform(0.85, 1.15, 3).astype(np.float32)   # proportions vary beyond the parts' ranges
    pts = pts * stretch
    nrm = nrm / stretch
    nrm /= np.linalg.norm(nrm, axis=1, keepdims=True)
    pts = pts - pts.mean(0)
    pts /= np.linalg.norm(pts, axis=1).max()
    pts += rng.normal(0, jitter, pts.shape).astype(np.float32)
    return pts.astype(np.float32), nrm
