"""`pointlens explain <method> ...`: one sub-command per explanation method.

How to add a method: write ``engine/cli/explain_<name>.py`` with ``register(explain_subparsers)``
that calls ``explain_subparsers.add_parser("<name>", ...)`` and sets ``func=handler(args) -> exit
code`` on it (as any top-level command does), then append ``"<name>"`` to ``EXPLAINERS`` below
(one line; listed by name so packagers see the modules). Each handler runs its method's job,
saves the Result with ``engine.results.save_result`` when ``--out`` is given and prints a
summary (one JSON object with ``--json``).
"""
from __future__ import annotations

import importlib

EXPLAINERS = ["pointmask"]
EXPLAINERS += ["flowam", "parae", "serp"]   # modules already written by their method helpers


def register(subparsers) -> None:
    p = subparsers.add_parser("explain", help="explain a model's decision on data (one sub-command per method)",
                              description="Explain a model with one of the methods below.")
    sub = p.add_subparsers(dest="explainer", metavar="METHOD")
    for name in dict.fromkeys(EXPLAINERS):         # tolerate a name appended twice
        importlib.import_module(f"{__package__}.explain_{name}").register(sub)

    def no_method(_args) -> int:
        p.print_help()
        return 2

    p.set_defaults(func=no_method)
