"""SageMix equations 4-9 against hand computation, with every random step injected."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engine.core.errors import ModelError, ParameterError
from engine.methods.mix import pointmixup, sagemix
from engine.methods.inspect.saliency import SALIENCY_FLOOR, point_saliency
from engine.models.zoo import build_model


def _pair():
    a = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 2.0, 0.0]], np.float64)
    b = np.array([[0.0, 0.0, 1.0], [3.0, 0.0, 0.0], [0.0, 0.0, -1.0]], np.float64)
    return a, b


def test_eq6_rbf_weights_by_hand():
    a, _ = _pair()
    w = sagemix.rbf_weights(a, a[1], sigma=0.5)
    # ||p - q||^2 = 1, 0, 5 ; 2 sigma^2 = 0.5
    np.testing.assert_allclose(w, [math.exp(-2.0), 1.0, math.exp(-10.0)], rtol=1e-12)
    wt = sagemix.rbf_weights(torch.from_numpy(a), torch.from_numpy(a[1]), 0.5)
    np.testing.assert_allclose(wt.numpy(), w, rtol=1e-12)


def test_eq9_ratios_and_eq8_points_by_hand():
    a, b = _pair()
    q_a, q_b, sigma, pi = a[0], b[1], 1.0, 0.3
    w_a = np.exp(-np.array([0.0, 1.0, 4.0]) / 2)           # ||a_i - q_a||^2 = 0, 1, 4
    w_b = np.exp(-np.array([10.0, 0.0, 10.0]) / 2)         # ||b_i - q_b||^2 = 10, 0, 10
    lam = pi * w_a / (pi * w_a + (1 - pi) * w_b)
    np.testing.assert_allclose(sagemix.point_ratios(w_a, w_b, pi), lam, rtol=1e-12)
    mixed, got = sagemix.blend(a, b, q_a, q_b, sigma, pi)
    np.testing.assert_allclose(got, lam, rtol=1e-12)
    np.testing.assert_allclose(mixed, lam[:, None] * a + (1 - lam[:, None]) * b, rtol=1e-12)
    # torch, batched, the same numbers
    mt, lt = sagemix.blend(torch.from_numpy(a)[None], torch.from_numpy(b)[None], torch.from_numpy(q_a)[None],
                           torch.from_numpy(q_b)[None], sigma, torch.tensor([pi], dtype=torch.float64))
    np.testing.assert_allclose(lt[0].numpy(), lam, rtol=1e-12)
    np.testing.assert_allclose(mt[0].numpy(), mixed, rtol=1e-12)


def test_blend_stays_finite_where_both_weights_underflow():
    a, b = _pair()
    a_far, b_far = a + [50, 0, 0], b - [50, 0, 0]
    mixed, lam = sagemix.blend(a_far, b_far, a[0], b[0], sigma=0.05, pi=0.5)
    assert np.isfinite(lam).all() and np.isfinite(mixed).all()
    with np.errstate(invalid="ignore"):       # the literal eq. 9 is 0/0 there
        literal = sagemix.point_ratios(sagemix.rbf_weights(a_far, a[0], 0.05),
                                       sagemix.rbf_weights(b_far, b[0], 0.05), 0.5)
    assert np.isnan(literal).any()
    _, lam1 = sagemix.blend(a, b, a[0], b[0], 0.3, 1.0)
    _, lam0 = sagemix.blend(a, b, a[0], b[0], 0.3, 0.0)
    np.testing.assert_array_equal(lam1, 1.0)
    np.testing.assert_array_equal(lam0, 0.0)


def test_eq4_and_eq5_probabilities_by_hand():
    s_a = torch.tensor([1.0, 3.0, 4.0])
    np.testing.assert_allclose(sagemix.query_a_probabilities(s_a).numpy(), [1 / 8, 3 / 8, 4 / 8])
    _, b = _pair()
    q_a = torch.tensor([0.0, 0.0, 0.0])
    s_b = torch.tensor([2.0, 1.0, 1.0])
    dist = np.array([1.0, 3.0, 1.0])                       # ||b_i - q_a||
    want = dist * [2, 1, 1] / (dist * [2, 1, 1]).sum()
    np.testing.assert_allclose(sagemix.query_b_probabilities(torch.from_numpy(b), s_b, q_a).numpy(), want)


def test_sequential_sampling_follows_eq4_then_eq5():
    # Many copies of one pair in a batch: empirical query frequencies against the equations.
    rng = np.random.default_rng(0)
    a = torch.from_numpy(rng.normal(size=(6, 3)))
    b = torch.from_numpy(rng.normal(size=(6, 3)))
    s_a = torch.tensor([1.0, 2.0, 3.0, 0.0, 0.0, 4.0]).clamp_min(SALIENCY_FLOOR)
    s_b = torch.tensor([1.0, 1.0, 2.0, 2.0, 3.0, 1.0])
    reps = 20000
    g = torch.Generator().manual_seed(1)
    ia, ib = sagemix.sample_queries(a.expand(reps, -1, -1), b.expand(reps, -1, -1),
                                    s_a.expand(reps, -1), s_b.expand(reps, -1), g)
    freq_a = np.bincount(ia.numpy(), minlength=6) / reps
    np.testing.assert_allclose(freq_a, [0.1, 0.2, 0.3, 0, 0, 0.4], atol=0.015)
    sel = ia.numpy() == 5                               # condition on q_a = a[5]
    p_b = sagemix.query_b_probabilities(b, s_b, a[5]).numpy()
    freq_b = np.bincount(ib.numpy()[sel], minlength=6) / sel.sum()
    np.testing.assert_allclose(freq_b, p_b, atol=0.025)


def test_large_sigma_gives_pointmixup_constant_ratio():
    # Paper section 3.2 remark: sigma -> large makes every lambda_i = pi, i.e. PointMixup.
    rng = np.random.default_rng(2)
    a, b = rng.uniform(-1, 1, (100, 3)), rng.uniform(-1, 1, (100, 3))
    mixed, lam = sagemix.blend(a, b, a[3], b[7], sigma=1e4, pi=0.37)
    np.testing.assert_allclose(lam, 0.37, atol=1e-7)
    np.testing.assert_allclose(mixed, pointmixup.mix_pair(a, b, 0.37), atol=1e-7)


def test_small_sigma_preserves_each_query_neighbourhood():
    rng = np.random.default_rng(4)
    a, b = rng.uniform(-1, 1, (1000, 3)), rng.uniform(-1, 1, (1000, 3))
    sigma, pi = 0.2, 0.5
    qa, qb = 0, int(np.argmax(np.linalg.norm(b - a[0], axis=1)))
    mixed, lam = sagemix.blend(a, b, a[qa], b[qb], sigma, pi)
    d_a, d_b = np.linalg.norm(a - a[qa], axis=1), np.linalg.norm(b - b[qb], axis=1)
    near_a = (d_a <= sigma) & (d_b >= 5 * sigma)
    near_b = (d_b <= sigma) & (d_a >= 5 * sigma)
    assert near_a.sum() >= 3 and near_b.sum() >= 3
    # lambda >= sigmoid((25 - 1) / 2) there: a's points (b's points) stay where they were
    assert (lam[near_a] > 1 - 1e-5).all() and (lam[near_b] < 1e-5).all()
    gap = np.linalg.norm(a - b, axis=1)
    assert (np.linalg.norm(mixed - a, axis=1)[near_a] <= 1e-5 * gap[near_a]).all()
    assert (np.linalg.norm(mixed - b, axis=1)[near_b] <= 1e-5 * gap[near_b]).all()
    # and the neighbourhood keeps its shape: pairwise distances around q_a are unchanged
    idx = np.flatnonzero(near_a)
    da = np.linalg.norm(a[idx, None] - a[None, idx], axis=-1)
    dm = np.linalg.norm(mixed[idx, None] - mixed[None, idx], axis=-1)
    np.testing.assert_allclose(dm, da, atol=1e-4)


def test_mixed_labels_sum_to_one_and_follow_eq8():
    lam = torch.tensor([0.25, 1.0, 0.6], dtype=torch.float64)
    soft = sagemix.mixed_labels(lam, torch.tensor([0, 1, 2]), torch.tensor([2, 0, 2]), 4)
    want = torch.tensor([[0.25, 0, 0.75, 0], [0, 1.0, 0, 0], [0, 0, 1.0, 0]])
    torch.testing.assert_close(soft, want)
    torch.testing.assert_close(soft.sum(1), torch.ones(3))


def _batch(b: int = 4, n: int = 32, seed: int = 0):
    rng = np.random.default_rng(seed)
    pts = torch.from_numpy(rng.uniform(-1, 1, (b, n, 3)).astype(np.float32))
    return pts, torch.tensor([0, 1, 2, 1][:b])


def test_sagemix_batch_with_injected_randomness_matches_hand_computation():
    pts, y = _batch()
    b, n = pts.shape[:2]
    sal = torch.rand(b, n, generator=torch.Generator().manual_seed(0)) + 0.1
    partner = torch.tensor([2, 3, 0, 1])
    assign = np.stack([np.random.default_rng(k).permutation(n) for k in range(b)])
    ia, ib = torch.tensor([0, 5, 9, 31]), torch.tensor([1, 2, 3, 4])
    pi = torch.tensor([0.1, 0.5, 0.9, 0.3], dtype=torch.float64)
    mixed, soft, info = sagemix.sagemix_batch(pts, y, 3, sal, sigma=0.4, partner=partner,
                                              assignment=assign, queries=(ia, ib), pi=pi)
    x = pts.double().numpy()
    for k in range(b):
        a_k, bm = x[k], x[partner[k]][assign[k]]
        qa, qb = a_k[ia[k]], bm[ib[k]]
        wa = np.exp(-((a_k - qa) ** 2).sum(1) / (2 * 0.4 ** 2))
        wb = np.exp(-((bm - qb) ** 2).sum(1) / (2 * 0.4 ** 2))
        lam = pi[k].item() * wa / (pi[k].item() * wa + (1 - pi[k].item()) * wb)
        np.testing.assert_allclose(mixed[k].numpy(), lam[:, None] * a_k + (1 - lam[:, None]) * bm, atol=1e-5)
        want = np.zeros(3)
        want[y[k]] += lam.mean()
        want[y[partner[k]]] += 1 - lam.mean()
        np.testing.assert_allclose(soft[k].numpy(), want, atol=1e-6)
    torch.testing.assert_close(soft.sum(1), torch.ones(b))


def test_sagemix_batch_draws_are_seeded_and_assign_within_one_percent_of_the_optimum():
    pts, y = _batch(n=48)
    sal = torch.ones(pts.shape[:2])
    out1 = sagemix.sagemix_batch(pts, y, 3, sal, torch.Generator().manual_seed(5), sigma=0.3)
    out2 = sagemix.sagemix_batch(pts, y, 3, sal, torch.Generator().manual_seed(5), sigma=0.3)
    torch.testing.assert_close(out1[0], out2[0])
    info = out1[2]
    from engine.ops.assignment import assign_exact
    for k in range(4):
        _, best = assign_exact(pts[k].numpy(), pts[info["partner"][k]].numpy())
        got = np.linalg.norm(pts[k].numpy() - pts[info["partner"][k]].numpy()[info["assignment"][k]], axis=1).sum()
        assert best * (1 - 1e-5) <= got <= best * 1.01     # the batch default: the auction
    assert ((info["pi"] >= 0) & (info["pi"] <= 1)).all()


def test_identical_clouds_mix_to_themselves():
    pts, _ = _batch(n=40)
    same = pts[:1].expand(4, -1, -1).contiguous()
    sal = torch.rand(4, 40, generator=torch.Generator().manual_seed(2)) + 0.01
    mixed, soft, info = sagemix.sagemix_batch(same, torch.tensor([1, 1, 1, 1]), 3, sal,
                                              torch.Generator().manual_seed(3), sigma=0.3)
    torch.testing.assert_close(mixed, same)
    np.testing.assert_array_equal(info["assignment"].numpy(), np.tile(np.arange(40), (4, 1)))
    torch.testing.assert_close(soft, torch.nn.functional.one_hot(torch.tensor([1] * 4), 3).float())


def test_bad_parameters_are_errors():
    a, b = _pair()
    with pytest.raises(ParameterError, match="sigma"):
        sagemix.blend(a, b, a[0], b[0], 0.0, 0.5)
    with pytest.raises(ParameterError, match="pi"):
        sagemix.blend(a, b, a[0], b[0], 0.3, 1.5)
    with pytest.raises(ParameterError, match="theta"):
        sagemix.draw_beta(0.0, 2, None)


def _tiny_pointnet(seed: int = 0):
    torch.manual_seed(seed)
    return build_model("pointnet", num_classes=3, width=0.125)


def test_saliency_is_the_gradient_norm_and_restores_the_model():
    model = _tiny_pointnet()
    model.train()
    pts, y = _batch(3, 24)
    y = y[:3]
    model.fc1.weight.grad = torch.full_like(model.fc1.weight, 7.0)
    flags = {n: p.requires_grad for n, p in model.named_parameters()}
    model.feat.conv1.bias.requires_grad_(False)
    flags["feat.conv1.bias"] = False
    sal = point_saliency(model, pts, y)
    # independent: eval-mode forward, summed cross-entropy, autograd w.r.t. the input
    ref = _tiny_pointnet()
    ref.load_state_dict(model.state_dict())
    ref.eval()
    x = pts.clone().requires_grad_(True)
    loss = torch.nn.functional.cross_entropy(ref(x), y, reduction="sum")
    (g,) = torch.autograd.grad(loss, x)
    torch.testing.assert_close(sal, g.norm(dim=-1).clamp_min(SALIENCY_FLOOR))
    assert model.training
    assert torch.equal(model.fc1.weight.grad, torch.full_like(model.fc1.weight, 7.0))
    assert {n: p.requires_grad for n, p in model.named_parameters()} == flags
    # per-cloud: a cloud's saliency does not depend on its batch companions (eval mode, summed loss)
    torch.testing.assert_close(point_saliency(model, pts[1:2], y[1:2])[0], sal[1])


class _Constant(torch.nn.Module):
    """Logits that ignore the input: every gradient is exactly zero."""
    task = "classification"

    def __init__(self):
        super().__init__()
        self.bias = torch.nn.Parameter(torch.zeros(3))

    def forward(self, x):
        return self.bias.expand(x.shape[0], -1) + 0.0 * x.sum((1, 2))[:, None]


def test_saliency_floor_keeps_sampling_alive_on_zero_gradients():
    pts, y = _batch(2, 16)
    sal = point_saliency(_Constant(), pts, y[:2])
    assert (sal == SALIENCY_FLOOR).all()
    ia, ib = sagemix.sample_queries(pts, pts.flip(0), sal, sal, torch.Generator().manual_seed(0))
    assert ia.shape == (2,) and ib.shape == (2,)


def test_saliency_errors():
    pts, _ = _batch(2, 16)
    with pytest.raises(ModelError, match="labels must lie"):
        point_saliency(_tiny_pointnet(), pts, torch.tensor([0, 5]))


def test_auto_sigma_follows_the_public_code():
    assert sagemix.auto_sigma(_tiny_pointnet()) == 2.0
    assert sagemix.auto_sigma(_Constant()) == 0.3


@pytest.mark.parametrize("b", [1, 2, 7, 8])
def test_pairing_partners_and_the_shared_assignment(b):
    g = torch.Generator().manual_seed(b)
    partner = sagemix.random_partner(b, g, "pairs")
    assert sorted(partner.tolist()) == list(range(b))
    if b > 1:
        assert all(int(partner[k]) != k for k in range(b))
    if b % 2 == 0:
        assert all(int(partner[partner[k]]) == k for k in range(b))     # an involution
    rng = np.random.default_rng(b)
    clouds = torch.from_numpy(rng.uniform(-1, 1, (b, 30, 3)).astype(np.float32))
    got = sagemix.start_partner_assignment(clouds, partner, "exact")()
    from engine.ops.assignment import assign_exact
    for k in range(b):
        _, best = assign_exact(clouds[k].numpy(), clouds[partner[k]].numpy())
        cost = np.linalg.norm(clouds[k].numpy() - clouds[partner[k]].numpy()[got[k]], axis=1).sum()
        assert sorted(got[k]) == list(range(30)) and cost == pytest.approx(best, rel=1e-6)


def test_folded_view_tracks_live_weights_and_leaves_the_model_alone():
    from engine.methods.inspect.saliency import folded_view
    model = _tiny_pointnet(3)
    pts, y = _batch(3, 24)
    model.train()
    model(pts)                                # running statistics away from their defaults
    model.eval()
    names = {k: type(m) for k, m in model.named_modules()}
    state = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        torch.testing.assert_close(folded_view(model)(pts), model(pts), atol=1e-5, rtol=1e-5)
        model.feat.conv2.weight.mul_(1.5)     # as an optimiser step would
        model.feat.bn2.running_var.add_(0.5)
        model.fc3.bias.add_(0.2)              # a layer that is not folded, shared by the view
        torch.testing.assert_close(folded_view(model)(pts), model(pts), atol=1e-5, rtol=1e-5)
    assert {k: type(m) for k, m in model.named_modules()} == names
    assert set(model.state_dict()) == set(state)
    # float64: the folded saliency is the plain one up to rounding
    m64 = model.double()
    x64 = pts.double()
    torch.testing.assert_close(point_saliency(m64, x64, y[:3]), point_saliency(m64, x64, y[:3], fold=False),
                               rtol=1e-5, atol=1e-9)
