"""Occlusion saliency against a brute-force deletion on a model whose answer is easy to reason
about: class 0's logit is (the largest x coordinate) - 1.5, class 1's its negative."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine import Job, run
from engine.methods.inspect.occlusion import occlusion_patches


class MaxX(torch.nn.Module):
    classes = ["right", "left"]

    def forward(self, x):
        m = x[..., 0].max(dim=1).values - 1.5
        return torch.stack([m, -m], dim=-1)


@pytest.fixture
def cloud():
    rng = np.random.default_rng(3)
    pts = rng.uniform(-1, 1, size=(200, 3)).astype(np.float32)
    pts[17] = [2.0, 0.0, 0.0]          # one point far to the right decides class 0
    return pts


def _prob(model, pts):
    with torch.no_grad():
        return torch.softmax(model(torch.tensor(pts[None])), -1)[0].numpy()


def test_each_drop_equals_deleting_that_neighbourhood(cloud):
    model = MaxX()
    r = run(Job("occlusion", {"points": cloud, "target": 0}, {"patches": 12, "patch_size": 15}, model=model))
    centres, members = occlusion_patches(cloud, 12, 15)
    base = _prob(model, cloud)[0]
    for c, idx, drop in zip(centres, members, r.arrays["drops"]):
        keep = np.ones(len(cloud), bool)
        keep[idx] = False
        assert drop == pytest.approx(base - _prob(model, cloud[keep])[0], abs=1e-5)
    np.testing.assert_array_equal(r.arrays["centres"], centres)


def test_the_deciding_point_is_the_most_important(cloud):
    r = run(Job("occlusion", {"points": cloud}, {"patches": 40, "patch_size": 10}, model=MaxX()))
    assert r.metrics["target"] == 0 and r.metrics["target_name"] == "right"
    imp = r.arrays["importance"]
    assert imp.shape == (200,) and int(np.argmax(imp)) == 17
    # removing the point moves the largest x from 2 to about 1: p(right) from sigmoid(1) to sigmoid(-1)
    assert imp[17] == pytest.approx(1 / (1 + np.exp(-1)) - 1 / (1 + np.exp(1)), abs=0.02)
    far_left = np.argsort(cloud[:, 0])[:20]
    assert np.all(imp[far_left] < 1e-3)


def test_patches_keep_at_least_one_point_and_bad_targets_are_refused(cloud):
    centres, members = occlusion_patches(cloud[:5], 10, 99)
    assert len(centres) == 5 and members.shape == (5, 4)
    with pytest.raises(Exception, match="target class 7"):
        run(Job("occlusion", {"points": cloud, "target": 7}, model=MaxX()))


def test_the_generated_command_runs_it(capsys):
    import json

    from engine.cli import main

    assert main(["run", "occlusion", "--index", "2", "--points", "256", "--patches", "8", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["method"] == "occlusion" and out["total"] == 256 and 0 <= out["largest_drop"] <= 1


def test_the_generated_command_names_a_bad_index_in_one_line(capsys):
    from engine.cli import main

    assert main(["run", "occlusion", "--index", "99999"]) == 2
    assert "index 99999 is outside split 'test'" in capsys.readouterr().err


def test_a_model_in_train_mode_is_scored_in_eval_mode_and_left_as_it_was(cloud):
    from engine.models.zoo import build_model

    torch.manual_seed(0)
    net = build_model("pointnet", num_classes=3, width=0.125)
    net.eval()
    want = run(Job("occlusion", {"points": cloud}, {"patches": 6, "patch_size": 20}, model=net)).arrays["drops"]
    net.train()
    got = run(Job("occlusion", {"points": cloud}, {"patches": 6, "patch_size": 20}, model=net)).arrays["drops"]
    assert net.training
    np.testing.assert_allclose(got, want, atol=1e-6)
