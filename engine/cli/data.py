"""`pointlens data info PATH|builtin [--json]`: what a dataset holds, without reading its points.

JSON contract (stable for scripts): ``format``, ``classes`` (names in label order), ``splits``
(name -> count), ``points_per_sample``; also ``path``, ``class_counts`` (split -> name -> count)
and ``info`` (reader-specific facts).
"""
from __future__ import annotations

import numpy as np

from engine.cli.common import add_json, emit


def register(subparsers) -> None:
    p = subparsers.add_parser("data", help="inspect datasets")
    sub = p.add_subparsers(dest="data_command", metavar="ACTION")
    info = sub.add_parser("info", help="format, classes, splits and points per sample of a dataset")
    info.add_argument("path", help="a dataset file or folder, or 'builtin'")
    info.add_argument("--points", type=int, default=None, help="points per sample to load (default: as stored)")
    add_json(info)
    info.set_defaults(func=info_command)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def describe(ds) -> dict:
    counts = {}
    for name, split in ds.splits.items():
        hist = np.bincount(split.labels, minlength=len(ds.classes)) if len(split) else np.zeros(len(ds.classes), int)
        counts[name] = {ds.class_name(k): int(c) for k, c in enumerate(hist) if c}
    extra = {k: v for k, v in ds.info.items() if k not in ("points_per_sample", "files")}
    return {"path": ds.path, "format": ds.format, "classes": list(ds.classes), "splits": ds.counts,
            "points_per_sample": ds.info.get("points_per_sample"), "class_counts": counts, "info": extra}


def text(d: dict) -> str:
    lines = [f"dataset:           {d['path']}", f"format:            {d['format']}",
             f"points per sample: {d['points_per_sample']}",
             f"classes ({len(d['classes'])}):", "  " + ", ".join(d["classes"]), "splits:"]
    for name, n in d["splits"].items():
        present = len(d["class_counts"].get(name, {}))
        lines.append(f"  {name:<10} {n:>7,} samples in {present} classes")
    for k, v in d["info"].items():
        lines.append(f"{k.replace('_', ' ')}: {v}")
    return "\n".join(lines)


def info_command(args) -> int:
    from engine.data import Loading, open_dataset

    ds = open_dataset(args.path, Loading(points=args.points))
    d = describe(ds)
    emit(args, d, text(d))
    return 0
