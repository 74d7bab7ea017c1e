"""`pointlens explain serp --checkpoint C --data D --index I [--seed S] [--centres C]
[--neighbours K] [--std S] [--mode per-point|per-patch] --out R.h5 [--json]`.

Perturb one clean cloud as SeRP does and reconstruct it (METHOD "serp-explain"). The result file
holds ``original``, ``perturbed``, ``reconstructed``, ``perturbed_mask``, ``error``,
``detection_probability``, ``centres`` and for the transformers ``patch_index``, ``covered``,
``patch_centres``, ``reconstructed_patch``. JSON: chamfer_perturbed, chamfer_reconstructed,
detection_accuracy and the counts.
"""
from __future__ import annotations

from engine.cli.common import add_checkpoint_options, add_device, add_json, checkpoint_choice, emit, run_job
from engine.cli.spec_options import add_params, given_params
from engine.specs.serp import SERP_EXPLAIN


def register(explain_subparsers) -> None:
    p = explain_subparsers.add_parser("serp", help="SeRP: perturb a cloud, reconstruct it, detect the perturbed points")
    p.add_argument("--checkpoint", default="demo:serp-pointnet",
                   help="SeRP-PointNet, SeRP-Transformer or VASP checkpoint (default demo:serp-pointnet)")
    p.add_argument("--data", required=True, help="dataset path or 'builtin'")
    p.add_argument("--index", type=int, default=0, help="sample index in the split (default 0)")
    p.add_argument("--split", default="test", help="split name (default test)")
    p.add_argument("--points", type=int, default=1024, help="points per cloud (default 1024, as the paper)")
    p.add_argument("--out", default=None, help="write the result to this .h5 file")
    add_device(p)
    add_json(p)
    add_params(p, SERP_EXPLAIN)        # --centres, --neighbours, --std, --mode, --seed, --anchor
    add_checkpoint_options(p)   # --model, --model-options, --classes, --model-file
    p.set_defaults(func=explain_serp_command)


def explain_serp_command(args) -> int:
    from engine.core.jobs import Job
    from engine.results import save_result

    inputs = {"data": args.data, "index": args.index, "split": args.split, "n_points": args.points}
    result = run_job(Job("serp-explain", inputs, given_params(args, SERP_EXPLAIN), model=checkpoint_choice(args),
                         device=args.device))
    if args.out:
        save_result(result, args.out)
    m = result.metrics
    out = {k: m[k] for k in ("chamfer_perturbed", "chamfer_reconstructed", "detection_accuracy", "model",
                             "points", "perturbed_points", "coverage", "reconstruction", "class",
                             "index", "split") if k in m}
    out.update(checkpoint=args.checkpoint, data=args.data, seed=result.params["seed"])
    if args.out:
        out["out"] = args.out
    text = (f"{out['model']}: {out['perturbed_points']} of {out['points']} points perturbed\n"
            f"Chamfer-L2 original-perturbed {out['chamfer_perturbed']:.6f}, "
            f"original-reconstructed {out['chamfer_reconstructed']:.6f}\n"
            f"perturbed-point detection accuracy {out['detection_accuracy']:.3f}"
            + (f"\nsaved {args.out}" if args.out else ""))
    emit(args, out, text)
    return 0
