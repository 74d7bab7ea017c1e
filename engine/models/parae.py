"""ParAE (Eckart et al. 2021): a point-wise network trained without labels through a GMM bottleneck.

The network is a point-wise segmentation backbone with J outputs per point (module ``backbone``):
our PointNet one (``encoder="pointnet"``, the default) or a DGCNN one (``encoder="dgcnn"``,
engine.models.parae_encoders: the paper's best linear-SVM result uses DGCNN).
Its logits S (B, N, J) define soft parts Gamma = softmax(S), the parts define a Gaussian mixture
(pi, mu, Sigma; engine.ops.gmm), and the loss is the mixture's negative log-likelihood of the
cloud's own points. Labels are ignored. The learnt representation is the backbone's global
feature (after the max-pool, as the paper uses for its linear-SVM table); per-point features are
the last hidden layer before the J logits (paper Fig. 3 bottom).

Training: at our small scales a learning rate of 1e-2 breaks the initial symmetry (all parts at
the centroid, near-uniform Gamma) far sooner than 1e-3; the demo model uses it.

``encoder_state_dict`` returns the encoder under the classifier's names (``feat.*`` for PointNet,
``conv1``..``conv5`` / ``bn1``..``bn5`` for DGCNN) so that ``pointlens train --model pointnet
--width W --init parae.safetensors`` (or ``--model dgcnn``) fine-tunes a classifier from it (the
widths, and DGCNN's emb_dims, must match).
"""
from __future__ import annotations

import torch

from engine.core.registry import MODELS
from engine.models.base import PointModel
from engine.models.pointnet import FEATURE_TRANSFORM_WEIGHT, PointNetSegBackbone, feature_transform_regulariser

# Same value as engine.ops.gmm.DEFAULT_EPS (a test checks). The GMM maths is imported lazily:
# engine.methods imports models, so a module-level import here could close an import cycle.
DEFAULT_EPS = 1e-3
ENCODERS = ("pointnet", "dgcnn")


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
        "encoder": (str, "pointnet", "ParAE: point-wise backbone, pointnet or dgcnn (the paper's best)"),
        "k": (int, 20, "ParAE with the DGCNN encoder: nearest neighbours per EdgeConv (paper: 20)"),
        "emb_dims": (int, 1024, "ParAE with the DGCNN encoder: width of z, the pooled feature (paper: 1024)"),
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
                 feature_transform: bool = True, encoder: str = "pointnet", **extra):
        from engine.core.errors import ParameterError

        if encoder not in ENCODERS:
            raise ParameterError(f"ParAE: encoder = {encoder!r} is not one of {list(ENCODERS)}.",
                                 hint="Use --encoder pointnet or --encoder dgcnn.")
        if int(parts) < 1:
            raise ParameterError(f"ParAE: parts = {parts} must be at least 1.", hint="Use e.g. --parts 32.")
        if not float(eps) >= 0:
            raise ParameterError(f"ParAE: eps = {eps} must be >= 0.", hint="Use e.g. --eps 1e-3.")
        # Classification-only settings (e.g. num_classes from the train command) are kept in the
        # config for the record but do not change the network.
        stray = [n for n in ("k", "emb_dims") if n in extra and encoder != "dgcnn"]
        if stray:
            raise ParameterError(f"ParAE: {', '.join(stray)} apply only to encoder 'dgcnn' (this one is {encoder!r}).",
                                 hint="Add --encoder dgcnn, or drop the flag.")
        if encoder == "dgcnn":
            # k and emb_dims are kept in the config (the checkpoint rebuilds from it)
            extra = {"k": int(extra.pop("k", 20)), "emb_dims": int(extra.pop("emb_dims", 1024)), **extra}
        super().__init__(parts=int(parts), eps=float(eps), width=width,
                         feature_transform=feature_transform, encoder=encoder, **extra)
        self.parts, self.eps, self.encoder = int(parts), float(eps), encoder
        if encoder == "dgcnn":
            from engine.models.parae_encoders import DGCNN_ALIASES, DGCNNSegBackbone

            self.backbone = DGCNNSegBackbone(self.parts, width, extra["k"], extra["emb_dims"])
            self.layer_aliases = DGCNN_ALIASES
        else:
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
        reg = feature_transform_regulariser(out.get("trans_feat"))    # zero without a feature T-Net
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
        if self.encoder == "dgcnn":
            return self.backbone.encode(points)["global"]
        return self.backbone.feat(points)["global"]

    def point_features(self, points: torch.Tensor) -> torch.Tensor:
        """Per-point features (B, N, C): the last hidden layer before the part logits."""
        return self.backbone(points)["features"]

    def encoder_state_dict(self) -> dict[str, torch.Tensor]:
        """The encoder's tensors named as in its classifier (PointNet ``feat.*``, DGCNN ``conv1``..)."""
        if self.encoder == "dgcnn":
            return self.backbone.encoder_state_dict()
        return {f"feat.{k}": v for k, v in self.backbone.feat.state_dict().items()}
