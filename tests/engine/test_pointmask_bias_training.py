"""The paper's Fig. 4 experiment, short: train on builtin with a strong letter bias, test without.

Strong bias at 256 object points: 32 letter points, the paper's 256 of 2,048 (12.5 %). One
bias-lab job trains PointNet and PointMask (seeded, deterministic on CPU) and both tests read it.
"""
from __future__ import annotations

import pytest

from engine.jobs import Job, run_sync

pytestmark = pytest.mark.slow

SETTINGS = {"levels": "32", "models": "pointnet,pointmask", "epochs": 12, "width": 0.125,
            "points": 256, "limit": 300, "seed": 0}


@pytest.fixture(scope="module")
def lab():
    import torch

    torch.set_num_threads(1)
    return run_sync(Job("bias-lab", {"data": "builtin"}, SETTINGS)).metrics["accuracy"]


def test_strong_bias_makes_pointnet_read_the_letter(lab):
    """With the letters at test time PointNet is near perfect; without them it collapses."""
    biased, unbiased = lab["biased"]["pointnet"]["32"], lab["unbiased"]["pointnet"]["32"]
    assert biased >= 0.8
    assert unbiased <= 0.45 and biased - unbiased >= 0.4


@pytest.mark.xfail(strict=True, reason=(
    "Paper Fig. 4 (PointMask well above PointNet on the unbiased test at strong bias) does not "
    "reproduce with the paper's wiring: measured on builtin (256 points, 32 letter points, 15 "
    "epochs) PointMask 13 % vs PointNet 26 % unbiased; PointMask reads the letter as PointNet "
    "does (biased test 100 %). See the pointmask helper's report."))
def test_pointmask_keeps_a_margin_above_pointnet(lab):
    assert lab["unbiased"]["pointmask"]["32"] >= lab["unbiased"]["pointnet"]["32"] + 0.1
