"""PointNet's channels-last forward in eval mode (saliency, evaluation) against the module forward:
batch norm folded into the layers and the sparse arg-max backward give the same logits and the same
input gradient, in float64, with non-trivial running statistics and affine parameters."""
from __future__ import annotations

import torch

from engine.models.zoo import build_model
from engine.models import pointnet_fast


def _model_with_statistics(seed: int):
    torch.manual_seed(seed)
    model = build_model("pointnet", num_classes=4, width=0.125).double()
    g = torch.Generator().manual_seed(seed + 1)
    for mod in model.modules():
        if isinstance(mod, torch.nn.BatchNorm1d):
            c = mod.num_features
            mod.running_mean.copy_(torch.randn(c, generator=g, dtype=torch.float64) * 0.5)
            mod.running_var.copy_(torch.rand(c, generator=g, dtype=torch.float64) * 2 + 0.1)
            with torch.no_grad():
                mod.weight.copy_(torch.randn(c, generator=g, dtype=torch.float64))   # some negative
                mod.bias.copy_(torch.randn(c, generator=g, dtype=torch.float64) * 0.3)
    return model.eval()


def test_eval_forward_and_input_gradient_match_the_modules():
    model = _model_with_statistics(0)
    pts = torch.randn(3, 40, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(9))
    labels = torch.tensor([0, 3, 1])

    x1 = pts.clone().requires_grad_(True)
    ref = torch.nn.functional.cross_entropy(model(x1), labels, reduction="sum")
    (g_ref,) = torch.autograd.grad(ref, x1)

    x2 = pts.clone().requires_grad_(True)
    logits = pointnet_fast.forward_all(model, x2)["logits"]
    got = torch.nn.functional.cross_entropy(logits, labels, reduction="sum")
    (g_got,) = torch.autograd.grad(got, x2)

    torch.testing.assert_close(got, ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(g_got, g_ref, rtol=1e-10, atol=1e-12)


def test_eval_forward_gives_every_parameter_its_gradient():
    # frozen-BN fine-tuning runs in eval mode: the fold must pass gradients to conv and BN alike
    model = _model_with_statistics(1)
    pts = torch.randn(2, 30, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    labels = torch.tensor([1, 2])
    loss_ref = torch.nn.functional.cross_entropy(model(pts), labels)
    ref = torch.autograd.grad(loss_ref, [model.feat.conv1.weight, model.feat.bn1.weight, model.feat.bn1.bias])
    loss = torch.nn.functional.cross_entropy(pointnet_fast.forward_all(model, pts)["logits"], labels)
    got = torch.autograd.grad(loss, [model.feat.conv1.weight, model.feat.bn1.weight, model.feat.bn1.bias])
    for a, b in zip(got, ref):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
