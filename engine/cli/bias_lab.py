"""`pointlens bias-lab --data PATH|builtin [--levels 1,50,100,256]
[--models pointnet,randmask,pointmap,pointmask] [--epochs N] [--width W] [--points N] [--limit N]
[--placement per-class|fixed] [--alpha A] [--threshold T] [--classes a,b,...] [--seed S]
[--keep-checkpoints DIR] [--device D] [--out R.h5] [--json]`;
`... --cells DIR [--plan | --cell ID]` and `pointlens bias-lab --merge DIR` (engine/cli/bias_lab_cells.py).

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
    p.add_argument("--data", default=None, help="dataset path or 'builtin' (required, except with --merge)")
    p.add_argument("--alpha", type=float, default=None,
                   help="KL weight of both PointMask and PointMap (sets --pointmask-alpha and --pointmap-alpha)")
    add_params(p, BIAS_LAB)
    p.add_argument("--out", default=None, help="write the result (tables, gallery) to this .h5 file")
    # The sweep as resumable cells (one model at one level each), as `pointlens reproduce` runs them.
    p.add_argument("--cells", default=None, metavar="DIR",
                   help="run the sweep cell by cell into DIR (resumable; DIR/report.md)")
    p.add_argument("--plan", action="store_true", help="with --cells: print one command per unfinished cell")
    p.add_argument("--cell", default=None, help="with --cells: run only this cell (as --plan prints)")
    p.add_argument("--merge", default=None, metavar="DIR", help="write the report of DIR's finished cells")
    add_device(p)
    add_json(p)
    p.set_defaults(func=bias_lab_command)


def bias_lab_command(args) -> int:
    from engine.core.jobs import Job
    from engine.methods.pointmask.bias_lab import format_table
    from engine.results import save_result

    from engine.cli.bias_lab_cells import cells_command, wants_cells
    from engine.core.errors import ParameterError

    params = given_params(args, BIAS_LAB)
    if args.alpha is not None:
        params.setdefault("pointmask_alpha", args.alpha)
        params.setdefault("pointmap_alpha", args.alpha)
    if args.data is None and not args.merge:
        raise ParameterError("--data: give the dataset to bias, a path or 'builtin'.")
    if wants_cells(args):
        return cells_command(args, params)
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
