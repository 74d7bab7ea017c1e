"""Mix augmentations for the training loop: ``--augment sagemix | pointmixup | rsmix``.

Each is a class in ``AUGMENTATIONS`` whose ``cli_options`` become ``pointlens train`` flags and
whose instances are called once per batch as ``aug(model, points, labels, num_classes,
generator) -> (points, soft_labels (B, K))``; the loop trains on the soft labels with
``soft_cross_entropy``. Draws come from the loop's CPU ``torch.Generator``, so seeded runs repeat.
Options left out take the public code's defaults.
"""
from __future__ import annotations

import torch

from engine.core.errors import ParameterError
from engine.ops.assignment import check_solver
from engine.core.registry import AUGMENTATIONS
from engine.methods.mix import pointmixup, rsmix, sagemix
from engine.methods.inspect.saliency import point_saliency
from engine.specs.mix import DEFAULT_PROB

_ASSIGN_HELP = ("assignment solver: auction (certified within 1 percent of the optimum; the fastest), warm "
                "(the exact optimum, warm-started) or exact (plain scipy)")
# Shared flag names: the help (and the shown default) must be right for every mix that has them.
_THETA_HELP = ("Beta(theta, theta) shape: SageMix prior pi (default 0.2), PointMixup ratio (1.0), "
               "RSMix ball radius (1.0)")
_PROB_HELP = "probability that a batch is mixed (default: SageMix and PointMixup 1.0, RSMix 0.5)"
_PARTNER_HELP = ("partner of each cloud: pairs (clouds paired off; one assignment serves both, half "
                 "the work) or perm (a random permutation, as the public code)")


def _check_prob(prob: float, name: str) -> float:
    if not 0.0 <= float(prob) <= 1.0:
        raise ParameterError(f"{name}: mix probability {prob!r} must lie in [0, 1].")
    return float(prob)


def _check_partner(mode: str, name: str) -> str:
    if mode not in ("pairs", "perm"):
        raise ParameterError(f"{name}: partner '{mode}' is not pairs or perm.")
    return mode


def _skip(prob: float, generator: torch.Generator) -> bool:
    """True when this batch stays unmixed (the draw is made even at prob 1, so runs line up)."""
    return float(torch.rand((), generator=generator)) >= prob


def _one_hot(labels: torch.Tensor, num_classes: int, device) -> torch.Tensor:
    return torch.nn.functional.one_hot(labels.long(), num_classes).to(device=device, dtype=torch.float32)


@AUGMENTATIONS.register("sagemix")
class SageMixAugment:
    """SageMix: saliency pass (eval mode), assignment, sequential queries, RBF-weighted blend."""

    cli_options = {
        "sigma": (float, -1.0, "SageMix RBF bandwidth; -1 = the public code's choice: 2.0 for "
                               "PointNet, 0.3 otherwise"),
        "theta": (float, None, _THETA_HELP),
        "mix_prob": (float, None, _PROB_HELP),
        "assignment": (str, "auction", _ASSIGN_HELP),
        "partner": (str, "pairs", _PARTNER_HELP),
    }

    def __init__(self, sigma: float = -1.0, theta: float = sagemix.DEFAULT_THETA, mix_prob: float = 1.0,
                 assignment: str = "auction", partner: str = "pairs"):
        if not (sigma == -1.0 or sigma > 0):
            raise ParameterError(f"sagemix: sigma = {sigma!r} must be positive (or -1 for automatic).")
        if not theta > 0:
            raise ParameterError(f"sagemix: theta = {theta!r} must be positive.")
        self.sigma, self.theta = float(sigma), float(theta)
        self.mix_prob = _check_prob(mix_prob, "sagemix")
        self.assignment = check_solver(assignment)
        self.tally: dict = {}                 # assignment cost and its lower bound, summed (train reports it)
        self.partner = _check_partner(partner, "sagemix")

    def prepare(self, points: torch.Tensor, generator: torch.Generator, start: bool = True):
        """The data-only part of SageMix: whether to mix, the partners, and the optimal assignment.
        The training loop prepares the NEXT batch before it trains on this one; with ``start`` the
        assignment (which does not depend on the model) begins in the thread pool at once and runs
        on a spare core while the model trains, as a data-loader worker would; without it, it runs
        when needed. Either way the generator draws are the same, so results do not depend on it."""
        if _skip(self.mix_prob, generator):
            return None
        partner = sagemix.random_partner(points.shape[0], generator, self.partner)
        if start:
            return partner, sagemix.start_partner_assignment(points, partner, self.assignment, self.tally)
        return partner, lambda: sagemix.start_partner_assignment(points, partner, self.assignment, self.tally)()

    def __call__(self, model, points: torch.Tensor, labels: torch.Tensor, num_classes: int,
                 generator: torch.Generator, prepared=False):
        """``prepared``: what ``prepare(points, generator)`` returned for these points (the same
        draws from ``generator`` as calling without it)."""
        if prepared is False:
            prepared = self.prepare(points, generator)
        if prepared is None:
            return points, _one_hot(labels, num_classes, points.device)
        partner, pending = prepared
        # Unprepared, the assignment runs before the saliency pass: overlapping them oversubscribes
        # the cores and stalls torch's parallel regions (measured slower on 2 cores).
        assignment = pending()
        saliency = point_saliency(model, points, labels)
        sigma = sagemix.auto_sigma(model) if self.sigma == -1.0 else self.sigma
        mixed, soft, _ = sagemix.sagemix_batch(points, labels, num_classes, saliency, generator,
                                               sigma=sigma, theta=self.theta, partner=partner,
                                               assignment=assignment)
        return mixed.detach(), soft


