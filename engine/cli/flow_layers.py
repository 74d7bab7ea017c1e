"""`pointlens flow-layers --checkpoint C --data D [--explanations vanilla|flow|both|none] [--json]`.

The activation-flow analysis of the Flow AM paper (Fig. 2, METHOD "flow-layers"): per layer,
the mean cosine similarity of activations for same-class and different-class pairs of real
objects, and of explanations against real objects of their class. JSON: ``layers``,
``same_class``, ``different_class``, ``explanation_<kind>`` (lists in layer order),
``suggested`` (the layers where raw AM departs most from real objects).
"""
from __future__ import annotations

from engine.cli.common import add_checkpoint_options, add_device, add_json, checkpoint_choice, emit, parse_kv, run_job
from engine.cli.spec_options import add_params, given_params
from engine.specs.flowam import FLOW_LAYERS


def register(subparsers) -> None:
    p = subparsers.add_parser("flow-layers", help="Flow AM: per-layer activation similarity (paper Fig. 2)")
    p.add_argument("--checkpoint", default="demo:pointnet", help="classifier checkpoint (default demo:pointnet)")
    p.add_argument("--data", required=True, help="dataset path or 'builtin'")
    p.add_argument("--param", action="append", metavar="NAME=VALUE", help="any parameter as NAME=VALUE (repeatable)")
    p.add_argument("--out", default=None, help="write the result to this .h5 file")
    add_device(p)
    add_json(p)
    add_params(p, FLOW_LAYERS)    # --layers, --explanations, --steps, --points, --seed, ... from the spec
    add_checkpoint_options(p)   # --model, --model-options, --classes, --model-file
    p.set_defaults(func=flow_layers_command)


def flow_layers_command(args) -> int:
    from engine.core.jobs import Job
    from engine.results import save_result

    params = {**parse_kv(args.param), **given_params(args, FLOW_LAYERS)}
    result = run_job(Job("flow-layers", {"data": args.data}, params, model=checkpoint_choice(args), device=args.device))
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
