"""The reproductions as the GUI drives them (through the facade): a list to choose from, the
runner as one engine-thread job whose every progress carries the table so far, and the settings
of an existing report folder (to resume it).

Why every progress carries the table: the GUI's engine thread keeps only the NEWEST progress of a
job between two deliveries (~30 a second), so the one progress that says "cell finished, here is
the table" would often be replaced by the next cell's first step before the GUI saw it. Repeating
the latest table on each step makes the live table independent of that timing.
"""
from __future__ import annotations

from pathlib import Path
from typing import Generator

from engine.core.types import Progress
from engine.reproduce import registry
from engine.reproduce.cell_files import folder_settings, read_cell
from engine.reproduce.declaration import Settings
from engine.reproduce.runner import current_table, run
from engine.reproduce.table import build_table


def reproduction_list() -> list[dict]:
    """Every registered reproduction: name, title, the paper's figure or table, what the paper ran,
    the unit of its numbers, the notes on departures and ``paper_lines``, the table before any
    cell has run (the paper's values, ours 'not run'), so a user sees what will be compared
    (torch-free)."""
    out = []
    for name in registry.names():
        r = registry.get(name)
        out.append({"name": r.name, "title": r.title, "paper": r.paper, "paper_setting": r.paper_setting,
                    "unit": r.unit, "notes": r.notes, "paper_lines": [ln.as_dict() for ln in build_table(r, [])]})
    return out


def reproduction_folder(out: str | Path) -> dict:
    """What an existing report folder was run with, as the keyword arguments of
    ``run_reproduction`` (a Resume starts the same run again; finished cells are skipped)."""
    name, s = folder_settings(Path(out))
    return {"name": name, "data": s.data, "seeds": s.seeds, "quick": s.quick, "model": s.model,
            "out": str(out)}


def run_reproduction(name: str, *, out: str | Path, data: str = "builtin", seeds: int = 3, quick: bool = False,
                     model: str = "", device: str = "cpu") -> Generator[Progress, None, dict]:
    """Run (or resume) reproduction ``name`` into ``out``; returns the report (report.json's
    content plus ``out``). Each progress's preview holds ``table`` (the lines so far, as in
    report.json) and ``cells_done`` / ``cells_total``; closing the generator cancels."""
    repro = registry.get(name)
    settings = Settings(data=data, seeds=seeds, quick=quick, model=model, device=device)
    out = Path(out)
    cells_total = len(repro.cell_list(settings))
    table, done = None, 0
    runner = run(repro, settings, out)
    try:
        while True:
            try:
                p = next(runner)
            except StopIteration as stop:
                return {**stop.value, "out": str(out)}
            if p.preview and "table" in p.preview:          # a cell has just finished
                table, done = p.preview["table"], done + 1
            elif table is None:
                # the first step: the folder is claimed, so a resumed run's finished cells are readable
                lines = current_table(repro, settings, out)
                table = [ln.as_dict() for ln in lines]
                done = finished_cells(repro, settings, out)
            yield Progress(p.done, p.total, p.message,
                           {"table": table, "cells_done": done, "cells_total": cells_total})
    finally:
        runner.close()


def finished_cells(repro, settings: Settings, out: Path) -> int:
    stamp = repro.stamp(settings)
    return sum(read_cell(out, c, stamp) is not None for c in repro.cell_list(settings))
