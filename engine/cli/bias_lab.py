"""`pointlens bias-lab --data PATH|builtin [--levels 1,50,100,256]
[--models pointnet,randmask,pointmap,pointmask] [--epochs N] [--width W] [--points N] [--limit N]
[--placement per-class|fixed] [--alpha A] [--threshold T] [--classes a,b,...] [--seed S] [--out R.h5]
[--json]`.

The PointMask paper's Fig. 4 experiment (METHOD "bias-lab"): train every model on the letter-
biased train split, test on the unbiased and on the biased test split. Prints the accuracy table;
``--json`` prints ``{"accuracy": {"unbiased": {model: {level: acc}}, "biased": {...}}, ...}``.
"""
from __future__ import annotations

from engine.cli.common import add_device, add_json, emit, given_options, run_job

FLAGS = ("levels", "models", "epochs", "width", "points", "limit", "batch_size", "lr", "seed",
         "placement", "distance", "scale", "threshold", "augmentations", "device", "classes")


def register(subparsers) -> None:
    from engine.methods.pointmask.bias_inject import PLACEMENTS

    p = subparsers.add_parser("bias-lab", help="train on letter-biased data, test with and without the letters")
    p.add_argument("--data", required=True, help="dataset path or 'builtin'")
    p.add_argument("--levels", default=None, help="letter points per cloud (default 1,50,100,256; 0 = none)")
    p.add_argument("--models", default=None, help="default pointnet,randmask,pointmap,pointmask")
    p.add_argument("--epochs", type=int, default=None, help="epochs per model and level (default 10)")
    p.add_argument("--width", type=float, default=None, help="width multiplier (default 0.25)")
    p.add_argument("--points", type=int, default=None, help="object points per cloud (default 1024)")
    p.add_argument("--limit", type=int, default=None, help="at most N clouds per split (default all)")
    p.add_argument("--batch-size", type=int, default=None, help="clouds per step (default 32)")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default 0.001)")
    p.add_argument("--seed", type=int, default=None, help="seed (default 0)")
    p.add_argument("--placement", default=None, choices=PLACEMENTS, help="letter placement (default per-class)")
    p.add_argument("--distance", type=float, default=None, help="letter distance from the centre (default 1.5)")
    p.add_argument("--scale", type=float, default=None, help="letter size (default 0.5)")
    p.add_argument("--alpha", type=float, default=None,
                   help="KL weight of PointMask and PointMap (default 0.5 and 0.001)")
    p.add_argument("--threshold", type=float, default=None, help="PointMask threshold t (default 0.8: a sparse, near-prior random mask; see engine/methods/pointmask/bias_lab.py)")
    p.add_argument("--augmentations", default=None, help="training augmentations (default none)")
    p.add_argument("--classes", default=None,
                   help="keep only these classes, comma list of names or indices (e.g. chair,desk,sofa,table)")
    p.add_argument("--out", default=None, help="write the result (tables, gallery) to this .h5 file")
    add_device(p)
    add_json(p)
    p.set_defaults(func=bias_lab_command)


def bias_lab_command(args) -> int:
    from engine.core.jobs import Job
    from engine.methods.pointmask.bias_lab import format_table
    from engine.results import save_result

    params = given_options(args, FLAGS)
    if args.alpha is not None:
        params.update(pointmask_alpha=args.alpha, pointmap_alpha=args.alpha)
    result = run_job(Job("bias-lab", {"data": args.data}, params))
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
