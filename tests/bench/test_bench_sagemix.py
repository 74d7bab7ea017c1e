"""SageMix speed, measured against references taken in the same run (no timed assertions).

1. Slider path: ``blend`` (eq. 6, 9, 8) on two 2,048-point clouds with the assignment and the
   queries kept - what the viewer recomputes when sigma or pi moves. Target: median < 16 ms.
2. The auction's bid scan, vector routine against numba's scalar loop; the auction alone on one
   core (ms a pair, bids a point). Assignment of 32 pairs of 1,024 points (built-in dataset, random partners): plain scipy per
   pair on one thread (the reference; the brief quotes ~0.15 s a pair), the same in the thread
   pool, the warm-started exact solver and the auction in the pool; the gap of their total cost
   to the exact optimum (target within 1 %) and the auction's certified bound.
3. A PointNet training step (width 1.0, both T-Nets, 32 x 1,024, Adam; the loss as `pointlens
   train` computes it) with SageMix against the same step without augmentation. Target: at most
   2x. Also the saliency pass and the assignment alone, and SageMix as the training loop runs it:
   the next batch's assignment (data-only) prepared while this batch trains ("prefetched",
   consecutive steps).

Run: `make bench` or `.venv/bin/python -m pytest tests/bench/test_bench_sagemix.py -q -s`.
POINTLENS_BENCH_THREADS sets torch's threads (default: every core), POINTLENS_BENCH_STEPS the
measured training steps per variant (default 2; each variant also runs once to warm up).
"""
from __future__ import annotations

import os
import statistics
import time

import numpy as np
import torch

THREADS = int(os.environ.get("POINTLENS_BENCH_THREADS", os.cpu_count() or 1))
STEPS = int(os.environ.get("POINTLENS_BENCH_STEPS", "2"))
BATCH, POINTS = 32, 1024


