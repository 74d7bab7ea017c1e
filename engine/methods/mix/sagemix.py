"""SageMix (Lee et al., NeurIPS 2022): saliency-guided query sampling and continuous mixing.

Paper equations (the SageMix paper, section 3) as functions, each usable on its own:

- eq. 4  ``query_a_probabilities``: Pr(I^a = i) = s^a_i / sum s^a;
- eq. 5  ``query_b_probabilities``: Pr(I^b = i) proportional to ||p^b_i - q^a|| s^b_i;
- eq. 6  ``rbf_weights``: w_i = exp(-||p_i - q||^2 / (2 sigma^2));
- eq. 9  ``point_ratios``: lambda_i = pi w^a_i / (pi w^a_i + (1 - pi) w^b_phi(i));
- eq. 8  ``blend`` (points) and ``mixed_labels`` (label with the mean lambda).

``blend(a, b_matched, q_a, q_b, sigma, pi)`` is what a sigma or pi slider recomputes: the
assignment phi (b_matched = b[phi]) and the queries stay fixed, only the weights change. It
evaluates eq. 9 as lambda = sigmoid(logit(pi) + (||b - q_b||^2 - ||a - q_a||^2) / (2 sigma^2)),
algebraically the same, but free of the 0/0 that the literal ratio hits when both weights
underflow far from both queries (the public code adds 1e-16 there, which forces lambda = 1/2).

``sagemix_batch`` runs Algorithm 1 over a training batch as the public code does
a random partner per cloud, the optimal assignment, sequential queries,
pi ~ Beta(theta, theta) per cloud. Every random step can be injected (partner, assignment,
queries, pi), so tests can fix each one.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from engine.core.errors import ParameterError
from engine.specs.mix import DEFAULT_THETA, SIGMA_OTHER, SIGMA_POINTNET  # noqa: F401  (the public code's defaults)


def auto_sigma(model: Any) -> float:
    """The public code's per-backbone bandwidth: 2.0 for PointNet, 0.3 otherwise."""
    return SIGMA_POINTNET if getattr(model, "key", "") == "pointnet" else SIGMA_OTHER


def _torch(x: Any) -> bool:
    return isinstance(x, torch.Tensor)


def _check_sigma(sigma: float) -> None:
    if not (isinstance(sigma, (int, float)) and sigma > 0):
        raise ParameterError(f"SageMix bandwidth sigma = {sigma!r} must be a positive number.",
                             hint="Try 0.3 (local parts kept) to 2.0 (close to PointMixup).")


def _pi_array(pi: Any, like: Any) -> Any:
    """pi as a scalar or a per-cloud array shaped to broadcast over the points axis."""
    if _torch(like):
        p = torch.as_tensor(pi, dtype=torch.float64, device=like.device)
    else:
        p = np.asarray(pi, dtype=np.float64)
    if ((p < 0) | (p > 1)).any() or not bool((p == p).all()):
        raise ParameterError(f"SageMix prior pi = {pi!r} must lie in [0, 1].")
    return p[..., None] if p.ndim else p


def rbf_weights(points: Any, query: Any, sigma: float) -> Any:
    """Eq. 6: exp(-||p_i - q||^2 / (2 sigma^2)); points (..., N, 3), query (..., 3) -> (..., N)."""
    _check_sigma(sigma)
    d2 = ((points - query[..., None, :]) ** 2).sum(-1)
    return (torch.exp if _torch(d2) else np.exp)(-d2 / (2.0 * sigma * sigma))


def point_ratios(w_a: Any, w_b_matched: Any, pi: Any) -> Any:
    """Eq. 9, literally: pi w^a_i / (pi w^a_i + (1 - pi) w^b_phi(i)) (NaN where both are 0)."""
    p = _pi_array(pi, w_a)
    return p * w_a / (p * w_a + (1 - p) * w_b_matched)


def blend(a: Any, b_matched: Any, q_a: Any, q_b: Any, sigma: float, pi: Any) -> tuple[Any, Any]:
    """Eq. 6, 9 and 8: (mixed points, lambda per point) for one pair or a batch.

    a, b_matched (..., N, 3) with b_matched[i] the partner of a[i]; q_a, q_b (..., 3) the query
    points; pi a scalar or (...,). numpy in, numpy out (float32 for float32 input); torch in,
    torch out. lambda is the share of cloud a.
    """
    _check_sigma(sigma)
    p = _pi_array(pi, a)
    if _torch(a):
        d_a = ((a.double() - q_a.double()[..., None, :]) ** 2).sum(-1)
        d_b = ((b_matched.double() - q_b.double()[..., None, :]) ** 2).sum(-1)
        logit = torch.log(p) - torch.log1p(-p)                # +-inf at pi = 1 / 0: lambda 1 / 0
        lam = torch.sigmoid(logit + (d_b - d_a) / (2.0 * sigma * sigma))
        lam_c = lam.to(a.dtype)[..., None]
        return lam_c * a + (1 - lam_c) * b_matched, lam.to(a.dtype)
    from engine.numeric.mix_blend import blend as blend_numpy

    return blend_numpy(a, b_matched, q_a, q_b, sigma, pi)


