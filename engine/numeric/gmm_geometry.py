"""Drawing a ParAE mixture: its density on a grid, the isosurface g = c, 1-sigma ellipsoids.

numpy only (no torch), so the viewer can re-contour on a slider move (``isosurface`` with a
cached ``DensityGrid``: marching cubes only, the network is not run again) and rebuild the
ellipsoid glyphs without touching the engine thread.

Speed (tests/bench/test_bench_parae.py): the density is evaluated per component, only inside the
box that holds its ellipsoid d^T Sigma^-1 d <= r_j^2, where r_j is chosen so that outside it the
component's contribution pi_j N(x) is below ``floor / J``; the grid value is therefore exact up to
``floor`` (absolute) plus float32 rounding everywhere. Within a box the exponent is separable on the grid,
alpha(x, y) + beta(x, y) dz + gamma dz^2, so one small matrix product gives it for the whole box.
Marching cubes (scikit-image, Lewiner) runs only on the sub-volume around the voxels >= level.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from engine.core.errors import ParameterError

LOG_2PI = math.log(2.0 * math.pi)
FLOOR_FRACTION = 1e-3   # default floor = this fraction of the lowest density at the cloud's points
PEAK_FRACTION = 1e-7    # ... and at least this fraction of the highest component peak


@dataclass(frozen=True)
class Gmm:
    """One cloud's mixture: pi (J,), mu (J, 3), sigma (J, 3, 3) (float64, eps already added)."""

    pi: np.ndarray
    mu: np.ndarray
    sigma: np.ndarray

    @staticmethod
    def of(pi, mu, sigma) -> "Gmm":
        pi, mu, sigma = (np.asarray(a, np.float64) for a in (pi, mu, sigma))
        j = pi.shape[0] if pi.ndim == 1 else -1
        if pi.ndim != 1 or mu.shape != (j, 3) or sigma.shape != (j, 3, 3):
            raise ParameterError(f"GMM arrays must be pi (J,), mu (J, 3), sigma (J, 3, 3); got "
                                 f"{pi.shape}, {mu.shape}, {sigma.shape}.")
        if not (np.isfinite(pi).all() and np.isfinite(mu).all() and np.isfinite(sigma).all()):
            raise ParameterError("GMM arrays contain NaN or Inf.", hint="Re-run the explanation.")
        return Gmm(pi, mu, sigma)

    @property
    def parts(self) -> int:
        return int(self.pi.shape[0])

    def log_consts(self) -> tuple[np.ndarray, np.ndarray]:
        """(precision matrices (J, 3, 3), log(pi_j) - log det(2 pi Sigma_j) / 2 (J,))."""
        sign, logdet = np.linalg.slogdet(self.sigma)
        if (sign <= 0).any():
            raise ParameterError("GMM: a covariance matrix is not positive definite.",
                                 hint="The mixture must come from ParAE (eps > 0 keeps Sigma positive).")
        with np.errstate(divide="ignore"):
            logpi = np.log(self.pi)
        return np.linalg.inv(self.sigma), logpi - 0.5 * (logdet + 3.0 * LOG_2PI)


