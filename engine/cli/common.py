"""Helpers shared by the CLI commands: --json output, progress bars, resolving names."""
from __future__ import annotations

import json
import sys
from typing import Any

from engine.catalog import start
from engine.core.jobs import Job, run_sync
from engine.core.method import JobGenerator
from engine.results import _jsonable
from engine.core.types import Result


def add_json(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def add_device(parser) -> None:
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or mps (default cpu)")


def emit(args, obj: dict, text: str | None = None) -> None:
    """Print ``obj`` as one JSON line with --json, else the human text (or a key: value list)."""
    if getattr(args, "json", False):
        print(json.dumps(_jsonable(obj)))
        return
    if text is None:
        text = "\n".join(f"{k}: {v}" for k, v in _jsonable(obj).items())
    print(text)


def run_job(job: Job | JobGenerator) -> Result:
    """Run with a progress bar on an interactive terminal (stderr), silently otherwise."""
    gen = start(job) if isinstance(job, Job) else job
    return run_sync(gen, progress_bar=sys.stderr.isatty())


def parse_kv(items: list[str] | None) -> dict[str, Any]:
    out = {}
    for item in items or []:
        k, _, v = item.partition("=")
        out[k.strip()] = v.strip()
    return out


def given_options(args, names: tuple[str, ...], params: dict | None = None) -> dict:
    """``params`` plus every option in ``names`` that was given on the command line (not None)."""
    out = dict(params or {})
    out.update({n: getattr(args, n) for n in names if getattr(args, n) is not None})
    return out
