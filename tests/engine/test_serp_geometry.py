"""FPS, kNN grouping and Chamfer-L2 as SeRP-Transformer uses them, against independent code."""
from __future__ import annotations

import numpy as np
import torch
from scipy.spatial import cKDTree

from engine.models.transformer_parts import group_patches
from engine.ops.geometry import chamfer_l2, farthest_point_sample


def brute_fps(pts: np.ndarray, m: int, skip_near_origin: bool) -> list[int]:
    """pointnet2_ops' kernel in plain Python: start at 0, running min distance, near-origin
    points (|p|^2 <= 1e-3) never updated nor chosen."""
    n = len(pts)
    temp = [1e10] * n
    idx = [0]
    for _ in range(1, m):
        old = pts[idx[-1]]
        best, besti = -1.0, 0
        for k in range(n):
            if skip_near_origin and float((pts[k] ** 2).sum()) <= 1e-3:
                continue
            d = float(((pts[k] - old) ** 2).sum())
            temp[k] = min(d, temp[k])
            if temp[k] > best:
                best, besti = temp[k], k
        idx.append(besti)
    return idx


def test_fps_matches_brute_force_with_and_without_near_origin_skip():
    rng = np.random.default_rng(0)
    pts = rng.uniform(-1, 1, (3, 60, 3)).astype(np.float32)
    pts[:, 3] = 0.0                                 # points at the origin: skipped by the kernel
    pts[:, 17] = 0.01
    pts[:, 30] *= 1.8                               # far points FPS would pick early
    for skip in (False, True):
        got = farthest_point_sample(torch.from_numpy(pts), 20, start=0, skip_near_origin=skip)
        for b in range(3):
            assert got[b].tolist() == brute_fps(pts[b], 20, skip)
    # Without the skip a far origin point is picked; with it never.
    pts2 = rng.uniform(0.5, 1, (1, 30, 3)).astype(np.float32)
    pts2[0, 4] = 0.0
    assert 4 in farthest_point_sample(torch.from_numpy(pts2), 5, skip_near_origin=False)[0].tolist()
    assert 4 not in farthest_point_sample(torch.from_numpy(pts2), 29, skip_near_origin=True)[0].tolist()


def test_grouping_is_fps_then_exact_knn():
    rng = np.random.default_rng(1)
    pts = rng.uniform(-1, 1, (2, 80, 3)).astype(np.float32)
    cidx, pidx = group_patches(torch.from_numpy(pts), 8, 10)
    for b in range(2):
        assert cidx[b].tolist() == brute_fps(pts[b], 8, True)
        tree = cKDTree(pts[b])
        _, nn_idx = tree.query(pts[b][cidx[b].numpy()], k=10)
        np.testing.assert_array_equal(pidx[b].numpy(), nn_idx)
        assert (pidx[b, :, 0] == cidx[b]).all()     # the centre is its own first neighbour


def test_chamfer_l2_matches_kdtree():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(3, 200, 3)).astype(np.float32)
    b = rng.normal(size=(3, 150, 3)).astype(np.float32)
    per = []
    for i in range(3):
        d_ab, _ = cKDTree(b[i]).query(a[i])
        d_ba, _ = cKDTree(a[i]).query(b[i])
        per.append(np.mean(d_ab ** 2) + np.mean(d_ba ** 2))
    got = chamfer_l2(torch.from_numpy(a), torch.from_numpy(b), reduce="none").numpy()
    np.testing.assert_allclose(got, per, rtol=1e-4)
    np.testing.assert_allclose(float(chamfer_l2(torch.from_numpy(a), torch.from_numpy(b))),
                               np.mean(per), rtol=1e-4)
