"""`pointlens bias-lab` as cells: its sweep (every model x every bias level, one seed) routed
through the reproduction runner, so a lab run can be resumed, split into independent jobs
(--plan) and merged (--merge) like any reproduction.

The lab's parameters as given on its command line live in ``Settings.params``; a cell is one
model at one level and runs the bias-lab method on just that pair, exactly as pointmask-fig4's
cells do. Not in the registry: it is the lab with the user's parameters, not a fixed paper setup.
"""
from __future__ import annotations

import shlex
from pathlib import Path

from engine.reproduce.declaration import Cell, Reproduction, Settings
from engine.reproduce.pointmask_fig4 import PAPER, run_cell
from engine.specs.pointmask import BiasLabParams

NAME = "bias-lab"


def cells(settings: Settings, scale) -> list[Cell]:
    from engine.methods.pointmask.bias_lab import parse_levels, parse_models

    p = settings.params
    levels = parse_levels(p.get("levels", BiasLabParams.levels))
    models = parse_models(p.get("models", BiasLabParams.models))
    seed = int(p.get("seed", BiasLabParams.seed))
    # the lab's own order: level by level, every model at each level
    return [Cell(f"{m}-k{k}-s{seed}", {"model": m, "level": k, "seed": seed}) for k in levels for m in models]


SWEEP = Reproduction(
    name=NAME, title="Bias lab: train on letter-biased data, test without the letters",
    paper="PointMask (Taghanaki et al.), Fig. 4", paper_setting="ModelNet10, 2048 points, 500 epochs.",
    paper_values=PAPER, cells=cells, run_cell=run_cell, quick={}, full={}, unit="% accuracy",
    x_label="bias level (letter points)",
    notes="One seed, the lab's parameters as given; `pointlens reproduce pointmask-fig4` runs the "
          "figure over several seeds.")


def lab_command(settings: Settings, folder: Path, extra: list[str] = ()) -> str:
    """The `pointlens bias-lab` command that makes (or resumes) ``folder`` with these settings."""
    argv = ["pointlens", "bias-lab", "--data", settings.data]
    for name, value in sorted(settings.params.items()):
        argv += [f"--{name.replace('_', '-')}", str(value)]
    if settings.device != "cpu":
        argv += ["--device", settings.device]
    return shlex.join(argv + ["--cells", str(folder), *extra])
