"""PointNet's last shared layer fused with its batch norm and the max over points.

PointNet ends each shared MLP with ``max_points(relu?(BN(X W^T + b)))`` on a wide layer (1,024
channels). Done layer by layer, that layer costs three big matrix products (forward, and two in
the backward) and keeps several (B*N, 1024) tensors alive for the backward. Two facts make most
of it unnecessary, with the same gradients (up to rounding, checked in float64 by
tests/engine/test_pool_fused.py):

- BN with a fixed per-channel scale and ReLU are monotone per channel, so the max over points of
  the normalised output is the normalised max (the min where gamma < 0). Only the (B, C) pooled
  values need normalising; the batch statistics of ``Y = X W^T + b`` follow from the mean and
  covariance of X (C_in x C_in, cheap): mean_y = W mean_x + b, var_y = diag(W Cov(X) W^T).
- The batch-norm backward turns the sparse gradient at the arg-max rows into a dense one, but the
  dense part is an affine function of Y per channel (a * y + c). Its products with X and W
  collapse to C_in x C_in matrices: dW = diag(a) W (X^T X) + (a b + c) sum(X)^T, and
  dX = X (W^T diag(a) W) + (a b + c)^T W, plus the sparse rows.

So the backward of the widest layer needs no big matrix product at all, and the forward computes
Y in chunks that are reduced to their max at once, never storing (B*N, 1024). In eval mode (BN
with running statistics, e.g. SageMix's saliency pass) there is no dense part: the backward is a
scatter to the arg-max rows (``linear_bn_eval_max``).
"""
from __future__ import annotations

import warnings

import torch
from torch import nn


def usable(conv: nn.Conv1d, bn: nn.BatchNorm1d) -> bool:
    """``linear_bn_max`` reproduces BatchNorm1d in training mode with running statistics and an
    affine transform; anything else keeps the layer-by-layer path."""
    return (bn.training and bn.affine and bn.track_running_stats and bn.momentum is not None
            and conv.kernel_size == (1,)
            and conv.weight.device.type != "mps")   # its batch statistics are float64; mps has none


def _batch_stats(x: torch.Tensor, weight: torch.Tensor, bias64: torch.Tensor):
    """Mean and biased variance of Y = X W^T + b per channel from X's mean and covariance."""
    m = x.shape[0]
    w64 = weight.double()
    sum_x = x.sum(0)
    mean_x = sum_x.double() / m
    xc = x - mean_x.to(x.dtype)
    cov = (xc.t() @ xc).double() / m                               # centred: no cancellation
    mu = w64 @ mean_x + bias64
    var = ((w64 @ cov) * w64).sum(1).clamp_min(0.0)
    return sum_x, mean_x, cov, mu, var


