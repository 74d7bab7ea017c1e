"""`pointlens bias-lab ... --cells DIR [--plan | --cell ID]` and `pointlens bias-lab --merge DIR`:
the lab's sweep through the reproduction runner (engine/reproduce/bias_lab_sweep.py).

``--cells DIR`` runs every (model, level) cell not yet finished in DIR and writes DIR/report.md;
``--plan`` prints one command per unfinished cell instead; ``--cell ID`` runs only that one;
``--merge DIR`` writes the report of DIR's finished cells.
"""
from __future__ import annotations

import shlex
from pathlib import Path

from engine.cli.common import emit, run_job
from engine.core.errors import ParameterError


def wants_cells(args) -> bool:
    return bool(args.cells or args.plan or args.cell or args.merge)


def cells_command(args, params: dict) -> int:
    from engine.reproduce.bias_lab_sweep import NAME, SWEEP, lab_command
    from engine.reproduce.cell_files import folder_settings
    from engine.reproduce.declaration import Settings
    from engine.reproduce.runner import merge, plan, run

    if args.merge:
        folder = Path(args.merge)
        name, settings = folder_settings(folder)
        if name != NAME:
            raise ParameterError(f"--merge {folder}: the folder holds '{name}', not a bias-lab sweep.",
                                 hint=f"Merge it with: pointlens reproduce --merge {folder}")
        return show(args, merge(SWEEP, settings, folder, lab_command(settings, folder)), folder)
    if not args.cells:
        raise ParameterError("--plan and --cell need --cells DIR, the folder the cells are written to.")
    if args.out:
        raise ParameterError("--out writes the one-process result file; with --cells the report "
                             "is DIR/report.md and DIR/report.json.", hint="Drop --out.")
    folder = Path(args.cells)
    settings = Settings(data=args.data, seeds=1, params=params, device=args.device)
    if args.plan:
        commands = [lab_command(settings, folder, ["--cell", c.id]) for c in plan(SWEEP, settings, folder)]
        merge_cmd = shlex.join(["pointlens", "bias-lab", "--merge", str(folder)])
        emit(args, {"commands": commands, "merge": merge_cmd, "out": str(folder)},
             "\n".join(commands) if commands else f"# every cell of {folder} is finished; {merge_cmd}")
        return 0
    report = run_job(run(SWEEP, settings, folder, cell_id=args.cell, command=lab_command(settings, folder)))
    if args.cell:
        emit(args, report, f"cell {args.cell} finished: {folder / 'cells'}")
        return 0
    return show(args, report, folder)


def show(args, report: dict, folder: Path) -> int:
    from engine.cli.reproduce import show_report

    return show_report(args, report, folder)
