"""The engine's shared pieces: params, registry, jobs, geometry kernels, PointNet taps."""
from __future__ import annotations

import dataclasses
import threading

import numpy as np
import pytest
import torch

from engine.core.errors import ParameterError, RegistryError
from engine.core.jobs import Job, drive, make_params
from engine.core.params import param
from engine.catalog import start
from engine.core.method import Method, implements
from engine.core.registry import METHODS, Registry
from engine.core.spec import Input, MethodSpec
from engine.core.types import Progress, Result


@dataclasses.dataclass(frozen=True)
class _P:
    t: float = param(0.2, lo=0.0, hi=1.0, hi_open=True, help="threshold")
    mode: str = param("a", choices=("a", "b"))
    steps: int = param(3, lo=1)


def test_params_validate_and_name_the_field():
    assert make_params(_P, {"t": "0.5", "steps": "4"}).steps == 4
    with pytest.raises(ParameterError, match="'t' = 1.0 is outside"):
        make_params(_P, {"t": 1.0})
    with pytest.raises(ParameterError, match="'mode'"):
        make_params(_P, {"mode": "c"})
    with pytest.raises(ParameterError, match="no parameter 'bogus'"):
        make_params(_P, {"bogus": 1})
    with pytest.raises(ParameterError, match="finite"):
        make_params(_P, {"t": float("nan")})


def test_registry_duplicates_and_suggestions():
    reg: Registry = Registry("thing")
    reg.register("pointnet")(object)
    with pytest.raises(RegistryError, match="twice"):
        reg.register("pointnet")(object)
    with pytest.raises(RegistryError, match="Did you mean 'pointnet'"):
        reg.get("pointnett")


@dataclasses.dataclass(frozen=True)
class _CountingParams:
    n: int = param(5, lo=1)


COUNTING = MethodSpec(key="test-count", title="Count (test)", family="test", params=_CountingParams,
                      inputs=(Input("start", "index"),), produces="count")


class _Counting(Method):
    closed = False

    def run(self, params, start=0):
        try:
            for i in range(params.n):
                yield Progress(i, params.n, f"step {i}")
            return Result("count", metrics={"total": start + params.n})
        finally:
            _Counting.closed = True


def test_job_runs_and_cancel_closes_generator():
    if "test-count" not in METHODS:
        implements(COUNTING)(_Counting)
    seen = []
    result = drive(start(Job("test-count", {"start": 2}, {"n": 3})), seen.append)
    assert result.metrics["total"] == 5 and len(seen) == 3
    _Counting.closed = False
    cancel = threading.Event()
    gen = start(Job("test-count", {}, {"n": 100}))
    with pytest.raises(ParameterError, match="no input 'stop'"):
        start(Job("test-count", {"stop": 1}))
    with pytest.raises(ParameterError, match="takes no model"):
        start(Job("test-count", {}, model="demo:pointnet"))
    assert drive(gen, lambda p: cancel.set() if p.done >= 2 else None, cancel) is None
    assert _Counting.closed


def test_geometry_kernels_match_brute_force():
    from engine.ops import chamfer_l2, farthest_point_sample, knn

    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(2, 17, 3, generator=g), torch.rand(2, 11, 3, generator=g)
    d = ((a[:, :, None] - b[:, None]) ** 2).sum(-1)
    dist, idx = knn(a, b, 4)
    assert torch.allclose(dist, d.sort(-1).values[..., :4], atol=1e-6)
    expected = d.min(2).values.mean(1) + d.min(1).values.mean(1)
    assert torch.allclose(chamfer_l2(a, b, reduce="none"), expected, atol=1e-6)
    # FPS: each new point is the farthest from those chosen so far.
    pts = a[0].double()
    sel = farthest_point_sample(pts[None], 6)[0].tolist()
    assert sel[0] == 0
    for i in range(1, 6):
        mind = ((pts[:, None] - pts[sel[:i]][None]) ** 2).sum(-1).min(1).values
        assert mind[sel[i]] == mind.max()


def test_pointnet_taps_are_removed_and_widths_scale():
    from engine.models.taps import tap
    from engine.models.zoo import build_model

    model = build_model("pointnet", num_classes=4, width=0.125).eval()
    x = torch.randn(2, 32, 3)
    with tap(model, ["fT1.fc1", "fT2.fc2", "fc2", "global"]) as acts:
        logits = model(x)
    assert logits.shape == (2, 4)
    assert acts["fT1.fc1"].shape == (2, 64) and acts["global"].shape == (2, 128)
    assert all(not m._forward_hooks for m in model.modules())
    full = build_model("pointnet", num_classes=40)
    assert sum(p.numel() for p in full.parameters()) == 3_471_473  # REFERENCES.md section 1.1
