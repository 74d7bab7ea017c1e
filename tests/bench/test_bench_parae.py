"""ParAE drawing benchmarks (run by `make bench`; prints numbers, asserts only correctness).

- Density of a J = 32 mixture on a 128^3 grid plus its isosurface (target: under 300 ms).
  Reference in the same run: the straightforward evaluation (every component at every voxel,
  one float32 matrix product of quadratic features per chunk, as in the first version).
- The 32 ellipsoid glyph meshes (target: under 20 ms). Reference: one component at a time.
"""
from __future__ import annotations

import statistics
import time

import numpy as np

from engine.data import Loading, open_dataset
from engine.methods.parae.explain import (Gmm, default_level, density_grid, ellipsoid,
                                          isosurface)
from engine.numeric.gmm_geometry import ellipsoid_axes, unit_sphere


def _timed(fn, repeats=5):
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def _learnt_like_gmm(j=32, seed=0):
    """Soft parts of a built-in chair like a trained ParAE gives: k-means centres, soft assignment."""
    pts = open_dataset("builtin", Loading(points=2048)).split("test")[60].points.astype(np.float64)
    rng = np.random.default_rng(seed)
    c = pts[rng.choice(len(pts), j, replace=False)]
    for _ in range(20):
        lab = ((pts[:, None] - c[None]) ** 2).sum(-1).argmin(1)
        c = np.stack([pts[lab == k].mean(0) if (lab == k).any() else c[k] for k in range(j)])
    d2 = ((pts[:, None] - c[None]) ** 2).sum(-1)
    gamma = np.exp(-(d2 - d2.min(1, keepdims=True)) / (2 * 0.05 ** 2))
    gamma /= gamma.sum(1, keepdims=True)
    w = gamma.sum(0)
    mu = gamma.T @ pts / w[:, None]
    diff = pts[:, None] - mu[None]
    sigma = np.einsum("nj,njk,njl->jkl", gamma, diff, diff) / w[:, None, None] + 1e-3 * np.eye(3)
    return Gmm.of(w / len(pts), mu, sigma), pts


def _dense_reference(gmm, grid):
    """Every component at every voxel: exp(phi(x) @ W) summed over J, in float32 chunks."""
    prec, const = gmm.log_consts()
    w = np.zeros((10, gmm.parts))
    w[0], w[1], w[2] = -0.5 * prec[:, 0, 0], -0.5 * prec[:, 1, 1], -0.5 * prec[:, 2, 2]
    w[3], w[4], w[5] = -prec[:, 0, 1], -prec[:, 0, 2], -prec[:, 1, 2]
    pm = np.einsum("jkl,jl->jk", prec, gmm.mu)
    w[6:9] = pm.T
    w[9] = const - 0.5 * np.einsum("jk,jk->j", gmm.mu, pm)
    w = w.astype(np.float32)
    ax = grid.axes()
    nx, ny, nz = grid.values.shape
    x, y = (a.ravel().astype(np.float32) for a in np.meshgrid(ax[0], ax[1], indexing="ij"))
    out = np.empty((nx, ny, nz), np.float32)
    for c in range(nz):
        z = np.full_like(x, ax[2][c])
        phi = np.stack([x * x, y * y, z * z, x * y, x * z, y * z, x, y, z, np.ones_like(x)], 1)
        e = phi @ w
        np.exp(e, out=e)
        out[:, :, c] = e.sum(1).reshape(nx, ny)
    return out


def test_bench_density_grid_and_isosurface():
    gmm, pts = _learnt_like_gmm()
    level = default_level(gmm, pts)
    centre = 0.5 * (pts.min(0) + pts.max(0))
    half = 0.5 * (pts.max(0) - pts.min(0)).max() * 1.3
    cube = (centre - half, centre + half)                         # a full 128 x 128 x 128 grid
    for name, kw in (("128^3 cube", {"bounds": cube}), ("cloud box, 128 on longest side", {"points": pts})):
        t_grid, grid = _timed(lambda: density_grid(gmm, 128, **kw))
        t_iso, (v, f) = _timed(lambda: isosurface(gmm, level, grid))
        t_ref, ref = _timed(lambda: _dense_reference(gmm, grid), repeats=2)
        assert (np.abs(grid.values - ref) <= grid.floor + 1e-4 * ref).all()
        assert len(f) > 1000
        total = t_grid + t_iso
        print(f"\n[parae] {name} {grid.values.shape}: density {t_grid * 1e3:.0f} ms + isosurface "
              f"{t_iso * 1e3:.0f} ms = {total * 1e3:.0f} ms ({len(v)} vertices; target < 300 ms: "
              f"{'met' if total < 0.3 else 'NOT met'}); all components at all voxels "
              f"{t_ref * 1e3:.0f} ms, ratio {t_ref / t_grid:.1f}x")
    t_re, _ = _timed(lambda: isosurface(gmm, level * 2, grid))
    print(f"[parae] re-contour a cached grid (slider move): {t_re * 1e3:.0f} ms")


def _ellipsoids_one_by_one(mu, sigma, resolution):
    sphere, faces = unit_sphere(resolution)
    verts, fs = [], []
    for j in range(len(mu)):
        radii, axes = ellipsoid_axes(sigma[j])
        verts.append(mu[j] + (sphere * radii) @ axes.T)
        fs.append(faces + j * len(sphere))
    return np.concatenate(verts).astype(np.float32), np.concatenate(fs)


def test_bench_ellipsoid_glyphs():
    gmm, _ = _learnt_like_gmm()
    for res in (16, 32):
        ellipsoid(gmm.mu, gmm.sigma, resolution=res)              # the sphere template is cached
        t, (v, f, _) = _timed(lambda: ellipsoid(gmm.mu, gmm.sigma, resolution=res), repeats=20)
        t_ref, (v_ref, f_ref) = _timed(lambda: _ellipsoids_one_by_one(gmm.mu, gmm.sigma, res), repeats=20)
        np.testing.assert_allclose(v, v_ref, atol=1e-5)
        np.testing.assert_array_equal(f, f_ref)
        print(f"\n[parae] 32 ellipsoid meshes at resolution {res} ({len(v)} vertices): {t * 1e3:.2f} ms "
              f"(target < 20 ms: {'met' if t < 0.02 else 'NOT met'}); one by one {t_ref * 1e3:.2f} ms, "
              f"ratio {t_ref / t:.1f}x")
