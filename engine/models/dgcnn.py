"""DGCNN (Wang et al. 2019) classifier as in WangYueFt/dgcnn pytorch/model.py (class ``DGCNN``).

Module names are the public ones, so its ``model.t7`` (a DataParallel state dict, ``module.``
keys) and AnTao97/dgcnn.pytorch's ``DGCNN_cls`` load by name: ``bn1``..``bn5`` and the EdgeConv
blocks ``conv1``..``conv4`` = Sequential(Conv2d 1x1 without bias, the same BatchNorm2d,
LeakyReLU 0.2) (each BN is registered twice, as ``bnX`` and ``convX.1``, so both key sets are
in the state dict), ``conv5`` = Sequential(Conv1d to ``emb_dims``, bn5, LeakyReLU), then
``linear1`` (no bias) ``bn6 dp1 linear2 bn7 dp2 linear3``. Stateless identities name the
activations for taps. ``forward`` returns logits, as the public code does.

Edge features are ``[x_j - x_i, x_i]`` over the k nearest neighbours of each point, the point
itself included, found by ``topk`` of ``-|x_i - x_j|^2`` computed as the public ``knn`` does
(``-|x_i|^2 + 2 x_i.x_j - |x_j|^2``, same order, so the same neighbours). The 1x1 convolution
of an edge feature is linear, W [x_j - x_i; x_i] = W_a x_j + (W_b - W_a) x_i, so it is computed
per point (two products with the block's own weight) and the neighbour half gathered: the same
numbers (up to float rounding) at 1/k of the multiply-adds, and no (B, 2C, N, k) edge tensor.
The block's BatchNorm runs on the result as in the public code, its LeakyReLU after the max over
neighbours (the same values: it is increasing, so it commutes with the max); in eval
mode the BatchNorm (then affine) is folded into the per-point products too, so only a gather and
a max touch the edges.

``width`` scales every layer width and ``emb_dims``; 1.0 is the paper's network.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from engine.core.errors import ModelError
from engine.core.registry import MODELS
from engine.models.base import PointModel, eval_affine, scaled, soft_cross_entropy

LABEL_SMOOTHING = 0.2       # the public main.py trains with cal_loss(smoothing=True), eps 0.2
LEAKY = 0.2


def knn(x: torch.Tensor, k: int) -> torch.Tensor:
    """Indices (B, N, k) of the k nearest points of each point, itself included; x (B, C, N).

    The public formula and order, in full precision (autocast off: bf16 distances would tie)."""
    with torch.autocast(x.device.type, enabled=False):
        x = x.to(torch.promote_types(x.dtype, torch.float32))
        xx = torch.sum(x ** 2, dim=1, keepdim=True)                    # (B, 1, N)
        # -|x_j|^2 - (-2 x_i.x_j) - |x_i|^2 with the first two terms in one product-add (the
        # factor 2 and the negations are exact, so the sums round as the public ones)
        pairwise = torch.baddbmm(-xx, x.transpose(2, 1), x, alpha=2).sub_(xx.transpose(2, 1))
    return pairwise.topk(k=k, dim=-1)[1]


def edge_conv(x: torch.Tensor, idx: torch.Tensor, block: nn.Sequential) -> torch.Tensor:
    """One EdgeConv block on x (B, C, N) with neighbours idx (B, N, k) -> (B, C', N) (max over k).

    ``block`` = Sequential(Conv2d(2C, C', 1, bias=False), BatchNorm2d, LeakyReLU) as in the public
    code; the convolution is applied per point and gathered (see the module docstring)."""
    conv, bn, act = block[0], block[1], block[2]
    b, c, n = x.shape
    k = idx.shape[-1]
    out = conv.out_channels
    w = conv.weight.view(out, 2 * c)
    wa, wb = w[:, :c], w[:, c:]
    weights = torch.cat([wa, wb - wa], 0)                                       # (2C', C)
    flat = (idx + torch.arange(b, device=idx.device).view(-1, 1, 1) * n).reshape(-1)
    affine = eval_affine(bn, conv, act) if isinstance(act, nn.LeakyReLU) else None
    if affine is not None:
        # Eval: BN is a per-channel affine map s*y + t, so it moves onto the per-point terms, and
        # LeakyReLU is increasing, so it commutes with the max over neighbours:
        #   max_j leaky(s*(W_a x_j + W_c x_i) + t) = leaky(max_j (s*W_a x_j) + s*W_c x_i + t),
        # W_c = W_b - W_a.
        # One gather and one max over the edges.
        s, t = affine
        both = torch.matmul(x.transpose(1, 2), (weights * s.repeat(2).unsqueeze(1)).t())
        neigh, centre = both[..., :out], both[..., out:]
        y = neigh.reshape(b * n, out).index_select(0, flat).view(b, n, k, out).max(dim=2)[0]
        return F.leaky_relu(y + centre + t, act.negative_slope).transpose(1, 2)
    both = torch.matmul(x.transpose(1, 2), weights.t())                        # (B, N, 2C')
    neigh, centre = both[..., :out], both[..., out:]
    y = neigh.reshape(b * n, out).index_select(0, flat).view(b, n, k, out)
    y = bn((y + centre.unsqueeze(2)).permute(0, 3, 1, 2))     # (B, C', N, k), channels-last memory
    # max with indices as the public code (its backward writes one gradient per maximum), over
    # the (B, N, k, C') view so that gradient is channels-last like BN's input (mixed layouts
    # send BN's backward down a path several times slower); the LeakyReLU after it: increasing,
    # so max_j leaky(z_j) = leaky(max_j z_j), on 1/k of the values
    return act(y.permute(0, 2, 3, 1).max(dim=2)[0].transpose(1, 2))


@MODELS.register("dgcnn")
class DGCNN(PointModel):
    key = "dgcnn"
    cli_options = {
        "k": (int, 20, "DGCNN: nearest neighbours per point in every EdgeConv (paper: 20)"),
        "emb_dims": (int, 1024, "DGCNN: channels of the point embedding before pooling (paper: 1024)"),
        "dropout": (float, 0.5, "DGCNN: dropout of the two hidden head layers (paper: 0.5)"),
    }
    layer_aliases = {
        "edge1": "edge1", "edge2": "edge2", "edge3": "edge3", "edge4": "edge4",
        "point_features": "point_feat", "global": "global_feat",
        "fc1": "linear1", "fc2": "linear2", "fc1.act": "act6", "fc2.act": "act7", "logits": "linear3",
        # the pooled feature is taken after conv5's LeakyReLU: it is its own 'act' point
        "global.act": "global_feat",
    }
    head_weight = "linear3.weight"
    # Flow AM's default aligned layers (latent alignment, paper eq. 3). The paper aligns the layers
    # that see the whole cloud, the fully-connected ones after a global pooling, and skips the
    # point-wise convolutions. DGCNN has no T-Nets, so those layers are the pooled feature and the
    # head's fc1 and fc2; the weights follow the paper's PointNet setting (0.1 for the earlier
    # global layers, 1 for fc2).
    flowam_layer_weights = "global=1e-1, fc1=1e-1, fc2=1"

    def __init__(self, num_classes: int = 10, width: float = 1.0, k: int = 20, emb_dims: int = 1024,
                 dropout: float = 0.5, **extra):
        super().__init__(num_classes=num_classes, width=width, k=k, emb_dims=emb_dims,
                         dropout=dropout, **extra)
        if int(k) < 1:
            raise ModelError(f"dgcnn: k = {k} must be at least 1.", hint="Use e.g. --k 20.")
        if int(emb_dims) < 1 or int(num_classes) < 1:
            raise ModelError(f"dgcnn: emb_dims = {emb_dims} and num_classes = {num_classes} must be at least 1.")
        if not 0.0 <= float(dropout) < 1.0:
            raise ModelError(f"dgcnn: dropout = {dropout} must be in [0, 1).", hint="Use e.g. --dropout 0.5.")
        self.k = int(k)
        c1, c2, c3, c4 = (scaled(v, width) for v in (64, 64, 128, 256))
        emb, f1, f2 = scaled(int(emb_dims), width), scaled(512, width), scaled(256, width)
        self.bn1 = nn.BatchNorm2d(c1)
        self.bn2 = nn.BatchNorm2d(c2)
        self.bn3 = nn.BatchNorm2d(c3)
        self.bn4 = nn.BatchNorm2d(c4)
        self.bn5 = nn.BatchNorm1d(emb)
        self.conv1 = nn.Sequential(nn.Conv2d(6, c1, kernel_size=1, bias=False), self.bn1,
                                   nn.LeakyReLU(negative_slope=LEAKY))
        self.conv2 = nn.Sequential(nn.Conv2d(c1 * 2, c2, kernel_size=1, bias=False), self.bn2,
                                   nn.LeakyReLU(negative_slope=LEAKY))
        self.conv3 = nn.Sequential(nn.Conv2d(c2 * 2, c3, kernel_size=1, bias=False), self.bn3,
                                   nn.LeakyReLU(negative_slope=LEAKY))
        self.conv4 = nn.Sequential(nn.Conv2d(c3 * 2, c4, kernel_size=1, bias=False), self.bn4,
                                   nn.LeakyReLU(negative_slope=LEAKY))
        self.conv5 = nn.Sequential(nn.Conv1d(c1 + c2 + c3 + c4, emb, kernel_size=1, bias=False), self.bn5,
                                   nn.LeakyReLU(negative_slope=LEAKY))
        self.linear1 = nn.Linear(emb * 2, f1, bias=False)
        self.bn6 = nn.BatchNorm1d(f1)
        self.dp1 = nn.Dropout(p=float(dropout))
        self.linear2 = nn.Linear(f1, f2)
        self.bn7 = nn.BatchNorm1d(f2)
        self.dp2 = nn.Dropout(p=float(dropout))
        self.linear3 = nn.Linear(f2, int(num_classes))
        # Stateless taps: each EdgeConv's per-point output, the embedding, the pooled feature,
        # the head's activations after BN + LeakyReLU.
        self.edge1, self.edge2, self.edge3, self.edge4 = (nn.Identity() for _ in range(4))
        self.point_feat, self.global_feat = nn.Identity(), nn.Identity()
        self.act6, self.act7 = nn.LeakyReLU(LEAKY), nn.LeakyReLU(LEAKY)

    def forward_all(self, points: torch.Tensor) -> dict[str, torch.Tensor]:
        """points (B, N, 3) -> dict(logits (B, K), global (B, 2E), points (B, E, N), edge1..4)."""
        if points.dim() != 3 or points.shape[-1] != 3:
            raise ModelError(f"dgcnn expects xyz clouds (B, N, 3); got shape {tuple(points.shape)}.")
        b, n, _ = points.shape
        if n < self.k:
            raise ModelError(f"dgcnn with k = {self.k} needs clouds of at least {self.k} points; "
                             f"this one has {n}.", hint="Use more points, or a model trained with a smaller k.")
        x = points.transpose(1, 2)
        out: dict[str, torch.Tensor] = {}
        edges = []
        for i, (block, tap) in enumerate(((self.conv1, self.edge1), (self.conv2, self.edge2),
                                          (self.conv3, self.edge3), (self.conv4, self.edge4)), start=1):
            x = tap(edge_conv(x, knn(x, self.k), block))
            edges.append(x)
            out[f"edge{i}"] = x
        x = self.point_feat(self.conv5(torch.cat(edges, dim=1)))
        glob = self.global_feat(torch.cat([F.adaptive_max_pool1d(x, 1).view(b, -1),
                                           F.adaptive_avg_pool1d(x, 1).view(b, -1)], 1))
        h = self.dp1(self.act6(self.bn6(self.linear1(glob))))
        h = self.dp2(self.act7(self.bn7(self.linear2(h))))
        out.update({"logits": self.linear3(h), "global": glob, "points": x})
        return out

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        return self.forward_all(points)["logits"]

    def training_loss(self, points, labels, soft_labels=None):
        logits = self.forward(points)
        if soft_labels is None:
            # cal_loss: the target class gets 1 - eps, every other class eps / (K - 1)
            k = logits.shape[1]
            soft = torch.full_like(logits, LABEL_SMOOTHING / max(k - 1, 1))
            soft.scatter_(1, labels.view(-1, 1), 1.0 - LABEL_SMOOTHING)
            ce = soft_cross_entropy(logits, soft) if k > 1 else F.cross_entropy(logits, labels)
        else:
            ce = soft_cross_entropy(logits, soft_labels)
        return ce, {"ce": float(ce.detach()), "logits": logits.detach()}
