"""PointMask / PointMap / RandMask models against the paper's equations, computed by hand."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engine.core.errors import CheckpointError, ParameterError
from engine.models.zoo import build_model
from engine.models.pointmask import kl_to_standard_normal, mask_relu

W = 0.125


def _model(key="pointmask", **kw):
    torch.manual_seed(0)
    return build_model(key, num_classes=4, width=W, **kw)


def _cloud(b=2, n=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, n, 3, generator=g)


def test_mask_relu_matches_hand_computation():
    j = [-3.0, -0.5, 0.0, 0.4, 2.0, 8.0]
    for t in (0.0, 0.2, 0.5, 0.9):
        got = mask_relu(torch.tensor(j, dtype=torch.float64), t).tolist()
        want = [min(max(1.0 / (1.0 + math.exp(-v)) - t, 0.0), 1.0) for v in j]
        assert got == pytest.approx(want, abs=1e-12)
    # M = 0 exactly where sigmoid(J) <= t; never above 1 - t (no rescaling, as the paper)
    m = mask_relu(torch.linspace(-10, 10, 101), 0.3)
    assert float(m.max()) <= 0.7 + 1e-6 and (m[torch.sigmoid(torch.linspace(-10, 10, 101)) <= 0.3] == 0).all()


def test_kl_matches_hand_computation_and_torch_distributions():
    mu = torch.tensor([[0.0, 1.0, -2.0], [0.5, 0.0, 0.3]], dtype=torch.float64)
    logvar = torch.tensor([[0.0, -1.0, 0.7], [2.0, 0.1, -0.4]], dtype=torch.float64)
    per_sample = [sum(0.5 * (m * m + math.exp(lv) - 1.0 - lv) for m, lv in zip(mr, lr))
                  for mr, lr in zip(mu.tolist(), logvar.tolist())]
    want = sum(per_sample) / len(per_sample)                 # summed over points, mean over batch
    assert float(kl_to_standard_normal(mu, logvar)) == pytest.approx(want, rel=1e-12)
    d = torch.distributions
    ref = d.kl_divergence(d.Normal(mu, torch.exp(0.5 * logvar)), d.Normal(0.0, 1.0)).sum(1).mean()
    assert float(kl_to_standard_normal(mu, logvar)) == pytest.approx(float(ref), rel=1e-10)
    # PointMap: (B, N, 3) latents are summed over points AND coordinates
    mu3, lv3 = mu[..., None].repeat(1, 1, 3), logvar[..., None].repeat(1, 1, 3)
    assert float(kl_to_standard_normal(mu3, lv3)) == pytest.approx(3 * want, rel=1e-12)


def test_reparameterisation_and_paper_wiring():
    """J = mu + exp(logvar / 2) * eps; the classifier's input is P * M (the paper's Fig. 1)."""
    model = _model(threshold=0.2).train()
    x = _cloud()
    torch.manual_seed(5)
    out = model.forward_all(x, deterministic=False)
    torch.manual_seed(5)
    eps = torch.randn(out["mu"].shape)        # the same draw randn_like makes
    j = out["mu"] + torch.exp(0.5 * out["logvar"]) * eps
    assert torch.allclose(out["j"], j, atol=1e-6)
    m = mask_relu(j, 0.2)
    assert torch.allclose(out["mask"], m, atol=1e-6)
    assert torch.allclose(out["input"], x * m[..., None], atol=1e-6)
    # eps = 0: J = mu; in eval mode the deterministic logits are the classifier on P * M(mu)
    model.eval()
    with torch.no_grad():
        det = model(x, deterministic=True)
        mu, _ = model.encoder(x)
        ref = model.classifier(x * mask_relu(mu, 0.2)[..., None])
    assert torch.allclose(det, ref, atol=1e-5)


def test_cross_entropy_reaches_the_mask_encoder():
    """The masked cloud feeds the classifier, so CE alone trains the encoder (unlike the Keras
    code, where the mask only feeds the input T-Net)."""
    model = _model(alpha=0.0, threshold=0.1).train()
    loss, _ = model.training_loss(_cloud(4), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    assert model.encoder.mu.weight.grad.abs().sum() > 0
    assert model.encoder.logvar.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("key", ["pointmask", "pointmap"])
def test_training_loss_is_ce_plus_alpha_kl(key):
    alpha = 0.37
    model = _model(key, alpha=alpha, feature_transform=False, dropout=0.0).train()
    for layer in (model.encoder.mu, model.encoder.logvar):   # move away from the prior
        torch.nn.init.normal_(layer.weight, std=0.3)
    x, y = _cloud(3), torch.tensor([0, 2, 1])
    torch.manual_seed(11)
    loss, stats = model.training_loss(x, y)
    torch.manual_seed(11)
    out = model.forward_all(x, deterministic=False)
    ce = torch.nn.functional.cross_entropy(out["logits"], y)
    per = 0.5 * (out["mu"] ** 2 + torch.exp(out["logvar"]) - 1 - out["logvar"])
    kl = per.reshape(3, -1).sum(1).mean()
    ce, kl = ce.detach(), kl.detach()
    assert float(kl) > 0.1
    assert float(loss.detach()) == pytest.approx(float(ce + alpha * kl), rel=1e-5)
    assert stats["kl"] == pytest.approx(float(kl), rel=1e-5) and stats["ce"] == pytest.approx(float(ce), rel=1e-5)


@pytest.mark.parametrize("train_mode", [False, True])
def test_mask_is_permutation_equivariant(train_mode):
    model = _model(threshold=0.3)
    # make the per-point head matter (the init is close to the prior)
    torch.nn.init.normal_(model.encoder.mu.weight, std=0.5)
    model.train(train_mode)
    x = _cloud(2, 64)
    perm = torch.randperm(64, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        p0, m0 = model.mask(x)
        p1, m1 = model.mask(x[:, perm])
    assert p0.std() > 1e-3                      # not a constant mask
    assert torch.allclose(p1, p0[:, perm], atol=1e-5)
    assert torch.allclose(m1, m0[:, perm], atol=1e-5)


def test_pointmap_translates_points_equivariantly():
    model = _model("pointmap").eval()
    torch.nn.init.normal_(model.encoder.mu.weight, std=0.5)
    x = _cloud(2, 40)
    perm = torch.randperm(40, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        j, mapped = model.mapping(x)
        j2, mapped2 = model.mapping(x[:, perm])
        out = model.forward_all(x, deterministic=True)
    assert j.shape == (2, 40, 3) and torch.allclose(mapped, x + j)
    assert torch.allclose(out["input"], x + out["mu"], atol=1e-6)
    assert torch.allclose(mapped2, mapped[:, perm], atol=1e-5)


def test_eval_prediction_averages_sampled_masks_and_ignores_batch_mates():
    model = _model(threshold=0.4, eval_samples=5).eval()
    x = _cloud(3)
    with torch.no_grad():
        logits = model(x)
        # by hand: the same seeded draws, shared by every cloud of the batch
        mu, logvar = model.encoder(x)
        eps = torch.randn((5, 1) + tuple(mu.shape[1:]), generator=torch.Generator().manual_seed(0))
        probs = 0
        for s in range(5):
            j = mu + torch.exp(0.5 * logvar) * eps[s]
            probs = probs + torch.softmax(model.classifier(x * mask_relu(j, 0.4)[..., None]), -1) / 5
        alone = model(x[1:2])
    assert torch.allclose(torch.exp(logits), probs, atol=1e-5)
    assert torch.allclose(alone, logits[1:2], atol=1e-5)
    assert torch.equal(model(x), logits)       # repeatable


@pytest.mark.parametrize("kw, field", [
    ({"threshold": 1.0}, "threshold"), ({"threshold": -0.1}, "threshold"),
    ({"threshold": float("nan")}, "threshold"), ({"alpha": -0.5}, "alpha"),
    ({"alpha": float("inf")}, "alpha"), ({"eval_samples": 0}, "eval_samples"),
    ({"kl_reduce": "max"}, "kl_reduce"), ({"head_input": "index"}, "head_input"),
    ({"predict": "mode"}, "predict"),
])
@pytest.mark.parametrize("key", ["pointmask", "pointmap"])
def test_bad_parameters_are_clear_errors(key, kw, field):
    with pytest.raises(ParameterError, match=field):
        build_model(key, num_classes=4, width=W, **kw)


def test_randmask_masks_ten_to_seventy_percent():
    model = _model("randmask")
    x = torch.ones(400, 50, 3)
    torch.manual_seed(0)
    keep = model.random_keep(x)
    dropped = (keep == 0).float().mean(1)
    assert dropped.min() >= 0.1 - 1e-6 and dropped.max() <= 0.7 + 1e-6
    assert dropped.min() < 0.15 and dropped.max() > 0.65          # the whole range is used
    assert len({tuple(r.tolist()) for r in keep[:20]}) == 20        # a fresh mask per sample
    with pytest.raises(ParameterError, match="min_drop"):
        build_model("randmask", num_classes=4, width=W, min_drop=0.8, max_drop=0.5)
    # forward (test time) is a plain PointNet: no masking outside training_loss
    pn = build_model("pointnet", num_classes=4, width=W)
    pn.load_state_dict(model.state_dict())
    model.eval(), pn.eval()
    assert torch.allclose(model(_cloud()), pn(_cloud()))


def test_checkpoint_round_trip_keeps_alpha_and_threshold(tmp_path):
    from engine.models.checkpoints import load_checkpoint, save_checkpoint

    model = _model(alpha=0.2, threshold=0.35).eval()
    path = save_checkpoint(tmp_path / "pm.safetensors", model, {"classes": list("abcd"), "config": model.config})
    loaded = load_checkpoint(path)
    assert loaded.key == "pointmask" and loaded.model.threshold == 0.35 and loaded.model.alpha == 0.2
    x = _cloud()
    with torch.no_grad():
        assert torch.allclose(loaded.model(x), model(x), atol=1e-5)
    bad = dict(model.config, threshold=1.5)
    save_checkpoint(tmp_path / "bad.safetensors", model, {"classes": list("abcd"), "config": bad})
    with pytest.raises(CheckpointError, match="threshold"):
        load_checkpoint(tmp_path / "bad.safetensors")


def test_taps_reach_the_inner_classifier():
    from engine.models.taps import tap

    model = _model().eval()
    with tap(model, ["global", "fT1.fc1"]) as acts, torch.no_grad():
        model(_cloud(), deterministic=True)
    assert acts["global"].shape[0] == 2 and "fT1.fc1" in acts
    assert np.isfinite(acts["global"].numpy()).all()


def test_kl_mean_reduction_divides_the_sum_by_the_latent_count():
    """kl_reduce="mean": the KL per latent (alpha then does not grow with N); training_loss uses it."""
    mu, logvar = torch.randn(3, 7, dtype=torch.float64), torch.randn(3, 7, dtype=torch.float64)
    assert float(kl_to_standard_normal(mu, logvar, "mean")) == pytest.approx(
        float(kl_to_standard_normal(mu, logvar)) / 7, rel=1e-12)
    model = _model(alpha=0.3, kl_reduce="mean").train()
    x = _cloud(2, 32)
    torch.manual_seed(1)
    loss, stats = model.training_loss(x, torch.tensor([0, 1]))
    torch.manual_seed(1)
    out = model.forward_all(x)
    assert stats["kl"] == pytest.approx(float(kl_to_standard_normal(out["mu"], out["logvar"]).detach()) / 32,
                                        rel=1e-5)


def test_global_head_gives_every_point_of_a_cloud_the_same_distribution():
    """head_input="global": mu and log-variance from the max-pooled feature alone (equivariant
    trivially: one distribution per cloud, independent draws per point)."""
    model = _model(head_input="global")
    torch.nn.init.normal_(model.encoder.mu.weight, std=0.5)
    model.eval()
    with torch.no_grad():
        mu, logvar = model.encoder(_cloud(2, 40))
    assert torch.allclose(mu, mu[:, :1].expand_as(mu)) and torch.allclose(logvar, logvar[:, :1].expand_as(logvar))
    assert abs(float(mu[0, 0] - mu[1, 0])) > 1e-4       # but it depends on the cloud


def test_predict_zero_uses_the_eps_zero_mask():
    model = _model(threshold=0.3, predict="zero").eval()
    x = _cloud(2)
    with torch.no_grad():
        mu, _ = model.encoder(x)
        want = model.classifier(x * mask_relu(mu, 0.3)[..., None])
        assert torch.allclose(model(x), want, atol=1e-6)
