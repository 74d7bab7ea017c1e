"""Data benchmarks (run by `make bench`): opening a large HDF5 and reading one sample must not
depend on the file's size (target: under 0.5 s for 10,000 shapes), and the built-in dataset
must generate in under 10 s. Prints the numbers; the 100-shape file is the reference."""
from __future__ import annotations

import statistics
import time

import h5py
import numpy as np

from engine.data import builtin, open_dataset
from engine.data.h5 import close_all


def _write(path, n, points=1024):
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as f:
        d = f.create_dataset("data", (n, points, 3), np.float32)
        for i in range(0, n, 1000):   # in blocks: 10,000 x 1024 x 3 floats is 123 MB
            m = min(1000, n - i)
            d[i:i + m] = rng.normal(size=(m, points, 3)).astype(np.float32)
        f.create_dataset("label", data=(np.arange(n) % 40).astype(np.uint8)[:, None])
    return path


def _open_and_read(path, repeats=7):
    times = []
    for _ in range(repeats):
        close_all()   # cold handle each time: the cost of opening is part of what we measure
        t = time.perf_counter()
        ds = open_dataset(path)
        c = ds.split("all")[len(ds.split("all")) // 2]
        times.append(time.perf_counter() - t)
        assert c.points.shape == (1024, 3)
    return statistics.median(times)


def test_bench_h5_open_and_read_one_sample(tmp_path):
    small = _write(tmp_path / "small.h5", 100)
    large = _write(tmp_path / "large.h5", 10_000)
    t_small, t_large = _open_and_read(small), _open_and_read(large)
    print(f"\n[data] open + read one sample: 100 shapes {t_small * 1e3:.1f} ms, "
          f"10,000 shapes {t_large * 1e3:.1f} ms, ratio {t_large / t_small:.2f} "
          f"(target < 500 ms and ratio ~1: {'met' if t_large < 0.5 else 'NOT met'})")


def test_bench_builtin_generation():
    t = time.perf_counter()
    data = builtin.generate(seed=12345)
    t_gen = time.perf_counter() - t
    n = sum(len(v["labels"]) for v in data.values())
    print(f"\n[data] builtin generation: {n} shapes x {builtin.POINTS} points in {t_gen:.2f} s "
          f"({n / t_gen:.0f} shapes/s; target < 10 s: {'met' if t_gen < 10 else 'NOT met'})")
    t = time.perf_counter()
    ds = open_dataset("builtin")
    ds.split("train")[0]
    print(f"[data] builtin open from cache + read one sample: {(time.perf_counter() - t) * 1e3:.1f} ms")
