"""The Reproduce dialog's Qt-free parts: the table's text, cell by cell, from the runner's lines
(report.json's "table"), and where a run's report folder goes by default."""
from __future__ import annotations

import re
from pathlib import Path

from engine import reproduction_number

HEADERS = ("row", "column", "paper", "ours", "n", "paper: where")


def ours_text(line: dict) -> str:
    """Mean ± sd over the seeds, as report.md writes it; 'not run' before any cell measured it."""
    if not line.get("n"):
        return "not run"
    mean, sd = reproduction_number(line.get("mean")), line.get("sd")
    return mean if sd is None else f"{mean} ± {reproduction_number(sd)}"


def table_rows(lines: list[dict]) -> list[tuple[str, ...]]:
    """One tuple of cell texts per line, in HEADERS' order."""
    rows = []
    for ln in lines:
        paper = ln.get("paper") or {}
        rows.append((str(ln["row"]), str(ln["column"]), paper.get("text", "—"), ours_text(ln),
                     str(ln.get("n", 0)), paper.get("where", "")))
    return rows


def default_out(root: Path, name: str, data: str, quick: bool) -> Path:
    """ROOT/NAME-DATA[-quick], as `pointlens reproduce` names its folders (DATA: the dataset
    folder's name; a path's other characters are no part of a folder name)."""
    base = Path(str(data).rstrip("/\\")).name or "data"
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", base)
    return root / f"{name}-{base}{'-quick' if quick else ''}"


def user_reproductions_root() -> Path:
    """The user's data folder for PointLens' reproduction reports (as training's checkpoints)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("PointLens", appauthor=False)) / "reproductions"
