"""`pointlens mix sagemix|pointmixup|rsmix --checkpoint C --data D --a I --b J [--split test]
[--points N] [--sigma S] [--pi P] [--theta T] [--radius R] [--n-sample K] [--seed S] [--fast]
[--out R.h5] [--device D] [--json]`. The mixing options come from the spec (engine.specs.mix.MIX).

Mixes samples I and J of a split and saves the result (datasets ``source_a``, ``source_b``,
``assignment``, ``queries``, ``lambda``, ``mixed``, ``saliency_a``, ``saliency_b``; attributes
``sigma``, ``pi``). JSON: ``label`` (class -> weight), ``lambda`` (mean share of a),
``queries`` ([index in a, index in b]), ``assignment_cost``, plus ``pi``, ``sigma``, ``method``,
``a``, ``b``, ``label_a``, ``label_b``, ``out``.
"""
from __future__ import annotations

import argparse

from engine.cli.common import add_checkpoint_options, add_device, add_json, checkpoint_choice, emit, run_job
from engine.cli.parsing import nonneg_int, one_line_errors
from engine.cli.spec_options import add_params
from engine.specs.mix import METHOD_NAMES, MIX

METHODS = METHOD_NAMES
_SKIP = ("method", "exact")          # the positional method; --fast sets exact


def register(subparsers) -> None:
    p = subparsers.add_parser("mix", help="mix two samples with SageMix, PointMixup or RSMix")
    one_line_errors(p)
    p.add_argument("method", choices=METHODS)
    p.add_argument("--checkpoint", default="", help="classifier checkpoint or demo:<model> (SageMix needs one)")
    p.add_argument("--data", required=True, help="dataset path or 'builtin'")
    p.add_argument("--split", default="test")
    p.add_argument("--a", type=nonneg_int, required=True, help="index of cloud a in the split")
    p.add_argument("--b", type=nonneg_int, required=True, help="index of cloud b in the split")
    p.add_argument("--points", type=nonneg_int, default=0, help="points per cloud (default: as trained, else 1024)")
    p.add_argument("--fast", action="store_true", help="warm-started assignment solver (same optimum)")
    p.add_argument("--out", default="", metavar="R.h5", help="write the result here (HDF5)")
    add_device(p)
    add_json(p)
    add_params(p, MIX, skip=_SKIP)      # --sigma, --pi, --theta, --radius, --n-sample, --seed
    add_checkpoint_options(p)   # --model, --model-options, --classes, --model-file
    p.set_defaults(func=mix_command, spec_parser=p)


def load_pair(data: str, split_name: str, ia: int, ib: int, points: int, checkpoint: str):
    """(a, b, label_a, label_b, classes) from a dataset, sampled as the checkpoint was trained."""
    from engine.data import Loading, open_dataset
    from engine.data.dataset import SAMPLINGS
    from engine.core.errors import DataError

    norm = {}
    if checkpoint:
        from engine.models.checkpoints import read_meta

        norm = read_meta(checkpoint).get("normalisation") or {}
    n = points or int(norm.get("points") or 1024)
    sampling = norm.get("sampling") if norm.get("sampling") in SAMPLINGS else "first"
    ds = open_dataset(data, Loading(points=n, sampling=sampling, seed=0))
    split = ds.split(split_name)
    for name, i in (("--a", ia), ("--b", ib)):
        if i >= len(split):
            raise DataError(f"{data}: {name} {i} is outside split '{split_name}' ({len(split)} clouds).",
                            hint=f"Use an index from 0 to {len(split) - 1}.")
    ca, cb = split[ia], split[ib]
    return ca.points, cb.points, ca.label, cb.label, list(ds.classes)


def mix_command(args: argparse.Namespace) -> int:
    from engine.cli.spec_options import checked_params
    from engine.core.jobs import Job
    from engine.results import save_result

    params = dict(checked_params(args, MIX, skip=_SKIP), method=args.method, exact=not args.fast)
    a, b, la, lb, classes = load_pair(args.data, args.split, args.a, args.b, args.points, args.checkpoint)
    inputs = {"a": a, "b": b, "label_a": la, "label_b": lb, "classes": classes}
    result = run_job(Job("mix", inputs, params, model=checkpoint_choice(args) or None, device=args.device))
    if args.out:
        save_result(result, args.out)
    m = dict(result.metrics)
    m.update(a=args.a, b=args.b, out=args.out or None)
    from engine.ops.fallbacks import with_fallbacks; emit(args, *with_fallbacks(m, _text(m)))  # noqa: E702
    return 0


def _text(m: dict) -> str:
    label = ", ".join(f"{k} {v:.3f}" for k, v in m["label"].items())
    cost = "-" if m["assignment_cost"] is None else f"{m['assignment_cost']:.4f}"
    lines = [f"{m['method']}: a = {m['a']} ({m['label_a']}), b = {m['b']} ({m['label_b']}), {m['points']} points",
             f"mixed label: {label}",
             f"lambda (mean share of a): {m['lambda']:.4f}" + (f", pi {m['pi']:.4f}" if m.get("pi") is not None else ""),
             f"queries: a[{m['queries'][0]}], b[{m['queries'][1]}]", f"assignment cost: {cost}"]
    if m.get("out"):
        lines.append(f"saved to {m['out']}")
    return "\n".join(lines)
