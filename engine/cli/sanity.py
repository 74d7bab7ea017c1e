"""`pointlens sanity flowam --checkpoint C --data D --class NAME [--part dropout|ablation|both] [--json]`.

The Flow AM sanity check (paper Fig. 7, Table S1: parameter dropout 0 ... 50 %, Chamfer of each
regenerated explanation to the undropped one and to real objects) and its ablations (Table III:
without L_LA, L_C or L_LR). METHOD "flowam-sanity". JSON: ``dropout`` (one row per level and
draw) and ``ablation`` (all / no_la / no_c / no_lr -> logit, softmax, chamfer, fid, legality).
"""
from __future__ import annotations

from engine.cli.common import add_checkpoint_options, add_device, add_json, checkpoint_choice, emit, parse_kv, run_job
from engine.cli.spec_options import add_params, given_params
from engine.specs.flowam import SANITY


def register(subparsers) -> None:
    p = subparsers.add_parser("sanity", help="sanity checks of explanation methods")
    sub = p.add_subparsers(dest="sanity_command", metavar="METHOD")
    f = sub.add_parser("flowam", help="Flow AM: parameter-dropout sanity check and ablations")
    f.add_argument("--checkpoint", default="demo:pointnet", help="classifier checkpoint (default demo:pointnet)")
    f.add_argument("--data", required=True, help="dataset path or 'builtin'")
    f.add_argument("--class", dest="target", required=True, help="class name or index")
    f.add_argument("--param", action="append", metavar="NAME=VALUE", help="any parameter as NAME=VALUE (repeatable)")
    f.add_argument("--out", default=None, help="write the result to this .h5 file")
    add_device(f)
    add_json(f)
    add_params(f, SANITY)         # --part, --levels, --repeats, --steps, --seed, ... from the spec
    add_checkpoint_options(f)   # --model, --model-options, --classes, --model-file
    f.set_defaults(func=sanity_flowam_command)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def sanity_flowam_command(args) -> int:
    from engine.core.jobs import Job
    from engine.results import save_result

    params = {**parse_kv(args.param), **given_params(args, SANITY)}
    result = run_job(Job("flowam-sanity", {"data": args.data, "target": args.target}, params,
                         model=checkpoint_choice(args), device=args.device))
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
