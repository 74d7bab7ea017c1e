"""PointMixup (Chen et al., ECCV 2020): interpolate matched points with one constant ratio.

As ``yunlu-chen/PointMixup`` does it for input mixup: a random partner per
cloud (randperm), ONE ratio per batch r = 0.5 - |Beta(alpha, alpha) - 0.5| (so r <= 0.5 and the
cloud itself always dominates), the optimal assignment phi (exact here, the auction kernel
there), x~ = (1 - r) x + r x_partner[phi], label (1 - r) y + r y_partner (1.0 when both classes
agree). The optional symmetry-axis alignment of the public code (only used with rotation
augmentation) is not done. lambda = 1 - r is reported as the share of the cloud itself, the
convention every mix method here uses.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from engine.core.errors import ParameterError
from engine.methods.mix.sagemix import gather_matched, mixed_labels, numpy_rng, random_partner, start_partner_assignment
from engine.specs.mix import DEFAULT_ALPHA  # noqa: F401  (1.0: input mixup without rotation; 0.4 with)


def draw_ratio(alpha: float, generator: torch.Generator | None) -> float:
    """r = 0.5 - |Beta(alpha, alpha) - 0.5|, the partner's share (in [0, 0.5])."""
    if not alpha > 0:
        raise ParameterError(f"PointMixup Beta shape = {alpha!r} must be positive.", hint="The public code uses 1.0.")
    return float(0.5 - abs(numpy_rng(generator).beta(alpha, alpha) - 0.5))


def mix_pair(a: Any, b_matched: Any, lam: float) -> Any:
    """lam a_i + (1 - lam) b_phi(i) for every i (numpy or torch)."""
    if not 0.0 <= float(lam) <= 1.0:
        raise ParameterError(f"PointMixup ratio {lam!r} must lie in [0, 1].")
    return lam * a + (1 - lam) * b_matched


def pointmixup_batch(points: torch.Tensor, labels: torch.Tensor, num_classes: int,
                     generator: torch.Generator | None = None, alpha: float = DEFAULT_ALPHA,
                     partner: torch.Tensor | None = None, assignment: Any = None,
                     ratio: float | None = None, solver: str = "auction",
                     partner_mode: str = "perm", tally: dict | None = None
                     ) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """(mixed (B, N, 3), soft labels (B, K), details); ``partner``, ``assignment`` (B, N) and
    ``ratio`` (the partner's share r) may be injected; ``tally`` as in start_partner_assignment."""
    b = points.shape[0]
    if partner is None:
        partner = random_partner(b, generator, partner_mode)
    partner = torch.as_tensor(partner, dtype=torch.long)
    r = draw_ratio(alpha, generator) if ratio is None else float(ratio)
    if assignment is None:
        assignment = start_partner_assignment(points, partner, solver, tally)()
    assignment = torch.as_tensor(np.asarray(assignment), dtype=torch.long)
    b_matched = gather_matched(points, partner, assignment)
    lam = 1.0 - r
    mixed = mix_pair(points, b_matched, lam)
    lam_mean = torch.full((b,), lam, dtype=torch.float64)
    soft = mixed_labels(lam_mean, labels, labels[partner.to(labels.device)], num_classes).to(points.device)
    return mixed, soft, {"partner": partner, "assignment": assignment, "ratio": r, "lambda_mean": lam_mean}
