"""SeRP-PointNet (paper section 3.2).

PointNet encoder (input T-Net; no feature T-Net, as the public ``SerpPointNet``) giving per-point
[global ‖ local] features -> 512 -> 256 -> 128 (BN + ReLU) -> conv4 128 -> 128 = the per-point
feature. Two heads on it:

- ``cls_head`` (2 classes per point: perturbed or clean), cross-entropy with class weights
  [0.25, 0.75], loss weight 0.001;
- ``reconstruction_head`` (3 per point), loss weight 1.5, learning either the displacement
  clean - corrupted with MSE (``reconstruction="delta"``, the paper's delta-learning) or the
  clean coordinates with Chamfer-L2 (``reconstruction="chamfer"``, cd-l2 learning).

Module names follow the public code (``feat.*``, ``conv1..4``, ``bn1..3``, ``cls_head``,
``reconstruction_head``), so ``feat.*`` is exactly what a PointNet classifier fine-tunes from.
The perturbation happens inside ``training_loss``: the loop passes clean clouds.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from engine.core.errors import ParameterError
from engine.ops.geometry import chamfer_l2
from engine.core.registry import MODELS
from engine.models.base import PointModel, scaled
from engine.models.pointnet import PointNetEncoder
from engine.specs.serp import MODES   # the perturbation modes, declared once with serp-explain

RECONSTRUCTIONS = ("delta", "chamfer")
# Training flags shared by every SeRP model (`pointlens train --cls-weight ...`).
PERTURB_OPTIONS = {
    "cls_weight": (float, None, "SeRP: weight of the perturbed-point loss (SeRP-PointNet 0.001, "
                                "SeRP-Transformer/VASP 0.0)"),
    "rec_weight": (float, None, "SeRP: weight of the reconstruction loss (SeRP-PointNet 1.5, "
                                "SeRP-Transformer/VASP 1.0)"),
    "noise_mode": (str, "per-point", "SeRP: per-point noise (paper) or per-patch offsets (public code)"),
    "noise_std": (float, 0.03, "SeRP: std of the perturbation noise"),
    "centres": (int, 20, "SeRP: perturbation centres per cloud"),
    "neighbours": (int, 20, "SeRP: points per perturbed patch, the centre included"),
}


def check_perturbation(centres: int, neighbours: int, noise_std: float, noise_mode: str) -> None:
    """Reject perturbation settings when the model is built, not at the first training step."""
    if noise_mode not in MODES:
        raise ParameterError(f"SeRP noise_mode {noise_mode!r} is not one of {list(MODES)}.")
    if int(centres) < 1 or int(neighbours) < 1:
        raise ParameterError(f"SeRP centres = {centres} and neighbours = {neighbours} must be >= 1.")
    if not float(noise_std) >= 0:
        raise ParameterError(f"SeRP noise_std = {noise_std!r} must be >= 0.")


def perturbation_generator(model) -> torch.Generator | None:
    """The RNG of the training perturbation: the model's own ``generator`` if set (tests), else
    torch's global RNG while training (seeded by the loop, saved on resume); in eval mode a fixed
    seed, so test losses of different epochs are measured on the same perturbations."""
    if model.generator is not None:
        return model.generator
    return None if model.training else torch.Generator().manual_seed(0)


CLASS_WEIGHTS = (0.25, 0.75)   # clean, perturbed (public code)


@MODELS.register("serp-pointnet")
class SerpPointNet(PointModel):
    key = "serp-pointnet"
    task = "self-supervised"
    layer_aliases = {"global": "feat.global_feat", "local": "feat.point_feat",
                     "point_features": "point_features", "fT1.fc1": "feat.stn.fc1",
                     "fT1.fc2": "feat.stn.fc2", "detection": "cls_head",
                     "reconstruction": "reconstruction_head"}
    cli_options = {"reconstruction": (str, "delta", "SeRP-PointNet reconstruction target: delta "
                                                    "(displacement, MSE) or chamfer (coordinates, Chamfer-L2)"),
                   **PERTURB_OPTIONS}

    def __init__(self, width: float = 1.0, reconstruction: str = "delta",
                 rec_weight: float | None = 1.5, cls_weight: float | None = 0.001,
                 centres: int = 20, neighbours: int = 20, noise_std: float = 0.03,
                 noise_mode: str = "per-point", feature_transform: bool = False, **extra):
        if reconstruction not in RECONSTRUCTIONS:
            raise ParameterError(f"SeRP-PointNet reconstruction {reconstruction!r} is not one of "
                                 f"{list(RECONSTRUCTIONS)}.")
        check_perturbation(centres, neighbours, noise_std, noise_mode)
        rec_weight = 1.5 if rec_weight is None else float(rec_weight)
        cls_weight = 0.001 if cls_weight is None else float(cls_weight)
        extra.pop("num_classes", None)   # self-supervised: a loop may pass the class count
        super().__init__(width=width, reconstruction=reconstruction, rec_weight=rec_weight,
                         cls_weight=cls_weight, centres=centres, neighbours=neighbours,
                         noise_std=noise_std, noise_mode=noise_mode,
                         feature_transform=feature_transform, **extra)
        self.feat = PointNetEncoder(width, feature_transform)
        cin = self.feat.global_channels + self.feat.local_channels
        c1, c2, c3 = scaled(512, width), scaled(256, width), scaled(128, width)
        self.conv1, self.conv2, self.conv3 = nn.Conv1d(cin, c1, 1), nn.Conv1d(c1, c2, 1), nn.Conv1d(c2, c3, 1)
        self.bn1, self.bn2, self.bn3 = nn.BatchNorm1d(c1), nn.BatchNorm1d(c2), nn.BatchNorm1d(c3)
        self.conv4 = nn.Conv1d(c3, c3, 1)
        self.point_features = nn.Identity()
        self.cls_head = nn.Conv1d(c3, 2, 1)
        self.reconstruction_head = nn.Conv1d(c3, 3, 1)
        self.register_buffer("class_weights", torch.tensor(CLASS_WEIGHTS), persistent=False)
        self.generator: torch.Generator | None = None   # perturbation RNG (None = torch's global)

    def forward_all(self, corrupted: torch.Tensor) -> dict[str, torch.Tensor]:
        """corrupted (B, N, 3) -> dict(global, features (B, N, C), detection_logits (B, N, 2),
        head (B, N, 3) raw head output, reconstructed (B, N, 3) coordinates)."""
        enc = self.feat(corrupted)
        n = corrupted.shape[1]
        x = torch.cat([enc["global"].unsqueeze(2).expand(-1, -1, n), enc["local"]], dim=1)
        x = torch.relu(self.bn1(self.conv1(x)))
        x = torch.relu(self.bn2(self.conv2(x)))
        x = torch.relu(self.bn3(self.conv3(x)))
        feats = self.point_features(self.conv4(x))
        head = self.reconstruction_head(feats).transpose(1, 2)
        rec = corrupted + head if self.config["reconstruction"] == "delta" else head
        return {"global": enc["global"], "features": feats.transpose(1, 2),
                "detection_logits": self.cls_head(feats).transpose(1, 2),
                "head": head, "reconstructed": rec}

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        """The reconstructed cloud (B, N, 3) of a (corrupted) cloud."""
        return self.forward_all(points)["reconstructed"]

    def losses(self, clean: torch.Tensor, corrupted: torch.Tensor,
               mask: torch.Tensor) -> tuple[torch.Tensor, dict]:
        out = self.forward_all(corrupted)
        if self.config["reconstruction"] == "delta":
            rec = F.mse_loss(out["head"], clean - corrupted)
        else:
            rec = chamfer_l2(clean, out["head"])
        logits = out["detection_logits"].reshape(-1, 2)
        labels = mask.reshape(-1).long()
        cls = F.cross_entropy(logits, labels, weight=self.class_weights.to(logits.dtype))
        loss = self.config["rec_weight"] * rec + self.config["cls_weight"] * cls
        return loss, {"rec": float(rec.detach()), "cls": float(cls.detach()),
                      "det_acc": float((logits.argmax(-1) == labels).float().mean())}

    def training_loss(self, points, labels=None, soft_labels=None):
        from engine.ops.perturb import perturb_batch   # lazy: engine.methods imports models

        c = self.config
        pert = perturb_batch(points, c["centres"], c["neighbours"], c["noise_std"], c["noise_mode"],
                             generator=perturbation_generator(self))
        return self.losses(points, pert.points, pert.mask)

    def encoder_state_dict(self) -> dict[str, torch.Tensor]:
        """The PointNet encoder under ``feat.*``, the names ``PointNetClassifier`` uses."""
        return {k: v for k, v in self.state_dict().items() if k.startswith("feat.")}

