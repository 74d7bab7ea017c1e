"""PointMask and PointMap (Taghanaki et al., "PointMask"): a variational layer in front of PointNet.

A mask encoder F gives, for every point i, mu_i and log sigma_i^2 of J_i ~ N(mu_i, sigma_i)
(reparameterised: J = mu + sigma * eps). PointMask masks, M = ReLU1(sigmoid(J) - t)
= clamp(relu(sigmoid(J) - t), 0, 1), and the classifier G (our PointNet) sees P * M: a masked
point is multiplied towards / onto the origin, not removed (as in the paper's Listing 1).
PointMap makes J a per-point translation (n x 3) and G sees P + J. The loss is paper eq. 3:
cross-entropy + alpha * KL(N(mu, sigma) || N(0, 1)).

Departures from the public Keras code, on purpose:
- The paper's wiring: the masked cloud feeds the whole classifier (the Keras code feeds it only
  to the input T-Net and classifies the unmasked points).
- mu and log-variance come from a per-point head on [point feature || global feature], so the
  mask belongs to the geometry and is permutation-equivariant; the Keras code maps the global
  vector to 2048 outputs, one per point *index*, which ties the mask to point order and to N.
- Conv -> BN -> ReLU (PyTorch order) instead of Keras' ReLU -> BN.
- Prediction in eval mode averages the softmax over ``eval_samples`` draws of eps (the model's
  predictive distribution E_eps[q(y | P * M)], log of the mean returned as logits), from a
  generator seeded per call, so evaluation is repeatable. eps = 0 alone is NOT used for
  prediction: the classifier was trained on sampled masks, whose max-pooled "envelope" is
  scaled by up to 1 - t, while eps = 0 with mu near 0 scales every point alike by about
  sigmoid(0) - t (at t = 0.5: to the origin); measured on builtin, eps = 0 prediction fell to
  25 % where sampling gave 64 %. The Keras code samples at inference too (one draw).
  eps = 0 (``deterministic=True``) gives the mask the explain view shows.

Options for experiments (defaults as above): ``kl_reduce`` "sum" | "mean" (KL per latent, so
alpha does not grow with N), ``head_input`` "point" | "global" (mu / log-variance from the
max-pooled feature only: one distribution per cloud, drawn per point), ``predict`` "sample" |
"zero" (eps = 0 at test). The bias lab runs PointMask with t = 0.8 and alpha = 0.5: at these
defaults the mask learns to KEEP a bias letter; see engine/methods/pointmask/bias_lab.py for why the
lab's values resist the bias and what that costs.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from engine.core.errors import ParameterError
from engine.core.registry import MODELS
from engine.models import pointnet_fast
from engine.models.base import PointModel, scaled, soft_cross_entropy
from engine.models.pointmask_backbone import (BACKBONE_HELP, POINTNET, RandMask, backbone_options,  # noqa: F401 - RandMask registers here
                                              build_backbone, check_backbone, head_path)
from engine.models.pointnet import FEATURE_TRANSFORM_WEIGHT, PointNetClassifier, feature_transform_regulariser

# Train-command flags shared by both variational models (the core train command reads these).
VARIATIONAL_CLI = {
    "alpha": (float, 0.01, "PointMask (default 0.01) / PointMap (default 0.001): weight of the KL "
                           "term (paper eq. 3)"),
    "threshold": (float, 0.5, "PointMask: mask threshold t in [0, 1) (paper Listing 1 uses 0.5)"),
    "backbone": (str, POINTNET, BACKBONE_HELP),
}


def check_alpha_threshold(alpha: float, threshold: float, owner: str) -> tuple[float, float]:
    """The two scalars of eq. 3 and the mask; a clear ParameterError if they make no sense."""
    try:
        alpha, threshold = float(alpha), float(threshold)
    except (TypeError, ValueError):
        raise ParameterError(f"{owner}: alpha and threshold must be numbers, got "
                             f"alpha={alpha!r}, threshold={threshold!r}.") from None
    if not math.isfinite(alpha) or alpha < 0:
        raise ParameterError(f"{owner}: alpha = {alpha} must be a finite number >= 0 (the weight "
                             "of the KL term).", hint="Use e.g. --alpha 0.01; 0 turns the KL off.")
    if not math.isfinite(threshold) or not 0.0 <= threshold < 1.0:
        raise ParameterError(f"{owner}: threshold t = {threshold} must lie in [0, 1): the mask is "
                             "relu(sigmoid(J) - t), so t >= 1 masks every point.",
                             hint="Use e.g. --threshold 0.5.")
    return alpha, threshold


def mask_relu(j: torch.Tensor, threshold: float) -> torch.Tensor:
    """ReLU1(sigmoid(J) - t): values in [0, 1 - t] (no rescaling by 1 / (1 - t), as the paper)."""
    return torch.clamp(torch.relu(torch.sigmoid(j) - threshold), 0.0, 1.0)


def keep_probability(mu: torch.Tensor, sigma: torch.Tensor, threshold: float) -> torch.Tensor:
    """P(sigmoid(mu + sigma * eps) > t) = Phi((mu - logit t) / sigma): how often a sampled mask
    keeps each point (eps ~ N(0, 1))."""
    t = float(threshold)
    logit_t = math.log(t / (1.0 - t)) if t > 0 else -math.inf
    return torch.special.ndtr((mu - logit_t) / sigma)


def kl_to_standard_normal(mu: torch.Tensor, logvar: torch.Tensor, reduce: str = "sum") -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, 1)), SUMMED over every latent of a sample (all points, and the
    three coordinates for PointMap), then MEANED over the batch: -0.5 * sum(1 + logvar - mu^2 -
    exp(logvar)), as the paper's Listing 1 (sum over axis -1, mean over the batch).
    ``reduce="mean"`` averages over the latents instead (a KL weight independent of N)."""
    per_entry = -0.5 * (1.0 + logvar - mu * mu - torch.exp(logvar))
    per_sample = per_entry.flatten(1).sum(1) if reduce == "sum" else per_entry.flatten(1).mean(1)
    return per_sample.mean()


