"""PointNet (Qi et al. 2017) with the input (3x3) and feature (64x64) T-Nets.

Module names follow the public PyTorch layouts (fxia22/pointnet.pytorch, yanx27/Pointnet_Pointnet2_pytorch)
so their state dicts load by name; the only additions are stateless modules (ReLUs,
identities) that give the inner activations names for taps. ``forward`` returns raw logits
(the public code returns log-softmax; logits are what activation maximisation needs).
A ``width`` multiplier scales every hidden width; 1.0 is the paper's network.
"""
from __future__ import annotations

import torch
from torch import nn

from engine.core.registry import MODELS
from engine.models.base import PointModel, scaled

FEATURE_TRANSFORM_WEIGHT = 0.001  # as in both public trainers


class TNet(nn.Module):
    """Predicts a k x k transform from a (B, C, N) tensor: shared MLP, max-pool, FC, + identity."""

    def __init__(self, k: int, in_channels: int, width: float):
        super().__init__()
        self.k = k
        c1, c2, c3 = scaled(64, width), scaled(128, width), scaled(1024, width)
        f1, f2 = scaled(512, width), scaled(256, width)
        self.conv1 = nn.Conv1d(in_channels, c1, 1)
        self.conv2 = nn.Conv1d(c1, c2, 1)
        self.conv3 = nn.Conv1d(c2, c3, 1)
        self.fc1 = nn.Linear(c3, f1)
        self.fc2 = nn.Linear(f1, f2)
        self.fc3 = nn.Linear(f2, k * k)
        self.bn1, self.bn2, self.bn3 = nn.BatchNorm1d(c1), nn.BatchNorm1d(c2), nn.BatchNorm1d(c3)
        self.bn4, self.bn5 = nn.BatchNorm1d(f1), nn.BatchNorm1d(f2)
        self.act4, self.act5 = nn.ReLU(), nn.ReLU()  # named: post-BN/ReLU activations for taps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn1(self.conv1(x)))
        x = torch.relu(self.bn2(self.conv2(x)))
        x = torch.relu(self.bn3(self.conv3(x)))
        x = torch.amax(x, dim=2)
        x = self.act4(self.bn4(self.fc1(x)))
        x = self.act5(self.bn5(self.fc2(x)))
        x = self.fc3(x)
        eye = torch.eye(self.k, dtype=x.dtype, device=x.device).flatten()
        return (x + eye).view(-1, self.k, self.k)


class PointNetEncoder(nn.Module):
    """Input T-Net, shared MLP, feature T-Net, shared MLP, max-pool (module name ``feat``)."""

    def __init__(self, width: float = 1.0, feature_transform: bool = True, in_channels: int = 3):
        super().__init__()
        c1, c2, c3 = scaled(64, width), scaled(128, width), scaled(1024, width)
        self.local_channels, self.global_channels = c1, c3
        self.stn = TNet(3, in_channels, width)
        self.conv1 = nn.Conv1d(in_channels, c1, 1)
        self.conv2 = nn.Conv1d(c1, c2, 1)
        self.conv3 = nn.Conv1d(c2, c3, 1)
        self.bn1, self.bn2, self.bn3 = nn.BatchNorm1d(c1), nn.BatchNorm1d(c2), nn.BatchNorm1d(c3)
        self.fstn = TNet(c1, c1, width) if feature_transform else None
        # Stateless taps: the transformed input cloud, per-point local features, global feature.
        self.transformed_input = nn.Identity()
        self.point_feat = nn.Identity()
        self.global_feat = nn.Identity()

    def forward(self, points: torch.Tensor) -> dict[str, torch.Tensor]:
        """points (B, N, 3) -> dict(global (B, C), local (B, c1, N), trans, trans_feat)."""
        trans = self.stn(points.transpose(1, 2))
        moved = self.transformed_input(torch.bmm(points, trans))          # right-multiplied
        x = torch.relu(self.bn1(self.conv1(moved.transpose(1, 2))))
        trans_feat = None
        if self.fstn is not None:
            trans_feat = self.fstn(x)
            x = torch.bmm(x.transpose(1, 2), trans_feat).transpose(1, 2)
        local = self.point_feat(x)
        x = torch.relu(self.bn2(self.conv2(local)))
        x = self.bn3(self.conv3(x))                                         # no ReLU (as public code)
        glob = self.global_feat(torch.amax(x, dim=2))
        return {"global": glob, "local": local, "trans": trans, "trans_feat": trans_feat}


