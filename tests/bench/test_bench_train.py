"""PointNet training throughput: a plain eager loop against our training loop, in the same run.

Each configuration runs in its own subprocess (the allocator is process-wide; tcmalloc can only be
preloaded at start): full-width PointNet, both T-Nets, B x N = 32 x 1024 by default
(POINTLENS_BENCH_BATCH / POINTLENS_BENCH_STEPS override), one warm-up step then the median of the
measured steps. Reported: seconds per step (wall and CPU), clouds/s, and the fraction of the
machine's peak FLOP/s (training FLOPs counted analytically as 3x the forward multiply-adds x 2;
peak = best large-matmul GFLOP/s measured in the same process and thread count).

- plain:            glibc malloc, torch.optim.Adam defaults, zero_grad(), the model's loss
- plain+tcmalloc:   the same with LD_PRELOAD=libtcmalloc_minimal (what `make` does)
- ours:             engine.training.train's loop (fused Adam, set_to_none) after perf.tune_allocator()
- ours+THP:         ours with THP_MEM_ALLOC_ENABLE=1 (transparent huge pages for big tensors)
- ours+tcmalloc:    ours under tcmalloc
- ours+bf16:        ours with --precision bf16 (mixed-precision forward; numerics change, so it is
                    reported apart from the fp32 levers)
- compile (opt-in, POINTLENS_BENCH_COMPILE=1): torch.compile of the loss; compiling takes minutes here.
Inference (eval forward): plain vs batch norm folded into the layers before it (perf.fold_batchnorm).

Also per step: minor page faults (fresh pages the kernel maps and zeroes; load-independent, so
the allocator's effect shows even on a busy machine). CPU-time ratios are steadier than wall-time
ratios when other processes share the cores.

Run: `make bench`, or `.venv/bin/python -m pytest tests/bench/test_bench_train.py -q -s`.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TCMALLOC = next((p for p in ("/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4",
                             "/usr/lib/aarch64-linux-gnu/libtcmalloc_minimal.so.4") if Path(p).exists()), None)
BATCH = int(os.environ.get("POINTLENS_BENCH_BATCH", "32"))
POINTS = int(os.environ.get("POINTLENS_BENCH_POINTS", "1024"))
STEPS = int(os.environ.get("POINTLENS_BENCH_STEPS", "2"))
# tests/conftest.py pins OMP_NUM_THREADS=1 for the test suite; the benchmark uses every core
THREADS = int(os.environ.get("POINTLENS_BENCH_THREADS", os.cpu_count() or 1))
CLASSES = 10


def pointnet_macs(width: float = 1.0, n: int = 1024, k: int = 10, feature_transform: bool = True) -> float:
    """Forward multiply-adds of one cloud through PointNetClassifier (convs per point, FCs per cloud)."""
    from engine.models.base import scaled

    c1, c2, c3, f1, f2 = (scaled(c, width) for c in (64, 128, 1024, 512, 256))

    def tnet(kk, cin):
        return n * (cin * c1 + c1 * c2 + c2 * c3) + c3 * f1 + f1 * f2 + f2 * kk * kk + n * kk * kk

    macs = tnet(3, 3) + n * (3 * c1) + n * (c1 * c2 + c2 * c3)
    if feature_transform:
        macs += tnet(c1, c1)
    return macs + c3 * f1 + f1 * f2 + f2 * k


def _peak_gflops() -> float:
    import torch

    a = torch.randn(2048, 2048)
    best = 0.0
    for _ in range(4):
        t = time.perf_counter()
        a @ a
        best = max(best, 2 * 2048 ** 3 / (time.perf_counter() - t) / 1e9)
    return best


def _synthetic():
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH * (STEPS + 1), POINTS, 3)).astype(np.float32)
    x /= np.linalg.norm(x, axis=2, keepdims=True).max(1, keepdims=True)
    return x, (np.arange(len(x)) % CLASSES).astype(np.int64)


def _plain() -> dict:
    import torch

    from engine.models.pointnet import PointNetClassifier

    torch.manual_seed(0)
    x, y = _synthetic()
    model = PointNetClassifier(num_classes=CLASSES).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    wall, cpu = [], []
    for s in range(STEPS + 1):
        if s == 1:
            f0 = _faults()
        t, c = time.perf_counter(), time.process_time()
        xb = torch.from_numpy(x[s * BATCH:(s + 1) * BATCH])
        yb = torch.from_numpy(y[s * BATCH:(s + 1) * BATCH])
        opt.zero_grad()
        loss, _ = model.training_loss(xb, yb)
        loss.backward()
        opt.step()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return {"step": sorted(wall[1:])[len(wall[1:]) // 2], "cpu": sorted(cpu[1:])[len(cpu[1:]) // 2],
            "faults": (_faults() - f0) / STEPS}


def _faults() -> int:
    """Minor page faults of this process so far: fresh memory the kernel had to map and zero."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def _compiled() -> dict:
    import torch

    from engine.models.pointnet import PointNetClassifier

    torch.manual_seed(0)
    x, y = _synthetic()
    model = PointNetClassifier(num_classes=CLASSES).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    loss_fn = torch.compile(lambda a, b: model.training_loss(a, b)[0])
    wall, cpu = [], []
    t_compile = time.perf_counter()
    for s in range(STEPS + 1):
        t, c = time.perf_counter(), time.process_time()
        opt.zero_grad(set_to_none=True)
        loss_fn(torch.from_numpy(x[s * BATCH:(s + 1) * BATCH]), torch.from_numpy(y[s * BATCH:(s + 1) * BATCH])).backward()
        opt.step()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        if s == 0:
            t_compile = time.perf_counter() - t_compile
            f0 = _faults()
    return {"step": sorted(wall[1:])[len(wall[1:]) // 2], "cpu": sorted(cpu[1:])[len(cpu[1:]) // 2],
            "compile_seconds": t_compile, "faults": (_faults() - f0) / STEPS}


def _ours(precision: str = "fp32") -> dict:
    from engine import Job, run_sync, run, start
    from engine.perf import tune_allocator

    allocator = tune_allocator()
    x, y = _synthetic()
    marks: dict[float, int] = {}

    def on_progress(p):          # the loop yields after every step here (each takes > 100 ms)
        marks.setdefault(p.done, _faults())

    r = run(Job("train", {"data": (x, y, [str(i) for i in range(CLASSES)])},
                     {"epochs": 1, "batch_size": BATCH, "points": POINTS, "augmentations": "none",
                      "scheduler": "none", "precision": precision}), on_progress=on_progress)
    faults = (marks[STEPS + 1] - marks[1]) / STEPS if 1 in marks and STEPS + 1 in marks else float("nan")
    out = {"step": r.metrics["step_seconds_median"], "cpu": r.metrics["step_cpu_seconds_median"],
           "allocator": allocator, "faults": faults}
    return out if precision != "fp32" else {**out, **_inference()}


def _inference() -> dict:
    import torch

    from engine.models.pointnet import PointNetClassifier
    from engine.perf import fold_batchnorm

    torch.manual_seed(0)
    x = torch.from_numpy(_synthetic()[0][:BATCH])
    model = PointNetClassifier(num_classes=CLASSES).eval()
    folded, _ = fold_batchnorm(model)
    out = {}
    with torch.inference_mode():
        for name, net in (("infer_plain", model), ("infer_folded", folded)):
            times = []
            for _ in range(3):
                t = time.perf_counter()
                net(x)
                times.append(time.perf_counter() - t)
            out[name] = min(times[1:])
        out["infer_max_abs_diff"] = float((model(x) - folded(x)).abs().max())
    return out


def worker(kind: str) -> None:
    fn = {"plain": _plain, "ours": _ours, "ours-bf16": lambda: _ours("bf16"), "compile": _compiled}[kind]
    res = fn()
    res["peak_gflops"] = _peak_gflops()
    import torch

    res["threads"] = torch.get_num_threads()
    print("RESULT " + json.dumps(res), flush=True)


CONFIGS = [
    ("plain", "plain", {}),
    ("plain+tcmalloc", "plain", {"LD_PRELOAD": TCMALLOC} if TCMALLOC else None),
    ("ours", "ours", {}),
    ("ours+THP", "ours", {"THP_MEM_ALLOC_ENABLE": "1"}),
    ("ours+tcmalloc", "ours", {"LD_PRELOAD": TCMALLOC} if TCMALLOC else None),
    ("ours+bf16", "ours-bf16", {}),
]


def _run(kind: str, extra: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "THP_MEM_ALLOC_ENABLE")}
    env.update(extra, PYTHONPATH=str(ROOT), OMP_NUM_THREADS=str(THREADS))
    code = f"from tests.bench.test_bench_train import worker; worker({kind!r})"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=900)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    assert line, proc.stderr[-3000:]
    return json.loads(line[7:])


