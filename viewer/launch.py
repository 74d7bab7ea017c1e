"""The `pointlens` entry point: engine sub-commands run headless; no sub-command opens the GUI.

Kept tiny so `pointlens data info` never imports Qt, and the GUI never waits on torch.
"""
from __future__ import annotations

import sys

GUI_ONLY = {"render"}  # sub-commands implemented by the viewer (they draw with VTK)
# GUI options that take a value (so `pointlens --data x.h5` is not read as sub-command "x.h5").
GUI_VALUE_OPTIONS = {"--data", "--checkpoint", "--screenshot", "--wait", "--timeout", "--size", "--layout",
                     "--settings"}


def first_positional(argv: list[str]) -> str | None:
    skip = False
    for a in argv:
        if skip:
            skip = False
            continue
        if a in GUI_VALUE_OPTIONS:
            skip = True
            continue
        if not a.startswith("-"):
            return a
    return None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    first = first_positional(argv)
    if first == "render":
        from .render_cli import main as render_main

        return render_main(argv[argv.index("render") + 1:])
    if first is not None:
        from engine import cli_main

        return cli_main(argv)
    if any(a in ("-h", "--help") for a in argv) and not argv[1:]:
        from engine import cli_parser

        cli_parser().print_help()
        return 0
    from .app import main as gui_main

    return gui_main(argv)


if __name__ == "__main__":
    sys.exit(main())
