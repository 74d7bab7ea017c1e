"""Markdown tables of a method's parameters, generated from its spec, for the pages in docs/methods/.

A page marks where a table goes with a pair of HTML comments:

    <!-- params: occlusion -->
    ... (generated: do not edit by hand)
    <!-- /params -->

``render_page(text)`` replaces every marked block with the named spec's current table, so a
range, default, unit or help text lives only in the spec. ``python -m engine.specs.docs_tables``
rewrites docs/methods/*.md in place; ``--check`` rewrites nothing and exits 1 naming every page
whose tables differ from the specs (tests/engine/test_docs_tables.py runs that check).

Torch-free: it reads only the specs' dataclass metadata.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from engine.core.params import describe

BLOCK = re.compile(r"(<!-- params: *(?P<key>[A-Za-z0-9_.-]+) *-->\n)(?P<body>.*?)(<!-- /params -->)", re.S)
METHODS_DIR = Path(__file__).resolve().parents[2] / "docs" / "methods"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _number(v) -> str:
    if isinstance(v, float) and v != 0 and (abs(v) >= 1e6 or abs(v) < 1e-3):
        return f"{v:g}"
    return repr(v) if isinstance(v, str) else str(v)


def _range(d: dict) -> str:
    if d.get("choices"):
        return ", ".join(f"`{c}`" for c in d["choices"])
    lo, hi = d.get("lo"), d.get("hi")
    if lo is None and hi is None:
        return "on / off" if d["type"] == "bool" else "text"
    left = "(" if d.get("lo_open") else "["
    right = ")" if d.get("hi_open") else "]"
    text = f"{left}{'-inf' if lo is None else _number(lo)}, {'inf' if hi is None else _number(hi)}{right}"
    return text + (", log scale" if d.get("scale") == "log" else "")


def _default(d: dict) -> str:
    v = d["default"]
    if isinstance(v, bool):
        return "on" if v else "off"
    if isinstance(v, str):
        return f"`{v}`" if v else "`''`"
    return f"`{_number(v)}`"


def params_table(key: str) -> str:
    """The Markdown table of method ``key``'s parameters (one row per field, in spec order)."""
    from engine.specs import get

    spec = get(key)
    rows = describe(spec.params)
    if not rows:
        return "This method has no parameters.\n"
    out = ["| parameter (CLI option) | default | range / choices | unit | meaning |",
           "|---|---|---|---|---|"]
    for d in rows:
        option = "--" + d["name"].replace("_", "-")
        out.append(f"| `{d['name']}` (`{option}`) | {_default(d)} | {_cell(_range(d))} | "
                   f"{_cell(d.get('unit') or '')} | {_cell(d.get('help') or '')} |")
    return "\n".join(out) + "\n"


def render_page(text: str) -> str:
    """``text`` with every ``<!-- params: KEY -->`` block replaced by KEY's current table."""
    def sub(m: re.Match) -> str:
        return m.group(1) + params_table(m.group("key")) + m.group(4)
    return BLOCK.sub(sub, text)


def table_keys(text: str) -> list[str]:
    return [m.group("key") for m in BLOCK.finditer(text)]


def stale_pages(folder: Path = METHODS_DIR) -> list[Path]:
    """Pages in ``folder`` whose parameter tables differ from the specs."""
    return [p for p in sorted(folder.glob("*.md")) if render_page(p.read_text()) != p.read_text()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m engine.specs.docs_tables",
                                 description="Regenerate the parameter tables of docs/methods/*.md from the specs.")
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 if a page is out of date")
    ap.add_argument("--dir", type=Path, default=METHODS_DIR, help="folder of the method pages")
    args = ap.parse_args(argv)
    stale = stale_pages(args.dir)
    if args.check:
        for p in stale:
            print(f"{p}: parameter tables differ from the specs; run python -m engine.specs.docs_tables",
                  file=sys.stderr)
        return 1 if stale else 0
    for p in stale:
        p.write_text(render_page(p.read_text()))
        print(f"updated {p}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
