"""`pointlens bias-lab --data PATH|builtin [--levels 1,50,100,256]
[--models pointnet,randmask,pointmap,pointmask] [--epochs N] [--width W] [--points N] [--limit N]
[--placement per-class|fixed] [--alpha A] [--threshold T] [--classes a,b,...] [--seed S]
[--keep-checkpoints DIR] [--device D] [--out R.h5] [--json]`.

The PointMask paper's Fig. 4 experiment (METHOD "bias-lab"): train every model on the letter-
biased train split, test on the unbiased and on the biased test split. Prints the accuracy table;
``--json`` prints ``{"accuracy": {"unbiased": {model: {level: acc}}, "biased": {...}}, ...}``.
Every parameter option (range, default) comes from the spec, engine/specs/pointmask.py.
"""
from __future__ import annotations

from engine.cli.common import add_device, add_json, emit, run_job
from engine.cli.spec_options import add_params, given_params
from engine.specs.pointmask import BIAS_LAB


def register(subparsers) -> None:
    p = subparsers.add_parser("bias-lab", help="train on letter-biased data, test with and without the letters")
    p.add_argument("--data", required=True, help="dataset path or 'builtin'")
    p.add_argument("--alpha", type=float, default=None,
                   help="KL weight of both PointMask and PointMap (sets --pointmask-alpha and --pointmap-alpha)")
    add_params(p, BIAS_LAB)
    p.add_argument("--out", default=None, help="write the result (tables, gallery) to this .h5 file")
    add_device(p)
    add_json(p)
    p.set_defaults(func=bias_lab_command)


def bias_lab_command(args) -> int:
    from engine.core.jobs import Job
    from engine.methods.pointmask.bias_lab import format_table
    from engine.results import save_result

    params = given_params(args, BIAS_LAB)
    if args.alpha is not None:
        params.setdefault("pointmask_alpha", args.alpha)
        params.setdefault("pointmap_alpha", args.alpha)
    result = run_job(Job("bias-lab", {"data": args.data}, params, device=args.device))
    if args.out:
        save_result(result, args.out)
    m = result.metrics
    out = {k: m[k] for k in ("accuracy", "models", "levels", "classes", "chance", "train_clouds",
                             "test_clouds", "points", "seconds", "runs")}
    out["params"] = dict(result.params)
    if args.out:
        out["out"] = str(args.out)
    emit(args, out, format_table(m) + (f"\nsaved {args.out}" if args.out else ""))
    return 0
