"""`pointlens flow-layers --checkpoint C --data D [--explanations vanilla|flow|both|none] [--json]`.

The activation-flow analysis of the Flow AM paper (Fig. 2, METHOD "flow-layers"): per layer,
the mean cosine similarity of activations for same-class and different-class pairs of real
objects, and of explanations against real objects of their class. JSON: ``layers``,
``same_class``, ``different_class``, ``explanation_<kind>`` (lists in layer order),
``suggested`` (the layers where raw AM departs most from real objects).
"""
from __future__ import annotations

from engine.cli.common import add_device, add_json, emit, given_options, parse_kv, run_job


def register(subparsers) -> None:
    p = subparsers.add_parser("flow-layers", help="Flow AM: per-layer activation similarity (paper Fig. 2)")
    p.add_argument("--checkpoint", default="demo:pointnet", help="classifier checkpoint (default demo:pointnet)")
    p.add_argument("--data", required=True, help="dataset path or 'builtin'")
    p.add_argument("--layers", default=None, help="'modules' (default: every conv/linear), 'aliases' or a list")
    p.add_argument("--explanations", default=None, choices=("none", "vanilla", "flow", "both"),
                   help="explanations compared with real objects (default vanilla = raw AM)")
    p.add_argument("--steps", type=int, default=None, help="optimiser steps of the explanations (default 300)")
    p.add_argument("--points", type=int, default=None, help="points per cloud (default 1024)")
    p.add_argument("--seed", type=int, default=None, help="seed of the pairs (default 0)")
    p.add_argument("--param", action="append", metavar="NAME=VALUE", help="any other parameter (repeatable)")
    p.add_argument("--out", default=None, help="write the result to this .h5 file")
    add_device(p)
    add_json(p)
    p.set_defaults(func=flow_layers_command)


def flow_layers_command(args) -> int:
    from engine.core.jobs import Job
    from engine.results import save_result

    params = given_options(args, ("layers", "explanations", "steps", "points", "seed"), parse_kv(args.param))
    result = run_job(Job("flow-layers", {"checkpoint": args.checkpoint, "data": args.data,
                                         "device": args.device}, params))
    if args.out:
        save_result(result, args.out)
    m = result.metrics
    out = {k: v for k, v in m.items() if k != "seconds"}
    out.update(checkpoint=args.checkpoint, data=args.data, seconds=round(m["seconds"], 3))
    kinds = [k for k in m if k.startswith("explanation_")]
    head = f"{'layer':<22} {'same':>7} {'diff':>7}" + "".join(f" {k[12:]:>8}" for k in kinds)
    lines = [head]
    for i, name in enumerate(m["layers"]):
        lines.append(f"{name:<22} {m['same_class'][i]:7.3f} {m['different_class'][i]:7.3f}"
                     + "".join(f" {m[k][i]:8.3f}" for k in kinds))
    if "suggested" in m:
        lines.append("raw AM departs most from real objects at: " + ", ".join(m["suggested"]))
    emit(args, out, "\n".join(lines))
    return 0