@AUGMENTATIONS.register("pointmixup")
class PointMixupAugment:
    """PointMixup: optimal assignment, one constant ratio per batch."""

    cli_options = {
        "theta": (float, None, _THETA_HELP),
        "mix_prob": (float, None, _PROB_HELP),
        "assignment": (str, "auction", _ASSIGN_HELP),
        "partner": (str, "pairs", _PARTNER_HELP),
    }

    def __init__(self, theta: float = pointmixup.DEFAULT_ALPHA, mix_prob: float = 1.0, assignment: str = "auction",
                 partner: str = "pairs"):
        if not theta > 0:
            raise ParameterError(f"pointmixup: theta = {theta!r} must be positive.")
        self.theta = float(theta)
        self.mix_prob = _check_prob(mix_prob, "pointmixup")
        self.assignment = check_solver(assignment)
        self.tally: dict = {}
        self.partner = _check_partner(partner, "pointmixup")

    def __call__(self, model, points, labels, num_classes, generator):
        if _skip(self.mix_prob, generator):
            return points, _one_hot(labels, num_classes, points.device)
        mixed, soft, _ = pointmixup.pointmixup_batch(points, labels, num_classes, generator,
                                                     alpha=self.theta, solver=self.assignment,
                                                     partner_mode=self.partner, tally=self.tally)
        return mixed, soft


@AUGMENTATIONS.register("rsmix")
class RSMixAugment:
    """RSMix: rigid subset swap; a batch is mixed with probability 0.5 as in the public loop."""

    cli_options = {
        "theta": (float, None, _THETA_HELP),
        "mix_prob": (float, None, _PROB_HELP),
        "rsmix_points": (int, rsmix.N_SAMPLE, "RSMix: most points in a swapped subset"),
    }

    def __init__(self, theta: float = rsmix.DEFAULT_BETA, mix_prob: float = DEFAULT_PROB,
                 rsmix_points: int = rsmix.N_SAMPLE):
        if not theta > 0:
            raise ParameterError(f"rsmix: theta = {theta!r} must be positive.")
        if int(rsmix_points) < 1:
            raise ParameterError(f"rsmix: rsmix_points = {rsmix_points!r} must be at least 1.")
        self.theta = float(theta)
        self.mix_prob = _check_prob(mix_prob, "rsmix")
        self.n_sample = int(rsmix_points)

    def __call__(self, model, points, labels, num_classes, generator):
        if _skip(self.mix_prob, generator):
            return points, _one_hot(labels, num_classes, points.device)
        mixed, soft, _ = rsmix.rsmix_batch(points, labels, num_classes, generator, beta=self.theta,
                                           n_sample=self.n_sample)
        return mixed, soft
