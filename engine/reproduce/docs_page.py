"""Write docs/reproductions.md from the registry and the report folders found on disk.

    .venv/bin/python -m engine.reproduce.docs_page [--reports reproductions] [--out docs/reproductions.md]

One section per reproduction: what it reproduces, what the paper ran, the paper's values, then
the table of every report folder of it under ``--reports`` (each with its data, scale, seeds
and command, each number's gap to the paper and the run's differences from the paper's, see
gaps.py), and last the (data, scale) runs not made yet with their commands. A reproduction with no full-scale report says so instead of showing numbers: the
page never holds a number that a report folder does not.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from engine.atomic import atomic_path
from engine.reproduce import registry
from engine.reproduce.declaration import PaperValue
from engine.reproduce.gaps import MODELNET10, causes, gap_sentence, missing_runs, needs_model
from engine.reproduce.report import markdown_table
from engine.reproduce.table import Line

NOT_RUN = "Not yet run at full scale on this machine."


def reports_by_name(root: Path) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for path in sorted(root.glob("*/report.json")) if root.is_dir() else []:
        try:
            rep = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        rep["folder"] = str(path.parent)
        found.setdefault(str(rep.get("reproduction")), []).append(rep)
    return found


def lines_of(report: dict) -> list[Line]:
    return [Line(t["row"], t["column"], PaperValue(**t["paper"]) if t["paper"] else None, tuple(t["values"]))
            for t in report["table"]]


def section(name: str, reports: list[dict]) -> str:
    repro = registry.get(name)
    out = [f"## {name}", "", f"**{repro.title}.** Paper: {repro.paper}. The paper ran: {repro.paper_setting}", ""]
    if repro.notes:
        out += [repro.notes, ""]
    if repro.paper_values:
        out += ["| row | column | paper | where |", "|---|---|---|---|"]
        out += [f"| {r} | {c} | {v.text} | {v.where} |" for (r, c), v in repro.paper_values.items()]
        out.append("")
    full = [r for r in reports if not r["settings"].get("quick")]
    if not full:
        out += [NOT_RUN, ""]
    for rep in sorted(reports, key=lambda r: (r["settings"].get("quick", False), r["settings"]["data"],
                                              str(r["settings"].get("model") or ""))):
        scale = "quick" if rep["settings"].get("quick") else "full"
        model = f", model {rep['settings']['model']}" if rep["settings"].get("model") else ""
        out += [f"### {rep['settings']['data']}{model}, {scale} scale, {rep['settings']['seeds']} seeds "
                f"({rep['cells_finished']} of {rep['cells_total']} cells)", "",
                markdown_table(lines_of(rep), rep.get("unit", "")), "",
                f"Command: `{rep['command']}`; pointlens {rep['versions']['pointlens']}, torch {rep['versions']['torch']}; "
                f"data fingerprint {rep['data_fingerprint']}; {rep['cell_seconds']:.0f} s of cells.", ""]
        out += gap_paragraphs(repro, rep)
    return "\n".join(out)


def gap_paragraphs(repro, report: dict) -> list[str]:
    """Each line's gap to the paper, then why this run differs from the paper's."""
    sentences = [s for s in map(gap_sentence, report["table"]) if s]
    out = []
    if sentences:
        out += ["Against the paper:", ""] + [f"- {s}" for s in sentences] + [""]
    out += ["Why this run differs from the paper's:", ""] + [f"- {c}" for c in causes(repro, report)] + [""]
    return out


def not_yet_run(found: dict[str, list[dict]]) -> str:
    """Per reproduction, each (data, scale) with no report folder and the command that makes it."""
    out = ["## Not yet run", "",
           f"Each reproduction is meant to run on the built-in set and on ModelNet10 (`--data {MODELNET10}`, "
           "wherever your copy lives), at quick and at full scale. These have no report folder yet:", ""]
    for name in registry.names():
        missing = missing_runs(registry.get(name), found.get(name, []))
        if not missing:
            continue
        out += [f"**{name}**", ""]
        out += [f"- {data}, {scale} scale: `{cmd}`" for data, scale, cmd in missing]
        why = needs_model(registry.get(name), MODELNET10)
        if why and any(data != "builtin" for data, _, _ in missing):
            out.append(f"- On ModelNet10 it needs `--model`: {why}")
        out.append("")
    return "\n".join(out)


HEADER = """# Reproductions

Each paper's headline result, re-run by `pointlens reproduce NAME` (engine/reproduce). A run
writes a report folder: report.md (the paper's value beside ours, mean ± sd over seeds, n),
report.json, figures/ and cells/ (one file per finished configuration x seed; a re-run resumes
from them, `--plan` prints them as independent jobs, `--merge DIR` collects them).

    pointlens reproduce --list
    pointlens reproduce pointmask-fig4 --data builtin --seeds 3 --quick --out reproductions/pointmask-fig4-builtin-quick

This page is generated from the report folders under `reproductions/`:

    .venv/bin/python -m engine.reproduce.docs_page --reports reproductions --out docs/reproductions.md

The paper values are read from the papers' text (table or figure named in each line); where a
paper gives a result only as a plot, the page says so instead of guessing a number. Under each
report, one sentence per number states how far ours is from the paper's, and a list states how
the run differs from the paper's (data, backbone, scale, seeds), generated from the report's
settings against what each reproduction declares the paper ran (`paper_scale` in its module).
The last section lists the runs not made yet, each with its command.
"""


def page(root: Path) -> str:
    found = reports_by_name(root)
    sections = [section(n, found.get(n, [])) for n in registry.names()]
    return without_local_paths(HEADER + "\n" + "\n".join(sections) + "\n" + not_yet_run(found), found)


def without_local_paths(text: str, found: dict[str, list[dict]]) -> str:
    """Each report's data path, and its model when that is a file, as ``PATH/TO/<its folder or
    file name>``: the page is committed, and where a dataset or a checkpoint lived on the machine
    that ran it (often outside the repository) says nothing to a reader and must not be pointed at."""
    paths = {str(r["settings"].get(key) or "") for reps in found.values() for r in reps
             for key in ("data", "model")}
    for path in sorted(paths, key=len, reverse=True):      # longest first: no half-replaced paths
        if path and path != "builtin" and ("/" in path or "\\" in path):
            text = text.replace(path, "PATH/TO/" + Path(path.rstrip("/\\")).name)
    return text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m engine.reproduce.docs_page", description=__doc__.splitlines()[0])
    ap.add_argument("--reports", default="reproductions", help="folder holding the report folders")
    ap.add_argument("--out", default="docs/reproductions.md", help="the page to write")
    args = ap.parse_args(argv)
    with atomic_path(Path(args.out)) as tmp:
        tmp.write_text(page(Path(args.reports)), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
