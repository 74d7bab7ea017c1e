"""Independent re-implementations of the public DGCNN and PointNet++ classifiers, for tests and the
benchmark only: channels-first input, the public modules, names and step order, written from the
structure of WangYueFt/dgcnn ``pytorch/model.py`` and yanx27/Pointnet_Pointnet2_pytorch
``models/pointnet2_utils.py`` / ``pointnet2_cls_ssg.py`` / ``pointnet2_cls_msg.py`` (REFERENCES.md
section 1.2b). Deliberately literal and slow: kNN from the full pairwise matrix, farthest-point
sampling with the public Python loop (started at index 0, as the CUDA kernels, instead of the
repository's random start), the ball query by sorting every (centre, point) index, the edge
features materialised. ``width`` scales every layer so tests can build tiny copies; nothing here
imports PointLens model code.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def w(c: int, width: float) -> int:
    return max(4, int(round(c * width)))


# --- DGCNN ---------------------------------------------------------------------------------------

def ref_knn(x: torch.Tensor, k: int) -> torch.Tensor:
    """x (B, C, N) -> (B, N, k): top-k of the negative squared distance, self included."""
    inner = -2 * torch.matmul(x.transpose(2, 1), x)
    sq = torch.sum(x ** 2, dim=1, keepdim=True)
    neg_dist = -sq - inner - sq.transpose(2, 1)
    return neg_dist.topk(k=k, dim=-1)[1]


def ref_graph_feature(x: torch.Tensor, k: int) -> torch.Tensor:
    """(B, C, N) -> (B, 2C, N, k) edge features [x_j - x_i, x_i]."""
    b, _, n = x.shape
    idx = ref_knn(x, k)
    idx = (idx + torch.arange(b, device=x.device).view(-1, 1, 1) * n).view(-1)
    c = x.shape[1]
    pts = x.transpose(2, 1).contiguous()
    neigh = pts.view(b * n, -1)[idx, :].view(b, n, k, c)
    centre = pts.view(b, n, 1, c).repeat(1, 1, k, 1)
    return torch.cat((neigh - centre, centre), dim=3).permute(0, 3, 1, 2).contiguous()


class RefDGCNN(nn.Module):
    def __init__(self, num_classes: int = 40, k: int = 20, emb_dims: int = 1024, dropout: float = 0.5,
                 width: float = 1.0):
        super().__init__()
        self.k = k
        c1, c2, c3, c4 = w(64, width), w(64, width), w(128, width), w(256, width)
        e, f1, f2 = w(emb_dims, width), w(512, width), w(256, width)
        self.bn1, self.bn2 = nn.BatchNorm2d(c1), nn.BatchNorm2d(c2)
        self.bn3, self.bn4 = nn.BatchNorm2d(c3), nn.BatchNorm2d(c4)
        self.bn5 = nn.BatchNorm1d(e)

        def block(conv, bn):
            return nn.Sequential(conv, bn, nn.LeakyReLU(negative_slope=0.2))

        self.conv1 = block(nn.Conv2d(6, c1, kernel_size=1, bias=False), self.bn1)
        self.conv2 = block(nn.Conv2d(2 * c1, c2, kernel_size=1, bias=False), self.bn2)
        self.conv3 = block(nn.Conv2d(2 * c2, c3, kernel_size=1, bias=False), self.bn3)
        self.conv4 = block(nn.Conv2d(2 * c3, c4, kernel_size=1, bias=False), self.bn4)
        self.conv5 = block(nn.Conv1d(c1 + c2 + c3 + c4, e, kernel_size=1, bias=False), self.bn5)
        self.linear1 = nn.Linear(2 * e, f1, bias=False)
        self.bn6 = nn.BatchNorm1d(f1)
        self.dp1 = nn.Dropout(p=dropout)
        self.linear2 = nn.Linear(f1, f2)
        self.bn7 = nn.BatchNorm1d(f2)
        self.dp2 = nn.Dropout(p=dropout)
        self.linear3 = nn.Linear(f2, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:      # (B, 3, N) -> logits
        b = x.size(0)
        feats = []
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            x = conv(ref_graph_feature(x, self.k)).max(dim=-1, keepdim=False)[0]
            feats.append(x)
        x = self.conv5(torch.cat(feats, dim=1))
        x = torch.cat((F.adaptive_max_pool1d(x, 1).view(b, -1), F.adaptive_avg_pool1d(x, 1).view(b, -1)), 1)
        x = self.dp1(F.leaky_relu(self.bn6(self.linear1(x)), negative_slope=0.2))
        x = self.dp2(F.leaky_relu(self.bn7(self.linear2(x)), negative_slope=0.2))
        return self.linear3(x)

    def loss(self, logits: torch.Tensor, labels: torch.Tensor, eps: float = 0.2) -> torch.Tensor:
        """The public cal_loss with smoothing."""
        k = logits.size(1)
        one_hot = torch.zeros_like(logits).scatter(1, labels.view(-1, 1), 1)
        one_hot = one_hot * (1 - eps) + (1 - one_hot) * eps / (k - 1)
        return -(one_hot * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


# --- PointNet++ ----------------------------------------------------------------------------------

def ref_square_distance(src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    b, n, _ = src.shape
    m = dst.shape[1]
    dist = -2 * torch.matmul(src, dst.permute(0, 2, 1))
    dist += torch.sum(src ** 2, -1).view(b, n, 1)
    dist += torch.sum(dst ** 2, -1).view(b, 1, m)
    return dist


def ref_index_points(points: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    b = points.shape[0]
    view = [b] + [1] * (idx.dim() - 1)
    rep = [1] + list(idx.shape[1:])
    batch = torch.arange(b, dtype=torch.long, device=points.device).view(view).repeat(rep)
    return points[batch, idx, :]


def ref_farthest_point_sample(xyz: torch.Tensor, npoint: int) -> torch.Tensor:
    """The public Python loop over centroids, started at index 0 (as the CUDA kernel)."""
    b, n, _ = xyz.shape
    centroids = torch.zeros(b, npoint, dtype=torch.long, device=xyz.device)
    distance = torch.ones(b, n, device=xyz.device, dtype=xyz.dtype) * 1e10
    farthest = torch.zeros(b, dtype=torch.long, device=xyz.device)
    batch = torch.arange(b, dtype=torch.long, device=xyz.device)
    for i in range(npoint):
        centroids[:, i] = farthest
        centroid = xyz[batch, farthest, :].view(b, 1, 3)
        dist = torch.sum((xyz - centroid) ** 2, -1)
        closer = dist < distance
        distance[closer] = dist[closer]
        farthest = torch.max(distance, -1)[1]
    return centroids


def ref_query_ball_point(radius: float, nsample: int, xyz: torch.Tensor, new_xyz: torch.Tensor) -> torch.Tensor:
    b, n, _ = xyz.shape
    s = new_xyz.shape[1]
    group_idx = torch.arange(n, dtype=torch.long, device=xyz.device).view(1, 1, n).repeat([b, s, 1])
    group_idx[ref_square_distance(new_xyz, xyz) > radius ** 2] = n
    group_idx = group_idx.sort(dim=-1)[0][:, :, :nsample]
    first = group_idx[:, :, 0].view(b, s, 1).repeat([1, 1, nsample])
    empty = group_idx == n
    group_idx[empty] = first[empty]
    return group_idx


def ref_sample_and_group(npoint, radius, nsample, xyz, points):
    b, _, c = xyz.shape
    new_xyz = ref_index_points(xyz, ref_farthest_point_sample(xyz, npoint))
    idx = ref_query_ball_point(radius, nsample, xyz, new_xyz)
    grouped_xyz_norm = ref_index_points(xyz, idx) - new_xyz.view(b, npoint, 1, c)
    if points is None:
        return new_xyz, grouped_xyz_norm
    return new_xyz, torch.cat([grouped_xyz_norm, ref_index_points(points, idx)], dim=-1)


def ref_sample_and_group_all(xyz, points):
    b, n, c = xyz.shape
    new_xyz = torch.zeros(b, 1, c, device=xyz.device)
    grouped = xyz.view(b, 1, n, c)
    return new_xyz, grouped if points is None else torch.cat([grouped, points.view(b, 1, n, -1)], dim=-1)


class RefSA(nn.Module):
    def __init__(self, npoint, radius, nsample, in_channel, mlp, group_all):
        super().__init__()
        self.npoint, self.radius, self.nsample, self.group_all = npoint, radius, nsample, group_all
        self.mlp_convs, self.mlp_bns = nn.ModuleList(), nn.ModuleList()
        last = in_channel
        for out in mlp:
            self.mlp_convs.append(nn.Conv2d(last, out, 1))
            self.mlp_bns.append(nn.BatchNorm2d(out))
            last = out

    def forward(self, xyz, points):          # (B, 3, N), (B, D, N) or None
        xyz = xyz.permute(0, 2, 1)
        points = points.permute(0, 2, 1) if points is not None else None
        if self.group_all:
            new_xyz, new_points = ref_sample_and_group_all(xyz, points)
        else:
            new_xyz, new_points = ref_sample_and_group(self.npoint, self.radius, self.nsample, xyz, points)
        new_points = new_points.permute(0, 3, 2, 1)          # (B, C, K, S)
        for conv, bn in zip(self.mlp_convs, self.mlp_bns):
            new_points = F.relu(bn(conv(new_points)))
        return new_xyz.permute(0, 2, 1), torch.max(new_points, 2)[0]


class RefSAMsg(nn.Module):
    def __init__(self, npoint, radius_list, nsample_list, in_channel, mlp_list):
        super().__init__()
        self.npoint, self.radius_list, self.nsample_list = npoint, radius_list, nsample_list
        self.conv_blocks, self.bn_blocks = nn.ModuleList(), nn.ModuleList()
        for mlp in mlp_list:
            convs, bns = nn.ModuleList(), nn.ModuleList()
            last = in_channel + 3
            for out in mlp:
                convs.append(nn.Conv2d(last, out, 1))
                bns.append(nn.BatchNorm2d(out))
                last = out
            self.conv_blocks.append(convs)
            self.bn_blocks.append(bns)

    def forward(self, xyz, points):
        xyz = xyz.permute(0, 2, 1)
        points = points.permute(0, 2, 1) if points is not None else None
        b, _, c = xyz.shape
        s = self.npoint
        new_xyz = ref_index_points(xyz, ref_farthest_point_sample(xyz, s))
        outs = []
        for i, radius in enumerate(self.radius_list):
            idx = ref_query_ball_point(radius, self.nsample_list[i], xyz, new_xyz)
            grouped_xyz = ref_index_points(xyz, idx)
            grouped_xyz -= new_xyz.view(b, s, 1, c)
            if points is not None:
                grouped = torch.cat([ref_index_points(points, idx), grouped_xyz], dim=-1)
            else:
                grouped = grouped_xyz
            grouped = grouped.permute(0, 3, 2, 1)
            for conv, bn in zip(self.conv_blocks[i], self.bn_blocks[i]):
                grouped = F.relu(bn(conv(grouped)))
            outs.append(torch.max(grouped, 2)[0])
        return new_xyz.permute(0, 2, 1), torch.cat(outs, dim=1)


class RefPointNet2(nn.Module):
    """get_model of pointnet2_cls_ssg (msg=False) or pointnet2_cls_msg (msg=True); returns
    (log-probabilities, l3 feature) like the public forward."""

    def __init__(self, num_class: int = 40, normal_channel: bool = False, msg: bool = False, width: float = 1.0):
        super().__init__()
        self.normal_channel = normal_channel

        def c(*cs):
            return [w(v, width) for v in cs]

        if msg:
            l1 = [c(32, 32, 64), c(64, 64, 128), c(64, 96, 128)]
            l2 = [c(64, 64, 128), c(128, 128, 256), c(128, 128, 256)]
            self.sa1 = RefSAMsg(512, [0.1, 0.2, 0.4], [16, 32, 128], 3 if normal_channel else 0, l1)
            in2 = sum(m[-1] for m in l1)
            self.sa2 = RefSAMsg(128, [0.2, 0.4, 0.8], [32, 64, 128], in2, l2)
            self.sa3 = RefSA(None, None, None, sum(m[-1] for m in l2) + 3, c(256, 512, 1024), True)
            p2 = 0.5
        else:
            m1, m2 = c(64, 64, 128), c(128, 128, 256)
            self.sa1 = RefSA(512, 0.2, 32, 6 if normal_channel else 3, m1, False)
            self.sa2 = RefSA(128, 0.4, 64, m1[-1] + 3, m2, False)
            self.sa3 = RefSA(None, None, None, m2[-1] + 3, c(256, 512, 1024), True)
            p2 = 0.4
        g, f1, f2 = w(1024, width), w(512, width), w(256, width)
        self.g = g
        self.fc1, self.bn1, self.drop1 = nn.Linear(g, f1), nn.BatchNorm1d(f1), nn.Dropout(0.4)
        self.fc2, self.bn2, self.drop2 = nn.Linear(f1, f2), nn.BatchNorm1d(f2), nn.Dropout(p2)
        self.fc3 = nn.Linear(f2, num_class)

    def forward(self, xyz):                  # (B, 3 or 6, N)
        b = xyz.shape[0]
        norm = xyz[:, 3:, :] if self.normal_channel else None
        xyz = xyz[:, :3, :] if self.normal_channel else xyz
        l1_xyz, l1 = self.sa1(xyz, norm)
        l2_xyz, l2 = self.sa2(l1_xyz, l1)
        _, l3 = self.sa3(l2_xyz, l2)
        x = l3.view(b, self.g)
        x = self.drop1(F.relu(self.bn1(self.fc1(x))))
        x = self.drop2(F.relu(self.bn2(self.fc2(x))))
        return F.log_softmax(self.fc3(x), -1), l3


def randomise_batchnorm(model: nn.Module, seed: int = 0) -> None:
    """Non-trivial running statistics and affine parameters, so eval-mode BN is tested."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            n = m.num_features
            m.running_mean.copy_(torch.rand(n, generator=g) * 0.2 - 0.1)
            m.running_var.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
            m.weight.data.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
            m.bias.data.copy_(torch.rand(n, generator=g) * 0.2 - 0.1)
