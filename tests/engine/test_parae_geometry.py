"""Drawing a ParAE mixture: density grid, isosurface, ellipsoids (checked against scipy and geometry)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from engine.core.errors import ParameterError
from engine.methods.parae.explain import (DensityGrid, Gmm, density_grid, ellipsoid, isosurface,
                                          mixture_density)


def _random_gmm(rng, j=6):
    a = rng.normal(size=(j, 3, 3)) * 0.12
    sigma = a @ a.transpose(0, 2, 1) + 1e-3 * np.eye(3)
    return Gmm.of(rng.dirichlet(np.ones(j)), rng.uniform(-0.6, 0.6, (j, 3)), sigma)


def _scipy_density(gmm, x):
    return sum(gmm.pi[j] * multivariate_normal.pdf(x, gmm.mu[j], gmm.sigma[j]) for j in range(gmm.parts))


def _volume(verts, faces):
    v = verts.astype(np.float64)
    a, b, c = v[faces[:, 0]], v[faces[:, 1]], v[faces[:, 2]]
    return np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0


def _winding_number(verts, faces, q):
    """Generalised winding number of a closed triangle mesh around q (1 inside, 0 outside)."""
    v = verts.astype(np.float64) - q
    a, b, c = v[faces[:, 0]], v[faces[:, 1]], v[faces[:, 2]]
    la, lb, lc = (np.linalg.norm(x, axis=1) for x in (a, b, c))
    num = np.einsum("ij,ij->i", a, np.cross(b, c))
    den = la * lb * lc + np.einsum("ij,ij->i", a, b) * lc + np.einsum("ij,ij->i", b, c) * la \
        + np.einsum("ij,ij->i", c, a) * lb
    return (2 * np.arctan2(num, den)).sum() / (4 * np.pi)


def test_density_matches_scipy_and_grid_is_exact_up_to_its_floor():
    rng = np.random.default_rng(0)
    gmm = _random_gmm(rng)
    x = rng.uniform(-1, 1, (500, 3))
    np.testing.assert_allclose(mixture_density(gmm, x), _scipy_density(gmm, x), rtol=1e-10)
    pts = rng.uniform(-0.7, 0.7, (300, 3))
    grid = density_grid(gmm, 40, points=pts)
    assert max(grid.values.shape) == 40 and grid.floor > 0
    axes = grid.axes()
    idx = [rng.integers(0, n, 400) for n in grid.values.shape]
    xyz = np.stack([axes[k][idx[k]] for k in range(3)], 1)
    ref = _scipy_density(gmm, xyz)
    assert (np.abs(grid.values[tuple(idx)] - ref) <= grid.floor + 1e-5 * ref).all()
    assert (ref > 100 * grid.floor).mean() > 0.2          # the check covers real densities


def test_isosurface_encloses_the_means_of_a_separated_mixture():
    sigma = np.stack([np.diag([0.02, 0.01, 0.015]), np.diag([0.01, 0.02, 0.01])])
    gmm = Gmm.of([0.4, 0.6], [[-0.5, 0.0, 0.0], [0.5, 0.1, 0.0]], sigma)
    # Level at Mahalanobis radius 2 of the first component.
    peak0 = 0.4 * multivariate_normal.pdf(gmm.mu[0], gmm.mu[0], sigma[0])
    level = peak0 * np.exp(-0.5 * 2.0 ** 2)
    grid = density_grid(gmm, 96, bounds=([-1.2] * 3, [1.2] * 3))
    verts, faces = isosurface(gmm, level, grid)
    assert len(faces) > 100
    for mu in gmm.mu:
        assert _winding_number(verts, faces, mu) == pytest.approx(1.0, abs=1e-6)
    for outside in ([0.0, 0.0, 0.0], [-0.5, 0.0, 0.9], [1.1, 1.1, 1.1]):
        assert _winding_number(verts, faces, np.array(outside)) == pytest.approx(0.0, abs=1e-6)
    # The vertices lie on g = level (marching cubes interpolates linearly inside a voxel).
    np.testing.assert_allclose(mixture_density(gmm, verts), level, rtol=0.05)
    # Well separated: each blob is the ellipsoid of its own Gaussian, whose volume is analytic.
    r2 = 2 * np.log(np.array(gmm.pi) * [multivariate_normal.pdf(m, m, s) for m, s in zip(gmm.mu, sigma)] / level)
    expected = sum(4 / 3 * np.pi * r ** 1.5 * np.sqrt(np.linalg.det(s)) for r, s in zip(r2, sigma))
    assert _volume(verts, faces) == pytest.approx(expected, rel=0.02)


def test_recontouring_a_cached_grid_needs_no_density_and_handles_extremes():
    rng = np.random.default_rng(1)
    gmm = _random_gmm(rng, 4)
    grid = density_grid(gmm, 32, bounds=([-1.5] * 3, [1.5] * 3))
    level = float(np.quantile(grid.values, 0.9))
    v1, f1 = isosurface(gmm, level, grid)
    v2, f2 = isosurface(None, level, grid)              # the cached grid is all it needs
    np.testing.assert_array_equal(v1, v2)
    assert len(f1) > 0 and v1.dtype == np.float32 and f1.dtype == np.int32
    assert f1.max() < len(v1)
    v3, f3 = isosurface(gmm, float(grid.values.max()) * 2, grid)
    assert v3.shape == (0, 3) and f3.shape == (0, 3)
    with pytest.raises(ParameterError, match="positive"):
        isosurface(gmm, 0.0, grid)
    # Every voxel above the level: the surface is closed half a voxel outside the grid's border.
    full = DensityGrid(np.ones((5, 6, 7), np.float32), np.zeros(3), 0.1, 1e-9)
    vb, fb = isosurface(None, 0.5, full)
    assert _volume(vb, fb) == pytest.approx(0.5 * 0.6 * 0.7, rel=0.05)   # edges are chamfered
    assert vb.min(0) == pytest.approx([-0.05] * 3) and vb.max(0) == pytest.approx([0.45, 0.55, 0.65])


def test_ellipsoids_lie_on_the_k_sigma_surface():
    rng = np.random.default_rng(2)
    gmm = _random_gmm(rng, 5)
    verts, faces, comp = ellipsoid(gmm.mu, gmm.sigma, k=1.5, resolution=24)
    assert verts.shape[0] == comp.shape[0] and faces.max() < len(verts)
    for j in range(5):
        d = verts[comp == j].astype(np.float64) - gmm.mu[j]
        maha = np.einsum("ij,jk,ik->i", d, np.linalg.inv(gmm.sigma[j]), d)
        np.testing.assert_allclose(maha, 1.5 ** 2, rtol=1e-4)
    v1, f1, _ = ellipsoid(gmm.mu[0], gmm.sigma[0], k=1.0, resolution=96)
    exact = 4 / 3 * np.pi * np.sqrt(np.linalg.det(gmm.sigma[0]))
    assert _volume(v1, f1) == pytest.approx(exact, rel=0.01)       # outward, closed, right size


def test_gmm_arrays_are_validated():
    with pytest.raises(ParameterError, match="pi"):
        Gmm.of(np.ones(3) / 3, np.zeros((2, 3)), np.tile(np.eye(3), (3, 1, 1)))
    with pytest.raises(ParameterError, match="NaN"):
        Gmm.of([1.0], [[np.nan, 0, 0]], [np.eye(3)])
