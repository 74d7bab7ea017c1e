"""engine.numeric: numpy-only helpers the GUI thread imports (no torch), checked against the
torch implementations and the paper's literal formulas."""
import subprocess
import sys

import numpy as np
import torch

from engine.numeric.mix_blend import blend


def test_importing_the_numeric_helpers_does_not_load_torch():
    code = ("import sys, engine.numeric.mix_blend, engine.numeric.gmm_geometry; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_numpy_blend_equals_the_torch_branch_and_eq_9():
    from engine.methods.mix import sagemix

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(64, 3)).astype(np.float32), rng.normal(size=(64, 3)).astype(np.float32)
    for sigma, pi in ((0.3, 0.5), (2.0, 0.2), (0.8, 0.9), (0.3, 1.0), (0.3, 0.0)):
        m1, l1 = blend(a, b, a[3], b[7], sigma, pi)
        m2, l2 = sagemix.blend(torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(a[3]),
                               torch.from_numpy(b[7]), sigma, pi)
        np.testing.assert_allclose(l1, l2.numpy(), atol=1e-6)
        np.testing.assert_allclose(m1, m2.numpy(), atol=1e-6)
        # eq. 9 literally, where it is defined (weights not both underflowing)
        w_a = np.exp(-((a.astype(np.float64) - a[3]) ** 2).sum(-1) / (2 * sigma ** 2))
        w_b = np.exp(-((b.astype(np.float64) - b[7]) ** 2).sum(-1) / (2 * sigma ** 2))
        lit = pi * w_a / (pi * w_a + (1 - pi) * w_b)
        np.testing.assert_allclose(l1, lit, atol=1e-6)
        assert l1.dtype == np.float32 and m1.dtype == np.float32


def test_batched_blend_with_a_prior_per_cloud():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(3, 20, 3)), rng.normal(size=(3, 20, 3))
    qa, qb, pi = a[:, 0], b[:, 5], np.array([0.0, 0.5, 1.0])
    mixed, lam = blend(a, b, qa, qb, 0.5, pi)
    assert np.all(lam[0] == 0) and np.all(lam[2] == 1)          # pi = 0 / 1: all b / all a
    np.testing.assert_allclose(mixed[0], b[0]) and np.testing.assert_allclose(mixed[2], a[2])
    single, lam1 = blend(a[1], b[1], qa[1], qb[1], 0.5, 0.5)
    np.testing.assert_allclose(lam[1], lam1)
