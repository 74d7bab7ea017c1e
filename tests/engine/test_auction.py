"""The auction solver (ops/auction.py) against scipy's optimum: a bijection, a certified bound that
holds, the 1 % target, and Bertsekas' exactness for integer costs."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from engine.ops import auction
from engine.ops.assignment import assign_batch, assign_pair, cost_matrix, is_bijection


def _optimum(c: np.ndarray) -> float:
    r, k = linear_sum_assignment(c)
    return float(c[r, k].sum())


def _two_shapes(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A sphere and an elongated, shifted ellipsoid surface: the optimal pairs run across shapes."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, 3))
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b = rng.normal(size=(n, 3))
    b = b / np.linalg.norm(b, axis=1, keepdims=True) * [1.5, 0.4, 0.4] + [0.5, 0.2, 0.0]
    return a, b


def test_numba_is_available_here():
    # numba is a dependency; a silent fallback would leave training slow without anyone noticing.
    assert auction.available()


def test_three_points_by_hand():
    # a on a line at 0, 1, 2; b at 0.9, 2.1, -0.2: the pairs 0-(-0.2), 1-0.9, 2-2.1 cost 0.2+0.1+0.1.
    a = np.array([[0.0, 0, 0], [1, 0, 0], [2, 0, 0]])
    b = np.array([[0.9, 0, 0], [2.1, 0, 0], [-0.2, 0, 0]])
    perm, cost, lower = auction.auction_assign(a, b, tol=0.0)
    np.testing.assert_array_equal(perm, [2, 0, 1])
    assert cost == pytest.approx(0.4)
    assert lower <= cost + 1e-12


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_certified_within_tolerance_of_scipys_optimum(seed):
    a, b = _two_shapes(300, seed)
    perm, cost, lower = auction.auction_assign(a, b, tol=0.01)
    opt = _optimum(cost_matrix(a, b))
    assert is_bijection(perm)
    assert cost == pytest.approx(float(np.linalg.norm(a - b[perm], axis=1).sum()), rel=1e-12)
    assert lower <= opt * (1 + 1e-12)           # weak duality: the bound never exceeds the optimum
    assert cost <= (1.01) * lower + 1e-9        # the certificate the solver stops on ...
    assert cost <= 1.01 * opt                   # ... hence within 1 % of the optimum


def test_tighter_tolerance_gets_closer():
    a, b = _two_shapes(200, 7)
    opt = _optimum(cost_matrix(a, b))
    loose = auction.auction_assign(a, b, tol=0.05)[1]
    tight = auction.auction_assign(a, b, tol=1e-4)[1]
    assert tight <= opt * (1 + 1e-4) + 1e-9
    assert loose <= opt * 1.05 + 1e-9


def test_integer_costs_reach_the_exact_optimum():
    # Bertsekas: with integer benefits, an assignment in epsilon-CS with n * epsilon < 1 is optimal.
    rng = np.random.default_rng(5)
    for _ in range(5):
        c = rng.integers(0, 50, size=(40, 40)).astype(np.float64)
        perm, cost, _ = auction.auction_costs(c, tol=0.0)
        assert is_bijection(perm)
        assert cost == _optimum(c)


def test_degenerate_inputs():
    zero = np.zeros((5, 5))
    perm, cost, lower = auction.auction_costs(zero)
    assert is_bijection(perm) and cost == 0.0 and lower == 0.0
    one = auction.auction_assign(np.ones((1, 3)), np.zeros((1, 3)))
    assert list(one[0]) == [0] and one[1] == pytest.approx(np.sqrt(3))
    # duplicate points: ties everywhere, still a bijection at the optimum
    a = np.repeat(np.eye(3), 4, axis=0)
    b = a[::-1].copy()
    perm, cost, _ = auction.auction_assign(a, b, tol=0.0)
    assert is_bijection(perm) and cost == pytest.approx(0.0, abs=1e-12)


def test_batch_solver_reports_a_bound_and_pairs_run_in_the_pool():
    a = np.stack([_two_shapes(128, s)[0] for s in range(4)])
    b = np.stack([_two_shapes(128, s)[1] for s in range(4)])
    perm, cost = assign_batch(a, b)                     # the default for batches is the auction
    exact = np.array([_optimum(cost_matrix(a[k], b[k])) for k in range(4)])
    assert all(is_bijection(p) for p in perm)
    assert np.all(cost <= exact * 1.01) and np.all(cost >= exact * (1 - 1e-12))
    single, c1 = assign_pair(a[0], b[0], "auction")
    assert is_bijection(single) and c1 <= exact[0] * 1.01


def test_vector_scan_matches_the_scalar_loop():
    # simd_scan's 8-lane top2, merged by the auction's scan, against numpy: the smallest value of
    # row + p, where it is, and the second smallest (equal to the smallest on a tie).
    from engine.ops import simd_scan

    assert simd_scan.native_top2() is not None          # llvmlite builds it on this machine
    scan = auction._kernels()[2]
    rng = np.random.default_rng(3)
    lanes, lane_j = np.empty(16), np.empty(8, np.int64)
    for n in (8, 9, 16, 61, 1024):
        for _ in range(20):
            row = rng.random(n)
            p = rng.random(n)
            if rng.random() < 0.3:                       # a tie for the minimum
                k, l = rng.choice(n, 2, replace=False)
                row[k], p[k], row[l], p[l] = 0.125, 0.0, 0.0, 0.125
            v = row + p
            v1, v2, j1 = scan(row, p, lanes, lane_j)
            assert v1 == v.min() and v[j1] == v1
            assert v2 == np.sort(v)[1]


def test_scalar_fallback_gives_the_same_certified_result(monkeypatch):
    # Where llvmlite cannot build the vector scan, the plain loop runs the same auction.
    from engine.ops import simd_scan

    a, b = _two_shapes(150, 4)
    fast = auction.auction_assign(a, b)
    monkeypatch.setattr(simd_scan, "native_top2", lambda: None)
    costs, run, scan = auction._compile(cache=False)
    c = costs(a, b, np.empty((150, 150)))
    perm, cost, lower, _ = run(c, 0.01, auction.START, auction.SHRINK, auction._EPS_FLOOR, scan)
    assert is_bijection(perm) and cost <= 1.01 * lower + 1e-9
    assert cost == pytest.approx(fast[1], rel=0.01) and lower <= _optimum(cost_matrix(a, b)) + 1e-9