def mixture_density(gmm: Gmm, x: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """g(x) = sum_j pi_j N(x; mu_j, Sigma_j) at points x (M, 3), exactly (float64)."""
    x = np.asarray(x, np.float64).reshape(-1, 3)
    prec, const = gmm.log_consts()
    out = np.empty(len(x))
    for s in range(0, len(x), chunk):
        d = x[s:s + chunk, None, :] - gmm.mu[None]                     # (m, J, 3)
        maha = np.einsum("mjk,jkl,mjl->mj", d, prec, d)
        out[s:s + chunk] = np.exp(const[None] - 0.5 * maha).sum(1)
    return out


@dataclass(frozen=True)
class DensityGrid:
    """g on a regular grid: values[a, b, c] = g(origin + spacing * (a, b, c)).

    Values are exact up to ``floor`` (absolute) plus float32 rounding (relative ~1e-6); a level
    below ``floor`` is not reliable.
    """

    values: np.ndarray          # (nx, ny, nz) float32
    origin: np.ndarray          # (3,) float64
    spacing: float
    floor: float

    def axes(self) -> list[np.ndarray]:
        return [self.origin[k] + self.spacing * np.arange(n) for k, n in enumerate(self.values.shape)]


def grid_bounds(points: np.ndarray | None, gmm: Gmm | None = None, margin: float = 0.15
                ) -> tuple[np.ndarray, np.ndarray]:
    """The cloud's bounding box (or mu +- 3 sigma) grown by ``margin`` times its largest side."""
    if points is not None:
        p = np.asarray(points, np.float64).reshape(-1, 3)
        lo, hi = p.min(0), p.max(0)
    else:
        sd = np.sqrt(np.einsum("jkk->jk", gmm.sigma))
        lo, hi = (gmm.mu - 3 * sd).min(0), (gmm.mu + 3 * sd).max(0)
    pad = margin * max(float((hi - lo).max()), 1e-6)
    return lo - pad, hi + pad


def default_floor(gmm: Gmm, points: np.ndarray | None = None) -> float:
    """FLOOR_FRACTION of the lowest density at the points (or at the component means), but at
    least PEAK_FRACTION of the highest component peak (outliers must not make every box huge)."""
    ref = mixture_density(gmm, points if points is not None else gmm.mu).min()
    _, const = gmm.log_consts()
    return float(max(ref * FLOOR_FRACTION, np.exp(const.max()) * PEAK_FRACTION,
                     np.finfo(np.float32).tiny))


def density_grid_steps(gmm: Gmm, resolution: int = 64, bounds=None, floor: float | None = None,
                       points: np.ndarray | None = None, margin: float = 0.15
                       ) -> Iterator[tuple[int, int, DensityGrid | None]]:
    """Compute the grid component by component, yielding (done, total, grid-or-None).

    ``resolution`` voxels along the box's longest side; voxels are cubes, so shorter sides get
    fewer. The last item carries the finished DensityGrid.
    """
    if not 2 <= int(resolution) <= 512:
        raise ParameterError(f"grid resolution = {resolution} must be in [2, 512].")
    lo, hi = bounds if bounds is not None else grid_bounds(points, gmm, margin)
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    side = float((hi - lo).max())
    if not side > 0:
        raise ParameterError("density grid: the bounds have zero size.")
    h = side / (int(resolution) - 1)
    shape = np.maximum(np.ceil((hi - lo) / h - 1e-9).astype(int) + 1, 2)
    origin = 0.5 * (lo + hi) - 0.5 * h * (shape - 1)                   # centre the box in the grid
    if floor is None:
        floor = default_floor(gmm, points)
    if not floor > 0:
        raise ParameterError(f"density grid: floor = {floor} must be > 0.")
    tau = floor / gmm.parts
    prec, const = gmm.log_consts()
    out = np.zeros(tuple(shape), np.float32)
    axes = [origin[k] + h * np.arange(shape[k]) for k in range(3)]
    for j in range(gmm.parts):
        if const[j] > math.log(tau):
            # Outside d^T P d <= r^2 the component is below tau; the box of that ellipsoid
            # has half-sides r * sqrt(Sigma_kk).
            r = math.sqrt(2.0 * (const[j] - math.log(tau)))
            half = r * np.sqrt(np.diag(gmm.sigma[j]))
            i0 = np.maximum(np.ceil((gmm.mu[j] - half - origin) / h), 0).astype(int)
            i1 = np.minimum(np.floor((gmm.mu[j] + half - origin) / h) + 1, shape).astype(int)
            if (i1 > i0).all():
                _add_component(out, axes, i0, i1, gmm.mu[j], prec[j], const[j])
        yield j + 1, gmm.parts, None
    yield gmm.parts, gmm.parts, DensityGrid(out, origin, h, float(floor))


def _add_component(out, axes, i0, i1, mu, p, const) -> None:
    """out[box] += exp(const - d^T P d / 2) with d = x - mu, for the box [i0, i1)."""
    dx, dy, dz = ((axes[k][i0[k]:i1[k]] - mu[k]).astype(np.float32) for k in range(3))
    p = p.astype(np.float32)
    # exponent = alpha(x, y) + beta(x, y) * dz + g * dz^2
    alpha = (np.float32(const) - 0.5 * (p[0, 0] * dx[:, None] ** 2 + p[1, 1] * dy[None, :] ** 2)
             - p[0, 1] * dx[:, None] * dy[None, :])
    beta = -(p[0, 2] * dx[:, None] + p[1, 2] * dy[None, :])
    ab = np.stack([alpha, beta, np.ones_like(alpha)], -1).reshape(-1, 3)
    basis = np.stack([np.ones_like(dz), dz, -0.5 * p[2, 2] * dz * dz])  # (3, nz)
    e = ab @ basis                                                      # (nx * ny, nz)
    np.exp(e, out=e)
    out[i0[0]:i1[0], i0[1]:i1[1], i0[2]:i1[2]] += e.reshape(len(dx), len(dy), len(dz))


def density_grid(gmm: Gmm, resolution: int = 64, bounds=None, floor: float | None = None,
                 points: np.ndarray | None = None, margin: float = 0.15) -> DensityGrid:
    """The mixture density on a grid over ``bounds`` (default: the points' box + margin)."""
    grid = None
    for _, _, grid in density_grid_steps(gmm, resolution, bounds, floor, points, margin):
        pass
    return grid


def default_level(gmm: Gmm, points: np.ndarray, quantile: float = 0.05) -> float:
    """A level whose surface encloses all but ``quantile`` of the cloud's points."""
    return float(np.quantile(mixture_density(gmm, points), quantile))


def isosurface(gmm: Gmm | None, level: float, grid: DensityGrid | int = 64
               ) -> tuple[np.ndarray, np.ndarray]:
    """The surface g = level by marching cubes: vertices (V, 3) float32, faces (F, 3) int32.

    ``grid`` is a cached DensityGrid (re-contouring: no density evaluation) or a resolution (the
    grid is computed over the mixture's mu +- 3 sigma box). Surfaces leaving the grid are closed
    at its border. Empty arrays when no voxel reaches the level.
    """
    if not (isinstance(level, (int, float, np.floating)) and math.isfinite(level) and level > 0):
        raise ParameterError(f"isosurface level = {level!r} must be a positive number (a density).")
    if not isinstance(grid, DensityGrid):
        grid = density_grid(gmm, int(grid))
    vol = grid.values
    inside = vol >= level
    empty = (np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int32))
    if not inside.any():
        return empty
    # Crop to the voxels at or above the level plus one voxel, pad with zeros where that
    # touches the grid border (closes the surface).
    lo, hi, pad = [], [], []
    for k in range(3):
        other = tuple(a for a in range(3) if a != k)
        idx = np.flatnonzero(inside.any(axis=other))
        a, b = max(idx[0] - 1, 0), min(idx[-1] + 2, vol.shape[k])
        lo.append(a)
        hi.append(b)
        pad.append((int(idx[0] == 0), int(idx[-1] == vol.shape[k] - 1)))
    sub = vol[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
    if any(p != (0, 0) for p in pad):
        sub = np.pad(sub, pad)
    from skimage.measure import marching_cubes

    verts, faces, _, _ = marching_cubes(sub, level=float(level), method="lewiner",
                                     gradient_direction="ascent")  # outward faces: g is high inside
    shift = np.array([lo[k] - pad[k][0] for k in range(3)], np.float64)
    verts = grid.origin + grid.spacing * (verts + shift)
    return verts.astype(np.float32), faces.astype(np.int32)


def ellipsoid_axes(sigma: np.ndarray, k: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Semi-axis lengths (..., 3) = k sqrt(eigenvalues) and axes as columns (..., 3, 3)."""
    w, v = np.linalg.eigh(np.asarray(sigma, np.float64))
    # A proper rotation (det +1): a reflection would turn the glyph meshes inside out.
    v = v.copy()
    v[..., :, 0] *= np.sign(np.linalg.det(v))[..., None]
    return k * np.sqrt(np.clip(w, 0.0, None)), v


_SPHERES: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def unit_sphere(resolution: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """A latitude-longitude unit sphere: ``resolution`` segments around, half as many rings."""
    if resolution not in _SPHERES:
        seg, rings = max(int(resolution), 4), max(int(resolution) // 2, 2)
        th = np.linspace(0, np.pi, rings + 1)[1:-1]
        ph = np.linspace(0, 2 * np.pi, seg, endpoint=False)
        ring = np.stack([np.sin(th)[:, None] * np.cos(ph), np.sin(th)[:, None] * np.sin(ph),
                         np.cos(th)[:, None] * np.ones_like(ph)], -1).reshape(-1, 3)
        verts = np.concatenate([[[0, 0, 1]], ring, [[0, 0, -1]]])
        faces = []
        nxt = lambda s: (s + 1) % seg  # noqa: E731
        for s in range(seg):
            faces.append((0, 1 + s, 1 + nxt(s)))
            last = 1 + (rings - 2) * seg
            faces.append((len(verts) - 1, last + nxt(s), last + s))
        for r in range(rings - 2):
            a, b = 1 + r * seg, 1 + (r + 1) * seg
            for s in range(seg):
                faces += [(a + s, b + s, b + nxt(s)), (a + s, b + nxt(s), a + nxt(s))]
        _SPHERES[resolution] = (verts.astype(np.float64), np.asarray(faces, np.int32))
    return _SPHERES[resolution]


def ellipsoid(mu: np.ndarray, sigma: np.ndarray, k: float = 1.0, resolution: int = 16
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Meshes of the k-sigma ellipsoids {x: (x-mu)^T Sigma^-1 (x-mu) = k^2}.

    ``mu`` (3,) and ``sigma`` (3, 3) for one, or (J, 3) and (J, 3, 3) for all at once (one mesh).
    Returns vertices (V, 3) float32, faces (F, 3) int32, and the component of each vertex (V,).
    """
    mu = np.asarray(mu, np.float64).reshape(-1, 3)
    sigma = np.asarray(sigma, np.float64).reshape(-1, 3, 3)
    radii, axes = ellipsoid_axes(sigma, k)
    sphere, faces = unit_sphere(resolution)
    transform = axes * radii[:, None, :]                               # columns scaled by radii
    verts = mu[:, None, :] + np.einsum("sk,jlk->jsl", sphere, transform)
    n = len(mu)
    all_faces = (faces[None] + (np.arange(n, dtype=np.int32) * len(sphere))[:, None, None])
    comp = np.repeat(np.arange(n, dtype=np.int32), len(sphere))
    return verts.reshape(-1, 3).astype(np.float32), all_faces.reshape(-1, 3), comp
