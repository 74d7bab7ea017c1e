"""`pointlens sanity flowam --checkpoint C --data D --class NAME [--part dropout|ablation|both] [--json]`.

The Flow AM sanity check (paper Fig. 7, Table S1: parameter dropout 0 ... 50 %, Chamfer of each
regenerated explanation to the undropped one and to real objects) and its ablations (Table III:
without L_LA, L_C or L_LR). METHOD "flowam-sanity". JSON: ``dropout`` (one row per level and
draw) and ``ablation`` (all / no_la / no_c / no_lr -> logit, softmax, chamfer, fid, legality).
"""
from __future__ import annotations

from engine.cli.common import add_device, add_json, emit, given_options, parse_kv, run_job


def register(subparsers) -> None:
    p = subparsers.add_parser("sanity", help="sanity checks of explanation methods")
    sub = p.add_subparsers(dest="sanity_command", metavar="METHOD")
    f = sub.add_parser("flowam", help="Flow AM: parameter-dropout sanity check and ablations")
    f.add_argument("--checkpoint", default="demo:pointnet", help="classifier checkpoint (default demo:pointnet)")
    f.add_argument("--data", required=True, help="dataset path or 'builtin'")
    f.add_argument("--class", dest="target", required=True, help="class name or index")
    f.add_argument("--part", default=None, choices=("dropout", "ablation", "both"), help="default both")
    f.add_argument("--levels", default=None, help="dropout fractions (default 0,0.1,0.2,0.3,0.4,0.5)")
    f.add_argument("--repeats", type=int, default=None, help="dropout draws per level (default 1)")
    f.add_argument("--steps", type=int, default=None, help="optimiser steps per explanation (default 300)")
    f.add_argument("--seed", type=int, default=None, help="seed (default 0)")
    f.add_argument("--param", action="append", metavar="NAME=VALUE", help="any other parameter (repeatable)")
    f.add_argument("--out", default=None, help="write the result to this .h5 file")
    add_device(f)
    add_json(f)
    f.set_defaults(func=sanity_flowam_command)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def sanity_flowam_command(args) -> int:
    from engine.core.jobs import Job
    from engine.results import save_result

    params = given_options(args, ("part", "levels", "repeats", "steps", "seed"), parse_kv(args.param))
    result = run_job(Job("flowam-sanity", {"checkpoint": args.checkpoint, "data": args.data,
                                           "target": args.target, "device": args.device}, params))
    if args.out:
        save_result(result, args.out)
    m = result.metrics
    out = dict(m, checkpoint=args.checkpoint, data=args.data, seconds=round(m["seconds"], 3))
    lines = [f"Flow AM sanity check, class '{m['class']}'"]
    if "dropout" in m:
        lines.append(f"{'P_D':>5} {'CD to P_D=0':>12} {'CD to real':>11} {'logit':>8} {'accuracy':>9}  predicted")
        for r in m["dropout"]:
            lines.append(f"{r['level']:5.2f} {r['chamfer_to_undropped']:12.4f} {r['chamfer_to_real']:11.4f} "
                         f"{r['logit']:8.3f} {100 * r['accuracy']:8.1f}%  {r['predicted']}")
    if "ablation" in m:
        lines.append(f"{'terms':<7} {'logit':>8} {'softmax':>8} {'CD':>8} {'FID':>10} {'legality':>9}")
        for name, r in m["ablation"].items():
            lines.append(f"{name:<7} {r['logit']:8.3f} {r['softmax']:8.4f} {r['chamfer']:8.4f} "
                         f"{r['fid']:10.4g} {100 * r['legality']:8.1f}%")
    emit(args, out, "\n".join(lines))
    return 0
