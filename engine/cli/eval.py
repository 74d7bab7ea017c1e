"""`pointlens eval --checkpoint CKPT --data PATH|builtin [--split test] [--points N] [--limit N]
[--corrupt KIND:LEVEL] [--save-predictions OUT.npz] [--batch-size B] [--device D] [--json]`.

The options after --data come from the spec (engine.specs.training.EVALUATE): ranges and
defaults live there.

JSON contract (stable for scripts): ``n``, ``accuracy``, ``per_class_accuracy`` (class name ->
fraction, null for a class without samples), ``top_k`` ("1" ... "5" -> fraction, for k up
to the number of classes), ``ece`` (15 bins), ``confusion`` (rows = true class), plus
``mean_class_accuracy``, ``classes``, ``checkpoint``, ``data``, ``split``, ``corruption``.
``--save-predictions`` writes ``logits`` (n, k), ``labels`` (n,) and ``indices`` (n,) (each
sample's position in the split) to an .npz file, atomically.
"""
from __future__ import annotations

import sys

import numpy as np

from engine.cli.common import add_checkpoint_options, add_device, add_json, checkpoint_choice, emit, run_job
from engine.cli.parsing import one_line_errors
from engine.cli.spec_options import add_params
from engine.specs.training import EVALUATE


def register(subparsers) -> None:
    p = subparsers.add_parser("eval", help="evaluate a classifier checkpoint on a dataset split")
    one_line_errors(p)
    p.add_argument("--checkpoint", required=True, help="checkpoint file or demo:<model>")
    p.add_argument("--data", required=True, help="dataset path or 'builtin'")
    p.add_argument("--save-predictions", default="", metavar="OUT.npz")
    add_device(p)
    add_json(p)
    add_params(p, EVALUATE)          # --split, --points, --limit, --corrupt, --corrupt-seed, --batch-size, ...
    add_checkpoint_options(p)   # --model, --model-options, --classes, --model-file
    p.set_defaults(func=eval_command, spec_parser=p)


def eval_command(args) -> int:
    from engine.atomic import atomic_path
    from engine.cli.spec_options import checked_params
    from engine.core.jobs import Job

    params = checked_params(args, EVALUATE)
    result = run_job(Job("evaluate", {"data": args.data}, params, model=checkpoint_choice(args), device=args.device))
    m = dict(result.metrics)
    for w in m.get("warnings", []):
        print(f"pointlens eval: warning: {w}", file=sys.stderr)
    if args.save_predictions:
        with atomic_path(args.save_predictions) as tmp:
            with open(tmp, "wb") as f:    # a file object: np.savez would append '.npz' to a name
                np.savez(f, logits=result.arrays["logits"], labels=result.arrays["labels"],
                         indices=result.arrays["indices"])
        m["predictions"] = args.save_predictions
    emit(args, m, _text(m))
    return 0


def _text(m: dict) -> str:
    lines = [f"checkpoint: {m['checkpoint']} ({m['model']})",
             f"data:       {m['data']} [{m['split']}], {m['n']} clouds of {m['points']} points"
             + (f", corrupted by {m['corruption']}" if m.get("corruption") else ""),
             f"accuracy:   {m['accuracy']:.4f}   mean class accuracy: {m['mean_class_accuracy']:.4f}",
             "top-k:      " + "  ".join(f"top-{k} {v:.4f}" for k, v in m["top_k"].items()),
             f"ECE (15 bins): {m['ece']:.4f}", "per class:"]
    width = max(len(c) for c in m["per_class_accuracy"]) if m["per_class_accuracy"] else 8
    for name, acc in m["per_class_accuracy"].items():
        lines.append(f"  {name:<{width}}  {'-' if acc is None else f'{acc:.4f}'}")
    if m.get("predictions"):
        lines.append(f"predictions saved to {m['predictions']}")
    return "\n".join(lines)