class PointLatentEncoder(nn.Module):
    """F: a T-Net-free PointNet (shared MLP, max-pool) plus a per-point head on
    [point feature || global feature] that gives mu and log-variance of ``dim`` latents per point.

    Every layer is a 1x1 convolution over points or the symmetric max, so permuting the input
    permutes the output the same way (BatchNorm statistics are over batch and points together).
    """

    def __init__(self, dim: int = 1, width: float = 1.0, init_logvar: float = 0.0,
                 head_input: str = "point"):
        super().__init__()
        self.dim, self.head_input = dim, head_input
        c1, c2, c3 = scaled(64, width), scaled(128, width), scaled(1024, width)
        h1, h2 = scaled(256, width), scaled(128, width)
        self.conv1, self.bn1 = nn.Conv1d(3, c1, 1), nn.BatchNorm1d(c1)
        self.conv2, self.bn2 = nn.Conv1d(c1, c2, 1), nn.BatchNorm1d(c2)
        self.conv3, self.bn3 = nn.Conv1d(c2, c3, 1), nn.BatchNorm1d(c3)
        self.head1, self.hbn1 = nn.Conv1d(c3 if head_input == "global" else c2 + c3, h1, 1), nn.BatchNorm1d(h1)
        self.head2, self.hbn2 = nn.Conv1d(h1, h2, 1), nn.BatchNorm1d(h2)
        self.mu = nn.Conv1d(h2, dim, 1)
        self.logvar = nn.Conv1d(h2, dim, 1)
        # Start at mu = 0, log sigma^2 = init_logvar, with small per-point variation. PointMask
        # starts at the prior (sigma = 1: the first masks are the prior's random masks); PointMap
        # starts near the identity map, since unit-sd shifts of unit-sphere clouds leave the
        # classifier nothing to learn from at first.
        for layer in (self.mu, self.logvar):
            nn.init.normal_(layer.weight, std=1e-3)
            nn.init.zeros_(layer.bias)
        nn.init.constant_(self.logvar.bias, init_logvar)

    def forward(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """points (B, N, 3) -> mu, logvar, each (B, N) for dim 1, else (B, N, dim)."""
        x = points.transpose(1, 2)
        x = torch.relu(self.bn1(self.conv1(x)))
        local = torch.relu(self.bn2(self.conv2(x)))
        glob = torch.amax(torch.relu(self.bn3(self.conv3(local))), dim=2, keepdim=True)
        if self.head_input == "global":
            h = glob.expand(-1, -1, local.shape[2])
        else:
            h = torch.cat([local, glob.expand(-1, -1, local.shape[2])], dim=1)
        h = torch.relu(self.hbn1(self.head1(h)))
        h = torch.relu(self.hbn2(self.head2(h)))
        mu, logvar = self.mu(h).transpose(1, 2), self.logvar(h).transpose(1, 2)
        if self.dim == 1:
            mu, logvar = mu.squeeze(-1), logvar.squeeze(-1)
        return mu, logvar


class _Variational(PointModel):
    """Shared body of PointMask and PointMap: encoder F, classifier G, eq. 3 loss.

    G is PointNet (``backbone="pointnet"``, the paper's) or any registered classifier, built with
    the same class count and width; a backbone's own options (e.g. dgcnn's k) come as further
    keyword arguments and are kept in the config so a checkpoint rebuilds the same G.
    """

    latent_dim = 1
    init_logvar = 0.0
    # KL weight: the paper gives none. The KL is summed over every latent (N for PointMask, 3N for
    # PointMap), so it grows with N; these defaults were chosen on builtin at 256 points (PointMap
    # at 0.01 kept sigma so large that it reached 63 % on the biased test where 0.001 gave 94 %).
    default_alpha = 0.01
    cli_options = VARIATIONAL_CLI
    wraps_backbone = True       # not itself a choice of backbone

    def __init__(self, num_classes: int = 10, width: float = 1.0, alpha: float | None = None,
                 threshold: float = 0.5, feature_transform: bool | None = None,
                 dropout: float | None = None, eval_samples: int = 8, kl_reduce: str = "sum",
                 head_input: str = "point", predict: str = "sample", backbone: str = POINTNET,
                 **extra):
        alpha = self.default_alpha if alpha is None else alpha
        for name, value, allowed in (("kl_reduce", kl_reduce, ("sum", "mean")),
                                     ("head_input", head_input, ("point", "global")),
                                     ("predict", predict, ("sample", "zero"))):
            if value not in allowed:
                raise ParameterError(f"model '{self.key}': {name} = {value!r} must be one of "
                                     f"{', '.join(allowed)}.")
        alpha, threshold = check_alpha_threshold(alpha, threshold, f"model '{self.key}'")
        if int(eval_samples) != eval_samples or eval_samples < 1:
            raise ParameterError(f"model '{self.key}': eval_samples = {eval_samples} must be a "
                                 "whole number >= 1 (draws of eps averaged per prediction).")
        backbone = check_backbone(backbone, self.key)
        if backbone == POINTNET:        # the paper's G; config and tensors exactly as before
            feature_transform = True if feature_transform is None else feature_transform
            dropout = 0.4 if dropout is None else dropout
            super().__init__(num_classes=num_classes, width=width, alpha=alpha, threshold=threshold,
                             feature_transform=feature_transform, dropout=dropout,
                             eval_samples=int(eval_samples), kl_reduce=kl_reduce,
                             head_input=head_input, predict=predict, **extra)
            # F before G, as always: the same seed gives the same initial weights as before
            self.encoder = PointLatentEncoder(self.latent_dim, width, self.init_logvar, head_input)
            classifier = PointNetClassifier(num_classes=num_classes, width=width,
                                            feature_transform=feature_transform, dropout=dropout)
        else:
            if feature_transform is not None:
                raise ParameterError(f"model '{self.key}': feature_transform is an option of the "
                                     f"PointNet backbone, not of backbone '{backbone}'.",
                                     hint="Drop feature_transform, or use backbone pointnet.")
            if dropout is not None:     # e.g. dgcnn's head dropout; the backbone checks it
                extra["dropout"] = dropout
            classifier = build_backbone(backbone, num_classes, width, extra)
            super().__init__(num_classes=num_classes, width=width, alpha=alpha, threshold=threshold,
                             eval_samples=int(eval_samples), kl_reduce=kl_reduce,
                             head_input=head_input, predict=predict, backbone=backbone,
                             **backbone_options(classifier))
            self.encoder = PointLatentEncoder(self.latent_dim, width, self.init_logvar, head_input)
        self.alpha, self.threshold, self.eval_samples = alpha, threshold, int(eval_samples)
        self.kl_reduce, self.predict_mode = kl_reduce, predict
        self.classifier = classifier
        # Taps, Flow AM's default layers and the class count follow the backbone, reached under
        # the same names as in the plain classifier.
        self.layer_aliases = {k: f"classifier.{v}" for k, v in classifier.layer_aliases.items()}
        if getattr(classifier, "flowam_layer_weights", None):
            self.flowam_layer_weights = classifier.flowam_layer_weights
        self.head_weight = head_path(classifier, "classifier.")

    def latent(self, points: torch.Tensor, deterministic: bool | None = None):
        """mu, logvar and J = mu + sigma * eps; eps = 0 when deterministic (default: eval mode)."""
        if deterministic is None:
            deterministic = not self.training
        mu, logvar = self.encoder(points)
        if deterministic:
            return mu, logvar, mu
        eps = torch.randn_like(mu)
        return mu, logvar, mu + torch.exp(0.5 * logvar) * eps

    def transform_input(self, points: torch.Tensor, j: torch.Tensor) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def _classify_all(self, given: torch.Tensor) -> dict:
        """G's outputs on its input: a PointNet G runs channels-last (pointnet_fast, the same
        arithmetic) unless a tap watches one of its layers; other backbones through their own
        forward_all, or their logits alone."""
        if getattr(self.classifier, "forward_all", None) is None:
            return {"logits": self.classifier(given)}
        return pointnet_fast.classifier_forward_all(self.classifier, given)

    def forward_all(self, points: torch.Tensor, deterministic: bool | None = None) -> dict:
        mu, logvar, j = self.latent(points, deterministic)
        given = self.transform_input(points, j)
        out = self._classify_all(given["input"])
        out.update(given)       # the mask's own entries win over a backbone output of the same name
        out.update(mu=mu, logvar=logvar, j=j)
        return out

    def forward(self, points: torch.Tensor, deterministic: bool | None = None) -> torch.Tensor:
        """Logits. Training mode, or ``deterministic=False``: one draw of eps; ``True``: eps = 0;
        eval mode by default: log of the softmax averaged over ``eval_samples`` seeded draws."""
        if deterministic is not None or self.training:
            return self.forward_all(points, deterministic)["logits"]
        if self.predict_mode == "zero":
            return self.forward_all(points, True)["logits"]
        return self.predict_sampled(points, self.eval_samples)

    def predict_sampled(self, points: torch.Tensor, samples: int, seed: int = 0) -> torch.Tensor:
        """log E_eps[softmax(G(input(P, J)))] over ``samples`` draws. The draws come from a
        generator seeded with ``seed`` and are shared by every cloud of the batch (eps has shape
        (samples, 1, N, ...)), so a cloud's prediction does not depend on what it is batched with."""
        mu, logvar = self.encoder(points)
        gen = torch.Generator(device=points.device).manual_seed(seed)
        eps = torch.randn((samples, 1) + tuple(mu.shape[1:]), generator=gen, device=points.device,
                          dtype=mu.dtype)
        sigma = torch.exp(0.5 * logvar)
        probs = 0.0
        for s in range(samples):    # one draw at a time: memory as for a single forward pass
            logits = self._classify_all(self.transform_input(points, mu + sigma * eps[s])["input"])["logits"]
            probs = probs + torch.softmax(logits, -1)
        return torch.log((probs / samples).clamp_min(1e-12))

    def training_loss(self, points, labels, soft_labels=None):
        out = self.forward_all(points)
        logits = out["logits"]
        ce = (soft_cross_entropy(logits, soft_labels) if soft_labels is not None
              else nn.functional.cross_entropy(logits, labels))
        kl = kl_to_standard_normal(out["mu"], out["logvar"], self.kl_reduce)
        # The classifier keeps PointNet's feature-transform regulariser so that "pointnet" and
        # the classifier inside PointMask train under the same objective apart from eq. 3; a
        # backbone without a feature T-Net (no trans_feat) has none.
        reg = feature_transform_regulariser(out.get("trans_feat"))
        loss = ce + self.alpha * kl + FEATURE_TRANSFORM_WEIGHT * reg
        stats = {"ce": float(ce.detach()), "kl": float(kl.detach()), "logits": logits.detach()}
        stats.update(self._extra_stats(out))
        return loss, stats

    def _extra_stats(self, out: dict) -> dict:
        return {}


@MODELS.register("pointmask")
class PointMask(_Variational):
    """G(P * M) with M = ReLU1(sigmoid(J) - t), J ~ N(mu, sigma) per point."""

    key = "pointmask"
    latent_dim = 1

    def transform_input(self, points, j):
        m = mask_relu(j, self.threshold)
        return {"mask_probability": torch.sigmoid(j), "mask": m, "input": points * m.unsqueeze(-1)}

    def mask(self, points: torch.Tensor, deterministic: bool = True,
             threshold: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(mask probability sigmoid(J) (B, N), M (B, N)); ``threshold`` overrides t."""
        t = self.threshold if threshold is None else check_alpha_threshold(0.0, threshold, "mask")[1]
        _, _, j = self.latent(points, deterministic)
        return torch.sigmoid(j), mask_relu(j, t)

    def _extra_stats(self, out):
        return {"kept": float((out["mask"] > 0).float().mean().detach())}


@MODELS.register("pointmap")
class PointMap(_Variational):
    """G(P + J) with J ~ N(mu, sigma) an (N, 3) translation per point (M = J in the paper)."""

    key = "pointmap"
    latent_dim = 3
    init_logvar = -4.0      # sigma = 0.14 at the start (see PointLatentEncoder)
    default_alpha = 0.001
    cli_options = {"alpha": (float, 0.001, "PointMask (default 0.01) / PointMap (default 0.001): "
                                           "weight of the KL term (paper eq. 3)"),
                   "backbone": (str, POINTNET, BACKBONE_HELP)}

    def transform_input(self, points, j):
        return {"displacement": j, "input": points + j}

    def mapping(self, points: torch.Tensor, deterministic: bool = True
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """(displacement J (B, N, 3), mapped cloud P + J (B, N, 3))."""
        _, _, j = self.latent(points, deterministic)
        return j, points + j

    def _extra_stats(self, out):
        return {"shift": float(out["displacement"].detach().norm(dim=-1).mean())}
