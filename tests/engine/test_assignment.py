"""The optimal assignment phi (paper eq. 3): exact, warm-started and auction solvers against independent optima."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from scipy.optimize import linear_sum_assignment

from engine.core.errors import ParameterError
from engine.ops.assignment import (assign_batch, assign_exact, assign_pair, assignment_cost,
                                   coarse_potentials, cost_matrix, is_bijection)


def _clouds(n: int, seed: int, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, 3)).astype(np.float32)
    b = (rng.normal(size=(n, 3)) * [1.0, 0.3, 0.3] + shift).astype(np.float32)   # a different shape
    return a, b


def _scipy_optimum(a, b) -> float:
    d = np.sqrt(((a[:, None, :].astype(np.float64) - b[None].astype(np.float64)) ** 2).sum(-1))
    r, c = linear_sum_assignment(d)
    return float(d[r, c].sum())


def test_exact_matches_brute_force_on_tiny_clouds():
    a, b = _clouds(6, 0)
    perm, cost = assign_exact(a, b)
    best = min(sum(np.linalg.norm(a[i].astype(np.float64) - b[p[i]]) for i in range(6))
               for p in itertools.permutations(range(6)))
    assert is_bijection(perm)
    assert cost == pytest.approx(best, rel=1e-12)
    assert assignment_cost(a, b, perm) == pytest.approx(cost, rel=1e-12)


@pytest.mark.parametrize("n", [64, 200])
def test_exact_cost_equals_scipy_optimum(n):
    a, b = _clouds(n, n, shift=0.5)
    perm, cost = assign_exact(a, b)
    assert is_bijection(perm)
    assert cost == pytest.approx(_scipy_optimum(a, b), rel=1e-12)


def test_warm_solver_reaches_the_optimum_and_a_bijection():
    # 256 points: the warm path runs its two coarse levels (64 and 128 points) before the full solve.
    rng = np.random.default_rng(3)
    a = rng.normal(size=(3, 256, 3))
    b = rng.normal(size=(3, 256, 3)) * [1.2, 0.4, 0.4] + [0.3, 0.0, 0.0]
    perm, cost = assign_batch(a, b, solver="warm")
    exact = np.array([_scipy_optimum(a[k], b[k]) for k in range(3)])
    assert perm.shape == (3, 256) and perm.dtype == np.int64
    assert all(is_bijection(p) for p in perm)
    # The target is within 1 % of the optimum; the warm-started solve is exact up to rounding.
    assert np.all(cost <= exact * 1.01)
    np.testing.assert_allclose(cost, exact, rtol=1e-9)
    single, c1 = assign_pair(a[0], b[0], "warm")
    assert is_bijection(single) and c1 == pytest.approx(exact[0], rel=1e-9)


def test_batch_exact_accepts_tensors_and_matches_pairs():
    a, b = _clouds(40, 5)
    ta = torch.from_numpy(np.stack([a, b]))
    tb = torch.from_numpy(np.stack([b, a]))
    perm, cost = assign_batch(ta, tb, solver="exact")
    assert cost[0] == pytest.approx(_scipy_optimum(a, b), rel=1e-9)
    assert cost[1] == pytest.approx(cost[0], rel=1e-9)          # the transposed problem has the same optimum
    np.testing.assert_array_equal(np.argsort(perm[0]), perm[1])


def test_identical_clouds_pair_each_point_with_itself():
    a, _ = _clouds(150, 9)
    for solver in ("exact", "warm", "auction"):
        perm, cost = assign_pair(a, a.copy(), solver)
        np.testing.assert_array_equal(perm, np.arange(150))
        assert cost == 0.0


def test_coarse_potentials_are_an_optimal_dual():
    # LP duality: u_i + v_j <= c_ij everywhere, equality on the optimum, sum(u) + sum(v) = optimum.
    a, b = _clouds(30, 11, shift=1.0)
    c = cost_matrix(a.astype(np.float64), b.astype(np.float64))
    r, p = linear_sum_assignment(c)
    u, v = coarse_potentials(c, p)
    assert (u[:, None] + v[None, :] <= c + 1e-12).all()
    np.testing.assert_allclose(u + v[p], c[r, p], atol=1e-12)
    assert u.sum() + v.sum() == pytest.approx(c[r, p].sum(), rel=1e-12)


def test_is_bijection_rejects_repeats_and_out_of_range():
    assert is_bijection(np.array([2, 0, 1]))
    assert not is_bijection(np.array([0, 0, 1]))
    assert not is_bijection(np.array([0, 1, 3]))
    assert not is_bijection(np.array([0, -1, 1]))
    assert not is_bijection(np.array([0.0, 1.0]))


def test_bad_inputs_are_parameter_errors():
    a, b = _clouds(10, 1)
    with pytest.raises(ParameterError, match="equal size"):
        assign_exact(a, b[:9])
    bad = a.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ParameterError, match="NaN"):
        assign_exact(bad, b)
    with pytest.raises(ParameterError, match="solver"):
        assign_batch(a[None], b[None], solver="hungarian")
    with pytest.raises(ParameterError, match=r"\(B, N, 3\)"):
        assign_batch(a, b)
