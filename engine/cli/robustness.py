"""`pointlens robustness --checkpoints A,B,C --data D [--split test] [--points N] [--limit N]
[--corruptions LIST] [--seed S] [--batch-size B] [--device D] [--json]`.

The SageMix paper's Table 3 for several checkpoints: accuracy (%) clean and under each
corruption, and ECE (%) on the clean split. JSON: ``columns`` and ``table`` (one object per
checkpoint: ``name``, ``checkpoint``, ``model``, one fraction per column, ``ece``), ``n``,
``points``, ``data``, ``split``.
"""
from __future__ import annotations

import argparse

from engine.cli.common import add_device, add_json, add_model_file, emit, register_model_file, run_job
from engine.cli.parsing import one_line_errors
from engine.cli.spec_options import add_params
from engine.specs.training import ROBUSTNESS


def register(subparsers) -> None:
    p = subparsers.add_parser("robustness", help="robustness and calibration table for several checkpoints")
    one_line_errors(p)
    p.add_argument("--checkpoints", required=True, help="comma-separated checkpoints (one row each)")
    p.add_argument("--data", required=True, help="dataset path or 'builtin'")
    add_device(p)
    add_json(p)
    add_params(p, ROBUSTNESS, skip=("checkpoints",))    # --split, --points, --limit, --corruptions, ...
    add_model_file(p)     # PointLens checkpoints of your own architecture need its class first
    p.set_defaults(func=robustness_command, spec_parser=p)


def robustness_command(args: argparse.Namespace) -> int:
    from engine.cli.spec_options import checked_params
    from engine.core.jobs import Job

    key = register_model_file(args)
    params = dict(checked_params(args, ROBUSTNESS, skip=("checkpoints",)), checkpoints=args.checkpoints)
    if key and not params.get("model"):
        params["model"] = key          # the rows are checkpoints of the architecture the file defines
    result = run_job(Job("robustness", {"data": args.data}, params, device=args.device))
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
