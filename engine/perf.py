"""CPU speed levers for training and inference (measured in tests/bench/test_bench_train.py).

On a small CPU machine a PointNet training step spends more time getting memory than doing
arithmetic: each step allocates tens of 64-128 MB activation tensors, glibc serves blocks that
large with a fresh ``mmap`` and returns them with ``munmap``, so every step page-faults and the
kernel zeroes gigabytes. Keeping freed memory in the process (tcmalloc preloaded, or glibc told
not to use mmap nor trim its heap) removes that; the arithmetic itself runs near peak in oneDNN.

- ``tune_allocator()``: glibc ``mallopt`` so large blocks are reused (skipped when tcmalloc or
  jemalloc is preloaded, e.g. by ``make``); process-wide, so the CLI calls it, not the GUI.
- fused optimiser step: ``train_state.make_optimizer(fused=True)``.
- ``fold_batchnorm(model)``: inference copy with every BatchNorm folded into the Conv/Linear in
  front of it (torch.fx), one pass less over each activation.
"""
from __future__ import annotations

import copy
import ctypes
import os
import sys

M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_MAX = -4

_tuned: str | None = None


def preloaded_allocator() -> str | None:
    """'tcmalloc' or 'jemalloc' if one is mapped into this process (LD_PRELOAD), else None."""
    try:
        with open("/proc/self/maps") as f:
            maps = f.read()
    except OSError:
        return None
    for name in ("tcmalloc", "jemalloc"):
        if name in maps:
            return name
    return None


def tune_allocator() -> str:
    """Make large allocations reusable within the process; returns what was done (idempotent)."""
    global _tuned
    if _tuned is not None:
        return _tuned
    other = preloaded_allocator()
    if other:
        _tuned = f"{other} (preloaded)"
    elif sys.platform.startswith("linux") and os.environ.get("POINTLENS_NO_MALLOPT") != "1":
        try:
            libc = ctypes.CDLL("libc.so.6")
            # no mmap for big blocks, and never give the heap top back (-1 = no trimming): a
            # training step's peak can pass 2 GB, any finite threshold would trim every step
            ok = (libc.mallopt(M_MMAP_MAX, 0) == 1 and
                  libc.mallopt(M_TRIM_THRESHOLD, -1) == 1 and
                  libc.mallopt(M_TOP_PAD, 64 << 20) == 1)
            _tuned = "glibc (mmap off, no trim)" if ok else "glibc (mallopt refused)"
        except (OSError, AttributeError):
            _tuned = "system allocator (not tunable)"
    else:
        _tuned = "system allocator"
    return _tuned


def fold_batchnorm(model):
    """An eval-only copy of ``model`` with BatchNorm folded into the preceding Conv/Linear.

    Returns (module, note). Models torch.fx cannot trace are returned unchanged (a deep copy is
    not made then) with a note saying so; outputs are identical up to float rounding.
    """
    import warnings

    import torch

    with warnings.catch_warnings():   # importing fx's optimisation helpers warns about torch.jit
        warnings.simplefilter("ignore")
        from torch.fx.experimental.optimization import fuse
    if model.training:
        raise ValueError("fold_batchnorm needs a model in eval mode")
    n_bn = sum(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())
    try:
        fused = fuse(copy.deepcopy(model), inplace=True)
    except Exception as e:  # control flow fx cannot trace: keep the model as it is
        return model, f"batch norm not folded ({type(e).__name__})"
    left = sum(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in fused.modules())
    fused.eval()
    return fused, f"folded {n_bn - left} of {n_bn} batch-norm layers"
