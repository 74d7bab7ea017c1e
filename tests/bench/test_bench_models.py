"""DGCNN and PointNet++ SSG against the public code's structure, in the same run (`make bench`).

The references are tests/engine/pointcloud_references.py: WangYueFt's DGCNN (edge features
materialised, kNN from the full pairwise matrix) and yanx27's PointNet++ (farthest-point sampling
with the Python loop over centroids, the ball query by sorting every centre-point index). Ours are
engine.models.dgcnn / pointnet2 with the reference's weights loaded (same numbers).

Each configuration runs in its own subprocess so its peak memory (max RSS) is its own: full
width, B x N = 32 x 1024 (POINTLENS_BENCH_BATCH / _POINTS / _STEPS override), all cores
(POINTLENS_BENCH_THREADS), glibc tuned as the CLI does (engine.perf.tune_allocator). Reported:
eval forward and training step (Adam) seconds (median after a warm-up), their ratio, GFLOP/s and
the fraction of the machine's peak (the best large-matmul rate measured in the same process;
training FLOPs = 3x the forward's), and peak RSS. Our DGCNN runs fewer multiply-adds than the
reference for the same result (the EdgeConv's 1x1 convolution applied per point, not per edge),
so its GFLOP/s are given for both counts. And PointNet++ sampling + grouping alone (sa1 and sa2
shapes) against the reference's: target >= 3x. Ratios, not timed assertions (shared machines).

Run: `make bench`, or `.venv/bin/python -m pytest tests/bench/test_bench_models.py -q -s`.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BATCH = int(os.environ.get("POINTLENS_BENCH_BATCH", "32"))
POINTS = int(os.environ.get("POINTLENS_BENCH_POINTS", "1024"))
STEPS = int(os.environ.get("POINTLENS_BENCH_STEPS", "2"))
THREADS = int(os.environ.get("POINTLENS_BENCH_THREADS", os.cpu_count() or 1))
CLASSES = 40


# --- analytic multiply-adds per cloud ------------------------------------------------------------

def dgcnn_macs(n: int = POINTS, k: int = 20, emb: int = 1024, classes: int = CLASSES, per_edge: bool = True) -> float:
    c = [3, 64, 64, 128, 256]
    knn = sum(n * n * ci for ci in c[:4])
    if per_edge:           # the reference: every edge feature (2C) through the 1x1 conv
        convs = n * k * sum(2 * c[i] * c[i + 1] for i in range(4))
    else:                  # ours: per point, [W_a; W_b - W_a] (2C') from C
        convs = n * sum(c[i] * 2 * c[i + 1] for i in range(4))
    return knn + convs + n * sum(c[1:]) * emb + 2 * emb * 512 + 512 * 256 + 256 * classes


def pointnet2_ssg_macs(n: int = POINTS, classes: int = CLASSES) -> float:
    s1, k1, s2, k2 = 512, 32, 128, 64
    sa1 = s1 * k1 * (3 * 64 + 64 * 64 + 64 * 128)
    sa2 = s2 * k2 * (131 * 128 + 128 * 128 + 128 * 256)
    sa3 = s2 * (259 * 256 + 256 * 512 + 512 * 1024)
    ball = s1 * n * 3 + s2 * s1 * 3
    return sa1 + sa2 + sa3 + ball + 1024 * 512 + 512 * 256 + 256 * classes


# --- workers (one subprocess each) -------------------------------------------------------------

def _peak_gflops() -> float:
    from tests.bench.test_bench_train import _peak_gflops as peak

    return peak()


def _models(arch: str):
    import torch

    from engine.models.zoo import build_model
    from tests.engine.pointcloud_references import RefDGCNN, RefPointNet2, randomise_batchnorm

    torch.manual_seed(0)
    ref = RefDGCNN(CLASSES) if arch == "dgcnn" else RefPointNet2(CLASSES, normal_channel=False, msg=False)
    randomise_batchnorm(ref)
    key = "dgcnn" if arch == "dgcnn" else "pointnet2-ssg"
    ours = build_model(key, num_classes=CLASSES)
    ours.load_state_dict(ref.state_dict())
    return ref, ours


def _median(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[len(xs) // 2]


def _model_worker(arch: str, impl: str) -> dict:
    import resource

    import torch

    ref, ours = _models(arch)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(BATCH, POINTS, 3, generator=g)
    x = x / x.norm(dim=-1, keepdim=True).amax(1, keepdim=True)
    y = torch.randint(0, CLASSES, (BATCH,), generator=g)
    if impl == "ref":
        net = ref
        xin = x.transpose(1, 2).contiguous()

        def logits(m):
            out = m(xin)
            return out[0] if isinstance(out, tuple) else out

        def loss_fn():
            out = net(xin)
            if isinstance(out, tuple):                    # PointNet++: log-probabilities
                return torch.nn.functional.nll_loss(out[0], y)
            return net.loss(out, y)
    else:
        net = ours

        def logits(m):
            return m(x) if arch == "dgcnn" else torch.log_softmax(m(x), -1)

        def loss_fn():
            return net.training_loss(x, y)[0]
    net.eval()
    fwd = []
    with torch.no_grad():
        for _ in range(STEPS + 1):
            t = time.perf_counter()
            out = logits(net)
            fwd.append(time.perf_counter() - t)
    rss_fwd = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    wall, cpu = [], []
    for _ in range(STEPS + 1):
        t, c = time.perf_counter(), time.process_time()
        opt.zero_grad(set_to_none=True)
        loss_fn().backward()
        opt.step()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return {"forward": _median(fwd[1:]), "step": _median(wall[1:]), "step_cpu": _median(cpu[1:]),
            "rss_forward_mb": rss_fwd, "rss_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "logits": out[:2].tolist()}


def _sampling_worker() -> dict:
    """sa1 (512 centres, r 0.2, 32) on the cloud and sa2 (128, r 0.4, 64) on 512 points with 128
    features: FPS, ball query and the whole sample-and-group, reference vs ours."""
    import torch

    from engine.models.pointnet2 import _centres, sample_and_group
    from engine.ops.geometry import ball_query, farthest_point_sample
    from tests.engine.pointcloud_references import (ref_farthest_point_sample, ref_index_points,
                                                    ref_query_ball_point, ref_sample_and_group)

    g = torch.Generator().manual_seed(2)
    xyz = torch.randn(BATCH, POINTS, 3, generator=g)
    xyz = xyz / xyz.norm(dim=-1, keepdim=True).amax(1, keepdim=True)
    l1_xyz = ref_index_points(xyz, ref_farthest_point_sample(xyz, 512))
    l1_feats = torch.randn(BATCH, 512, 128, generator=g)
    stages = {
        "fps sa1": (lambda: ref_farthest_point_sample(xyz, 512), lambda: farthest_point_sample(xyz, 512, start=0)),
        "ball sa1": (lambda: ref_query_ball_point(0.2, 32, xyz, l1_xyz),
                     lambda: ball_query(xyz, l1_xyz, 0.2, 32)),
        "group sa1": (lambda: ref_sample_and_group(512, 0.2, 32, xyz, None),
                      lambda: sample_and_group(xyz, None, 512, 0.2, 32)),
        "group sa2": (lambda: ref_sample_and_group(128, 0.4, 64, l1_xyz, l1_feats),
                      lambda: sample_and_group(l1_xyz, l1_feats, 128, 0.4, 64)),
    }
    out = {}
    with torch.no_grad():
        for name, (ref, ours) in stages.items():
            times = {}
            for impl, fn in (("ref", ref), ("ours", ours)):
                ts = []
                for _ in range(STEPS + 1):
                    t = time.perf_counter()
                    res = fn()
                    ts.append(time.perf_counter() - t)
                times[impl] = (_median(ts[1:]), res)
            a, b = times["ref"][1], times["ours"][1]
            same = all(torch.equal(p, q) for p, q in zip(a, b)) if isinstance(a, tuple) else torch.equal(a, b)
            out[name] = {"ref": times["ref"][0], "ours": times["ours"][0], "same": bool(same)}
    assert torch.equal(_centres(xyz, 512), l1_xyz)
    return out


def worker(kind: str) -> None:
    import torch

    from engine.perf import tune_allocator

    allocator = tune_allocator()
    res = _sampling_worker() if kind == "sampling" else _model_worker(*kind.split(":"))
    res.update(peak_gflops=_peak_gflops(), threads=torch.get_num_threads(), allocator=allocator)
    print("RESULT " + json.dumps(res), flush=True)


def _run(kind: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS=str(THREADS))
    code = f"from tests.bench.test_bench_models import worker; worker({kind!r})"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=3600)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    assert line, proc.stderr[-3000:]
    return json.loads(line[7:])


def _row(name: str, r: dict, train_gflop: float, fwd_gflop: float, extra: str = "") -> str:
    peak = r["peak_gflops"]
    return (f"  {name:<16} forward {r['forward']:7.3f} s ({fwd_gflop / r['forward']:6.1f} GFLOP/s, "
            f"{100 * fwd_gflop / r['forward'] / peak:4.1f} % of peak)   step {r['step']:7.3f} s "
            f"(cpu {r['step_cpu']:7.2f} s, {train_gflop / r['step']:6.1f} GFLOP/s, "
            f"{100 * train_gflop / r['step'] / peak:4.1f} % of peak)   peak RSS {r['rss_peak_mb']:7.0f} MB{extra}")


def test_bench_dgcnn_and_pointnet2_against_the_references():
    import numpy as np

    lines = [f"\nDGCNN / PointNet++ SSG, B x N = {BATCH} x {POINTS}, {THREADS} thread(s), "
             f"{CLASSES} classes, full width; medians of {STEPS} after a warm-up"]
    for arch, macs_ref, macs_ours in (("dgcnn", dgcnn_macs(), dgcnn_macs(per_edge=False)),
                                      ("pointnet2-ssg", pointnet2_ssg_macs(), pointnet2_ssg_macs())):
        ref, ours = _run(f"{arch}:ref"), _run(f"{arch}:ours")
        f_ref, f_ours = 2 * macs_ref * BATCH / 1e9, 2 * macs_ours * BATCH / 1e9
        diff = float(np.abs(np.asarray(ref["logits"]) - np.asarray(ours["logits"])).max())
        lines.append(f"{arch} (peak {ours['peak_gflops']:.0f} GFLOP/s measured; forward "
                     f"{f_ref:.1f} GFLOP reference, {f_ours:.1f} ours; eval logits differ by {diff:.1e})")
        lines.append(_row("reference", ref, 3 * f_ref, f_ref))
        extra = ""
        if macs_ours != macs_ref:
            extra = (f"   [reference-equivalent {3 * f_ref / ours['step']:.1f} GFLOP/s step, "
                     f"{f_ref / ours['forward']:.1f} forward]")
        lines.append(_row("ours", ours, 3 * f_ours, f_ours, extra))
        lines.append(f"  ours / reference: forward {ours['forward'] / ref['forward']:.2f}x time, "
                     f"step {ours['step'] / ref['step']:.2f}x time (speed-up {ref['step'] / ours['step']:.2f}x), "
                     f"peak RSS {ours['rss_peak_mb'] / ref['rss_peak_mb']:.2f}x")
        assert diff < 1e-3
    s = _run("sampling")
    lines.append("PointNet++ sampling and grouping (no grad), reference -> ours:")
    for name in ("fps sa1", "ball sa1", "group sa1", "group sa2"):
        r = s[name]
        lines.append(f"  {name:<10} {r['ref']:7.3f} s -> {r['ours']:7.3f} s  ({r['ref'] / r['ours']:5.1f}x faster, "
                     f"identical: {r['same']})")
        assert r["same"], name
    both = (s["group sa1"]["ref"] + s["group sa2"]["ref"]) / (s["group sa1"]["ours"] + s["group sa2"]["ours"])
    lines.append(f"  sa1 + sa2 sample-and-group: {both:.1f}x faster (target >= 3x)")
    print("\n".join(lines))
