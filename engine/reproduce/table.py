"""Finished cells -> the reproduction table: per (row, column), the paper's value and ours as the
mean and sample standard deviation over the cells (seeds) that measured it."""
from __future__ import annotations

import math
from dataclasses import dataclass

from engine.reproduce.declaration import Key, PaperValue, Reproduction


@dataclass(frozen=True)
class Line:
    row: str
    column: str
    paper: PaperValue | None
    values: tuple[float, ...]           # one per finished cell that measured it

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float | None:
        return sum(self.values) / self.n if self.n else None

    @property
    def sd(self) -> float | None:
        """Sample standard deviation (n - 1); None below two values, where there is no spread."""
        if self.n < 2:
            return None
        m = self.mean
        return math.sqrt(sum((v - m) ** 2 for v in self.values) / (self.n - 1))

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "mean": self.mean, "sd": self.sd, "n": self.n,
                "values": list(self.values),
                "paper": None if self.paper is None else {"text": self.paper.text, "value": self.paper.value,
                                                          "where": self.paper.where}}


def build_table(repro: Reproduction, cell_values: list[dict[Key, float]]) -> list[Line]:
    """Lines in the order the cells first measure them (the cells' declared order), then the
    paper's values no finished cell has measured yet, so a partial table shows what is missing."""
    order: list[Key] = []
    collected: dict[Key, list[float]] = {}
    for values in cell_values:
        for key, v in values.items():
            if key not in collected:
                order.append(key)
                collected[key] = []
            collected[key].append(float(v))
    order += [k for k in repro.paper_values if k not in collected]
    return [Line(r, c, repro.paper_values.get((r, c)), tuple(collected.get((r, c), ()))) for r, c in order]


def number(v: float | None) -> str:
    """A readable number: 76.3, 0.081, -4.5e-04; '—' for none."""
    if v is None or not math.isfinite(v):
        return "—"
    a = abs(v)
    if a >= 10:
        return f"{v:.1f}"
    if a >= 0.01 or a == 0:
        return f"{v:.3g}" if a < 1 else f"{v:.2f}"
    return f"{v:.1e}"


def ours(line: Line) -> str:
    if line.n == 0:
        return "not run"
    return number(line.mean) if line.sd is None else f"{number(line.mean)} ± {number(line.sd)}"