def test_bench_train_throughput():
    train_gflop = 3 * 2 * pointnet_macs(1.0, POINTS, CLASSES) * BATCH / 1e9
    configs = list(CONFIGS)
    if os.environ.get("POINTLENS_BENCH_COMPILE") == "1":
        configs.append(("compile", "compile", {"LD_PRELOAD": TCMALLOC} if TCMALLOC else {}))
    rows = {}
    for name, kind, extra in configs:
        if extra is None:
            print(f"{name}: skipped (no tcmalloc on this machine)")
            continue
        rows[name] = _run(kind, extra)
    plain = rows["plain"]
    print(f"\nPointNet training, full width, both T-Nets, batch {BATCH} x {POINTS} points, "
          f"{STEPS} measured steps; {train_gflop:.1f} GFLOP per step (analytic, 3x forward)")
    print(f"{'configuration':<16}{'s/step':>9}{'cpu s':>9}{'clouds/s':>10}{'x plain':>9}{'% peak':>8}"
          f"{'peak GF/s':>11}{'faults/step':>13}")
    for name, r in rows.items():
        frac = train_gflop / r["step"] / r["peak_gflops"]
        print(f"{name:<16}{r['step']:>9.3f}{r['cpu']:>9.3f}{BATCH / r['step']:>10.1f}"
              f"{plain['step'] / r['step']:>9.2f}{100 * frac:>7.1f}%{r['peak_gflops']:>11.1f}{r['faults']:>13,.0f}"
              + (f"   (compile {r['compile_seconds']:.0f} s)" if "compile_seconds" in r else ""))
    ours = rows["ours"]
    # Our loop fuses each widest layer (128 -> 1024 per point, in both T-Nets and the encoder) with
    # its batch norm and max-pool (engine/models/pool_fused.py): its two backward products are
    # replaced by C_in x C_in ones, so it executes fewer FLOPs than the analytic count above.
    wide = 3 * POINTS * 128 * 1024 * BATCH            # multiply-adds of the widest layers, forward
    executed = train_gflop - 2 * 2 * wide / 1e9
    print(f"ours executes about {executed:.1f} GFLOP per step (widest layers' backward products fused away): "
          f"{100 * executed / ours['step'] / ours['peak_gflops']:.1f}% of peak")
    print(f"\nours vs plain: {plain['step'] / ours['step']:.2f}x wall, {plain['cpu'] / ours['cpu']:.2f}x CPU time "
          f"(allocator: {ours['allocator']}; threads {ours['threads']}); target >= 3x")
    if "ours+bf16" in rows:
        b = rows["ours+bf16"]
        print(f"ours+bf16 vs plain: {plain['step'] / b['step']:.2f}x wall, {plain['cpu'] / b['cpu']:.2f}x CPU time "
              f"(% peak is against the fp32 matmul peak)")
    print(f"inference (eval forward, batch {BATCH}): plain {ours['infer_plain']:.3f} s, batch norm folded "
          f"{ours['infer_folded']:.3f} s = {ours['infer_plain'] / ours['infer_folded']:.2f}x "
          f"(max |logit difference| {ours['infer_max_abs_diff']:.1e})")
    for r in rows.values():
        assert r["step"] > 0 and r["cpu"] > 0
    assert ours["infer_max_abs_diff"] < 1e-3


if __name__ == "__main__":
    worker(sys.argv[1])
