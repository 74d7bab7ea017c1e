"""engine.run_reproduction (engine/reproduce/live.py), the GUI's door to the runner: every
progress carries the table so far (the GUI's engine thread keeps only the newest progress), a
resumed run starts from its finished cells, and a folder's settings come back for Resume."""
from __future__ import annotations

import pytest

import engine
from engine.core.jobs import drive
from engine.core.types import Progress
from engine.reproduce import registry
from engine.reproduce.declaration import Cell, PaperValue, Reproduction, Settings, seeds_of

CALLS: list[str] = []


def cells(settings: Settings, scale) -> list[Cell]:
    return [Cell(f"a{a}-s{s}", {"a": a, "seed": s}) for a in scale["a"] for s in seeds_of(settings)]


def run_cell(cell: Cell, settings: Settings, scale):
    CALLS.append(cell.id)
    for _ in range(3):                       # several steps per cell, none with a table of its own
        yield Progress(0, 1, "working")
    return {(f"a={cell.config['a']}", "x"): 10.0 * cell.config["a"] + cell.config["seed"]}


LIVE = Reproduction(name="live-test", title="live", paper="Nobody, Table 0", paper_setting="nothing",
                    paper_values={("a=9", "x"): PaperValue("90", "Table 0", 90.0)}, cells=cells, run_cell=run_cell,
                    quick={"a": (1, 2)}, full={"a": (1,)}, unit="units")


@pytest.fixture()
def live():
    CALLS.clear()
    registry.register(LIVE, replace=True)
    yield LIVE
    registry.unregister(LIVE.name)


def previews(gen) -> tuple[list[dict], dict]:
    seen = []
    report = drive(gen, lambda p: seen.append(p.preview))
    return seen, report


def measured(table: list[dict]) -> dict:
    return {(t["row"], t["column"]): t["n"] for t in table}


def test_every_progress_carries_the_table_so_far(live, tmp_path):
    seen, report = previews(engine.run_reproduction("live-test", out=tmp_path, seeds=2, quick=True))
    assert all(set(p) == {"table", "cells_done", "cells_total"} and p["cells_total"] == 4 for p in seen)
    assert measured(seen[0]["table"]) == {("a=9", "x"): 0}              # before any cell: the paper's lines
    # the cells_done count only grows, one per finished cell, and the table grows with it
    done = [p["cells_done"] for p in seen]
    assert done == sorted(done) and done[-1] == 4 and set(done) == {0, 1, 2, 3, 4}
    at_two = next(p for p in seen if p["cells_done"] == 2)
    assert measured(at_two["table"]) == {("a=1", "x"): 2, ("a=9", "x"): 0}
    assert report["out"] == str(tmp_path) and report["cells_finished"] == 4 and (tmp_path / "report.md").is_file()


def test_a_resumed_run_starts_from_its_finished_cells(live, tmp_path):
    gen = engine.run_reproduction("live-test", out=tmp_path, seeds=2, quick=True)
    for p in gen:                             # stop (cancel) once two cells are finished
        if p.preview["cells_done"] == 2:
            gen.close()
            break
    CALLS.clear()
    seen, report = previews(engine.run_reproduction("live-test", out=tmp_path, seeds=2, quick=True))
    assert CALLS == ["a2-s0", "a2-s1"]
    assert seen[0]["cells_done"] == 2 and measured(seen[0]["table"])[("a=1", "x")] == 2
    assert engine.reproduction_folder(tmp_path) == {"name": "live-test", "data": "builtin", "seeds": 2, "quick": True,
                                                    "model": "", "out": str(tmp_path)}


def test_the_list_names_every_reproduction_with_its_paper(live):
    items = {r["name"]: r for r in engine.reproduction_list()}
    assert items["live-test"]["paper"] == "Nobody, Table 0" and items["live-test"]["unit"] == "units"
    assert {"pointmask-fig4", "flowam-table1", "parae-table1", "sagemix-table3", "serp-finetune"} <= set(items)
