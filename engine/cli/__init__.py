"""`pointlens <command>`: the headless commands. Each module in COMMANDS adds one sub-command.

Bad input exits with status 2 and one line on stderr (what, where, what to do); a traceback only
with --debug. Commands use the same job generators as the GUI.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from engine.core.errors import EngineError

# Modules of engine.cli, each with register(subparsers). Listed by name so packagers see them.
COMMANDS = ["data", "train", "eval"]
COMMANDS.append("probe")
COMMANDS += ["flow_layers", "sanity"]
COMMANDS += ["explain", "bias_lab"]
COMMANDS += ["mix", "robustness"]
COMMANDS.append("run")   # every catalog method, generated from its spec


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pointlens", description="PointLens headless commands.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except EngineError as e:
        if args.debug:
            raise
        print(f"pointlens {args.command}: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"pointlens {args.command}: interrupted", file=sys.stderr)
        return 130
