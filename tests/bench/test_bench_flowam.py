"""Benchmark: one Flow AM step against the floor, one forward + backward of the classifier.

The floor is what any activation maximisation of this model must pay per step: a forward pass
of one cloud and the gradient with respect to its points. A Flow AM step adds the taps of the
aligned layers, the cosine alignment, the nearest-neighbour continuity term (an N x N distance
matrix without autograd), the legal restriction and the Adam update. Target: <= 1.5x.
Measured in the same run, interleaved, median of repeats (the machine is shared).
"""
from __future__ import annotations

import statistics
import time

import numpy as np
import torch

from engine.methods.flowam.method import optimise
from engine.specs.flowam import FlowAMParams
from engine.methods.flowam.baselines import StepRule, objective_config
from engine.methods.flowam.inputs import frozen
from engine.methods.flowam.objective import FlowObjective, tap_name
from engine.models.pointnet import PointNetClassifier
from engine.models.taps import tap

N = 1024
REPEATS = 15


def _setup(width: float = 1.0, method: str = "flow"):
    torch.manual_seed(0)
    model = PointNetClassifier(num_classes=10, width=width).eval()
    params = FlowAMParams(points=N, method=method)
    cfg = objective_config(params)
    names = [tap_name(lw.layer, cfg.activation) for lw in cfg.layer_weights]
    with torch.no_grad(), tap(model, names, detach=True) as acts:
        model(torch.rand(4, N, 3) * 2 - 1)
        means = {n: acts[n].repeat(3, 1)[:10].clone() for n in names}
    return model, params, cfg, means


def _floor_step(model, x):
    x.grad = None
    model(x)[0, 3].backward()


def _median(fn, repeats=REPEATS):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def test_flowam_step_vs_forward_backward_floor():
    torch.set_num_threads(1)
    for width in (1.0, 0.5, 0.25):
        model, params, cfg, means = _setup(width)
        rng = np.random.default_rng(0)
        x0 = (rng.random((1, N, 3), np.float32) * 2 - 1)
        with frozen(model):
            xf = torch.tensor(x0, requires_grad=True)
            x = torch.tensor(x0, requires_grad=True)
            objective = FlowObjective(model, torch.tensor([3]), cfg, means)
            opt = torch.optim.Adam([x], lr=0.002)
            rule = StepRule(params)
            with tap(model, objective.tap_names) as acts:
                def flow_step(step=[0]):
                    opt.zero_grad(set_to_none=True)
                    loss, _ = objective.evaluate(x, acts)
                    loss.backward()
                    opt.step()
                    rule(x, step[0])
                    step[0] += 1

                for _ in range(3):                      # warm-up
                    _floor_step(model, xf)
                    flow_step()
                floor, flow = [], []
                for _ in range(REPEATS):                # interleaved: both see the same load
                    floor.append(_median(lambda: _floor_step(model, xf), 1))
                    flow.append(_median(flow_step, 1))
            floor_t, flow_t = statistics.median(floor), statistics.median(flow)
            # The whole generator (previews, history, loss read-out) per step.
            gen_params = FlowAMParams(points=N, steps=20, lr=0.002)
            t = time.perf_counter()
            gen = optimise(model, FlowObjective(model, torch.tensor([3]), cfg, means), x0, gen_params)
            for _ in gen:
                pass
            gen_t = (time.perf_counter() - t) / 21
        print(f"\nFlow AM step, PointNet width {width}, N={N}: floor (forward+backward) "
              f"{1e3 * floor_t:.1f} ms, Flow AM step {1e3 * flow_t:.1f} ms -> ratio {flow_t / floor_t:.2f}x "
              f"(target <= 1.5x); through the generator {1e3 * gen_t:.1f} ms/step -> {gen_t / floor_t:.2f}x")
        assert flow_t > 0 and floor_t > 0


def test_flowam_terms_cost_breakdown():
    """Where the time of a step goes (printed): model, continuity term, TV baseline, blur."""
    from engine.methods.flowam.baselines import gaussian_blur
    from engine.methods.flowam.objective import continuity_loss, total_variation_loss

    torch.set_num_threads(1)
    x = (torch.rand(1, N, 3) * 2 - 1).requires_grad_(True)

    def cont():
        x.grad = None
        continuity_loss(x).sum().backward()

    def tv():
        x.grad = None
        total_variation_loss(x, 4).sum().backward()

    def blur():
        with torch.no_grad():
            gaussian_blur(x, 8, 0.05)

    for name, fn in (("continuity L_C fwd+bwd", cont), ("total variation fwd+bwd", tv), ("Gaussian blur", blur)):
        fn()
        print(f"\n{name}: {1e3 * _median(fn):.2f} ms (N={N})")
