"""Plain sentences on how a report differs from its paper: one per table line (ours against the
paper's number, direction and size), and the causes, generated from the report's settings and
scale against what the reproduction declares the paper ran (``paper_scale``).

Everything here reads a report.json dict and the declaration; nothing runs a model, so the docs
page can be regenerated in a second.
"""
from __future__ import annotations

import shlex
from typing import Any

from engine.reproduce.declaration import Reproduction
from engine.reproduce.table import number

# The built-in set is the one the tests and the demos use; say what it is wherever it is compared.
BUILTIN = "the built-in set (a generated 10-class look-alike, not a scanned or CAD dataset)"
# Where the page points to the user's copy of ModelNet10: the page cannot know the path.
MODELNET10 = "PATH/TO/modelnet10"
DATASETS = ("builtin", "modelnet10")
SCALES = ("quick", "full")
# Keys of paper_scale compared with the settings, not with the scale.
SETTING_KEYS = ("data", "backbone", "seeds")


def data_kind(data: str) -> str:
    """'builtin', 'modelnet10' (a path naming it) or 'other' for a report's --data."""
    if data == "builtin" or data.startswith("builtin:"):
        return "builtin"
    return "modelnet10" if "modelnet10" in data.lower().replace("-", "").replace("_", "") else "other"


def shown(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def scale_value(key: str, value: Any) -> str:
    """A scale value in words: our scales' ``limit`` 0 means every cloud."""
    if key == "limit":
        return "all clouds" if not value else f"at most {value} clouds per split"
    return shown(value)


# ---------------------------------------------------------------------------- one line's gap

def gap_sentence(line: dict) -> str | None:
    """The sentence for one report.json table line, None when the paper has nothing there."""
    paper = line.get("paper")
    if not paper:
        return None
    label = f"{line['row']}, {line['column']}"
    if paper.get("value") is None:
        return f"{label}: the paper gives this only as a plot / in words: {paper['text']}."
    if not line.get("n"):
        return f"{label}: not measured in this report (paper {paper['text']})."
    ours, ref, sd = line["mean"], float(paper["value"]), line.get("sd")
    text = f"{label}: ours {number(ours)}{f' ± {number(sd)}' if sd is not None else ''} vs paper {paper['text']}"
    diff = ours - ref
    if sd is not None and abs(diff) <= sd:
        return f"{text}; matches within one sd."
    if diff == 0:
        return f"{text}; equal."
    direction = "higher" if diff > 0 else "lower"
    if ref == 0:
        return f"{text}; {direction}."
    pct = 100.0 * diff / abs(ref)
    if abs(pct) < 1:            # "+0 %" would read as equal
        return f"{text} ({pct:+.2g} %); {direction}."
    if abs(pct) >= 1000:        # a percentage of thousands reads worse than a factor
        return f"{text}; {direction}, {abs(ours / ref):.0f} times the paper's in size."
    return f"{text} ({pct:+.0f} %); {direction}."


# ---------------------------------------------------------------------------- causes

def differences(repro: Reproduction, report: dict) -> list[tuple[str, str]]:
    """(key, sentence) for every way the report's run differs from the paper's, from data."""
    settings, scale, paper = report["settings"], report.get("scale", {}), repro.paper_scale
    out: list[tuple[str, str]] = []
    data = settings["data"]
    if "data" in paper:
        ours = BUILTIN if data_kind(data) == "builtin" else f"'{data}'"
        if data_kind(data) != "builtin" and str(paper["data"]).lower().replace(" ", "") in data.lower():
            pass                # the paper's dataset by name: no difference to state
        else:
            out.append(("data", f"data: ours is {ours}; the paper's is {paper['data']}."))
    if "backbone" in paper:
        ours_model = scale.get("model") or settings.get("model")
        if not ours_model:
            out.append(("backbone", f"backbone: ours is the reproduction's default checkpoint; the paper's is "
                                    f"{paper['backbone']}."))
        elif str(ours_model).lower() not in str(paper["backbone"]).lower():
            out.append(("backbone", f"backbone: ours is {ours_model}; the paper's is {paper['backbone']}."))
    kind = "quick" if settings.get("quick") else "full"
    for key, ref in paper.items():
        if key in SETTING_KEYS:
            continue
        if key not in scale:
            out.append((key, f"{key}: the paper's is {scale_value(key, ref)}; this reproduction does not set it."))
        elif _differ(scale[key], ref):
            out.append((key, f"{key}: ours {scale_value(key, scale[key])} ({kind} scale) vs the paper's "
                             f"{scale_value(key, ref)}."))
    seeds = settings.get("seeds")
    paper_seeds = f"{paper['seeds']} seeds" if "seeds" in paper else "one number with no spread or seed count"
    out.append(("seeds", f"seeds: ours {seeds} (± is the sd over them); the paper gives {paper_seeds}."))
    return out


def _differ(ours: Any, ref: Any) -> bool:
    if isinstance(ours, (list, tuple)) and isinstance(ref, (list, tuple)):
        return [str(v) for v in ours] != [str(v) for v in ref]
    try:
        return float(ours) != float(ref)
    except (TypeError, ValueError):
        return str(ours) != str(ref)


def causes(repro: Reproduction, report: dict) -> list[str]:
    """The differences, then the reproduction's known causes for the keys that differ (or that
    name this report's scale, 'quick' / 'full')."""
    diffs = differences(repro, report)
    # "model" is the backbone, already compared in differences
    unstated = [k for k in report.get("scale", {}) if k not in repro.paper_scale and k != "model"]
    keys = {k for k, _ in diffs} | set(unstated) | {"quick" if report["settings"].get("quick") else "full"}
    notes = [f"{key}: {text}" for key, text in repro.cause_notes.items() if key in keys]
    ours_only = ", ".join(f"{k}={scale_value(k, report['scale'][k])}" for k in unstated)
    tail = [f"Not stated by the paper, ours only: {ours_only}."] if unstated else []
    return [s for _, s in diffs] + [f"Known cause — {n}" for n in notes] + tail


# ---------------------------------------------------------------------------- not yet run

def run_command(repro: Reproduction, dataset: str, scale: str, seeds: int = 3) -> str:
    data = "builtin" if dataset == "builtin" else MODELNET10
    argv = ["pointlens", "reproduce", repro.name, "--data", data, "--seeds", str(seeds)]
    if scale == "quick":
        argv.append("--quick")
    if dataset != "builtin" and needs_model(repro, data):
        argv += ["--model", f"PATH/TO/classifier-{dataset}.safetensors"]
    return shlex.join(argv + ["--out", f"reproductions/{repro.name}-{dataset}-{scale}"])


def needs_model(repro: Reproduction, data: str) -> str:
    """Why the reproduction refuses ``data`` without --model ('' when it does not): its module's
    ``model_of`` says so (the Flow AM ones explain a classifier that must be trained on the data)."""
    import sys

    from engine.core.errors import ParameterError
    from engine.reproduce.declaration import Settings

    model_of = getattr(sys.modules.get(repro.cells.__module__), "model_of", None)
    if model_of is None:
        return ""
    try:
        model_of(Settings(data=data))
    except ParameterError as e:
        return str(e)              # the message already ends with its hint
    return ""


def missing_runs(repro: Reproduction, reports: list[dict]) -> list[tuple[str, str, str]]:
    """(dataset, scale, command) for every built-in / ModelNet10 x quick / full with no report."""
    have = {(data_kind(r["settings"]["data"]), "quick" if r["settings"].get("quick") else "full") for r in reports}
    return [(d, s, run_command(repro, d, s)) for d in DATASETS for s in SCALES if (d, s) not in have]
