"""The paper's Fig. 4 experiment, short: train on builtin with a strong letter bias, test without.

Strong bias at 256 object points: 32 letter points, the paper's 256 of 2,048 (12.5 %). Four
classes (chance 25 %), 40 training clouds per class. One bias-lab job trains PointNet and PointMask
(seeded, deterministic on CPU) with the lab's PointMask settings (t = 0.8, alpha = 0.5; why: the
bias_lab module docstring) and the tests read it. Over 8 seeds of this setting PointMask's
unbiased accuracy was 55 % on average vs PointNet's 40 % (ahead in 7 of 8, by >= 10 points in 6);
the per-seed table is in the closing note of issue 4 (stop 11).
"""
from __future__ import annotations

import pytest

from engine import Job, run_sync, run, start

pytestmark = pytest.mark.slow

SETTINGS = {"levels": "32", "models": "pointnet,pointmask", "epochs": 40, "width": 0.125,
            "points": 256, "limit": 160, "classes": "chair,desk,sofa,table", "seed": 0}


@pytest.fixture(scope="module")
def lab():
    import torch

    torch.set_num_threads(1)
    return run(Job("bias-lab", {"data": "builtin"}, SETTINGS)).metrics


def test_strong_bias_makes_pointnet_read_the_letter(lab):
    """With the letters at test time PointNet is near perfect; without them it collapses."""
    acc = lab["accuracy"]
    biased, unbiased = acc["biased"]["pointnet"]["32"], acc["unbiased"]["pointnet"]["32"]
    assert biased >= 0.8
    assert unbiased <= 0.45 and biased - unbiased >= 0.4


def test_pointmask_keeps_a_margin_above_pointnet(lab):
    """Paper Fig. 4 ordering: on the unbiased test PointMask stays clearly above PointNet."""
    acc = lab["accuracy"]["unbiased"]
    assert acc["pointmask"]["32"] >= acc["pointnet"]["32"] + 0.1


def test_the_margin_comes_from_sparse_sampled_masks(lab):
    """Why it resists (the lab's docstring): the strong KL holds the mask near its prior, so a
    sampled mask keeps about P(N(0, 1) > logit 0.8) = 8.3 % of the points, letter and object alike."""
    import math

    from scipy.stats import norm

    run = next(r for r in lab["runs"] if r["model"] == "pointmask")
    prior = norm.sf(math.log(0.8 / 0.2))
    assert run["letter_keep_prob"] == pytest.approx(prior, abs=0.05)
    assert run["object_keep_prob"] == pytest.approx(prior, abs=0.05)
