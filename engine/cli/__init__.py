"""`pointlens <command>`: the headless commands. Each module in COMMANDS adds one sub-command.

Bad input exits with status 2 and one line on stderr (what, where, what to do); a traceback only
with --debug. Commands use the same job generators as the GUI.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from engine.cli.columns_option import add_columns_option
from engine.core.errors import EngineError, safe_text
from engine.data.columns import set_default_columns
from engine.fsguard import os_problem
from engine.inputs import begin_command, end_command

# Modules of engine.cli, each with register(subparsers). Listed by name so packagers see them.
COMMANDS = ["data", "train", "eval"]
COMMANDS.append("probe")
COMMANDS += ["flow_layers", "sanity"]
COMMANDS += ["explain", "bias_lab"]
COMMANDS += ["mix", "robustness"]
COMMANDS.append("run")   # every catalog method, generated from its spec
COMMANDS.append("reproduce")   # the papers' headline results (engine/reproduce)
COMMANDS.append("export")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pointlens", description="PointLens headless commands.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    add_columns_option(parser)   # every command that opens data reads ASCII tables the same way
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    begin_command()   # record this command's inputs: outputs may not overwrite them
    try:
        set_default_columns(getattr(args, "columns", None))
        rc = int(args.func(args) or 0)
        sys.stdout.flush()   # a closed pipe is reported here, inside the try, not at exit
        return rc
    except EngineError as e:
        if args.debug:
            raise
        return _fail(args.command, str(e))
    except BrokenPipeError:
        return _quiet_pipe()
    except OSError as e:   # not wrapped by a reader or writer: still one line, in plain words
        if args.debug:
            raise
        where = f"{e.filename}: " if getattr(e, "filename", None) else ""
        return _fail(args.command, f"{where}{os_problem(e)}.")
    except KeyboardInterrupt:
        print(f"pointlens {args.command}: interrupted", file=sys.stderr)
        return 130
    finally:
        end_command()
        set_default_columns(None)


def _fail(command: str, message: str) -> int:
    """The one line on stderr (control characters escaped), exit status 2."""
    try:
        print(f"pointlens {command}: {safe_text(message)}", file=sys.stderr)
    except (BrokenPipeError, OSError):
        pass
    return 2


def _quiet_pipe() -> int:
    """The reader of our output went away (``| head -c 0``): stop quietly, no traceback. stdout
    is pointed at /dev/null so the interpreter's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
    return 0
