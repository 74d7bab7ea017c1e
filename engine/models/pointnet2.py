"""PointNet++ classifiers (Qi et al. 2017), single-scale (SSG) and multi-scale (MSG) grouping.

Module names follow yanx27/Pointnet_Pointnet2_pytorch (models/pointnet2_cls_ssg.py, _msg.py,
pointnet2_utils.py) so its ``best_model.pth`` state dicts load by name: ``sa1``..``sa3`` set
abstractions holding ``mlp_convs``/``mlp_bns`` (SSG and the group-all ``sa3``) or
``conv_blocks``/``bn_blocks`` (one list per radius, MSG), then ``fc1 bn1 drop1 fc2 bn2 drop2 fc3``.
The only additions are stateless modules (ReLUs, identities) that name activations for taps.
``forward`` returns raw logits (the public code returns log-softmax, and the pooled feature).

Sampling and grouping are as the original CUDA kernels, so outputs are deterministic: farthest
point sampling starts at index 0 (yanx27's Python version starts at a random index); the ball
query takes the first ``nsample`` points in index order within the radius and repeats the first
one in empty slots. Neither loops over points or centres in Python (engine.ops.geometry).
Grouped features are ``[xyz - centre, features]`` in SSG and ``[features, xyz - centre]`` in MSG,
as in the public code; the group-all layer uses absolute coordinates.

Points are (B, N, 3), or (B, N, 6) with ``normal_channel`` (xyz then normals, which become the
features of ``sa1``). A cloud with fewer points than a layer's centres uses every point as a
centre. ``width`` scales every layer width (1.0 is the paper's network).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from engine.core.errors import ModelError
from engine.core.registry import MODELS
from engine.models.base import PointModel, eval_affine, scaled, classification_loss
from engine.ops.geometry import ball_query, farthest_point_sample, gather_points


def _mlp(convs: nn.ModuleList, bns: nn.ModuleList, grouped: torch.Tensor) -> torch.Tensor:
    """Shared MLP over grouped points (B, S, K, C) then max over K -> (B, S, C').

    The 1x1 convolutions see the groups as (B, C, S, K) in channels-last memory (a view of the
    gathered tensor, no copy); batch-norm statistics are per channel over all the other axes,
    as in the public (B, C, K, S) layout. In eval mode each BN is folded into its convolution
    (unless a hook watches either module)."""
    x = grouped.permute(0, 3, 1, 2)
    last = len(convs) - 1
    for i, (conv, bn) in enumerate(zip(convs, bns)):
        affine = eval_affine(bn, conv)
        if affine is None:
            x = bn(conv(x))
        else:                                   # eval: BN folded into the convolution
            s, t = affine
            bias = t if conv.bias is None else conv.bias * s + t
            x = F.conv2d(x, conv.weight * s.view(-1, 1, 1, 1), bias)
        if i < last:
            x = F.relu(x)
    # The last ReLU after the max over K (increasing, so the same values on 1/K of them); the max
    # with indices as the public code, taken over the (B, S, K, C) view so its gradient comes
    # back channels-last like the layers' (mixed layouts make the backward copy every tensor).
    return F.relu(x.permute(0, 2, 3, 1).max(dim=2)[0])


def _group(per_point: torch.Tensor, idx: torch.Tensor, new_xyz: torch.Tensor, xyz_at: slice) -> torch.Tensor:
    """Gather per-point rows (B, N, C) into groups (B, S, K, C) and make the xyz columns
    (``xyz_at``) relative to their centre, in place on the gathered copy (one pass, no concat)."""
    grouped = gather_points(per_point, idx)
    grouped[..., xyz_at] -= new_xyz.unsqueeze(2)
    return grouped


def _centres(xyz: torch.Tensor, npoint: int) -> torch.Tensor:
    """Farthest-point sample from index 0; every point when the cloud is smaller than npoint."""
    return gather_points(xyz, farthest_point_sample(xyz, min(int(npoint), xyz.shape[1]), start=0))


def sample_and_group(xyz: torch.Tensor, feats: torch.Tensor | None, npoint: int, radius: float,
                     nsample: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Single-scale sampling and grouping: centres (B, S, 3) and groups (B, S, K, 3 + D) holding
    ``[xyz - centre, features]`` (yanx27 ``sample_and_group``)."""
    new_xyz = _centres(xyz, npoint)
    idx = ball_query(xyz, new_xyz, radius, nsample)
    per_point = xyz if feats is None else torch.cat([xyz, feats], -1)
    return new_xyz, _group(per_point, idx, new_xyz, slice(0, 3))


class SetAbstraction(nn.Module):
    """yanx27 ``PointNetSetAbstraction``: sample, ball-group, shared MLP, max-pool (or group all)."""

    def __init__(self, npoint: int | None, radius: float | None, nsample: int | None, in_channel: int,
                 mlp: Sequence[int], group_all: bool):
        super().__init__()
        self.npoint, self.radius, self.nsample, self.group_all = npoint, radius, nsample, group_all
        self.mlp_convs = nn.ModuleList()
        self.mlp_bns = nn.ModuleList()
        last = in_channel
        for out in mlp:
            self.mlp_convs.append(nn.Conv2d(last, out, 1))
            self.mlp_bns.append(nn.BatchNorm2d(out))
            last = out
        self.out_channels = last

    def forward(self, xyz: torch.Tensor, feats: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """xyz (B, N, 3), feats (B, N, D) or None -> centres (B, S, 3), features (B, S, C)."""
        if self.group_all:
            new_xyz = xyz.new_zeros(xyz.shape[0], 1, 3)
            grouped = (xyz if feats is None else torch.cat([xyz, feats], -1)).unsqueeze(1)
        else:
            new_xyz, grouped = sample_and_group(xyz, feats, self.npoint, self.radius, self.nsample)
        return new_xyz, _mlp(self.mlp_convs, self.mlp_bns, grouped)


class SetAbstractionMsg(nn.Module):
    """yanx27 ``PointNetSetAbstractionMsg``: one sample, a ball group and MLP per radius."""

    def __init__(self, npoint: int, radius_list: Sequence[float], nsample_list: Sequence[int],
                 in_channel: int, mlp_list: Sequence[Sequence[int]]):
        super().__init__()
        self.npoint, self.radius_list, self.nsample_list = npoint, list(radius_list), list(nsample_list)
        self.conv_blocks = nn.ModuleList()
        self.bn_blocks = nn.ModuleList()
        for mlp in mlp_list:
            convs, bns = nn.ModuleList(), nn.ModuleList()
            last = in_channel + 3
            for out in mlp:
                convs.append(nn.Conv2d(last, out, 1))
                bns.append(nn.BatchNorm2d(out))
                last = out
            self.conv_blocks.append(convs)
            self.bn_blocks.append(bns)
        self.out_channels = sum(m[-1] for m in mlp_list)

    def forward(self, xyz: torch.Tensor, feats: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        new_xyz = _centres(xyz, self.npoint)
        per_point = xyz if feats is None else torch.cat([feats, xyz], -1)         # [features, xyz]
        xyz_at = slice(per_point.shape[-1] - 3, None)
        outs = []
        for radius, nsample, convs, bns in zip(self.radius_list, self.nsample_list,
                                               self.conv_blocks, self.bn_blocks):
            idx = ball_query(xyz, new_xyz, radius, nsample)
            outs.append(_mlp(convs, bns, _group(per_point, idx, new_xyz, xyz_at)))
        return new_xyz, torch.cat(outs, -1)


class PointNet2Classifier(PointModel):
    """Set abstractions sa1..sa3 then the yanx27 head; subclasses build sa1..sa3."""

    # "global.act" = "global": sa3's pooled feature is taken after its ReLU, its own 'act' point
    layer_aliases = {"sa1": "sa1_features", "sa2": "sa2_features", "global": "global_feat",
                     "global.act": "global_feat",
                     "fc1": "fc1", "fc2": "fc2", "fc1.act": "act1", "fc2.act": "act2", "logits": "fc3"}
    head_weight = "fc3.weight"
    # Flow AM's default aligned layers (paper eq. 3 aligns the layers that see the whole cloud and
    # skips local features): sa3's group-all feature and the head's fc1, fc2. sa1 and sa2 describe
    # local neighbourhoods (per centre), like the point-wise convolutions the paper leaves out.
    # Weights follow the paper's PointNet setting (0.1 for the earlier global layers, 1 for fc2).
    flowam_layer_weights = "global=1e-1, fc1=1e-1, fc2=1"
    dropouts = (0.4, 0.4)

    def __init__(self, num_classes: int = 10, width: float = 1.0, normal_channel: bool = False, **extra):
        super().__init__(num_classes=num_classes, width=width, normal_channel=bool(normal_channel), **extra)
        if int(num_classes) < 1:
            raise ModelError(f"{self.key}: num_classes = {num_classes} must be at least 1.")
        self.normal_channel = bool(normal_channel)
        self.sa1, self.sa2, self.sa3 = self._build(float(width), self.normal_channel)
        g, f1, f2 = self.sa3.out_channels, scaled(512, width), scaled(256, width)
        self.fc1 = nn.Linear(g, f1)
        self.bn1 = nn.BatchNorm1d(f1)
        self.drop1 = nn.Dropout(self.dropouts[0])
        self.fc2 = nn.Linear(f1, f2)
        self.bn2 = nn.BatchNorm1d(f2)
        self.drop2 = nn.Dropout(self.dropouts[1])
        self.fc3 = nn.Linear(f2, int(num_classes))
        # Stateless taps: per-centre features of sa1 / sa2, the pooled global feature, head activations.
        self.sa1_features, self.sa2_features, self.global_feat = nn.Identity(), nn.Identity(), nn.Identity()
        self.act1, self.act2 = nn.ReLU(), nn.ReLU()

    def _build(self, width: float, normals: bool) -> tuple[nn.Module, nn.Module, nn.Module]:
        raise NotImplementedError

    def _split(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        want = 6 if self.normal_channel else 3
        if points.dim() != 3 or points.shape[-1] != want:
            what = "xyz and normals (B, N, 6)" if self.normal_channel else "xyz (B, N, 3)"
            raise ModelError(f"{self.key} expects {what}; got shape {tuple(points.shape)}.",
                             hint="A model trained with normals needs clouds with normals." if self.normal_channel
                             else "Give clouds of xyz coordinates.")
        if self.normal_channel:
            return points[..., :3], points[..., 3:]
        return points, None

    def forward_all(self, points: torch.Tensor) -> dict[str, torch.Tensor]:
        xyz, normals = self._split(points)
        l1_xyz, l1 = self.sa1(xyz, normals)
        l1 = self.sa1_features(l1)
        l2_xyz, l2 = self.sa2(l1_xyz, l1)
        l2 = self.sa2_features(l2)
        _, l3 = self.sa3(l2_xyz, l2)
        glob = self.global_feat(l3.reshape(l3.shape[0], -1))
        x = self.drop1(self.act1(self.bn1(self.fc1(glob))))
        x = self.drop2(self.act2(self.bn2(self.fc2(x))))
        return {"logits": self.fc3(x), "global": glob, "sa1": l1, "sa2": l2,
                "sa1_xyz": l1_xyz, "sa2_xyz": l2_xyz}

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        return self.forward_all(points)["logits"]

    def training_loss(self, points, labels, soft_labels=None):
        return classification_loss(self.forward(points), labels, soft_labels)   # cross-entropy = nll_loss(log_softmax), as yanx27


@MODELS.register("pointnet2-ssg")
class PointNet2SSG(PointNet2Classifier):
    """models/pointnet2_cls_ssg.py: sa1 (512, r 0.2, 32; 64-64-128), sa2 (128, r 0.4, 64;
    128-128-256), sa3 (all; 256-512-1024); dropout 0.4 twice."""

    key = "pointnet2-ssg"

    def _build(self, width, normals):
        c = lambda *cs: [scaled(v, width) for v in cs]  # noqa: E731
        m1, m2, m3 = c(64, 64, 128), c(128, 128, 256), c(256, 512, 1024)
        sa1 = SetAbstraction(512, 0.2, 32, 6 if normals else 3, m1, False)
        sa2 = SetAbstraction(128, 0.4, 64, m1[-1] + 3, m2, False)
        sa3 = SetAbstraction(None, None, None, m2[-1] + 3, m3, True)
        return sa1, sa2, sa3


@MODELS.register("pointnet2-msg")
class PointNet2MSG(PointNet2Classifier):
    """models/pointnet2_cls_msg.py: sa1 (512; r 0.1/0.2/0.4 with 16/32/128), sa2 (128;
    r 0.2/0.4/0.8 with 32/64/128), sa3 (all; 256-512-1024); dropout 0.4 then 0.5."""

    key = "pointnet2-msg"
    dropouts = (0.4, 0.5)

    def _build(self, width, normals):
        c = lambda *cs: [scaled(v, width) for v in cs]  # noqa: E731
        l1 = [c(32, 32, 64), c(64, 64, 128), c(64, 96, 128)]
        l2 = [c(64, 64, 128), c(128, 128, 256), c(128, 128, 256)]
        sa1 = SetAbstractionMsg(512, [0.1, 0.2, 0.4], [16, 32, 128], 3 if normals else 0, l1)
        sa2 = SetAbstractionMsg(128, [0.2, 0.4, 0.8], [32, 64, 128], sa1.out_channels, l2)
        sa3 = SetAbstraction(None, None, None, sa2.out_channels + 3, c(256, 512, 1024), True)
        return sa1, sa2, sa3