def query_a_probabilities(saliency_a: torch.Tensor) -> torch.Tensor:
    """Eq. 4: (..., N) saliency -> (..., N) probabilities."""
    s = saliency_a.double()
    return s / s.sum(-1, keepdim=True)


def query_b_probabilities(b_matched: torch.Tensor, saliency_b: torch.Tensor, q_a: torch.Tensor) -> torch.Tensor:
    """Eq. 5: Pr(i) proportional to ||p^b_i - q^a|| s^b_i; (..., N, 3), (..., N), (..., 3) -> (..., N).

    If every point of b sits on q_a (all weights 0) the saliency alone is used.
    """
    dist = torch.linalg.vector_norm(b_matched.double() - q_a.double()[..., None, :], dim=-1)
    w = dist * saliency_b.double()
    dead = w.sum(-1, keepdim=True) <= 0
    w = torch.where(dead, saliency_b.double(), w)
    return w / w.sum(-1, keepdim=True)


def sample_queries(a: torch.Tensor, b_matched: torch.Tensor, saliency_a: torch.Tensor,
                   saliency_b_matched: torch.Tensor, generator: torch.Generator | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Sequential sampling (eq. 4 then eq. 5) for a batch: indices (B,), (B,) into a and b_matched.

    Draws on the CPU (the generator's device) so a seeded run repeats on any device.
    """
    a_c, b_c = a.detach().cpu(), b_matched.detach().cpu()
    p_a = query_a_probabilities(saliency_a.detach().cpu())
    ia = torch.multinomial(p_a, 1, generator=generator).squeeze(1)
    q_a = a_c[torch.arange(a_c.shape[0]), ia]
    p_b = query_b_probabilities(b_c, saliency_b_matched.detach().cpu(), q_a)
    ib = torch.multinomial(p_b, 1, generator=generator).squeeze(1)
    return ia, ib


def mixed_labels(lam_mean: torch.Tensor, y_a: torch.Tensor, y_b: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Eq. 8 (labels): lambda y^a + (1 - lambda) y^b as (B, K) probabilities (rows sum to 1)."""
    lam = lam_mean.reshape(-1, 1).to(torch.float32)
    oh_a = torch.nn.functional.one_hot(y_a.reshape(-1).long(), num_classes).to(lam)
    oh_b = torch.nn.functional.one_hot(y_b.reshape(-1).long(), num_classes).to(lam)
    return lam * oh_a + (1 - lam) * oh_b


def numpy_rng(generator: torch.Generator | None) -> np.random.Generator:
    """A numpy generator seeded from the torch one (torch has no seeded Beta sampler)."""
    seed = int(torch.randint(0, 2**62, (1,), generator=generator))
    return np.random.default_rng(seed)


def draw_beta(theta: float, n: int, generator: torch.Generator | None) -> torch.Tensor:
    """n draws of Beta(theta, theta) as float64."""
    if not theta > 0:
        raise ParameterError(f"Beta shape theta = {theta!r} must be positive.", hint="SageMix uses 0.2.")
    return torch.from_numpy(numpy_rng(generator).beta(theta, theta, size=n))


def random_partner(b: int, generator: torch.Generator | None, mode: str = "perm") -> torch.Tensor:
    """The partner of each cloud in the batch.

    "perm": a random permutation, as the public code (randperm; a cloud may draw itself).
    "pairs": the clouds paired off at random (i <-> j; one 3-cycle when B is odd). Every cloud
    still gets a uniformly random partner (never itself), and one assignment serves both
    directions (phi_ji is the inverse of phi_ij), which halves the assignment work.
    """
    order = torch.randperm(b, generator=generator)
    if mode == "perm":
        return order
    if mode != "pairs":
        raise ParameterError(f"partner mode '{mode}' is not perm or pairs.")
    partner = torch.arange(b)
    for k in range(0, b - 1, 2):
        i, j = order[k], order[k + 1]
        partner[i], partner[j] = j, i
    if b % 2 and b > 1:                       # i -> j -> l -> i with the last pair
        i, j, l_ = order[-3], order[-2], order[-1]
        partner[i], partner[j], partner[l_] = j, l_, i
    return partner


def start_partner_assignment(points: torch.Tensor, partner: torch.Tensor, solver: str = "auction",
                             tally: dict | None = None):
    """Start the assignments of every cloud to its partner in the background; returns a function
    giving (B, N) int64. Two clouds that are each other's partner share one solve. ``tally``
    (optional) accumulates "cost" and "lower" (a lower bound on the optimum) over the solves, so
    a caller can report how far from the optimum the solver's assignments were at most."""
    from engine.ops.assignment import assign_batch_async

    part = partner.cpu().numpy()
    b = len(part)
    solve = [k for k in range(b) if not (part[part[k]] == k and part[k] < k)]
    wait = assign_batch_async(points[torch.as_tensor(solve, device=points.device)],
                              points[torch.as_tensor(part[solve], device=points.device)], solver)

    def result() -> np.ndarray:
        perms, costs, lower = wait()
        if tally is not None:
            tally["cost"] = tally.get("cost", 0.0) + float(costs.sum())
            tally["lower"] = tally.get("lower", 0.0) + float(lower.sum())
        out = np.empty((b, points.shape[1]), np.int64)
        for k, perm in zip(solve, perms):
            out[k] = perm
        for k in range(b):
            if k not in solve:                # part[k] solved k's partner -> k: invert it
                out[k] = np.argsort(out[part[k]])
        return out

    return result


def gather_matched(points: torch.Tensor, partner: torch.Tensor, assignment: torch.Tensor) -> torch.Tensor:
    """b_matched[k, i] = points[partner[k], assignment[k, i]] (B, N, 3)."""
    other = points[partner.to(points.device)]
    idx = assignment.to(points.device).long()
    return torch.gather(other, 1, idx[..., None].expand(-1, -1, points.shape[-1]))


def sagemix_batch(points: torch.Tensor, labels: torch.Tensor, num_classes: int, saliency: torch.Tensor,
                  generator: torch.Generator | None = None, sigma: float = SIGMA_OTHER,
                  theta: float = DEFAULT_THETA, partner: torch.Tensor | None = None,
                  assignment: Any = None, queries: tuple[Any, Any] | None = None,
                  pi: Any = None, solver: str = "auction") -> tuple[torch.Tensor, torch.Tensor, dict]:
    """Algorithm 1 over a batch: (mixed points (B, N, 3), soft labels (B, K), details).

    Random steps in the public code's order (partner, queries a then b, pi); any of ``partner``
    (B,), ``assignment`` (B, N) into the partner cloud, ``queries`` (ia (B,), ib (B,)) with ib
    indexing the *matched* partner order, and ``pi`` (B,) may be given instead of drawn.
    """
    _check_sigma(sigma)
    b = points.shape[0]
    if saliency.shape != points.shape[:2]:
        raise ParameterError(f"saliency must be (B, N) = {tuple(points.shape[:2])}, got {tuple(saliency.shape)}.")
    if partner is None:
        partner = random_partner(b, generator)
    partner = torch.as_tensor(partner, dtype=torch.long)
    if assignment is None:
        assignment = start_partner_assignment(points, partner, solver)()
    assignment = torch.as_tensor(np.asarray(assignment), dtype=torch.long)
    b_matched = gather_matched(points, partner, assignment)
    sal_b = torch.gather(saliency[partner.to(saliency.device)], 1, assignment.to(saliency.device))
    if queries is None:
        ia, ib = sample_queries(points, b_matched, saliency, sal_b, generator)
    else:
        ia, ib = (torch.as_tensor(q, dtype=torch.long).reshape(b) for q in queries)
    if pi is None:
        pi = draw_beta(theta, b, generator)
    pi = torch.as_tensor(pi, dtype=torch.float64).reshape(b)
    ar = torch.arange(b, device=points.device)
    q_a = points[ar, ia.to(points.device)]
    q_b = b_matched[ar, ib.to(points.device)]
    mixed, lam = blend(points, b_matched, q_a, q_b, sigma, pi.to(points.device))
    lam_mean = lam.double().mean(-1)
    soft = mixed_labels(lam_mean, labels, labels[partner.to(labels.device)], num_classes).to(points.device)
    info = {"partner": partner, "assignment": assignment, "queries": (ia, ib), "pi": pi,
            "lambda": lam, "lambda_mean": lam_mean}
    return mixed, soft, info
