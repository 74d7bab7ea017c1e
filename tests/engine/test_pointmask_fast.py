"""PointMask's classifier G runs channels-last (pointnet_fast) unless a tap watches one of its
layers. Both paths must be the same function: the loss and every gradient in training mode (same
draws of eps and dropout), and the sampled prediction in eval mode, in float64. A forward hook on
G (how taps read activations) must still fire."""
from __future__ import annotations

import torch

from engine.models.zoo import build_model


def _model(key="pointmask"):
    torch.manual_seed(0)
    return build_model(key, num_classes=4, width=0.125).double()


def _points(b=3, n=48, seed=1):
    return torch.randn(b, n, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def _loss_and_grads(model, pts, labels):
    model.zero_grad()
    torch.manual_seed(5)                 # the same eps and dropout draws on both paths
    loss, _ = model.training_loss(pts, labels)
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def test_training_loss_and_gradients_match_the_module_path(monkeypatch):
    from engine.models import pointnet_fast

    fast_calls = []
    real = pointnet_fast.forward_all
    monkeypatch.setattr(pointnet_fast, "forward_all", lambda m, x: fast_calls.append(1) or real(m, x))
    for key in ("pointmask", "pointmap"):
        model = _model(key).train()
        pts, labels = _points(), torch.tensor([0, 3, 1])
        fast_loss, fast_grads = _loss_and_grads(model, pts, labels)
        assert fast_calls, f"{key}: G did not take the channels-last path"
        fast_calls.clear()
        calls = []
        handle = model.classifier.feat.conv2.register_forward_hook(lambda *a: calls.append(1))
        try:
            ref_loss, ref_grads = _loss_and_grads(model, pts, labels)
        finally:
            handle.remove()
        assert calls and not fast_calls, "a hooked G must run its modules (taps read them)"
        torch.testing.assert_close(fast_loss, ref_loss, rtol=1e-10, atol=1e-12)
        assert fast_grads.keys() == ref_grads.keys()
        for name in ref_grads:
            torch.testing.assert_close(fast_grads[name], ref_grads[name], rtol=1e-8, atol=1e-10, msg=name)


def test_sampled_prediction_matches_the_module_path():
    model = _model().eval()
    pts = _points(2, 40, seed=3)
    with torch.no_grad():
        fast = model(pts)
        handle = model.classifier.fc3.register_forward_hook(lambda *a: None)
        try:
            ref = model(pts)
        finally:
            handle.remove()
    torch.testing.assert_close(fast, ref, rtol=1e-10, atol=1e-12)
