"""The `pointlens` entry point: engine sub-commands run headless; no sub-command opens the GUI.

    pointlens [GUI OPTIONS] [PATH ...]   the GUI; PATHs: a dataset, folder or cloud file (the data)
                                         and/or a checkpoint (by suffix: CHECKPOINT_SUFFIXES)
    pointlens COMMAND ...                a headless command (engine.cli), or `render` (the viewer's)
    pointlens --version | --help

Kept tiny so `pointlens data info` never imports Qt, and the GUI never waits on torch.
"""
from __future__ import annotations

import os
import sys

# A path with one of these suffixes opens as the checkpoint; any other path as the data.
from engine import CHECKPOINT_SUFFIXES   # one list with the loader (torch-free)

GUI_ONLY = {"render"}  # sub-commands implemented by the viewer (they draw with VTK)
# GUI options that take a value (so `pointlens --data x.h5` is not read as sub-command "x.h5").
GUI_VALUE_OPTIONS = {"--data", "--checkpoint", "--screenshot", "--wait", "--timeout", "--size", "--layout",
                     "--settings"}


def positionals(argv: list[str]) -> list[tuple[int, str]]:
    """(index, argument) of every argument that is neither an option nor an option's value."""
    out, skip = [], False
    for i, a in enumerate(argv):
        if skip:
            skip = False
            continue
        if a in GUI_VALUE_OPTIONS:
            skip = True
            continue
        if not a.startswith("-") or a == "-":
            out.append((i, a))
    return out


def first_positional(argv: list[str]) -> str | None:
    found = positionals(argv)
    return found[0][1] if found else None


def subcommands() -> dict[str, str]:
    """Every sub-command -> its one-line help: the engine's (in the order registered) and render."""
    import argparse

    from engine import cli_parser

    names: dict[str, str] = {}
    for action in cli_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action._get_subactions():
                names[sub.dest] = sub.help or ""
    names["render"] = "draw a saved result (HDF5) to a PNG, off-screen"
    return names


def _looks_like_path(arg: str) -> bool:
    """Not a sub-command name: a folder separator, a suffix, a demo model or the built-in data."""
    return (arg == "builtin" or os.sep in arg or "/" in arg or arg.startswith(("demo:", "~", ".")) or
            os.path.splitext(arg)[1] != "")


def route(argv: list[str]) -> tuple[str, list[str]]:
    """Where an argument list goes, without importing Qt or opening anything.

    Returns (kind, arguments for it): ``version`` ([]), ``help`` ([]), ``render`` (render's
    arguments), ``cli`` (argv), ``gui`` (argv with the paths turned into --data/--checkpoint) or
    ``error`` ([one-line message]).
    """
    found = positionals(argv)
    first = found[0][1] if found else None
    if first is None:
        if "--version" in argv:
            return "version", []
        if any(a in ("-h", "--help") for a in argv):
            return "help", []
        return "gui", argv
    if first in GUI_ONLY:
        return first, argv[found[0][0] + 1:]
    # A path opens the GUI on it; a bare word is a sub-command (even where a folder has its name:
    # `pointlens data info ...` in a folder holding data/), except a folder that is no sub-command.
    if not (_looks_like_path(first) or (os.path.exists(first) and first not in subcommands())):
        return "cli", argv
    data, checkpoint = [], []
    for _, a in found:
        named = a.startswith("demo:") or a == "builtin"           # a bundled model or dataset
        path = a if named else os.path.abspath(os.path.expanduser(a))
        if not named and not os.path.exists(path):
            return "error", [f"pointlens: {a}: no such file or folder (to open in the GUI: a dataset, "
                             f"a folder, a point-cloud file or a checkpoint; commands: pointlens --help)"]
        is_checkpoint = a.startswith("demo:") or (os.path.isfile(path) and path.lower().endswith(CHECKPOINT_SUFFIXES))
        (checkpoint if is_checkpoint else data).append(path)
    if "--data" in argv or any(a.startswith("--data=") for a in argv):
        data.append("--data")
    if "--checkpoint" in argv or any(a.startswith("--checkpoint=") for a in argv):
        checkpoint.append("--checkpoint")
    for what, given in (("dataset", data), ("checkpoint", checkpoint)):
        if len(given) > 1:
            return "error", [f"pointlens: one {what} at a time (given: {', '.join(given)})"]
    taken = {i for i, _ in found}
    rest = [a for i, a in enumerate(argv) if i not in taken]
    if data:
        rest += ["--data", data[0]]
    if checkpoint:
        rest += ["--checkpoint", checkpoint[0]]
    return "gui", rest


def print_help() -> None:
    """The GUI's options, then every sub-command (with render) and how to get its own help."""
    import argparse

    from .app import build_parser

    parser = build_parser()
    parser.usage = ("pointlens [GUI OPTIONS] [DATA] [CHECKPOINT]\n"
                    "       pointlens COMMAND [OPTIONS]          (pointlens COMMAND --help)\n"
                    "       pointlens --version")
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = (
        "PointLens: a workbench for deep point-cloud models.\n\n"
        "With no COMMAND it opens the GUI. DATA: a dataset file or folder, or one point-cloud file\n"
        "(or use --data); CHECKPOINT: a model file (" + " ".join(CHECKPOINT_SUFFIXES) + ") or demo:<model>.")
    commands = subcommands()
    width = max(len(n) for n in commands) + 2
    parser.epilog = ("commands (headless; `pointlens COMMAND --help` for each, `--debug` for tracebacks):\n"
                     + "\n".join(f"  {n:<{width}}{h}" for n, h in commands.items()))
    parser.print_help()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    kind, args = route(argv)
    if kind == "version":
        from engine import __version__

        print(f"pointlens {__version__}")
        from .bundle_info import bundle_lacks

        lacks = bundle_lacks()
        if lacks:
            print(lacks)
        return 0
    if kind == "help":
        print_help()
        return 0
    if kind == "error":
        print(args[0], file=sys.stderr)
        return 2
    if kind == "render":
        from .render_cli import main as render_main

        return render_main(args)
    if kind == "cli":
        from engine import cli_main

        return cli_main(args)
    from .app import main as gui_main

    return gui_main(args)


if __name__ == "__main__":
    sys.exit(main())
