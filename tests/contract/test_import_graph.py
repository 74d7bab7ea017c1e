"""The architecture as the import graph has it: no import loops anywhere in engine/ or viewer/, the
viewer reaches the engine only through its facade (engine/__init__), the specs and numeric; specs
and core stay torch-free; models never import methods or training."""
from __future__ import annotations

import grimp
import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

VIEWER_MAY_IMPORT = ("engine", "engine.specs", "engine.numeric")


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph("engine", "viewer", include_external_packages=True)


def _ours(graph) -> list[str]:
    return sorted(m for m in graph.modules if m.split(".")[0] in ("engine", "viewer"))


def import_loops(graph) -> list[list[str]]:
    """Strongly connected groups of more than one module (each is an import loop)."""
    mods = _ours(graph)
    index = {m: i for i, m in enumerate(mods)}
    rows, cols = [], []
    for m in mods:
        for t in graph.find_modules_directly_imported_by(m):
            if t in index:
                rows.append(index[m])
                cols.append(index[t])
    adj = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(mods), len(mods))).tocsr()
    _, label = connected_components(adj, directed=True, connection="strong")
    groups: dict[int, list[str]] = {}
    for m, k in zip(mods, label):
        groups.setdefault(int(k), []).append(m)
    return [g for g in groups.values() if len(g) > 1]


def test_the_loop_finder_finds_a_loop():
    g = grimp.ImportGraph()
    for m in ("engine.a", "engine.b", "engine.c"):
        g.add_module(m)
    g.add_import(importer="engine.a", imported="engine.b")
    g.add_import(importer="engine.b", imported="engine.a")
    g.add_import(importer="engine.b", imported="engine.c")
    assert import_loops(g) == [["engine.a", "engine.b"]]


def test_no_import_loops(graph):
    assert import_loops(graph) == []


def test_viewer_reaches_the_engine_only_through_the_facade_specs_and_numeric(graph):
    bad = []
    for m in _ours(graph):
        if not m.startswith("viewer"):
            continue
        for t in graph.find_modules_directly_imported_by(m):
            if t.startswith("engine") and not (t in VIEWER_MAY_IMPORT or t.startswith(("engine.specs.", "engine.numeric."))):
                bad.append(f"{m} -> {t}")
    assert bad == []


def _reaches(graph, sources: list[str], target: str) -> list[str]:
    return [s for s in sources if graph.find_shortest_chain(importer=s, imported=target)]


def test_specs_and_core_import_no_torch(graph):
    sources = [m for m in _ours(graph) if m.startswith(("engine.specs", "engine.core"))]
    assert sources and _reaches(graph, sources, "torch") == []


def test_models_never_import_methods_or_training(graph):
    models = [m for m in _ours(graph) if m.startswith("engine.models")]
    bad = [f"{m} -> {t}" for m in models for t in graph.find_modules_directly_imported_by(m)
           if t.startswith(("engine.methods", "engine.training", "engine.catalog", "engine.cli"))]
    assert bad == []


def test_only_the_catalog_imports_method_implementations(graph):
    """Method modules are imported by the catalog and by their own family (and the CLI and training
    where one family uses another's public functions), never by models or core."""
    for m in _ours(graph):
        if m.startswith(("engine.core", "engine.specs", "engine.models", "engine.numeric", "engine.data")):
            hits = [t for t in graph.find_modules_directly_imported_by(m) if t.startswith("engine.methods.")]
            assert hits == [], f"{m} imports {hits}"