def feature_transform_regulariser(trans_feat: torch.Tensor | None) -> torch.Tensor:
    """Mean over the batch of ||T T^T - I||_F (the corrected public form)."""
    if trans_feat is None:
        return torch.zeros(())
    eye = torch.eye(trans_feat.shape[1], device=trans_feat.device, dtype=trans_feat.dtype)
    diff = torch.bmm(trans_feat, trans_feat.transpose(1, 2)) - eye
    return torch.linalg.matrix_norm(diff).mean()


@MODELS.register("pointnet")
class PointNetClassifier(PointModel):
    key = "pointnet"
    layer_aliases = {
        "fT1.fc1": "feat.stn.fc1", "fT1.fc2": "feat.stn.fc2",
        "fT2.fc1": "feat.fstn.fc1", "fT2.fc2": "feat.fstn.fc2",
        "fT1.fc1.act": "feat.stn.act4", "fT1.fc2.act": "feat.stn.act5",
        "fT2.fc1.act": "feat.fstn.act4", "fT2.fc2.act": "feat.fstn.act5",
        "fc1": "fc1", "fc2": "fc2", "fc1.act": "act1", "fc2.act": "act2",
        "global": "feat.global_feat", "point_features": "feat.point_feat",
        "input_transformed": "feat.transformed_input", "logits": "fc3",
    }

    def __init__(self, num_classes: int = 10, width: float = 1.0, feature_transform: bool = True,
                 dropout: float = 0.4, **extra):
        super().__init__(num_classes=num_classes, width=width,
                         feature_transform=feature_transform, dropout=dropout, **extra)
        self.feat = PointNetEncoder(width, feature_transform)
        g, f1, f2 = self.feat.global_channels, scaled(512, width), scaled(256, width)
        self.fc1 = nn.Linear(g, f1)
        self.fc2 = nn.Linear(f1, f2)
        self.fc3 = nn.Linear(f2, num_classes)
        self.bn1, self.bn2 = nn.BatchNorm1d(f1), nn.BatchNorm1d(f2)
        self.dropout = nn.Dropout(p=dropout)
        self.act1, self.act2 = nn.ReLU(), nn.ReLU()

    def forward_all(self, points: torch.Tensor) -> dict[str, torch.Tensor]:
        enc = self.feat(points)
        x = self.act1(self.bn1(self.fc1(enc["global"])))
        x = self.act2(self.bn2(self.dropout(self.fc2(x))))   # fc2 -> dropout -> bn2 -> relu
        enc["logits"] = self.fc3(x)
        return enc

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        return self.forward_all(points)["logits"]

    def training_loss(self, points, labels, soft_labels=None):
        from engine.models.base import soft_cross_entropy

        out = self.forward_all(points)
        logits = out["logits"]
        if soft_labels is not None:
            ce = soft_cross_entropy(logits, soft_labels)
        else:
            ce = nn.functional.cross_entropy(logits, labels)
        reg = feature_transform_regulariser(out["trans_feat"])
        loss = ce + FEATURE_TRANSFORM_WEIGHT * reg
        return loss, {"ce": float(ce.detach()), "logits": logits.detach()}


class PointNetSegBackbone(nn.Module):
    """Point-wise PointNet: [global ‖ local] per point -> 512 -> 256 -> 128 -> out channels."""

    def __init__(self, out_channels: int, width: float = 1.0, feature_transform: bool = True):
        super().__init__()
        self.feat = PointNetEncoder(width, feature_transform)
        cin = self.feat.global_channels + self.feat.local_channels
        c1, c2, c3 = scaled(512, width), scaled(256, width), scaled(128, width)
        self.feature_channels = c3
        self.conv1 = nn.Conv1d(cin, c1, 1)
        self.conv2 = nn.Conv1d(c1, c2, 1)
        self.conv3 = nn.Conv1d(c2, c3, 1)
        self.bn1, self.bn2, self.bn3 = nn.BatchNorm1d(c1), nn.BatchNorm1d(c2), nn.BatchNorm1d(c3)
        self.conv4 = nn.Conv1d(c3, out_channels, 1)
        self.point_features = nn.Identity()

    def forward(self, points: torch.Tensor) -> dict[str, torch.Tensor]:
        """points (B, N, 3) -> dict(out (B, N, out), features (B, N, c3), global (B, C), ...)."""
        enc = self.feat(points)
        n = points.shape[1]
        glob = enc["global"].unsqueeze(2).expand(-1, -1, n)
        x = torch.cat([glob, enc["local"]], dim=1)
        x = torch.relu(self.bn1(self.conv1(x)))
        x = torch.relu(self.bn2(self.conv2(x)))
        feats = self.point_features(torch.relu(self.bn3(self.conv3(x))))
        enc["features"] = feats.transpose(1, 2)
        enc["out"] = self.conv4(feats).transpose(1, 2)
        return enc
