"""Surface primitives for procedural shapes, sampled area-weighted in a few vectorised calls.

A ``Parts`` collects rectangles (origin + two edges), cylinder sides, elliptic discs/annuli and
ellipsoid zones. ``sample(n, rng)`` splits n points among all of them in proportion to area
(one multinomial draw) and samples each kind with one set of array operations, so a shape of
twenty parts costs about as much as one. Up is z.
"""
from __future__ import annotations

import math

import numpy as np

# Local (a, b, along-axis) -> world (x, y, z) for an axis index 0/1/2.
_PERM = np.array([[2, 0, 1], [1, 2, 0], [0, 1, 2]])


def _ellipsoid_area(a: float, b: float, c: float) -> float:
    p = 1.6075   # Knud Thomsen's approximation, within ~1 %
    return 4 * math.pi * (((a * b) ** p + (a * c) ** p + (b * c) ** p) / 3) ** (1 / p)


class Parts:
    def __init__(self):
        self.rects: list = []      # (ox, oy, oz, ux, uy, uz, vx, vy, vz)
        self.cyls: list = []       # (cx, cy, cz, axis, r, h)   c = centre of the bottom circle
        self.discs: list = []      # (cx, cy, cz, axis, rx, ry, inner ratio)
        self.zones: list = []      # (cx, cy, cz, ax, ay, az, zmin, zmax) on the unit sphere's z

    # --- building blocks -------------------------------------------------------------------
    def rect(self, o, u, v):
        self.rects.append((*o, *u, *v))

    def box(self, centre, size, skip: str = ""):
        """Axis-aligned box; ``skip`` lists faces to leave open, e.g. "+z" or "+z-x"."""
        cx, cy, cz = centre
        sx, sy, sz = size
        x0, y0, z0 = cx - sx / 2, cy - sy / 2, cz - sz / 2
        faces = {"-z": ((x0, y0, z0), (sx, 0, 0), (0, sy, 0)), "+z": ((x0, y0, z0 + sz), (sx, 0, 0), (0, sy, 0)),
                 "-x": ((x0, y0, z0), (0, sy, 0), (0, 0, sz)), "+x": ((x0 + sx, y0, z0), (0, sy, 0), (0, 0, sz)),
                 "-y": ((x0, y0, z0), (sx, 0, 0), (0, 0, sz)), "+y": ((x0, y0 + sy, z0), (sx, 0, 0), (0, 0, sz))}
        for k, (o, u, v) in faces.items():
            if k not in skip:
                self.rect(o, u, v)

    def cylinder(self, bottom, r, h, axis: int = 2, caps: bool = True):
        self.cyls.append((*bottom, axis, r, h))
        if caps:
            top = list(bottom)
            top[axis] += h
            self.disc(bottom, r, r, axis)
            self.disc(top, r, r, axis)

    def disc(self, centre, rx, ry, axis: int = 2, inner: float = 0.0):
        self.discs.append((*centre, axis, rx, ry, inner))

    def zone(self, centre, radii, zmin=-1.0, zmax=1.0):
        self.zones.append((*centre, *radii, zmin, zmax))

    # --- sampling ----------------------------------------------------------------------------
    def _areas(self):
        r = np.asarray(self.rects, np.float64).reshape(-1, 9)
        c = np.asarray(self.cyls, np.float64).reshape(-1, 6)
        d = np.asarray(self.discs, np.float64).reshape(-1, 7)
        z = np.asarray(self.zones, np.float64).reshape(-1, 8)
        ar = np.linalg.norm(np.cross(r[:, 3:6], r[:, 6:9]), axis=1)
        ac = 2 * np.pi * c[:, 4] * c[:, 5]
        ad = np.pi * d[:, 4] * d[:, 5] * (1 - d[:, 6] ** 2)
        az = np.array([_ellipsoid_area(*q[3:6]) * (q[7] - q[6]) / 2 for q in z])
        return (r, c, d, z), (ar, ac, ad, az.reshape(-1))

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """n points on the union of the parts' surfaces and their normals, float32 (n, 3)."""
        (r, c, d, z), areas = self._areas()
        sizes = [len(a) for a in areas]
        allarea = np.concatenate(areas)
        counts = rng.multinomial(n, allarea / allarea.sum())
        splits = np.split(counts, np.cumsum(sizes)[:-1])
        pts, nrm = [], []
        for kind, params, cnt in zip("rcdz", (r, c, d, z), splits):
            if cnt.sum() == 0:
                continue
            q = np.repeat(params, cnt, axis=0)
            m = len(q)
            if kind == "r":
                s, t = rng.random((2, m, 1))
                pts.append(q[:, 0:3] + s * q[:, 3:6] + t * q[:, 6:9])
                nv = np.cross(q[:, 3:6], q[:, 6:9])
                nrm.append(nv / np.linalg.norm(nv, axis=1, keepdims=True))
            elif kind == "c":
                th = rng.random(m) * 2 * np.pi
                local = np.stack([q[:, 4] * np.cos(th), q[:, 4] * np.sin(th), rng.random(m) * q[:, 5]], 1)
                ln = np.stack([np.cos(th), np.sin(th), np.zeros(m)], 1)
                perm = _PERM[q[:, 3].astype(int)]
                pts.append(q[:, 0:3] + np.take_along_axis(local, perm, 1))
                nrm.append(np.take_along_axis(ln, perm, 1))
            elif kind == "d":
                th = rng.random(m) * 2 * np.pi
                rho = np.sqrt(q[:, 6] ** 2 + rng.random(m) * (1 - q[:, 6] ** 2))
                local = np.stack([q[:, 4] * rho * np.cos(th), q[:, 5] * rho * np.sin(th), np.zeros(m)], 1)
                ln = np.tile([0.0, 0.0, 1.0], (m, 1))
                perm = _PERM[q[:, 3].astype(int)]
                pts.append(q[:, 0:3] + np.take_along_axis(local, perm, 1))
                nrm.append(np.take_along_axis(ln, perm, 1))
            else:
                h = q[:, 6] + rng.random(m) * (q[:, 7] - q[:, 6])   # uniform z: uniform on the sphere
                ph = rng.random(m) * 2 * np.pi
                ring = np.sqrt(np.clip(1 - h * h, 0, None))
                unit = np.stack([ring * np.cos(ph), ring * np.sin(ph), h], 1)
                pts.append(q[:, 0:3] + unit * q[:, 3:6])
                g = unit / q[:, 3:6]
                nrm.append(g / np.linalg.norm(g, axis=1, keepdims=True))
        order = rng.permutation(n)   # parts must not come out in blocks ("first N" sampling)
        return (np.concatenate(pts)[order].astype(np.float32), np.concatenate(nrm)[order].astype(np.float32))