def _builtin(points: int, n: int, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    from engine.data import Loading, open_dataset

    ds = open_dataset("builtin", Loading(points=points, sampling="first"))
    sp = ds.split(split)
    idx = np.linspace(0, len(sp) - 1, n).astype(int)     # spread over the classes
    return sp.arrays(indices=idx)


def _ms(seconds: float) -> str:
    return f"{1000 * seconds:8.2f} ms"


def test_bench_blend_slider_2048():
    from engine.methods.mix.sagemix import blend
    from engine.ops.assignment import assign_exact

    x, _ = _builtin(2048, 2, "test")
    a, b = x[0], x[1]
    perm, _ = assign_exact(a, b)
    bm = b[perm]
    rng = np.random.default_rng(0)
    qa, qb = a[rng.integers(2048)], bm[rng.integers(2048)]
    times = []
    for i in range(200):
        sigma, pi = 0.1 + 0.01 * (i % 190), (i % 99 + 1) / 100
        t = time.perf_counter()
        mixed, lam = blend(a, bm, qa, qb, sigma, pi)
        times.append(time.perf_counter() - t)
    at = torch.from_numpy(a)
    bt = torch.from_numpy(bm)
    tt = []
    for i in range(100):
        t = time.perf_counter()
        blend(at, bt, at[0], bt[5], 0.3, 0.5)
        tt.append(time.perf_counter() - t)
    med = statistics.median(times)
    print(f"\n[sagemix] blend, 2 x 2048 points (numpy): median {_ms(med)}, p95 "
          f"{_ms(float(np.percentile(times, 95)))}; target 16 ms -> {med / 0.016:.3f} of the budget")
    print(f"[sagemix] blend, 2 x 2048 points (torch): median {_ms(statistics.median(tt))}")
    assert mixed.shape == (2048, 3) and np.isfinite(lam).all()


def test_bench_assignment_32_pairs():
    from engine.ops.assignment import assign_batch, assign_batch_async, assign_pair

    x, _ = _builtin(POINTS, 2 * BATCH)
    a, b = x[:BATCH], x[BATCH:][np.random.default_rng(1).permutation(BATCH)]
    t = time.perf_counter()
    exact = np.array([assign_pair(a[k], b[k], "exact")[1] for k in range(BATCH)])
    t_serial = time.perf_counter() - t
    t = time.perf_counter()
    _, cost_pool = assign_batch(a, b, solver="exact")
    t_pool = time.perf_counter() - t
    t = time.perf_counter()
    perm, cost_warm = assign_batch(a, b, solver="warm")
    t_warm = time.perf_counter() - t
    assign_batch(a[:1], b[:1], solver="auction")          # numba: load the compiled kernel first
    t = time.perf_counter()
    perm_a, cost_a, lower = assign_batch_async(a, b, solver="auction")()
    t_auction = time.perf_counter() - t
    print(f"\n[sagemix] assignment, {BATCH} pairs x {POINTS} points, {os.cpu_count()} cores:")
    print(f"  exact scipy, serial:      {t_serial:7.3f} s  ({_ms(t_serial / BATCH)} a pair)  1.000")
    print(f"  exact scipy, thread pool: {t_pool:7.3f} s  {t_pool / t_serial:.3f}")
    for name, secs, cost in (("warm-started exact", t_warm, cost_warm), ("auction", t_auction, cost_a)):
        gap = cost / exact - 1
        print(f"  {name + ', pool:':<26}{secs:7.3f} s  {secs / t_serial:.3f}  cost gap to the optimum: "
              f"max {100 * gap.max():.3f} %, mean {100 * gap.mean():.3f} %, batch total "
              f"{100 * (cost.sum() / exact.sum() - 1):.3f} %")
    print(f"  auction's certified bound (no exact solve needed): max {100 * (cost_a / lower - 1).max():.3f} %")
    assert np.allclose(cost_pool, exact, rtol=1e-9)
    assert all(sorted(p) == list(range(POINTS)) for p in perm)
    assert all(sorted(p) == list(range(POINTS)) for p in perm_a)


def test_bench_auction_scan_and_pairs():
    """The auction's bid scan (two smallest of row + prices) as simd_scan's vector routine against
    numba's scalar loop, over every row of a 1,024 x 1,024 cost matrix; then the auction alone on
    one core: milliseconds and bids per point for 32 built-in pairs, and the certified bound."""
    import numba

    from engine.ops import auction

    costs, solve, scan = auction._kernels()
    scalar = numba.njit(nogil=True)(auction._scan_scalar)
    x, _ = _builtin(POINTS, 2 * BATCH)
    a, b = x[:BATCH].astype(np.float64), x[BATCH:][np.random.default_rng(1).permutation(BATCH)].astype(np.float64)
    c = costs(a[0], b[0], np.empty((POINTS, POINTS)))
    p = np.random.default_rng(0).random(POINTS)
    lanes, lane_j = np.empty(16), np.empty(8, np.int64)

    @numba.njit
    def all_rows(f, c, p, lanes, lane_j):
        s = 0.0
        for i in range(c.shape[0]):
            s += f(c[i], p, lanes, lane_j)[1]
        return s

    per_row = {}
    for name, f in (("scalar loop", scalar), ("vector (simd_scan)", scan)):
        all_rows(f, c, p, lanes, lane_j)
        t = time.perf_counter()
        for _ in range(20):
            all_rows(f, c, p, lanes, lane_j)
        per_row[name] = (time.perf_counter() - t) / (20 * POINTS)
    ref = per_row["scalar loop"]
    print(f"\n[sagemix] auction bid scan, one {POINTS}-entry row:")
    for name, sec in per_row.items():
        print(f"  {name:<20} {1e6 * sec:6.3f} us  {sec / ref:.3f}")
    t, bids, gap = time.perf_counter(), 0, []
    for k in range(BATCH):
        ck = costs(a[k], b[k], np.empty((POINTS, POINTS)))
        _, cost, lower, nb = solve(ck, auction.DEFAULT_TOL, auction.START, auction.SHRINK, auction._EPS_FLOOR, scan)
        bids += nb
        gap.append(cost / lower - 1)
    secs = time.perf_counter() - t
    print(f"[sagemix] auction, one core: {1000 * secs / BATCH:.2f} ms a pair, {bids / (BATCH * POINTS):.1f} bids "
          f"a point, certified bound max {100 * max(gap):.3f} %")
    assert max(gap) <= auction.DEFAULT_TOL + 1e-12


def _time(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process over all its threads)."""
    t, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t, time.process_time() - c


def test_bench_training_step_with_sagemix():
    from engine.methods.mix.augment import SageMixAugment
    from engine.methods.mix.sagemix import random_partner, start_partner_assignment
    from engine.methods.inspect.saliency import point_saliency
    from engine.models.zoo import build_model
    from engine.perf import tune_allocator
    from engine.training.state import loss_function

    tune_allocator()                       # as `pointlens train` does
    threads = torch.get_num_threads()
    torch.set_num_threads(THREADS)
    try:
        x_np, y_np = _builtin(POINTS, BATCH)
        x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
        torch.manual_seed(0)
        model = build_model("pointnet", num_classes=10, width=1.0)
        opt = torch.optim.Adam(model.parameters(), 1e-3)
        aug = SageMixAugment()
        gen = torch.Generator().manual_seed(0)

        runner = loss_function(model, fast=True)

        def train_on(points, soft=None):
            model.train()
            opt.zero_grad(set_to_none=True)
            loss, _ = runner(points, y, soft)
            loss.backward()
            opt.step()

        def plain():
            train_on(x)

        def sagemix_step():
            mixed, soft = aug(model, x, y, 10, gen)
            train_on(mixed, soft)

        def saliency():
            point_saliency(model, x, y)

        def assignment():                  # as the augmentation does it: clouds paired off, the auction
            start_partner_assignment(x, random_partner(BATCH, gen, "pairs"), "auction")()

        runs = {"plain": plain, "sagemix": sagemix_step, "saliency": saliency, "assignment": assignment}
        for fn in (plain, sagemix_step):   # warm-up
            fn()
        times: dict[str, list[tuple[float, float]]] = {k: [] for k in runs}
        for _ in range(STEPS):             # interleaved, so load changes hit every variant alike
            for k, fn in runs.items():
                times[k].append(_time(fn))
        # The loop's way: consecutive steps, each preparing the next batch's assignment first.
        pending = [aug.prepare(x, gen)]

        def sagemix_prefetched():
            prepared = pending[0]
            pending[0] = aug.prepare(x, gen)
            mixed, soft = aug(model, x, y, 10, gen, prepared=prepared)
            train_on(mixed, soft)

        sagemix_prefetched()               # warm-up: from here on the assignment is always ahead
        times["sagemix, prefetched"] = [_time(sagemix_prefetched) for _ in range(STEPS)]
        if pending[0] is not None:
            pending[0][1]()                # let the last started assignment finish
        runs["sagemix, prefetched"] = sagemix_prefetched
        wall = {k: statistics.median(w for w, _ in v) for k, v in times.items()}
        cpu = {k: statistics.median(c for _, c in v) for k, v in times.items()}
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"\n[sagemix] PointNet width 1.0, {BATCH} x {POINTS}, {torch.get_num_threads()} threads, "
              f"median of {STEPS} steps (load average {load:.1f} on {os.cpu_count()} cores):")
        print(f"  {'':<11} {'wall':>9}  {'ratio':>7}   {'CPU':>9}  {'ratio':>7}")
        for k in runs:
            print(f"  {k:<11} {wall[k]:7.3f} s  {wall[k] / wall['plain']:6.3f}x   {cpu[k]:7.3f} s  "
                  f"{cpu[k] / cpu['plain']:6.3f}x" + ("   (target <= 2x)" if k.startswith("sagemix") else ""))
    finally:
        torch.set_num_threads(threads)
