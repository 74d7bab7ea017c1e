"""``--columns x,y,z,r,g,b,label``: the column layout of ASCII point tables, on every command
that opens data (each one with a ``--data`` option, and ``data info``).

Added here, after all commands registered, so a new command with ``--data`` gets it without
code of its own; ``main`` hands the value to engine.data.columns before the command runs.
"""
from __future__ import annotations

import argparse

HELP = ("column layout of ASCII point tables (.xyz .txt .pts .asc .csv), e.g. x,y,z,r,g,b,label; "
        "names: x y z nx ny nz r g b intensity label, _ to skip a column, any other name keeps the "
        "column as a field (default: the file's header line, else a guess that data info reports)")


def _subparsers(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield from action.choices.values()


def _opens_data(parser: argparse.ArgumentParser) -> bool:
    opts = {o for a in parser._actions for o in a.option_strings}
    return "--data" in opts or parser.prog.endswith("data info")


def add_columns_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--columns`` to every (nested) sub-command that opens data."""
    for sub in _subparsers(parser):
        if _opens_data(sub) and not any("--columns" in a.option_strings for a in sub._actions):
            sub.add_argument("--columns", default=None, metavar="NAMES", help=HELP)
        add_columns_option(sub)
