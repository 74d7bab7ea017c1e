"""engine.warm_up: after it, the first optimiser imports nothing more (an import on the engine
thread holds the GIL and freezes the window; torch._dynamo alone took over a second here)."""
from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = r"""
import json, sys
import torch
warm = sys.argv[1] == "warm"
took = {}
if warm:
    from engine.warm_up import warm_up
    took = warm_up()
before = set(sys.modules)
torch.optim.Adam([torch.zeros(2, requires_grad=True)])
print(json.dumps({"new": sorted(set(sys.modules) - before), "took": took}))
"""


def _first_optimiser(mode: str) -> dict:
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_first_optimiser_imports_dynamo_unless_warmed_up():
    cold = _first_optimiser("cold")
    assert "torch._dynamo" in cold["new"]        # the stall warm_up exists for
    warm = _first_optimiser("warm")
    assert warm["new"] == [], warm["new"]
    from engine.warm_up import STEPS

    assert list(warm["took"]) == [name for name, _ in STEPS]