class _LinearBnMax(torch.autograd.Function):
    """Inputs x, weight, bias, gamma, beta get gradients; the batch statistics come in as
    constants because the backward accounts for their dependence on Y analytically."""

    @staticmethod
    def forward(ctx, x, weight, bias, gamma, beta, b, eps, relu, stats):
        sum_x, mean_x, cov, mu, var, bias64 = stats
        inv_std = (var + eps).rsqrt()

        sign = torch.where(gamma >= 0, 1.0, -1.0).to(x.dtype)   # BN scales these channels negatively
        pooled, idx = _max_rows(x, weight, bias, b, sign)

        xhat = (pooled.double() - mu) * inv_std
        pre = gamma.double() * xhat + beta.double()
        out = pre.clamp_min(0.0) if relu else pre
        ctx.save_for_backward(x, weight, idx, mu, inv_std, xhat, pre, cov, mean_x, sum_x, bias64, gamma)
        ctx.relu = relu
        ctx.has_bias = bias is not None
        return out.to(x.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        x, weight, idx, mu, inv_std, xhat, pre, cov, mean_x, sum_x, bias64, gamma = ctx.saved_tensors
        m, c_in = x.shape
        b, c_out = idx.shape
        n = m // b
        g = grad_out.double()
        if ctx.relu:
            g = g * (pre > 0)
        dbeta = g.sum(0)
        dgamma = (g * xhat).sum(0)
        k = gamma.double() * inv_std
        coef = g * k                                                # dY at the arg-max rows
        a = -(k / m) * dgamma * inv_std                             # dense dY = a * y + c
        c = -(k / m) * (dbeta - mu * inv_std * dgamma)
        w64 = weight.double()
        shift = a * bias64 + c
        gram = cov * m + m * torch.outer(mean_x, mean_x)            # X^T X
        rows = (idx + torch.arange(b, device=idx.device)[:, None] * n).reshape(-1)
        picked = x.index_select(0, rows).view(b, c_out, c_in)

        dw = (a[:, None] * (w64 @ gram) + torch.outer(shift, sum_x.double())).to(x.dtype)
        dw += torch.einsum("bc,bci->ci", coef.to(x.dtype), picked)
        dbias = None
        if ctx.has_bias:
            dbias = (a * (w64 @ sum_x.double() + m * bias64) + m * c + coef.sum(0)).to(x.dtype)
        dx = None
        if ctx.needs_input_grad[0]:
            dx = torch.addmm(((shift @ w64).to(x.dtype)).expand(m, c_in), x,
                             ((w64.t() * a) @ w64).to(x.dtype))
            dx.index_add_(0, rows, (coef.to(x.dtype)[:, :, None] * weight[None]).view(-1, c_in))
        return dx, dw, dbias, dgamma.to(x.dtype), dbeta.to(x.dtype), None, None, None, None


def linear_bn_max(x: torch.Tensor, conv: nn.Conv1d, bn: nn.BatchNorm1d, b: int, relu: bool) -> torch.Tensor:
    """``max over points of relu?(bn(conv(x)))`` for rows x (B*N, C_in) of b clouds -> (b, C_out),
    updating bn's running statistics as BatchNorm1d does in training mode."""
    weight = conv.weight.squeeze(-1)
    m = x.shape[0]
    with torch.no_grad():
        bias64 = conv.bias.double() if conv.bias is not None else weight.new_zeros(weight.shape[0], dtype=torch.float64)
        sum_x, mean_x, cov, mu, var = _batch_stats(x.detach(), weight.detach(), bias64)
        mom = bn.momentum
        bn.running_mean.mul_(1 - mom).add_(mu.to(bn.running_mean.dtype), alpha=mom)
        bn.running_var.mul_(1 - mom).add_((var * m / max(m - 1, 1)).to(bn.running_var.dtype), alpha=mom)
        bn.num_batches_tracked.add_(1)
    return _LinearBnMax.apply(x, weight, conv.bias, bn.weight, bn.bias, b, bn.eps, relu,
                              (sum_x, mean_x, cov, mu, var, bias64))


class _LinearAffineMax(torch.autograd.Function):
    """max over points of relu?(scale * (X W^T + b) + shift): batch norm in eval mode. Without
    batch statistics the gradient reaches only the arg-max rows, so the backward is a scatter."""

    @staticmethod
    def forward(ctx, x, weight, bias, scale, shift, b, relu):
        pooled, idx = _max_rows(x, weight, bias, b, torch.where(scale >= 0, 1.0, -1.0).to(x.dtype))
        pre = scale * pooled + shift
        ctx.save_for_backward(x, weight, idx, pooled, pre, scale)
        ctx.relu, ctx.has_bias = relu, bias is not None
        return pre.clamp_min(0.0) if relu else pre

    @staticmethod
    def backward(ctx, grad_out):
        x, weight, idx, pooled, pre, scale = ctx.saved_tensors
        m, c_in = x.shape
        b, c_out = idx.shape
        g = grad_out * (pre > 0) if ctx.relu else grad_out
        coef = g * scale                                            # dL/dy at the arg-max rows
        rows = (idx + torch.arange(b, device=idx.device)[:, None] * (m // b)).reshape(-1)
        dx = dw = dbias = None
        if ctx.needs_input_grad[0]:
            dx = _sparse_rows_times(rows, coef, weight, m)
        if ctx.needs_input_grad[1]:
            dw = torch.einsum("bc,bci->ci", coef, x.index_select(0, rows).view(b, c_out, c_in))
        if ctx.has_bias and ctx.needs_input_grad[2]:
            dbias = coef.sum(0)
        return dx, dw, dbias, (g * pooled).sum(0), g.sum(0), None, None


def _sparse_rows_times(rows: torch.Tensor, coef: torch.Tensor, weight: torch.Tensor, m: int) -> torch.Tensor:
    """dX (m, C_in) = S W for the sparse S (m, C_out) with S[rows[b, c], c] = coef[b, c]: every
    output channel's gradient lands on its arg-max row. One CSR product (~2.4x faster than
    building the (b, C_out, C_in) products and index-adding them into zeros, measured on 32 x
    1,024). Training's backward keeps the index-add: it adds onto a dense term, and a CSR
    product plus a dense add measured slower there."""
    b, c_out = coef.shape
    order = torch.argsort(rows)
    crow = torch.zeros(m + 1, dtype=torch.int64, device=rows.device)
    crow[1:] = torch.cumsum(torch.bincount(rows, minlength=m), 0)
    cols = torch.arange(c_out, device=rows.device).repeat(b)[order]
    with warnings.catch_warnings():           # "sparse CSR support is in beta": the product is not
        warnings.simplefilter("ignore")
        s = torch.sparse_csr_tensor(crow, cols, coef.reshape(-1)[order].to(weight.dtype), (m, c_out))
        return s @ weight


def _max_rows(x, weight, bias, b, sign):
    """(pooled (b, C_out), arg-max row within each cloud (b, C_out)) of Y = X W^T + bias, where
    the max is taken of sign * y (a min where sign is -1), cloud by cloud."""
    m, c_in = x.shape
    n = m // b
    ws = weight * sign[:, None]
    c_out = weight.shape[0]
    vals = x.new_empty(b, c_out)
    idx = torch.empty(b, c_out, dtype=torch.int64, device=x.device)
    y = x.new_empty(c_out, n)
    xv = x.view(b, n, c_in)
    for s in range(b):
        # One cloud at a time into one reused (C_out, n) buffer that stays in cache: the max runs
        # along contiguous memory, which makes the arg-max cheap (a max with indices across rows
        # of (n, C_out) cost as much as the product); ~30 % faster than batched products over
        # chunks of clouds (measured). The bias is constant over the points, so it is added to
        # the max, not to every entry.
        torch.mm(ws, xv[s].t(), out=y)
        torch.max(y, dim=1, out=(vals[s], idx[s]))
    pooled = vals * sign
    return (pooled + bias if bias is not None else pooled), idx


def bn_eval_affine(bn: nn.modules.batchnorm._BatchNorm) -> tuple[torch.Tensor, torch.Tensor]:
    """(scale, shift) with bn(y) = scale * y + shift per channel in eval mode (running statistics);
    differentiable in the BN parameters. What folding a BN into the layer before it needs."""
    scale = torch.rsqrt(bn.running_var + bn.eps)
    shift = -bn.running_mean * scale
    if bn.affine:
        shift = shift * bn.weight + bn.bias
        scale = scale * bn.weight
    return scale, shift


def linear_bn_eval_max(x: torch.Tensor, conv: nn.Conv1d, bn: nn.BatchNorm1d, b: int, relu: bool) -> torch.Tensor:
    """``max over points of relu?(bn(conv(x)))`` for bn in eval mode (running statistics)."""
    scale, shift = bn_eval_affine(bn)
    return _LinearAffineMax.apply(x, conv.weight.squeeze(-1), conv.bias, scale, shift, b, relu)
