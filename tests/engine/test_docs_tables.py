"""The method pages in docs/methods/ cannot drift from the code: their parameter tables are the
specs' (engine/specs/docs_tables.py), every method has a page, and every `module.function`
a page names exists."""
from __future__ import annotations

import importlib
import re

import pytest

from engine.specs import all_specs
from engine.specs.docs_tables import METHODS_DIR, params_table, render_page, table_keys

PAGES = sorted(METHODS_DIR.glob("*.md"))
DOCS = METHODS_DIR.parent


def test_pages_exist():
    assert {p.stem for p in PAGES} >= {"inspect", "pointmask", "flowam", "parae", "mix", "serp"}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_parameter_tables_match_specs(page):
    text = page.read_text()
    assert render_page(text) == text, (
        f"{page.name}: a parameter table differs from its spec; run "
        "`python -m engine.specs.docs_tables` and commit the page.")


def test_every_method_with_parameters_has_a_table():
    documented = {k for p in PAGES for k in table_keys(p.read_text())}
    skip = {"train", "evaluate"}          # the training family: documented in the README
    missing = [s.key for s in all_specs()
               if s.key not in documented and s.key not in skip and params_table(s.key).startswith("|")]
    assert not missing, f"methods with parameters but no table in docs/methods/: {missing}"


def test_table_renders_range_default_unit():
    table = params_table("occlusion")
    assert "| `patch_size` (`--patch-size`) | `32` | [1, 100000] | points |" in table


def _resolve(dotted: str):
    """(module name, object) for ``engine.pkg.module.Name[.attr]``."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        module = ".".join(parts[:i])
        try:
            obj = importlib.import_module(module)
        except ModuleNotFoundError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return module, obj
    raise ModuleNotFoundError(dotted)


def _has(obj, dotted: str) -> bool:
    for attr in dotted.split("."):
        if not hasattr(obj, attr):
            return False
        obj = getattr(obj, attr)
    return True


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_named_functions_exist(page):
    """In the tables, every `engine.x.y.f` name resolves, and so does every bare `f` or
    `Class.method` after one in the same cell (in that module, or on that class)."""
    bad = []
    for line in page.read_text().splitlines():
        if not line.startswith("|"):
            continue
        for cell in line.split("|"):
            module = owner = None
            for n in re.findall(r"`([A-Za-z_][A-Za-z0-9_.]*)`", cell):
                if n.startswith("engine."):
                    try:
                        name, obj = _resolve(n)
                    except (ImportError, AttributeError):
                        bad.append(n)
                        continue
                    module, owner = importlib.import_module(name), obj if isinstance(obj, type) else None
                elif module is not None and re.fullmatch(r"_?[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?", n):
                    if not (_has(module, n) or (owner is not None and _has(owner, n))):
                        bad.append(f"{module.__name__}: {n}")
    assert not bad, f"{page.name} names code that does not exist: {bad}"


@pytest.mark.parametrize("page", sorted(DOCS.rglob("*.md")), ids=lambda p: str(p.relative_to(DOCS)))
def test_docs_point_inside_the_repository(page):
    text = page.read_text()
    for word in ("REFERENCES.md", "DESIGN.md", "../shared", "/work/"):
        assert word not in text, f"{page.name} mentions {word}"
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text):
        if "://" in target:
            continue
        assert (page.parent / target).exists(), f"{page.name}: broken link {target}"
