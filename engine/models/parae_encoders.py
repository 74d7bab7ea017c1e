"""The point-wise DGCNN backbone of ParAE (Eckart et al. 2021, section 4: "PointNet and DGCNN",
latent dimension 1024; DGCNN gives the paper's best linear-SVM result, Table 1).

Encoder: the DGCNN classifier's four EdgeConv blocks and its ``conv5`` embedding, computed by
engine.models.dgcnn (``knn``, ``edge_conv``) and named as in that classifier (``conv1``..``conv5``,
``bn1``..``bn5``), so ``encoder_state_dict`` can warm-start a DGCNN classifier. The learnt
representation z is the max-pool of the embedding (the paper: "the global feature after the
pooling layer after the fifth EdgeConv layer"), ``emb_dims`` wide (1024 at width 1).

Segmentation head (ours; the paper names none): each point gets [z ‖ edge1..edge4], the same
concatenation as the public DGCNN segmentation networks, then 1x1 convolutions 512 -> 256 -> 128
(BN + LeakyReLU 0.2) and a last one to the J part logits. The 128-wide layer is the per-point
feature, as in the PointNet backbone.
"""
from __future__ import annotations

import torch
from torch import nn

from engine.core.errors import ModelError
from engine.models.base import scaled
from engine.models.dgcnn import LEAKY, edge_conv, knn

# ParAE's layer names with this backbone (module paths under the ParAE model).
DGCNN_ALIASES = {
    "edge1": "backbone.edge1", "edge2": "backbone.edge2", "edge3": "backbone.edge3",
    "edge4": "backbone.edge4", "local_features": "backbone.point_feat",
    "global": "backbone.global_feat", "point_features": "backbone.point_features",
    "logits": "backbone.out",
}
# The DGCNN classifier's encoder modules (same names there): what transfers to it.
ENCODER_MODULES = ("conv1", "conv2", "conv3", "conv4", "conv5", "bn1", "bn2", "bn3", "bn4", "bn5")


def _pointwise(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv1d(cin, cout, 1, bias=False), nn.BatchNorm1d(cout),
                         nn.LeakyReLU(negative_slope=LEAKY))


class DGCNNSegBackbone(nn.Module):
    """Point-wise DGCNN: (B, N, 3) -> dict(out (B, N, J), features (B, N, 128w), global (B, E), ...)."""

    def __init__(self, out_channels: int, width: float = 1.0, k: int = 20, emb_dims: int = 1024):
        super().__init__()
        if int(k) < 1 or int(emb_dims) < 1:
            raise ModelError(f"ParAE DGCNN encoder: k = {k} and emb_dims = {emb_dims} must be at least 1.",
                             hint="Use e.g. --k 20 --emb-dims 1024.")
        self.k = int(k)
        c1, c2, c3, c4 = (scaled(v, width) for v in (64, 64, 128, 256))
        emb = scaled(int(emb_dims), width)
        self.global_channels, self.local_channels = emb, c1 + c2 + c3 + c4
        # EdgeConv blocks in the form engine.models.dgcnn.edge_conv computes (Conv2d on
        # [x_j - x_i, x_i] without bias, BatchNorm2d, LeakyReLU), each BN also named bnX as there.
        self.bn1, self.bn2, self.bn3, self.bn4 = (nn.BatchNorm2d(c) for c in (c1, c2, c3, c4))
        self.bn5 = nn.BatchNorm1d(emb)
        blocks = []
        for cin, bn in ((3, self.bn1), (c1, self.bn2), (c2, self.bn3), (c3, self.bn4)):
            blocks.append(nn.Sequential(nn.Conv2d(2 * cin, bn.num_features, kernel_size=1, bias=False), bn,
                                        nn.LeakyReLU(negative_slope=LEAKY)))
        self.conv1, self.conv2, self.conv3, self.conv4 = blocks
        self.conv5 = nn.Sequential(nn.Conv1d(self.local_channels, emb, kernel_size=1, bias=False), self.bn5,
                                   nn.LeakyReLU(negative_slope=LEAKY))
        h1, h2, h3 = scaled(512, width), scaled(256, width), scaled(128, width)
        self.feature_channels = h3
        self.head1 = _pointwise(emb + self.local_channels, h1)
        self.head2 = _pointwise(h1, h2)
        self.head3 = _pointwise(h2, h3)
        self.out = nn.Conv1d(h3, int(out_channels), 1)
        # Stateless taps: each EdgeConv's output, the embedding, z, the per-point feature.
        self.edge1, self.edge2, self.edge3, self.edge4 = (nn.Identity() for _ in range(4))
        self.point_feat, self.global_feat, self.point_features = nn.Identity(), nn.Identity(), nn.Identity()

    def encode(self, points: torch.Tensor) -> dict[str, torch.Tensor]:
        """points (B, N, 3) -> dict(global (B, E), local (B, C1+..+C4, N), points (B, E, N))."""
        if points.dim() != 3 or points.shape[-1] != 3:
            raise ModelError(f"ParAE (DGCNN encoder) expects xyz clouds (B, N, 3); got shape {tuple(points.shape)}.")
        if points.shape[1] < self.k:
            raise ModelError(f"ParAE's DGCNN encoder with k = {self.k} needs clouds of at least {self.k} "
                             f"points; this one has {points.shape[1]}.",
                             hint="Use more points, or a model trained with a smaller k.")
        x = points.transpose(1, 2)
        edges = []
        for block, tap in ((self.conv1, self.edge1), (self.conv2, self.edge2),
                           (self.conv3, self.edge3), (self.conv4, self.edge4)):
            x = tap(edge_conv(x, knn(x, self.k), block))
            edges.append(x)
        local = torch.cat(edges, dim=1)
        emb = self.point_feat(self.conv5(local))
        return {"global": self.global_feat(emb.max(dim=2)[0]), "local": local, "points": emb}

    def forward(self, points: torch.Tensor) -> dict[str, torch.Tensor]:
        enc = self.encode(points)
        n = points.shape[1]
        x = torch.cat([enc["global"].unsqueeze(2).expand(-1, -1, n), enc["local"]], dim=1)
        feats = self.point_features(self.head3(self.head2(self.head1(x))))
        enc["features"] = feats.transpose(1, 2)
        enc["out"] = self.out(feats).transpose(1, 2)
        return enc

    def encoder_state_dict(self) -> dict[str, torch.Tensor]:
        """conv1..conv5 and bn1..bn5 under the DGCNN classifier's names."""
        return {k: v for k, v in self.state_dict().items() if k.split(".")[0] in ENCODER_MODULES}
