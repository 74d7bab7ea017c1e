"""Benchmark (``make bench``): wall time of every reproduction at ``--quick`` scale on the built-in
set, one seed (issue 15's target: each under 15 minutes on this 2-core machine).

Each runs through the command line's entry point (``pointlens reproduce NAME --data builtin
--seeds 1 --quick --out DIR``), so the time includes what a user waits for: data, models,
report and figures. Printed per reproduction: the wall time, the cells' own time and the
machine's load (shared machines stretch it)."""
from __future__ import annotations

import json
import os
import time

import pytest

from engine.reproduce import registry

TARGET_S = 15 * 60


@pytest.mark.parametrize("name", registry.names())
def test_quick_reproduction_wall_time(name, tmp_path, capsys):
    from engine.cli import main

    out = tmp_path / name
    t0 = time.perf_counter()
    rc = main(["reproduce", name, "--data", "builtin", "--seeds", "1", "--quick", "--out", str(out)])
    wall = time.perf_counter() - t0
    capsys.readouterr()
    assert rc == 0, f"{name}: exit status {rc}"
    report = json.loads((out / "report.json").read_text())
    with capsys.disabled():
        print(f"\n[reproduce] {name:16s} --quick, 1 seed, builtin: {wall:7.1f} s wall "
              f"({report['cell_seconds']:.1f} s of cells; target < {TARGET_S} s: "
              f"{'met' if wall < TARGET_S else 'NOT met'}); load average {os.getloadavg()[0]:.1f}")
