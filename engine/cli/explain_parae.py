"""`pointlens explain parae --checkpoint C --data D --index I [--level c] --out R.h5 [--json]`.

The Gaussian parts of one cloud (METHOD "parae-explain"). The result file holds the datasets
``points`` (N, 3), ``pi`` (J,), ``mu`` (J, 3), ``sigma`` (J, 3, 3), ``partition`` (N,),
``responsibilities`` (N, J), ``point_features``, the density grid ``density`` with
``grid_origin`` (spacing and floor in the attributes), and the isosurface ``iso_vertices``,
``iso_faces``.
"""
from __future__ import annotations

from engine.cli.common import add_device, add_json, emit, run_job


def register(explain_subparsers) -> None:
    p = explain_subparsers.add_parser("parae", help="ParAE: Gaussian parts, density isosurface, features")
    p.add_argument("--checkpoint", default="demo:parae", help="ParAE checkpoint or demo:parae (default)")
    p.add_argument("--data", required=True, help="dataset path or 'builtin'")
    p.add_argument("--index", type=int, default=0, help="sample index in the split (default 0)")
    p.add_argument("--split", default="test", help="split name (default test)")
    p.add_argument("--points", type=int, default=None, help="points per cloud (default: as stored)")
    p.add_argument("--level", type=float, default=0.0,
                   help="isosurface density c (default: the 5%% quantile of the density at the points)")
    p.add_argument("--resolution", type=int, default=64, help="grid voxels along the longest side (default 64)")
    p.add_argument("--out", default=None, help="write the result to this .h5 file")
    add_device(p)
    add_json(p)
    p.set_defaults(func=explain_parae_command)


def explain_parae_command(args) -> int:
    import numpy as np

    from engine.core.jobs import Job
    from engine.results import save_result

    inputs = {"checkpoint": args.checkpoint, "data": args.data, "index": args.index,
              "split": args.split, "n_points": args.points, "device": args.device}
    result = run_job(Job("parae-explain", inputs, {"level": args.level, "resolution": args.resolution}))
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
