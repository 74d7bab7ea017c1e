"""`pointlens export RESULT.h5 --format ply|vtp|npz|csv [--cloud NAME] --out FILE`: one cloud of a
saved result with every per-point array of it, for CloudCompare (PLY scalar fields), ParaView
(VTP), numpy (NPZ) or a spreadsheet (CSV). Which arrays belong to which cloud:
engine/export/result_clouds.py. The output may not be the result file itself (engine.inputs).
"""
from __future__ import annotations

from engine.cli.common import add_json, emit
from engine.cli.parsing import one_line_errors


def register(subparsers) -> None:
    from engine.export import FORMATS

    p = one_line_errors(subparsers.add_parser(
        "export", help="write a result's points and per-point values as PLY, VTP, NPZ or CSV",
        description="Write one cloud of a saved result (.h5) with every per-point array of it: PLY "
                    "(CloudCompare reads the values as scalar fields), VTP (ParaView), NPZ or CSV."))
    p.add_argument("result", metavar="RESULT.h5", help="a result file (pointlens run ... --out, or the GUI's Save result)")
    p.add_argument("--format", choices=FORMATS, default=None, help="default: the extension of --out")
    p.add_argument("--cloud", default=None, metavar="NAME",
                   help="which cloud of the result (default the main one: 'points', else the first); "
                        "a wrong name lists the choices")
    p.add_argument("--out", required=True, metavar="FILE", help="the file to write")
    add_json(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from engine.export import export_format, export_result
    from engine.results import load_result

    fmt = export_format(args.out, args.format)          # a bad extension is refused before reading
    result = load_result(args.result)
    ps = export_result(result, args.out, fmt, cloud=args.cloud, source=str(args.result))
    emit(args, {"out": str(args.out), "format": fmt, "cloud": ps.name, "points": ps.n, "fields": list(ps.fields)},
         text=f"{args.out}: {ps.n} points of '{ps.name}' with {len(ps.fields)} per-point "
              f"field{'s' if len(ps.fields) != 1 else ''} ({', '.join(ps.fields) or 'none'}) as {fmt.upper()}")
    return 0
