"""`pointlens explain parae --checkpoint C --data D --index I [--level c] --out R.h5 [--json]`.

Without ``--level`` (or with ``--level 0``) the isosurface level is automatic: the density below
which ``--level-quantile`` of the points lie.

The Gaussian parts of one cloud (METHOD "parae-explain"). The result file holds the datasets
``points`` (N, 3), ``pi`` (J,), ``mu`` (J, 3), ``sigma`` (J, 3, 3), ``partition`` (N,),
``responsibilities`` (N, J), ``point_features``, the density grid ``density`` with
``grid_origin`` (spacing and floor in the attributes), and the isosurface ``iso_vertices``,
``iso_faces``.
"""
from __future__ import annotations

from engine.cli.common import add_checkpoint_options, add_device, add_json, checkpoint_choice, emit, run_job
from engine.cli.spec_options import add_params, given_params
from engine.specs.parae import PARAE_EXPLAIN


def register(explain_subparsers) -> None:
    p = explain_subparsers.add_parser("parae", help="ParAE: Gaussian parts, density isosurface, features")
    p.add_argument("--checkpoint", default="demo:parae", help="ParAE checkpoint or demo:parae (default)")
    p.add_argument("--data", required=True, help="dataset path or 'builtin'")
    p.add_argument("--index", type=int, default=0, help="sample index in the split (default 0)")
    p.add_argument("--split", default="test", help="split name (default test)")
    p.add_argument("--points", type=int, default=None, help="points per cloud (default: as stored)")
    p.add_argument("--out", default=None, help="write the result to this .h5 file")
    add_device(p)
    add_json(p)
    add_params(p, PARAE_EXPLAIN)       # --resolution, --margin, --level, --level-quantile, --auto-level
    add_checkpoint_options(p)   # --model, --model-options, --classes, --model-file
    p.set_defaults(func=explain_parae_command)


def explain_params(args) -> dict:
    """The given parameters; a given --level turns the automatic level off (--level 0: automatic)."""
    params = given_params(args, PARAE_EXPLAIN)
    if "level" in params and "auto_level" not in params:
        params["auto_level"] = params["level"] <= 0
    if params.get("level", 1.0) <= 0 and params.get("auto_level", True):
        params.pop("level")
    return params


def explain_parae_command(args) -> int:
    import numpy as np

    from engine.core.jobs import Job
    from engine.results import save_result

    inputs = {"data": args.data, "index": args.index, "split": args.split, "n_points": args.points}
    result = run_job(Job("parae-explain", inputs, explain_params(args), model=checkpoint_choice(args),
                         device=args.device))
    if args.out:
        save_result(result, args.out)
    m, a = result.metrics, result.arrays
    order = np.argsort(-a["pi"])[:5]
    out = {k: m[k] for k in ("nll", "level", "parts", "used_parts", "eps", "iso_vertices", "iso_faces",
                             "density_floor", "class", "index", "split") if k in m}
    out.update(checkpoint=args.checkpoint, data=args.data, points=int(len(a["points"])),
               largest_parts=[[int(j), float(a["pi"][j])] for j in order])
    if args.out:
        out["out"] = args.out
    text = (f"{out['points']} points, {out['parts']} Gaussian parts ({out['used_parts']} own a point), "
            f"NLL {out['nll']:.3f}\n"
            f"isosurface at g = {out['level']:.4g}: {out['iso_vertices']} vertices, {out['iso_faces']} faces"
            + (f"\nsaved {args.out}" if args.out else ""))
    emit(args, out, text)
    return 0
