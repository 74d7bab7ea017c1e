"""SeRP-Transformer (paper section 3.3) and its classifier.

Pipeline on the *corrupted* cloud: FPS centres (start 0, near-origin skip as pointnet2_ops) and
kNN patches (c = 64, n = 32), centre-relative patches -> mini-PointNet tokens, centres -> position
MLP, a [CLS] token with a learnable position, an unmasked transformer encoder and decoder (the
position re-added before every block), and a per-patch head predicting n points relative to the
patch centre. The loss is Chamfer-L2 between the predicted points of all patches and the clean
points at the same patch indices relative to the clean centres, pooled into one set per cloud
(as the public code), plus an optional per-point perturbed/clean head (weight 0 by default, as
the public ``pretrain.py``).

Sizes are parameters: ``size="paper"`` is d = 384, 12 + 4 blocks, 6 heads, c = 64, n = 32;
``size="small"`` is d = 64, 2 + 1 blocks, 4 heads, c = 16, n = 16 for CPU demos and tests.
``width`` scales the preset's d; explicit arguments override the preset.
``head_kernel=1`` predicts patch g from token g (the paper's FC); ``2`` slides a kernel-2
convolution over tokens (g-1, g) as the public code does.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from engine.core.errors import ParameterError
from engine.ops.geometry import chamfer_l2, gather_points
from engine.core.registry import MODELS
from engine.models.base import PointModel, classification_loss
from engine.models.serp_pointnet import PERTURB_OPTIONS, check_perturbation, perturbation_generator
from engine.models.transformer_parts import (PatchEmbedding, PositionEmbedding, TransformerStack,
                                group_patches, init_weights)

PRESETS = {
    "paper": dict(dim=384, depth=12, decoder_depth=4, heads=6, groups=64, group_size=32),
    "small": dict(dim=64, depth=2, decoder_depth=1, heads=4, groups=16, group_size=16),
}
SIZE_OPTIONS = {
    "size": (str, "paper", "SeRP transformer size preset: paper (d=384, 12+4 blocks, 64x32 patches) "
                           "or small (d=64, 2+1 blocks, 16x16 patches)"),
    "dim": (int, None, "SeRP transformer token width d (overrides the preset)"),
    "depth": (int, None, "SeRP transformer encoder blocks (overrides the preset)"),
    "heads": (int, None, "SeRP transformer attention heads (overrides the preset)"),
    "groups": (int, None, "SeRP transformer patches c per cloud (overrides the preset)"),
    "group_size": (int, None, "SeRP transformer points n per patch (overrides the preset)"),
}
ENCODER_PREFIXES = ("patch_embedding.", "encoder_pos_embed.", "cls_token", "cls_pos", "serp_encoder.")


def resolve_size(size: str, width: float | None, **given: Any) -> dict:
    """Preset values, d scaled by width (kept a multiple of the head count), explicit overrides."""
    if size not in PRESETS:
        raise ParameterError(f"transformer size {size!r} is not one of {sorted(PRESETS)}.")
    cfg = dict(PRESETS[size])
    for k, v in given.items():
        if v is not None:
            cfg[k] = int(v)
    if given.get("dim") is None and width not in (None, 1.0):
        h = cfg["heads"]
        cfg["dim"] = max(h * 4, int(round(cfg["dim"] * float(width) / h)) * h)
    if cfg["dim"] % cfg["heads"]:
        raise ParameterError(f"transformer dim = {cfg['dim']} is not divisible by heads = {cfg['heads']}.",
                             hint="Choose a dim that is a multiple of the number of heads.")
    for k in ("dim", "depth", "heads", "groups", "group_size"):
        if cfg[k] < 1:
            raise ParameterError(f"transformer {k} = {cfg[k]} must be >= 1.")
    return cfg


class PatchTokenEncoder(PointModel):
    """The encoder half every transformer model here shares (same module names, so that
    ``--init`` copies it between pre-training and fine-tuning)."""

    def _build_encoder(self, cfg: dict, drop_path: float) -> None:
        d = cfg["dim"]
        self.dim, self.groups, self.group_size = d, cfg["groups"], cfg["group_size"]
        self.patch_embedding = PatchEmbedding(d)
        self.encoder_pos_embed = PositionEmbedding(d)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.cls_pos = nn.Parameter(torch.randn(1, 1, d))
        self.serp_encoder = TransformerStack(d, cfg["depth"], cfg["heads"], drop_path)
        self.norm = nn.LayerNorm(d)

    def group(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = points.shape[1]
        if n < self.group_size or n < self.groups:
            raise ParameterError(
                f"{self.key}: a cloud of {n} points is too small for {self.groups} patches of "
                f"{self.group_size} points.", hint="Use more points per cloud.")
        return group_patches(points, self.groups, self.group_size,
                             self.config.get("skip_near_origin", True))

    def encode(self, points: torch.Tensor) -> dict[str, torch.Tensor]:
        """Group ``points`` and run the encoder: dict(tokens (B, G+1, d), pos, centre_idx,
        patch_idx, centres)."""
        centre_idx, patch_idx = self.group(points)
        centres = gather_points(points, centre_idx)
        patches = gather_points(points, patch_idx) - centres.unsqueeze(2)
        x = self.patch_embedding(patches)
        reduce = getattr(self, "reduce_dim", None)   # Point-BERT: patch features -> token width
        if reduce is not None:
            x = reduce(x)
        pos = self.encoder_pos_embed(centres)
        b = x.shape[0]
        x = torch.cat([self.cls_token.expand(b, -1, -1), x], dim=1)
        pos = torch.cat([self.cls_pos.expand(b, -1, -1), pos], dim=1)
        return {"tokens": self.serp_encoder(x, pos), "pos": pos, "centre_idx": centre_idx,
                "patch_idx": patch_idx, "centres": centres}

    def encoder_state_dict(self) -> dict[str, torch.Tensor]:
        """Encoder weights under the names the classifier uses (for ``train --init``)."""
        return {k: v for k, v in self.state_dict().items() if k.startswith(ENCODER_PREFIXES)}



@MODELS.register("serp-transformer")
class SerpTransformer(PatchTokenEncoder):
    key = "serp-transformer"
    task = "self-supervised"
    layer_aliases = {"encoder": "serp_encoder", "decoder": "serp_decoder",
                     "patch_tokens": "patch_embedding"}
    cli_options = {**SIZE_OPTIONS,
                   "decoder_depth": (int, None, "SeRP-Transformer/VASP: decoder blocks (paper 4)"),
                   "head_kernel": (int, 1, "SeRP-Transformer/VASP: 1 = a head per patch token (paper), "
                                           "2 = kernel-2 conv over tokens (public code)"),
                   **PERTURB_OPTIONS}

    def __init__(self, size: str = "paper", width: float | None = None, dim: int | None = None,
                 depth: int | None = None, decoder_depth: int | None = None, heads: int | None = None,
                 groups: int | None = None, group_size: int | None = None, drop_path: float = 0.1,
                 head_kernel: int = 1, rec_weight: float | None = 1.0, cls_weight: float | None = 0.0,
                 centres: int = 20, neighbours: int = 20, noise_std: float = 0.03,
                 noise_mode: str = "per-point", skip_near_origin: bool = True, **extra):
        cfg = resolve_size(size, width, dim=dim, depth=depth, decoder_depth=decoder_depth,
                           heads=heads, groups=groups, group_size=group_size)
        if head_kernel not in (1, 2):
            raise ParameterError(f"head_kernel = {head_kernel} must be 1 (paper) or 2 (public code).")
        check_perturbation(centres, neighbours, noise_std, noise_mode)
        rec_weight = 1.0 if rec_weight is None else float(rec_weight)
        cls_weight = 0.0 if cls_weight is None else float(cls_weight)
        extra.pop("num_classes", None)   # self-supervised: a loop may pass the class count
        super().__init__(size=size, **cfg, drop_path=drop_path, head_kernel=head_kernel,
                         rec_weight=rec_weight, cls_weight=cls_weight, centres=centres,
                         neighbours=neighbours, noise_std=noise_std, noise_mode=noise_mode,
                         skip_near_origin=skip_near_origin, **extra)
        self._build_encoder(cfg, drop_path)
        init_weights(self)
        self.serp_decoder = TransformerStack(cfg["dim"], cfg["decoder_depth"], cfg["heads"],
                                             drop_path, final_norm=True)
        init_weights(self.serp_decoder, xavier=True)
        n = cfg["group_size"]
        self.reconstruction_head = nn.Sequential(nn.Conv1d(cfg["dim"], 3 * n, head_kernel))
        self.discriminator_head = nn.Sequential(nn.Conv1d(cfg["dim"], 2 * n, head_kernel))
        self.generator: torch.Generator | None = None   # perturbation RNG (None = torch's global)

    # ----------------------------------------------------------------------------- pieces
    def bottleneck(self, tokens: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Between encoder and decoder: identity here; VASP quantises."""
        return tokens, {}

    def _patch_heads(self, dec: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Decoder tokens (B, G+1, d) -> points (B, G, n, 3) and logits (B, G, n, 2)."""
        b = dec.shape[0]
        x = dec.transpose(1, 2)
        if self.config["head_kernel"] == 1:
            x = x[:, :, 1:]                        # patch tokens only; CLS predicts nothing
        rec = self.reconstruction_head(x).transpose(1, 2).reshape(b, self.groups, self.group_size, 3)
        det = self.discriminator_head(x).transpose(1, 2).reshape(b, self.groups, self.group_size, 2)
        return rec, det

    def forward_all(self, corrupted: torch.Tensor) -> dict[str, torch.Tensor]:
        """Everything about one pass: encoder output, grouping, predicted centre-relative patch
        points ``patches`` (B, G, n, 3) and perturbed/clean ``detection_logits`` (B, G, n, 2)."""
        out = self.encode(corrupted)
        z, losses = self.bottleneck(out["tokens"])
        dec = self.serp_decoder(z, out["pos"])
        out["patches"], out["detection_logits"] = self._patch_heads(dec)
        out["quantised"] = z
        out.update(losses)
        return out

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        """Reconstruction (B, G*n, 3): predicted patches placed at the input's patch centres."""
        out = self.forward_all(points)
        return (out["patches"] + out["centres"].unsqueeze(2)).flatten(1, 2)

    def features(self, points: torch.Tensor) -> torch.Tensor:
        """Downstream feature concat(CLS, max over patch tokens) of the bottleneck output."""
        out = self.encode(points)
        z, _ = self.bottleneck(out["tokens"])
        return torch.cat([z[:, 0], z[:, 1:].amax(dim=1)], dim=-1)

    # ----------------------------------------------------------------------------- training
    def losses(self, clean: torch.Tensor, corrupted: torch.Tensor,
               mask: torch.Tensor) -> tuple[torch.Tensor, dict]:
        out = self.forward_all(corrupted)
        pidx = out["patch_idx"]
        gt_centres = gather_points(clean, out["centre_idx"])
        target = gather_points(clean, pidx) - gt_centres.unsqueeze(2)       # clean, centre-relative
        b = clean.shape[0]
        rec = chamfer_l2(target.reshape(b, -1, 3), out["patches"].reshape(b, -1, 3))
        labels = torch.gather(mask.long(), 1, pidx.reshape(b, -1))
        logits = out["detection_logits"].reshape(b, -1, 2)
        cls = F.cross_entropy(logits.reshape(-1, 2), labels.reshape(-1))
        loss = self.config["rec_weight"] * rec + self.config["cls_weight"] * cls
        stats = {"rec": float(rec.detach()), "cls": float(cls.detach()),
                 "det_acc": float((logits.argmax(-1) == labels).float().mean())}
        for name in ("codebook", "commitment"):
            if name in out:
                loss = loss + self.config[f"{name}_weight"] * out[name]
                stats[name] = float(out[name].detach())
        if "perplexity" in out:
            stats["perplexity"] = float(out["perplexity"])
        return loss, stats

    def training_loss(self, points, labels=None, soft_labels=None):
        from engine.ops.perturb import perturb_batch   # lazy: engine.methods imports models

        c = self.config
        pert = perturb_batch(points, c["centres"], c["neighbours"], c["noise_std"], c["noise_mode"],
                             generator=perturbation_generator(self))
        return self.losses(points, pert.points, pert.mask)


def _linear_head(cin: int, classes: int) -> tuple[nn.Module, str]:
    return nn.Linear(cin, classes), "head.weight"


def _pointmae_head(cin: int, classes: int) -> tuple[nn.Module, str]:
    """Point-MAE's fine-tuning head (``cls_head_finetune``): two hidden layers of 256 with
    BatchNorm, ReLU and dropout 0.5. The Sequential indices (0, 1, 4, 5, 8) are its weights'
    names, so a Point-MAE classifier loads by renaming the prefix only."""
    hidden = POINTMAE_HEAD_HIDDEN
    layers = nn.Sequential(nn.Linear(cin, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
                           nn.Dropout(0.5), nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden),
                           nn.ReLU(inplace=True), nn.Dropout(0.5), nn.Linear(hidden, classes))
    return layers, "head.8.weight"


def _pointbert_head(cin: int, classes: int) -> tuple[nn.Module, str]:
    """Point-BERT's fine-tuning head: one hidden layer of 256, ReLU, dropout 0.5 (indices 0, 3)."""
    hidden = POINTMAE_HEAD_HIDDEN
    layers = nn.Sequential(nn.Linear(cin, hidden), nn.ReLU(inplace=True), nn.Dropout(0.5),
                           nn.Linear(hidden, classes))
    return layers, "head.3.weight"


def _patch_features_then_project(model: nn.Module, patch_dims: int) -> None:
    """Point-BERT's encoder: the mini-PointNet ends at ``patch_dims`` channels (its dVAE width,
    256) and a Linear ``reduce_dim`` maps them to the token width. The hidden widths stay those
    of the token width, so only the last convolution changes."""
    last = model.patch_embedding.second_conv[3]
    model.patch_embedding.second_conv[3] = nn.Conv1d(last.in_channels, patch_dims, 1)
    model.patch_embedding.dim = patch_dims
    model.reduce_dim = nn.Linear(patch_dims, model.dim)


POINTMAE_HEAD_HIDDEN = 256
# head option -> builder(input width, classes) -> (module, name of the weight that counts classes)
CLASSIFIER_HEADS = {"linear": _linear_head, "pointmae": _pointmae_head, "pointbert": _pointbert_head}


@MODELS.register("serp-transformer-cls")
class SerpTransformerClassifier(PatchTokenEncoder):
    """Fine-tuning classifier: the SeRP encoder on the clean cloud, LayerNorm, features
    concat(CLS, max over patch tokens) -> linear head. ``head="pointmae"`` / ``"pointbert"`` and
    ``patch_dims`` (Point-BERT's ``reduce_dim``) give those models' fine-tuning layouts, so their
    checkpoints load. ``--init`` from a SeRP-Transformer or VASP checkpoint copies the encoder
    (same names)."""

    key = "serp-transformer-cls"
    cli_options = dict(SIZE_OPTIONS)
    layer_aliases = {"encoder": "serp_encoder", "global": "feature_tap", "logits": "head"}

    def __init__(self, num_classes: int = 10, size: str = "paper", width: float | None = None,
                 dim: int | None = None, depth: int | None = None, heads: int | None = None,
                 groups: int | None = None, group_size: int | None = None, drop_path: float = 0.1,
                 skip_near_origin: bool = True, head: str = "linear", patch_dims: int | None = None,
                 **extra):
        if head not in CLASSIFIER_HEADS:
            raise ParameterError(f"transformer classifier head {head!r} is not one of "
                                 f"{list(CLASSIFIER_HEADS)}.")
        cfg = resolve_size(size, width, dim=dim, depth=depth, heads=heads, groups=groups,
                           group_size=group_size)
        cfg.pop("decoder_depth")
        for k in ("decoder_depth", "head_kernel", "rec_weight", "cls_weight", "centres",
                  "neighbours", "noise_std", "noise_mode", "codebook_size", "codebook_weight",
                  "commitment_weight"):
            extra.pop(k, None)                      # pre-training options that do not apply here
        if head != "linear":                        # the defaults stay out of old configs
            extra["head"] = head
        if patch_dims is not None:
            if int(patch_dims) < 1:
                raise ParameterError(f"transformer classifier patch_dims = {patch_dims} must be >= 1.")
            extra["patch_dims"] = int(patch_dims)
        super().__init__(num_classes=num_classes, size=size, **cfg, drop_path=drop_path,
                         skip_near_origin=skip_near_origin, **extra)
        self._build_encoder(cfg, drop_path)
        if patch_dims is not None:
            _patch_features_then_project(self, int(patch_dims))
        self.feature_tap = nn.Identity()          # names the downstream feature for taps
        self.head, self.head_weight = CLASSIFIER_HEADS[head](2 * cfg["dim"], num_classes)
        init_weights(self)

    def forward_all(self, points: torch.Tensor) -> dict[str, torch.Tensor]:
        tok = self.norm(self.encode(points)["tokens"])
        feat = self.feature_tap(torch.cat([tok[:, 0], tok[:, 1:].amax(dim=1)], dim=-1))
        return {"global": feat, "logits": self.head(feat)}

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        return self.forward_all(points)["logits"]

    def training_loss(self, points, labels, soft_labels=None):
        return classification_loss(self.forward(points), labels, soft_labels)
