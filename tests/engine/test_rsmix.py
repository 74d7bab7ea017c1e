"""RSMix (REFERENCES.md 5.4) and PointMixup (5.3) against hand computation and a transcription
of the public RSMix code."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.core.errors import ParameterError
from engine.methods.mix import pointmixup, rsmix


def _line(n: int = 10) -> np.ndarray:
    return np.stack([np.arange(n, dtype=np.float64), np.zeros(n), np.zeros(n)], 1)


def test_ball_query_keeps_the_first_points_by_index_not_the_nearest():
    pts = _line(10)
    # within radius 4.5 of x = 5: points 1..9; the first 3 by index are 1, 2, 3 (not 4, 5, 6)
    np.testing.assert_array_equal(rsmix.ball_query(pts, pts[5], 4.5, n_sample=3), [1, 2, 3])
    np.testing.assert_array_equal(rsmix.ball_query(pts, pts[5], 1.0, n_sample=512), [4, 5, 6])
    np.testing.assert_array_equal(rsmix.ball_query(pts, pts[5], 0.0), [5])


def test_swap_translates_b_subset_onto_a_query_and_lambda_is_the_added_share():
    a = _line(10)
    b = _line(10) * 2 + [0.0, 5.0, 0.0]
    pair = rsmix.rsmix_pair(a, b, q_a=2, q_b=3, radius=1.0, rng=np.random.default_rng(0))
    # a's ball: indices 1, 2, 3; b's ball around (6, 5, 0) with radius 1: index 3 only -> padded
    np.testing.assert_array_equal(pair.erased, [1, 2, 3])
    np.testing.assert_array_equal(pair.added, [3, 3, 3])
    shift = a[2] - b[3]
    np.testing.assert_allclose(pair.mixed[[1, 2, 3]], b[[3, 3, 3]] + shift)
    np.testing.assert_allclose(pair.mixed[[0, 4, 5, 6, 7, 8, 9]], a[[0, 4, 5, 6, 7, 8, 9]])
    assert pair.share_b == pytest.approx(3 / 10)
    np.testing.assert_array_equal(pair.lam, [1, 0, 0, 0, 1, 1, 1, 1, 1, 1])
    np.testing.assert_array_equal(pair.source, [-1, 3, 3, 3, -1, -1, -1, -1, -1, -1])
    assert pair.case == "mixed"


def test_count_control_pads_with_duplicates_or_subsamples_in_order():
    rng = np.random.default_rng(1)
    padded = rsmix.count_control(np.arange(7), np.array([4, 9]), rng)
    assert len(padded) == 7 and list(padded[:2]) == [4, 9] and set(padded) <= {4, 9}
    sub = rsmix.count_control(np.arange(3), np.array([1, 5, 6, 8, 9]), rng)
    assert len(sub) == 3 and len(set(sub)) == 3 and set(sub) <= {1, 5, 6, 8, 9}
    assert list(sub) == sorted(sub)


def test_edge_cases_empty_subsets():
    a, b = _line(8), _line(8) + 100
    rng = np.random.default_rng(2)
    empty_a = rsmix.rsmix_merge(a, b, np.array([], np.int64), np.array([1, 2]), a[0], b[0], rng)
    np.testing.assert_array_equal(empty_a.mixed, a)
    assert empty_a.share_b == 0.0 and empty_a.case == "empty-a"
    empty_b = rsmix.rsmix_merge(a, b, np.array([2, 3]), np.array([], np.int64), a[2], b[0], rng)
    assert empty_b.share_b == 0.0 and empty_b.case == "empty-b"
    np.testing.assert_allclose(np.delete(empty_b.mixed, [2, 3], 0), np.delete(a, [2, 3], 0))
    remaining = {tuple(p) for p in np.delete(a, [2, 3], 0)}
    assert all(tuple(p) in remaining for p in empty_b.mixed[[2, 3]])   # duplicates of kept points
    np.testing.assert_array_equal(empty_b.lam, 1.0)


def test_bad_rsmix_inputs():
    a = _line(8)
    with pytest.raises(ParameterError, match="query"):
        rsmix.rsmix_pair(a, a, 8, 0, 0.5)
    with pytest.raises(ParameterError, match="radius"):
        rsmix.rsmix_pair(a, a, 0, 0, -0.5)
    with pytest.raises(ParameterError, match="equal size"):
        rsmix.rsmix_pair(a, a[:5], 0, 0, 0.5)


# --- a transcription of dogyoonlee/RSMix rsmix_provider.rsmix (ball variant), for comparison ----

def _ref_ball(radius, nsample, xyz, new_xyz):
    b, n, _ = xyz.shape
    group_idx = np.repeat(np.arange(n)[None, None, :], b, axis=0)
    sqr = ((new_xyz[:, :, None, :] - xyz[:, None, :, :]) ** 2).sum(-1)
    group_idx[sqr > radius ** 2] = n
    group_idx = np.sort(group_idx, axis=2)[:, :, :nsample]
    first = np.repeat(group_idx[:, :, 0][:, np.newaxis, :], nsample, axis=2)
    mask = group_idx == n
    group_idx[mask] = first[mask]
    return group_idx


def _ref_rsmix(data, beta, n_sample):
    cut_rad = np.random.beta(beta, beta)
    rand_index = np.random.choice(data.shape[0], data.shape[0], replace=False)
    data_rand = data[rand_index]
    q1 = np.random.randint(0, data.shape[1], (data.shape[0], 1))
    q2 = np.random.randint(0, data.shape[1], (data.shape[0], 1))
    qp1 = data[np.arange(len(data)), q1[:, 0]][:, None]
    qp2 = data_rand[np.arange(len(data)), q2[:, 0]][:, None]
    erase = _ref_ball(cut_rad, n_sample, data, qp1)
    add = _ref_ball(cut_rad, n_sample, data_rand, qp2)
    out, lam = [], np.zeros(len(data))
    for i in range(len(data)):
        e = np.unique(erase[i].reshape(n_sample))
        ad = np.unique(add[i].reshape(n_sample))
        assert len(e) == len(ad)        # the comparison below uses no count-control draws
        kept = np.delete(data[i], e, axis=0)
        moved = data_rand[i][ad] + (qp1[i, 0] - qp2[i, 0])
        out.append(np.vstack([kept, moved]))
        lam[i] = len(ad) / (len(ad) + len(kept))
    return np.stack(out), lam, rand_index, cut_rad, q1[:, 0], q2[:, 0]


def test_batch_matches_the_public_code_as_sets():
    rng = np.random.default_rng(0)
    x = rng.uniform(-0.3, 0.3, (4, 64, 3))
    np.random.seed(3)
    beta = 50.0                    # radius ~ 0.5 +- 0.05: both balls hold more than n_sample points
    ref, lam, perm, radius, q1, q2 = _ref_rsmix(x, beta, n_sample=8)
    labels = torch.tensor([0, 1, 2, 0])
    mixed, soft, info = rsmix.rsmix_batch(torch.from_numpy(x), labels, 3, beta=beta, n_sample=8,
                                          partner=perm, queries=(q1, q2), radius=radius)
    for k in range(4):
        got = mixed[k].numpy()
        np.testing.assert_allclose(got[np.lexsort(got.T)], ref[k][np.lexsort(ref[k].T)], atol=1e-12)
    np.testing.assert_allclose(1 - info["lambda_mean"].numpy(), lam)
    want = torch.zeros(4, 3, dtype=torch.float64)
    for k in range(4):
        want[k, labels[k]] += 1 - lam[k]
        want[k, labels[perm[k]]] += lam[k]
    torch.testing.assert_close(soft.double(), want)


def test_rsmix_batch_draws_repeat_with_the_seed():
    x = torch.from_numpy(np.random.default_rng(1).uniform(-1, 1, (3, 50, 3)).astype(np.float32))
    y = torch.tensor([0, 1, 1])
    a = rsmix.rsmix_batch(x, y, 2, torch.Generator().manual_seed(4))
    b = rsmix.rsmix_batch(x, y, 2, torch.Generator().manual_seed(4))
    torch.testing.assert_close(a[0], b[0])
    torch.testing.assert_close(a[1].sum(1), torch.ones(3))


# --- PointMixup ---------------------------------------------------------------------------------

def test_pointmixup_batch_by_hand():
    rng = np.random.default_rng(5)
    x = torch.from_numpy(rng.uniform(-1, 1, (3, 20, 3)))
    y = torch.tensor([0, 1, 0])
    partner = torch.tensor([1, 2, 0])
    assign = np.stack([rng.permutation(20) for _ in range(3)])
    mixed, soft, info = pointmixup.pointmixup_batch(x, y, 2, partner=partner, assignment=assign, ratio=0.3)
    for k in range(3):
        want = 0.7 * x[k].numpy() + 0.3 * x[partner[k]].numpy()[assign[k]]
        np.testing.assert_allclose(mixed[k].numpy(), want, rtol=1e-12)
    # labels: 0.7 own + 0.3 partner; same class (cloud 2 with cloud 0) -> one-hot 1.0
    torch.testing.assert_close(soft, torch.tensor([[0.7, 0.3], [0.3, 0.7], [1.0, 0.0]]))


def test_pointmixup_ratio_is_at_most_one_half():
    g = torch.Generator().manual_seed(0)
    rs = [pointmixup.draw_ratio(1.0, g) for _ in range(200)]
    assert 0.0 <= min(rs) and max(rs) <= 0.5 and np.std(rs) > 0.05
