"""The fused last layer (linear + batch norm + max over points) against the layer-by-layer modules.

Checked in float64, where the two must agree to rounding: outputs, every gradient and the running
statistics, with negative BN scales (the max becomes a min) and with / without the ReLU.
"""
import pytest
import torch
from torch import nn

from engine.models.pool_fused import linear_bn_max, usable


def _layers(c_in, c_out, seed):
    torch.manual_seed(seed)
    conv, bn = nn.Conv1d(c_in, c_out, 1).double(), nn.BatchNorm1d(c_out).double()
    with torch.no_grad():
        bn.weight.copy_(torch.randn(c_out, dtype=torch.float64))      # some negative scales
        bn.bias.copy_(torch.randn(c_out, dtype=torch.float64))
        bn.running_var.uniform_(0.5, 2.0)
    return conv, bn


def _reference(x, conv, bn, b, relu):
    n = x.shape[0] // b
    y = bn(conv(x.view(b, n, -1).transpose(1, 2)))                   # (b, C, n): the module path
    if relu:
        y = torch.relu(y)
    return torch.amax(y, dim=2)


@pytest.mark.parametrize("relu", [True, False])
def test_matches_modules_in_float64(relu):
    b, n, c_in, c_out = 3, 11, 5, 7
    conv, bn = _layers(c_in, c_out, 0)
    conv2, bn2 = _layers(c_in, c_out, 0)
    assert usable(conv, bn)
    x = torch.randn(b * n, c_in, dtype=torch.float64) + 0.7               # off-centre inputs
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    ref = _reference(x1, conv, bn, b, relu)
    got = linear_bn_max(x2, conv2, bn2, b, relu)
    torch.testing.assert_close(got, ref, rtol=1e-10, atol=1e-12)
    upstream = torch.randn(b, c_out, dtype=torch.float64)
    (ref * upstream).sum().backward()
    (got * upstream).sum().backward()
    torch.testing.assert_close(x2.grad, x1.grad, rtol=1e-9, atol=1e-11)
    for p_ref, p_got in zip((conv.weight, conv.bias, bn.weight, bn.bias), (conv2.weight, conv2.bias, bn2.weight, bn2.bias)):
        torch.testing.assert_close(p_got.grad, p_ref.grad, rtol=1e-9, atol=1e-11)
    torch.testing.assert_close(bn2.running_mean, bn.running_mean, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(bn2.running_var, bn.running_var, rtol=1e-10, atol=1e-12)
    assert int(bn2.num_batches_tracked) == int(bn.num_batches_tracked) == 1


def test_gradient_reaches_only_the_arg_max_rows_besides_the_dense_bn_term():
    # With a zero upstream gradient on all but one cloud, the rows of the other clouds still get
    # the batch-statistics part of the gradient: the fused backward must not drop it.
    b, n, c_in, c_out = 2, 6, 3, 4
    conv, bn = _layers(c_in, c_out, 1)
    conv2, bn2 = _layers(c_in, c_out, 1)
    x = torch.randn(b * n, c_in, dtype=torch.float64)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    up = torch.zeros(b, c_out, dtype=torch.float64)
    up[0] = 1.0
    (_reference(x1, conv, bn, b, False) * up).sum().backward()
    (linear_bn_max(x2, conv2, bn2, b, False) * up).sum().backward()
    assert x1.grad[n:].abs().sum() > 0                                 # the dense part exists
    torch.testing.assert_close(x2.grad, x1.grad, rtol=1e-9, atol=1e-11)


def test_eval_mode_is_not_fused():
    conv, bn = _layers(3, 4, 2)
    bn.eval()
    assert not usable(conv, bn)


@pytest.mark.parametrize("relu", [True, False])
def test_eval_mode_matches_modules_with_a_sparse_backward(relu):
    from engine.models.pool_fused import linear_bn_eval_max

    b, n, c_in, c_out = 3, 9, 4, 6
    conv, bn = _layers(c_in, c_out, 3)
    conv2, bn2 = _layers(c_in, c_out, 3)
    bn.eval(), bn2.eval()
    x = torch.randn(b * n, c_in, dtype=torch.float64)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    ref = _reference(x1, conv, bn, b, relu)
    got = linear_bn_eval_max(x2, conv2, bn2, b, relu)
    torch.testing.assert_close(got, ref, rtol=1e-12, atol=1e-12)
    up = torch.randn(b, c_out, dtype=torch.float64)
    (ref * up).sum().backward()
    (got * up).sum().backward()
    torch.testing.assert_close(x2.grad, x1.grad, rtol=1e-10, atol=1e-12)
    for p_ref, p_got in zip((conv.weight, conv.bias, bn.weight, bn.bias), (conv2.weight, conv2.bias, bn2.weight, bn2.bias)):
        torch.testing.assert_close(p_got.grad, p_ref.grad, rtol=1e-10, atol=1e-12)
    # eval mode leaves the running statistics alone
    torch.testing.assert_close(bn2.running_mean, bn.running_mean)


def test_bf16_autocast_training_step_runs_on_the_module_path():
    # --precision bf16 trains under autocast; the fused layers are float32-only and step aside.
    from engine.models import pointnet_fast
    from engine.models.base import build_model

    torch.manual_seed(0)
    model = build_model("pointnet", num_classes=3, width=0.125).train()
    x, y = torch.randn(4, 32, 3), torch.tensor([0, 1, 2, 0])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss, _ = pointnet_fast.training_loss(model, x, y)
    loss.backward()
    assert torch.isfinite(loss) and all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
