"""`pointlens reproduce NAME [--data D] [--seeds N] [--quick] [--model C] [--out DIR] [--json]`,
`pointlens reproduce --list`, `... NAME --plan`, `... NAME --cell ID` and `pointlens reproduce
--merge DIR`.

Runs a paper's headline result (engine/reproduce) and writes its report folder: report.md (the
paper's values beside ours, mean ± sd over seeds), report.json, figures/ and cells/, one file per
finished cell. Re-running the same command resumes: finished cells are skipped. ``--plan`` prints
one independent command per unfinished cell (for a SLURM array or any scheduler); each writes
only its cell, and ``--merge DIR`` then writes the report of the finished cells.
"""
from __future__ import annotations

import shlex
from pathlib import Path

from engine.cli.common import add_device, add_json, emit
from engine.core.errors import ParameterError


def register(subparsers) -> None:
    p = subparsers.add_parser("reproduce", help="re-run a paper's headline table or figure and report it")
    p.add_argument("name", nargs="?", default=None, help="the reproduction (see --list)")
    p.add_argument("--list", action="store_true", help="list the reproductions and what each reproduces")
    p.add_argument("--data", default="builtin", help="dataset path or 'builtin' (default builtin)")
    p.add_argument("--seeds", type=int, default=3, help="seeds per configuration (default 3)")
    p.add_argument("--quick", action="store_true", help="the small scale: minutes on a laptop's CPU")
    p.add_argument("--model", default="", help="checkpoint to explain or start from (default: the "
                                               "reproduction's demo model)")
    p.add_argument("--out", default=None, help="report folder (default reproductions/NAME-DATA[-quick])")
    p.add_argument("--plan", action="store_true", help="print one command per unfinished cell and stop")
    p.add_argument("--cell", default=None, help="run only this cell (as --plan prints); no report")
    p.add_argument("--merge", default=None, metavar="DIR", help="write the report of DIR's finished cells")
    add_device(p)
    add_json(p)
    p.set_defaults(func=reproduce_command)


def default_out(name: str, data: str, quick: bool) -> Path:
    base = Path(str(data).rstrip("/")).name or "data"
    return Path("reproductions") / f"{name}-{base}{'-quick' if quick else ''}"


def reproduce_command(args) -> int:
    from engine.reproduce import registry

    if args.list:
        return list_command(args, registry)
    if args.merge:
        return merge_command(args, registry)
    if not args.name:
        raise ParameterError("NAME: give the reproduction to run.", hint="`pointlens reproduce --list` lists them.")
    from engine.reproduce.declaration import Settings

    repro = registry.get(args.name)
    settings = Settings(data=args.data, seeds=args.seeds, quick=args.quick, model=args.model, device=args.device)
    out = Path(args.out) if args.out else default_out(repro.name, args.data, args.quick)
    if args.plan:
        return plan_command(args, repro, settings, out)
    from engine.cli.common import run_job
    from engine.reproduce.runner import run

    report = run_job(run(repro, settings, out, cell_id=args.cell))
    if args.cell:
        emit(args, {"cell": args.cell, "out": str(out)}, f"cell {args.cell} finished: {out / 'cells'}")
        return 0
    return show_report(args, report, out)


def list_command(args, registry) -> int:
    items = [{"name": n, "title": registry.get(n).title, "paper": registry.get(n).paper} for n in registry.names()]
    emit(args, {"reproductions": items},
         "\n".join(f"{i['name']:<16} {i['paper']}: {i['title']}" for i in items))
    return 0


def plan_command(args, repro, settings, out: Path) -> int:
    from engine.reproduce.report import regenerate_command
    from engine.reproduce.runner import plan

    todo = plan(repro, settings, out)
    device = ["--device", settings.device] if settings.device != "cpu" else []
    base = regenerate_command(repro.name, settings, out)
    commands = [f"{base} {shlex.join(['--cell', c.id] + device)}" for c in todo]
    merge = shlex.join(["pointlens", "reproduce", "--merge", str(out)])
    emit(args, {"commands": commands, "cells": [c.id for c in todo], "merge": merge, "out": str(out)},
         "\n".join(commands) if commands else f"# every cell of {out} is finished; {merge}")
    return 0


def merge_command(args, registry) -> int:
    from engine.reproduce.cell_files import folder_settings
    from engine.reproduce.runner import merge

    out = Path(args.merge)
    name, settings = folder_settings(out)
    if args.name and args.name != name:
        raise ParameterError(f"--merge {out}: the folder holds '{name}', not '{args.name}'.")
    return show_report(args, merge(registry.get(name), settings, out), out)


def show_report(args, report: dict, out: Path) -> int:
    from engine.reproduce.declaration import PaperValue
    from engine.reproduce.report import markdown_table
    from engine.reproduce.table import Line

    lines = [Line(t["row"], t["column"], PaperValue(**t["paper"]) if t["paper"] else None, tuple(t["values"]))
             for t in report["table"]]
    text = (f"{markdown_table(lines, report['unit'])}\n\n{report['cells_finished']} of {report['cells_total']} "
            f"cells finished; report: {out / 'report.md'}")
    emit(args, {**report, "out": str(out)}, text)
    return 0
