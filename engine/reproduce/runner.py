"""Run a reproduction's cells in order, resumably, and write its report.

``run`` is a generator like the catalog methods: it yields ``Progress`` (the preview carries the
table so far, so a GUI can fill it in live) and closing it cancels the running cell, whose file
is then simply not written. Each finished cell is written atomically to OUT/cells/<id>.json
before the next starts; a re-run skips the cells whose file is there, so a killed run continues
from its finished cells. ``plan`` lists the unfinished cells (one independent job each) and
``merge`` builds the report from whatever cells are finished.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Generator

from engine.core.types import Progress
from engine.reproduce.cell_files import claim_folder, read_cell, write_cell
from engine.reproduce.declaration import Cell, Reproduction, Settings, pick_cell
from engine.reproduce.table import build_table


def cells_of(repro: Reproduction, settings: Settings, cell_id: str | None = None) -> list[Cell]:
    cells = repro.cell_list(settings)
    return [pick_cell(cells, cell_id, repro.name)] if cell_id else cells


def plan(repro: Reproduction, settings: Settings, out: Path) -> list[Cell]:
    """The cells that have no finished file in ``out`` yet (the folder is claimed for these
    settings, so the planned jobs and a later merge agree on them)."""
    stamp = repro.stamp(settings)
    claim_folder(out, stamp)
    return [c for c in repro.cell_list(settings) if read_cell(out, c, stamp) is None]


def run(repro: Reproduction, settings: Settings, out: Path, *, cell_id: str | None = None,
        command: str = "") -> Generator[Progress, None, dict]:
    """Run every unfinished cell (or only ``cell_id``), then write the report and return it (not
    for a single ``cell_id``: jobs of one array each write only their cell, and ``merge`` writes
    the report)."""
    out = Path(out)
    cells = cells_of(repro, settings, cell_id)
    stamp = repro.stamp(settings)
    claim_folder(out, stamp)
    todo = [c for c in cells if read_cell(out, c, stamp) is None]
    started = time.perf_counter()
    total = max(len(todo), 1)
    yield Progress(0, total, f"{len(cells) - len(todo)} of {len(cells)} cells already finished")
    for i, cell in enumerate(todo):
        t0 = time.perf_counter()
        gen = repro.start_cell(cell, settings)
        try:
            while True:
                try:
                    p = next(gen)
                except StopIteration as stop:
                    values = stop.value
                    break
                yield Progress(i + p.fraction, total, f"{cell.id}: {p.message}")
        finally:
            gen.close()
        write_cell(out, stamp, cell, values, time.perf_counter() - t0, settings.device)
        yield Progress(i + 1, total, f"{cell.id} finished",
                       {"cell": cell.id, "table": [ln.as_dict() for ln in current_table(repro, settings, out)]})
    if cell_id:
        return {"cell": cell_id, "out": str(out)}
    from engine.reproduce.report import write_report

    return write_report(repro, settings, out, command=command, seconds=time.perf_counter() - started)


def current_table(repro: Reproduction, settings: Settings, out: Path):
    stamp = repro.stamp(settings)
    records = [read_cell(out, c, stamp) for c in repro.cell_list(settings)]
    return build_table(repro, [r["values"] for r in records if r is not None])


def merge(repro: Reproduction, settings: Settings, out: Path, command: str = "") -> dict:
    """The report of the finished cells in ``out`` (written there), missing cells listed."""
    from engine.reproduce.report import write_report

    return write_report(repro, settings, Path(out), command=command, seconds=0.0)
