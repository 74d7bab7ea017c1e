"""What a reproduction declares: the paper's values, its cells, how one cell runs, its two scales.

A *cell* is one configuration times one seed (e.g. PointMask x bias level 256 x seed 0). It runs
on its own (``run_cell`` needs only the cell and the settings), so a cell is also the unit that
is resumed after a kill and the unit a cluster scheduler runs as one job. A cell returns
*values*: ``{(row, column): number}``, the table cells it measured; the table is the mean and
the spread of each (row, column) over every cell that measured it (the seeds).

Torch-free: listing the reproductions and planning their cells imports no model code.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Generator, Mapping

from engine.core.errors import ParameterError
from engine.core.types import Progress

Key = tuple[str, str]                     # (row, column) of the table
CellGenerator = Generator[Progress, None, "dict[Key, float]"]
Scale = Mapping[str, Any]

# A cell id names its file (OUT/cells/<id>.json) and is typed on command lines.
CELL_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,80}$")


@dataclass(frozen=True)
class PaperValue:
    """A number read from the paper: ``text`` as printed, ``value`` for plots (None when the
    paper states it only in words, e.g. 'drops to random accuracy'), ``where`` it is printed."""

    text: str
    where: str
    value: float | None = None


@dataclass(frozen=True)
class Settings:
    """How a reproduction is run. Everything a cell's result depends on is here (``device`` is
    not: a cell computed on a GPU merges with cells computed on a CPU)."""

    data: str = "builtin"
    seeds: int = 3
    quick: bool = False
    model: str = ""                               # checkpoint for the reproductions that explain one
    params: Mapping[str, Any] = field(default_factory=dict)   # further fixed parameters (bias-lab)
    device: str = "cpu"

    def identity(self) -> dict:
        """The settings that must agree for cells to belong to one table."""
        out = asdict(self)
        out.pop("device")
        out["params"] = dict(sorted(self.params.items()))
        return out


@dataclass(frozen=True)
class Cell:
    id: str
    config: Mapping[str, Any]      # JSON-able: model, level, class, ..., seed

    def __post_init__(self):
        if not CELL_ID.match(self.id):
            raise ValueError(f"cell id {self.id!r} is not a file-safe lower-case name")


@dataclass(frozen=True)
class Reproduction:
    name: str                                       # the CLI name, e.g. "pointmask-fig4"
    title: str
    paper: str                                      # the paper and what of it: "PointMask, Fig. 4"
    paper_setting: str                              # what the paper ran (data, backbone, epochs)
    paper_values: Mapping[Key, PaperValue]
    cells: Callable[[Settings, Scale], list[Cell]]             # every cell, in the table's order
    run_cell: Callable[[Cell, Settings, Scale], CellGenerator]
    quick: Mapping[str, Any]                        # parameters at --quick scale (minutes on 2 cores)
    full: Mapping[str, Any]                         # parameters at full scale
    unit: str = ""                                  # of the values, e.g. "% accuracy"
    notes: str = ""                                 # departures from the paper, in plain words
    x_label: str = ""                               # what the columns are, for the figure
    # What the paper ran, as numbers the docs page compares with a report's scale and settings:
    # "data" (its dataset), "backbone" (its architecture) and the scale keys it states (epochs,
    # points, width, ...; "limit": 0 means every cloud, as in our scales). Only values the paper prints.
    paper_scale: Mapping[str, Any] = field(default_factory=dict)
    # Known method-specific causes of a gap, by name of the scale key or setting they concern
    # (e.g. "fid_reals"), shown beside the generated differences when that key differs.
    cause_notes: Mapping[str, str] = field(default_factory=dict)

    def scale(self, settings: Settings) -> dict:
        return dict(self.quick if settings.quick else self.full)

    def cell_list(self, settings: Settings) -> list[Cell]:
        return self.cells(settings, self.scale(settings))

    def start_cell(self, cell: Cell, settings: Settings) -> CellGenerator:
        return self.run_cell(cell, settings, self.scale(settings))

    def stamp(self, settings: Settings) -> dict:
        """What must agree for cells to belong to one table: the name, the settings and the
        scale (a changed scale must not be resumed from cells of the old one)."""
        return {"reproduction": self.name, **settings.identity(), "scale": self.scale(settings)}


def seeds_of(settings: Settings) -> range:
    if not 1 <= settings.seeds <= 100:
        raise ParameterError(f"--seeds {settings.seeds}: give 1 to 100 seeds.")
    return range(settings.seeds)


def pick_cell(cells: list[Cell], cell_id: str, name: str) -> Cell:
    """The cell named ``cell_id``, or one clear error listing a few valid ids."""
    for c in cells:
        if c.id == cell_id:
            return c
    some = ", ".join(c.id for c in cells[:4]) + (", ..." if len(cells) > 4 else "")
    raise ParameterError(f"--cell '{cell_id}': {name} has no such cell with these settings "
                         f"(its cells: {some}).", hint="`--plan` lists every cell.")
