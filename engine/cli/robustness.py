"""`pointlens robustness --checkpoints A,B,C --data D [--split test] [--points N] [--limit N]
[--corruptions LIST] [--seed S] [--batch-size B] [--device D] [--json]`.

The SageMix paper's Table 3 for several checkpoints: accuracy (%) clean and under each
corruption, and ECE (%) on the clean split. JSON: ``columns`` and ``table`` (one object per
checkpoint: ``name``, ``checkpoint``, ``model``, one fraction per column, ``ece``), ``n``,
``points``, ``data``, ``split``.
"""
from __future__ import annotations

import argparse

from engine.cli.common import add_device, add_json, emit, run_job
from engine.cli.parsing import nonneg_int, one_line_errors, positive_int


def register(subparsers) -> None:
    from engine.corruptions import TABLE3

    p = subparsers.add_parser("robustness", help="robustness and calibration table for several checkpoints")
    one_line_errors(p)
    p.add_argument("--checkpoints", required=True, help="comma-separated checkpoints (one row each)")
    p.add_argument("--data", required=True, help="dataset path or 'builtin'")
    p.add_argument("--split", default="test")
    p.add_argument("--points", type=nonneg_int, default=0, help="points per cloud (default: as trained)")
    p.add_argument("--limit", type=nonneg_int, default=0, help="at most N clouds, spread over the split")
    p.add_argument("--corruptions", default=",".join(TABLE3), help="comma list of KIND:LEVEL columns")
    p.add_argument("--seed", type=nonneg_int, default=0, help="seed of the corruptions")
    p.add_argument("--batch-size", type=positive_int, default=32)
    add_device(p)
    add_json(p)
    p.set_defaults(func=robustness_command)


def robustness_command(args: argparse.Namespace) -> int:
    from engine.core.jobs import Job

    params = {"checkpoints": args.checkpoints, "split": args.split, "points": args.points,
              "limit": args.limit, "corruptions": args.corruptions, "seed": args.seed,
              "batch_size": args.batch_size, "device": args.device}
    result = run_job(Job("robustness", {"data": args.data}, params))
    emit(args, dict(result.metrics), table_text(result.metrics))
    return 0


def table_text(m: dict) -> str:
    """The table as the paper prints it: percentages, one row per checkpoint."""
    cols = list(m["columns"])
    names = [r["name"] for r in m["table"]]
    w0 = max([len("checkpoint")] + [len(n) for n in names])
    widths = [max(6, len(c)) for c in cols] + [6]
    head = f"{'checkpoint':<{w0}}  " + "  ".join(f"{c:>{w}}" for c, w in zip(cols + ['ECE'], widths))
    lines = [f"{m['data']} [{m['split']}]: {m['n']} clouds of {m['points']} points; accuracy and ECE in %",
             head, "-" * len(head)]
    for r in m["table"]:
        vals = [r[c] for c in cols] + [r["ece"]]
        lines.append(f"{r['name']:<{w0}}  " + "  ".join(f"{100 * v:>{w}.1f}" for v, w in zip(vals, widths)))
    return "\n".join(lines)
