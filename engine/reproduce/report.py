"""The report folder's report.md, report.json and figure, from the finished cell files.

The report says what a reader needs to trust or redo the numbers: the paper's value beside ours
(mean ± sd, n), the command that makes them, the versions, the data's fingerprint and the time
the cells took. Cells not finished yet are listed, never averaged as zeros.
"""
from __future__ import annotations

import platform
import shlex
import time
from importlib import metadata
from pathlib import Path

from engine.reproduce.cell_files import read_cell, write_json
from engine.reproduce.declaration import Reproduction, Settings
from engine.reproduce.figures import plot_table
from engine.reproduce.table import Line, build_table, number, ours


def versions() -> dict:
    import numpy

    from engine import __version__

    try:
        torch = metadata.version("torch")
    except metadata.PackageNotFoundError:
        torch = "not installed"
    return {"python": platform.python_version(), "torch": torch, "numpy": numpy.__version__,
            "pointlens": __version__}


def data_fingerprint(spec: str) -> str:
    """The built-in set's generator fingerprint, else the files' quick fingerprint."""
    from engine.core.errors import EngineError

    try:
        if spec == "builtin" or spec.startswith("builtin:"):
            from engine.data import open_dataset

            return str(open_dataset(spec).info.get("fingerprint", "builtin"))
        from engine.fingerprint import path_fingerprint

        return path_fingerprint(Path(spec).expanduser())
    except (EngineError, OSError) as e:
        return f"unavailable ({e})"


def regenerate_command(name: str, settings: Settings, out: Path) -> str:
    """The `pointlens reproduce` command that makes (or resumes) exactly this folder."""
    argv = ["pointlens", "reproduce", name, "--data", settings.data, "--seeds", str(settings.seeds)]
    if settings.quick:
        argv.append("--quick")
    if settings.model:
        argv += ["--model", settings.model]
    return shlex.join(argv + ["--out", str(out)])


def write_report(repro: Reproduction, settings: Settings, out: Path, *, command: str = "",
                 seconds: float = 0.0) -> dict:
    cells = repro.cell_list(settings)
    stamp = repro.stamp(settings)
    records = {c.id: read_cell(out, c, stamp) for c in cells}
    finished = [r for r in records.values() if r is not None]
    lines = build_table(repro, [r["values"] for r in finished])
    command = command or regenerate_command(repro.name, settings, out)
    figure = plot_table(repro, lines, out / "figures" / f"{repro.name}.png")
    report = {
        "reproduction": repro.name, "title": repro.title, "paper": repro.paper,
        "paper_setting": repro.paper_setting, "notes": repro.notes, "unit": repro.unit,
        "settings": settings.identity(), "scale": repro.scale(settings), "command": command,
        "versions": versions(), "data_fingerprint": data_fingerprint(settings.data),
        "cells_total": len(cells), "cells_finished": len(finished),
        "missing_cells": [cid for cid, r in records.items() if r is None],
        "cell_seconds": sum(float(r.get("seconds") or 0.0) for r in finished),
        "wall_seconds": seconds, "written": time.strftime("%Y-%m-%d %H:%M:%S"),
        "table": [ln.as_dict() for ln in lines],
        "figures": [str(figure.relative_to(out))] if figure else [],
    }
    write_json(out / "report.json", report)
    path = out / "report.md"
    from engine.atomic import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(markdown(report, lines), encoding="utf-8")
    return report


def markdown_table(lines: list[Line], unit: str = "") -> str:
    head = f"| row | column | paper | ours{f' ({unit})' if unit else ''} | n seeds | paper: where |"
    out = [head, "|---|---|---|---|---|---|"]
    for ln in lines:
        paper = ln.paper.text if ln.paper else "—"
        where = ln.paper.where if ln.paper else ""
        out.append(f"| {ln.row} | {ln.column} | {paper} | {ours(ln)} | {ln.n} | {where} |")
    return "\n".join(out)


def markdown(report: dict, lines: list[Line]) -> str:
    v = report["versions"]
    done, total = report["cells_finished"], report["cells_total"]
    text = [f"# {report['reproduction']}: {report['title']}", "",
            f"Paper: {report['paper']}. The paper ran: {report['paper_setting']}", ""]
    if report["notes"]:
        text += [report["notes"], ""]
    text += [markdown_table(lines, report["unit"]), "",
             f"Cells finished: {done} of {total}."
             + (f" Not run yet: {', '.join(report['missing_cells'])}." if report["missing_cells"] else ""), "",
             "Command:", "", f"    {report['command']}", "",
             f"Scale: {', '.join(f'{k}={val}' for k, val in report['scale'].items())}", "",
             f"Versions: python {v['python']}, torch {v['torch']}, numpy {v['numpy']}, pointlens {v['pointlens']}.",
             f"Data: {report['settings']['data']} (fingerprint {report['data_fingerprint']}).",
             f"Time: {number(report['cell_seconds'])} s in the cells; this invocation {number(report['wall_seconds'])} s.",
             ""]
    text += [f"![{report['reproduction']}]({f})" for f in report["figures"]]
    return "\n".join(text).rstrip() + "\n"
