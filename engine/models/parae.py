"""ParAE (Eckart et al. 2021): a point-wise network trained without labels through a GMM bottleneck.

The network is our PointNet segmentation backbone with J outputs per point (module ``backbone``).
Its logits S (B, N, J) define soft parts Gamma = softmax(S), the parts define a Gaussian mixture
(pi, mu, Sigma; engine.ops.gmm), and the loss is the mixture's negative log-likelihood of the
cloud's own points. Labels are ignored. The learnt representation is the backbone's global
feature (after the max-pool, as the paper uses for its linear-SVM table); per-point features are
the last hidden layer before the J logits (paper Fig. 3 bottom).

Training: at our small scales a learning rate of 1e-2 breaks the initial symmetry (all parts at
the centroid, near-uniform Gamma) far sooner than 1e-3; the demo model uses it.

``encoder_state_dict`` returns the encoder under the classifier's names (``feat.*``) so that
``pointlens train --model pointnet --width W --init parae.safetensors`` fine-tunes a classifier
from it (the widths must match).
"""
from __future__ import annotations

import torch

from engine.core.registry import MODELS
from engine.models.base import PointModel
from engine.models.pointnet import FEATURE_TRANSFORM_WEIGHT, PointNetSegBackbone, feature_transform_regulariser

# Same value as engine.ops.gmm.DEFAULT_EPS (a test checks). The GMM maths is imported lazily:
# engine.methods imports models, so a module-level import here could close an import cycle.
DEFAULT_EPS = 1e-3


def _loss(*args, **kwargs):
    from engine.ops.gmm import parae_loss

    return parae_loss(*args, **kwargs)


@MODELS.register("parae")
class ParAE(PointModel):
    key = "parae"
    task = "self-supervised"
    cli_options = {
        "parts": (int, 32, "ParAE: number of Gaussian parts J (paper: 32)"),
        "eps": (float, DEFAULT_EPS, "ParAE: covariance floor added to every Sigma_j (unit-sphere clouds: 1e-4..1e-3)"),
    }
    layer_aliases = {
        "global": "backbone.feat.global_feat",
        "point_features": "backbone.point_features",
        "local_features": "backbone.feat.point_feat",
        "input_transformed": "backbone.feat.transformed_input",
        "fT1.fc1": "backbone.feat.stn.fc1", "fT1.fc2": "backbone.feat.stn.fc2",
        "fT2.fc1": "backbone.feat.fstn.fc1", "fT2.fc2": "backbone.feat.fstn.fc2",
        "logits": "backbone.conv4",
    }

    def __init__(self, parts: int = 32, eps: float = DEFAULT_EPS, width: float = 1.0,
                 feature_transform: bool = True, **extra):
        from engine.core.errors import ParameterError

        if int(parts) < 1:
            raise ParameterError(f"ParAE: parts = {parts} must be at least 1.", hint="Use e.g. --parts 32.")
        if not float(eps) >= 0:
            raise ParameterError(f"ParAE: eps = {eps} must be >= 0.", hint="Use e.g. --eps 1e-3.")
        # Classification-only settings (e.g. num_classes from the train command) are kept in the
        # config for the record but do not change the network.
        super().__init__(parts=int(parts), eps=float(eps), width=width,
                         feature_transform=feature_transform, **extra)
        self.parts, self.eps = int(parts), float(eps)
        self.backbone = PointNetSegBackbone(self.parts, width, feature_transform)

    def forward_all(self, points: torch.Tensor) -> dict[str, torch.Tensor]:
        """points (B, N, 3) -> dict(logits (B, N, J), features (B, N, C), global (B, G), ...)."""
        out = self.backbone(points)
        out["logits"] = out.pop("out")
        return out

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        """Per-point part logits S (B, N, J)."""
        return self.forward_all(points)["logits"]

    def training_loss(self, points, labels=None, soft_labels=None):
        out = self.forward_all(points)
        nll, _ = _loss(out["logits"], points, self.eps)
        nll = nll.mean()
        reg = feature_transform_regulariser(out["trans_feat"])
        loss = nll + FEATURE_TRANSFORM_WEIGHT * reg
        return loss, {"nll": float(nll.detach())}

    def gmm(self, points: torch.Tensor, double: bool = True) -> dict[str, torch.Tensor]:
        """The mixture for each cloud plus what the network saw: gamma, pi, mu, sigma, nll, features."""
        out = self.forward_all(points)
        nll, g = _loss(out["logits"], points, self.eps, double=double)
        g.update(nll=nll, features=out["features"], global_=out["global"], logits=out["logits"])
        return g

    def global_features(self, points: torch.Tensor) -> torch.Tensor:
        """The learnt representation z (B, G): the encoder's max-pooled feature (paper 4.1)."""
        return self.backbone.feat(points)["global"]

    def point_features(self, points: torch.Tensor) -> torch.Tensor:
        """Per-point features (B, N, C): the last hidden layer before the part logits."""
        return self.backbone(points)["features"]

    def encoder_state_dict(self) -> dict[str, torch.Tensor]:
        """The PointNet encoder's tensors named as in PointNetClassifier (``feat.*``)."""
        return {f"feat.{k}": v for k, v in self.backbone.feat.state_dict().items()}
