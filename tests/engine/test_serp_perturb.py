"""SeRP perturbation: the chosen patches and nothing else, with the requested noise statistics."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.core.errors import ParameterError
from engine.ops.perturb import perturb, perturb_batch


def brute_patches(pts: np.ndarray, centre_idx, k: int) -> list[set[int]]:
    """k nearest points of each centre by a full sort of Python-computed distances."""
    out = []
    for c in centre_idx:
        d = [(float(((pts[i] - pts[c]) ** 2).sum()), i) for i in range(len(pts))]
        out.append({i for _, i in sorted(d)[:k]})
    return out


def test_per_point_touches_exactly_the_patches():
    rng = np.random.default_rng(1)
    pts = rng.uniform(-1, 1, (300, 3)).astype(np.float32)
    centres = np.array([5, 77, 140, 222])
    noise = rng.normal(0, 0.03, (300, 3)).astype(np.float32)
    res = perturb(pts, centres=4, neighbours=12, mode="per-point", centre_idx=centres, noise=noise)
    union = set().union(*brute_patches(pts, centres, 12))
    assert set(np.flatnonzero(res.mask)) == union
    np.testing.assert_array_equal(res.points[~res.mask], pts[~res.mask])
    np.testing.assert_allclose(res.points[res.mask], pts[res.mask] + noise[res.mask], atol=1e-7)
    for c, patch in zip(centres, res.patch_idx):
        assert patch[0] == c and len(set(patch)) == 12


def test_per_patch_one_offset_per_patch_later_overwrites():
    # Two overlapping patches (neighbouring centres on a line) and one far away.
    x = np.linspace(0, 1, 50, dtype=np.float32)
    pts = np.stack([x, np.zeros_like(x), np.zeros_like(x)], 1)
    centres = np.array([10, 14, 40])
    offsets = np.array([[0.1, 0, 0], [0, 0.2, 0], [0, 0, 0.3]], np.float32)
    res = perturb(pts, 3, 7, mode="per-patch", centre_idx=centres, noise=offsets)
    patches = brute_patches(pts, centres, 7)
    shift = res.points - pts
    for j, patch in enumerate(patches):
        later = set().union(*patches[j + 1:]) if j + 1 < len(patches) else set()
        for i in patch:
            expected = offsets[max(q for q, p in enumerate(patches) if i in p)]
            np.testing.assert_allclose(shift[i], expected, atol=1e-7)
        own = sorted(patch - later)
        assert own and np.allclose(shift[own], offsets[j], atol=1e-7)   # one offset per patch
    assert set(np.flatnonzero(res.mask)) == set().union(*patches)
    assert np.all(shift[~res.mask] == 0)


def test_per_point_noise_has_the_requested_std():
    rng = np.random.default_rng(2)
    pts = rng.uniform(-1, 1, (8000, 3)).astype(np.float32)
    res = perturb(pts, centres=150, neighbours=20, std=0.03, rng=rng)
    moved = (res.points - pts)[res.mask].astype(np.float64)
    assert res.mask.sum() > 2500
    assert abs(moved.std() - 0.03) < 0.03 * 0.03            # within 3 %
    assert abs(moved.mean()) < 0.002
    # Points of one patch move independently (not a rigid shift).
    patch = res.patch_idx[0]
    assert np.std((res.points - pts)[patch], axis=0).min() > 0.01


def test_per_patch_offsets_have_the_requested_std_and_patch_sizes():
    g = torch.Generator().manual_seed(3)
    pts = torch.rand(64, 1024, 3, generator=g) * 2 - 1
    res = perturb_batch(pts, centres=20, neighbours=20, std=0.05, mode="per-patch", generator=g)
    assert res.noise.shape == (64, 20, 3)
    assert abs(float(res.noise.std()) - 0.05) < 0.05 * 0.05
    count = res.mask.sum(1)
    assert bool((count >= 20).all() and (count <= 400).all())
    shift = res.points - pts
    # Within a patch, the points the last patch owns all carry the last offset exactly.
    last = res.patch_idx[:, -1]
    got = torch.gather(shift, 1, last.unsqueeze(-1).expand(-1, -1, 3))
    torch.testing.assert_close(got, res.noise[:, -1:].expand(-1, 20, -1))


def test_numpy_and_torch_agree_on_injected_randomness():
    rng = np.random.default_rng(4)
    pts = rng.uniform(-1, 1, (2, 128, 3)).astype(np.float32)
    centres = np.stack([rng.permutation(128)[:6] for _ in range(2)])
    for mode, shape in (("per-point", (2, 128, 3)), ("per-patch", (2, 6, 3))):
        noise = rng.normal(0, 0.03, shape).astype(np.float32)
        tb = perturb_batch(torch.from_numpy(pts), 6, 9, mode=mode, centre_idx=torch.from_numpy(centres),
                           noise=torch.from_numpy(noise))
        for b in range(2):
            nb = perturb(pts[b], 6, 9, mode=mode, centre_idx=centres[b], noise=noise[b])
            np.testing.assert_array_equal(tb.mask[b].numpy(), nb.mask)
            np.testing.assert_allclose(tb.points[b].numpy(), nb.points, atol=1e-6)


def test_centre_stays_in_its_patch_with_duplicates_and_seeds_reproduce():
    pts = np.zeros((40, 3), np.float32)
    pts[:20] = 0.5                                 # 20 identical points
    pts[20:] = np.random.default_rng(5).uniform(-1, 1, (20, 3))
    res = perturb(pts, 1, 3, centre_idx=np.array([7]), rng=0)
    assert res.patch_idx[0, 0] == 7 and res.mask[7]
    a, b = perturb(pts, 5, 4, rng=11), perturb(pts, 5, 4, rng=11)
    np.testing.assert_array_equal(a.points, b.points)
    assert len(set(a.centre_idx)) == 5
    g1, g2 = torch.Generator().manual_seed(9), torch.Generator().manual_seed(9)
    t = torch.from_numpy(pts)[None]
    torch.testing.assert_close(perturb_batch(t, 5, 4, generator=g1).points,
                               perturb_batch(t, 5, 4, generator=g2).points)


@pytest.mark.parametrize("kw", [dict(centres=0), dict(centres=41), dict(neighbours=50),
                                dict(std=-1.0), dict(mode="gaussian")])
def test_bad_settings_are_parameter_errors(kw):
    pts = np.zeros((40, 3), np.float32)
    with pytest.raises(ParameterError):
        perturb(pts, **{**dict(centres=2, neighbours=3), **kw})
