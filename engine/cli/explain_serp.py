"""`pointlens explain serp --checkpoint C --data D --index I [--seed S] [--centres C]
[--neighbours K] [--std S] [--mode per-point|per-patch] --out R.h5 [--json]`.

Perturb one clean cloud as SeRP does and reconstruct it (METHOD "serp-explain"). The result file
holds ``original``, ``perturbed``, ``reconstructed``, ``perturbed_mask``, ``error``,
``detection_probability``, ``centres`` and for the transformers ``patch_index``, ``covered``,
``patch_centres``, ``reconstructed_patch``. JSON: chamfer_perturbed, chamfer_reconstructed,
detection_accuracy and the counts.
"""
from __future__ import annotations

from engine.cli.common import add_device, add_json, emit, run_job


def register(explain_subparsers) -> None:
    p = explain_subparsers.add_parser("serp", help="SeRP: perturb a cloud, reconstruct it, detect the perturbed points")
    p.add_argument("--checkpoint", default="demo:serp-pointnet",
                   help="SeRP-PointNet, SeRP-Transformer or VASP checkpoint (default demo:serp-pointnet)")
    p.add_argument("--data", required=True, help="dataset path or 'builtin'")
    p.add_argument("--index", type=int, default=0, help="sample index in the split (default 0)")
    p.add_argument("--split", default="test", help="split name (default test)")
    p.add_argument("--points", type=int, default=1024, help="points per cloud (default 1024, as the paper)")
    p.add_argument("--seed", type=int, default=0, help="seed of the perturbation (default 0)")
    p.add_argument("--centres", type=int, default=20, help="perturbation centres (default 20)")
    p.add_argument("--neighbours", type=int, default=20, help="points per perturbed patch (default 20)")
    p.add_argument("--std", type=float, default=0.03, help="noise standard deviation (default 0.03)")
    p.add_argument("--mode", default="per-point", choices=("per-point", "per-patch"),
                   help="per-point noise (paper, default) or one offset per patch (public code)")
    p.add_argument("--anchor", default="clean", choices=("clean", "perturbed"),
                   help="transformer: place predicted patches at the clean (default) or perturbed centres")
    p.add_argument("--out", default=None, help="write the result to this .h5 file")
    add_device(p)
    add_json(p)
    p.set_defaults(func=explain_serp_command)


def explain_serp_command(args) -> int:
    from engine.core.jobs import Job
    from engine.results import save_result

    inputs = {"checkpoint": args.checkpoint, "data": args.data, "index": args.index,
              "split": args.split, "n_points": args.points, "device": args.device}
    params = {"seed": args.seed, "centres": args.centres, "neighbours": args.neighbours,
              "std": args.std, "mode": args.mode, "anchor": args.anchor}
    result = run_job(Job("serp-explain", inputs, params))
    if args.out:
        save_result(result, args.out)
    m = result.metrics
    out = {k: m[k] for k in ("chamfer_perturbed", "chamfer_reconstructed", "detection_accuracy", "model",
                             "points", "perturbed_points", "coverage", "reconstruction", "class",
                             "index", "split") if k in m}
    out.update(checkpoint=args.checkpoint, data=args.data, seed=args.seed)
    if args.out:
        out["out"] = args.out
    text = (f"{out['model']}: {out['perturbed_points']} of {out['points']} points perturbed\n"
            f"Chamfer-L2 original-perturbed {out['chamfer_perturbed']:.6f}, "
            f"original-reconstructed {out['chamfer_reconstructed']:.6f}\n"
            f"perturbed-point detection accuracy {out['detection_accuracy']:.3f}"
            + (f"\nsaved {args.out}" if args.out else ""))
    emit(args, out, text)
    return 0
