"""``pointlens render RESULT.h5 --out fig.png [--size W H] [--view iso|x|y|z|-x|...]``

Draws a saved result off-screen, with no display (VTK picks EGL or OSMesa when there is no X
server), using the same layer mapping and actors as the GUI.
"""
from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pointlens render", description="Draw a saved PointLens result to a PNG.")
    p.add_argument("result", help="a result file written by the GUI or a method (HDF5)")
    p.add_argument("--out", required=True, help="PNG file to write")
    p.add_argument("--size", nargs=2, type=int, default=(1200, 800), metavar=("W", "H"))
    p.add_argument("--view", default="iso", help="camera: iso, x, y, z, +x, -x, +y, -y, +z, -z (default iso)")
    p.add_argument("--up", default="z", choices=("x", "y", "z"), help="the up axis (default z)")
    p.add_argument("--parallel", action="store_true", help="parallel projection")
    p.add_argument("--transparent", action="store_true", help="transparent background")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from engine import DataError, EngineError, begin_command

    begin_command()   # the result it reads is an input: --out may not replace it

    try:
        w, h = args.size
        if not (16 <= w <= 8192 and 16 <= h <= 8192):
            raise DataError(f"--size {w} {h}: each side must be between 16 and 8192 pixels.")
        view = args.view if args.view.startswith(("+", "-")) or args.view == "iso" else "+" + args.view
        from .render import VIEWS

        if view not in VIEWS:
            raise DataError(f"--view {args.view}: use one of iso, x, y, z, +x, -x, +y, -y, +z, -z.")
        from engine import load_result

        from .result_layers import layers_for

        result = load_result(args.result)
        layers = layers_for(result)
        if not layers:
            raise DataError(f"{args.result}: the result ({result.kind}) holds nothing drawable "
                            f"(arrays: {', '.join(result.arrays) or 'none'}).",
                            hint="Results need a 'points' (N,3) array or ellipsoids/surfaces to draw.")
        from .render_offscreen import render_layers

        image = render_layers(layers, (w, h), view, up_axis=args.up, parallel=args.parallel,
                              transparent=args.transparent)
        from .provenance import describe, layers_shown, write_png
        from .scene import Scene

        shown = Scene()
        for layer in layers:
            shown.add(layer)
        prov = describe(result.kind, dict(result.params or {}), dict(result.provenance or {}),
                        export="pointlens render", source=str(args.result), view=view, size=[w, h],
                        layers=layers_shown(shown))
        try:
            write_png(args.out, image, prov)
        except OSError as e:
            raise DataError(f"--out {args.out}: could not write the image: {e}",
                            hint="choose a writable folder and a .png name") from e
    except EngineError as e:
        if args.debug:
            raise
        print(f"pointlens render: {e}", file=sys.stderr)
        return 2
    print(f"wrote {args.out} ({w}x{h}, {len(layers)} layer{'s' if len(layers) != 1 else ''}, view {view})")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
