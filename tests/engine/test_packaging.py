"""The bundle's contents without building it: packaging/bundle_contents.py (the lists), the spec run
against a stand-in for PyInstaller, `make package LIGHT=1`, and the engine in a light bundle
(numba and llvmlite missing: the assignment still finds the optimum, and says it fell back)."""
from __future__ import annotations

import ast
import os
import runpy
import shutil
import subprocess
import sys
import tomllib
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"
sys.path.insert(0, str(PACKAGING))
import bundle_contents as bc  # noqa: E402

sys.path.remove(str(PACKAGING))
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
LIGHT_ONLY = {"numba", "llvmlite", "imageio_ffmpeg"}


def _top(name: str) -> str:
    return name.split(".")[0]


# ---- the lists ---------------------------------------------------------------------------------
def test_light_plan_leaves_out_ffmpeg_and_the_kernels_and_says_so():
    full, light = bc.plan(False), bc.plan(True)
    assert not LIGHT_ONLY & set(full.excludes) and full.lacks == ()
    assert set(light.excludes) == set(full.excludes) | LIGHT_ONLY
    assert [p.key for p in light.lacks] == ["ffmpeg", "numba"]
    assert bc.lacks_text(full, "9.9").splitlines() == ["PointLens 9.9, full bundle: it lacks nothing."]
    lines = bc.lacks_text(light, "9.9").splitlines()
    assert lines[0].startswith("PointLens 9.9, light bundle") and len(lines) == 4
    assert lines[1].startswith("ffmpeg: MP4 movie export") and ".gif" in lines[1]
    assert lines[2].startswith("numba: ") and "exact solver" in lines[2]


def test_every_build_holds_our_packages_and_the_laz_reader():
    """The packages pyproject.toml installs (engine, viewer, pointlens) are all collected whole,
    and laspy+lazrs (declared dependencies) are collected, never excluded."""
    installed = {p.rstrip("*") for p in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]}
    deps = {d.split(">")[0].split("=")[0].split("<")[0].strip().lower() for d in PYPROJECT["project"]["dependencies"]}
    for light in (False, True):
        p = bc.plan(light)
        assert set(p.own_packages) == installed == {"engine", "viewer", "pointlens"}
        assert {"laspy", "lazrs"} <= set(p.runtime_packages) <= deps
        assert not {_top(m) for m in p.excludes} & (installed | {"laspy", "lazrs", "matplotlib"})


@pytest.mark.parametrize("value, light", [(None, False), ("", False), ("0", False), ("1", True), ("yes", True)])
def test_light_switch(value, light):
    assert bc.is_light(value) is light


def test_light_switch_rejects_nonsense():
    with pytest.raises(SystemExit, match=r"LIGHT='2' is not 1 or 0"):
        bc.is_light("2")


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(module, imported inside a function) for every import statement of a source file."""
    found = []

    def walk(node, in_function):
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.Import):
                found.extend((a.name, in_function) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                found.append((child.module, in_function))
            walk(child, inner)

    walk(ast.parse(path.read_text(), str(path)), False)
    return found


def test_no_module_the_app_imports_is_left_out():
    """Every import in engine/, viewer/ and pointlens/ against the exclusions: none of them is
    left out of a full bundle (pyvista only for pointlens' notebook helpers, see
    bundle_contents.EXCLUDES), and a light bundle's missing modules are imported lazily, inside
    functions, so everything else still loads."""
    excluded = set(bc.plan(False).excludes)
    allowed = {("pointlens", "pyvista")}             # Result.to_pyvista / plot, notebooks only
    light_importers = set()
    for pkg in bc.OWN_PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            for module, lazy in _imports(path):
                parts = module.split(".")
                hit = [m for m in excluded if parts[:len(m.split("."))] == m.split(".")]
                assert not hit or (pkg, _top(module)) in allowed, f"{path.relative_to(ROOT)} imports {module}, excluded"
                if _top(module) in LIGHT_ONLY:
                    assert lazy, f"{path.relative_to(ROOT)} imports {module} at module level: a light bundle cannot load it"
                    light_importers.add(path.relative_to(ROOT).as_posix())
    assert {"engine/ops/auction.py", "engine/ops/simd_scan.py"} <= light_importers   # the scan reads something


# ---- the spec, run against a stand-in for PyInstaller -----------------------------------------
class _Analysis:
    last: dict = {}

    def __init__(self, scripts, **kw):
        _Analysis.last = kw
        self.binaries, self.datas, self.pure, self.scripts = [], [], [], scripts


def _run_spec(tmp_path: Path, monkeypatch, light: str | None) -> tuple[dict, Path, str]:
    hooks = types.ModuleType("PyInstaller.utils.hooks")
    hooks.collect_submodules = lambda pkg: [pkg, f"{pkg}.sub"]
    for name, mod in [("PyInstaller", types.ModuleType("PyInstaller")),
                      ("PyInstaller.utils", types.ModuleType("PyInstaller.utils")), ("PyInstaller.utils.hooks", hooks)]:
        monkeypatch.setitem(sys.modules, name, mod)
    dist = tmp_path / "dist"

    def collect(*args, name, **kw):
        (dist / name).mkdir(parents=True)

    if light is None:
        monkeypatch.delenv("LIGHT", raising=False)
    else:
        monkeypatch.setenv("LIGHT", light)
    monkeypatch.setattr(sys, "path", list(sys.path))
    spec_globals = {"SPECPATH": str(PACKAGING), "workpath": str(tmp_path / "build"), "DISTPATH": str(dist),
                    "Analysis": _Analysis, "PYZ": lambda *a, **k: None, "EXE": lambda *a, **k: None,
                    "COLLECT": collect}
    runpy.run_path(str(PACKAGING / "pointlens.spec"), init_globals=spec_globals)
    return _Analysis.last, dist / "pointlens" / bc.LACKS_FILE, (tmp_path / "build" / bc.LACKS_FILE).read_text()


@pytest.mark.parametrize("light", [None, "1"])
def test_spec_builds_from_the_plan_and_writes_what_the_bundle_lacks(tmp_path, monkeypatch, capsys, light):
    kw, top_file, collected = _run_spec(tmp_path, monkeypatch, light)
    plan = bc.plan(light == "1")
    assert kw["excludes"] == list(plan.excludes)
    assert {"pointlens", "pointlens.sub", "lazrs", "laspy", "engine", "viewer"} <= set(kw["hiddenimports"])
    assert (str(tmp_path / "build" / bc.LACKS_FILE), ".") in kw["datas"]      # -> _internal/ (sys._MEIPASS)
    assert top_file.read_text() == collected == bc.lacks_text(plan, bc.project_version())
    printed = capsys.readouterr().out
    assert f"built the {plan.name} bundle" in printed and collected in printed
    assert ("ffmpeg: " in collected) is (light == "1")


def test_make_package_passes_light_to_the_spec():
    make = shutil.which("make")
    if make is None:
        pytest.skip("no make here")
    for args, want in ([["LIGHT=1"], "LIGHT=1 "], [[], "LIGHT= "]):
        out = subprocess.run([make, "-n", "-o", ".venv/.bootstrapped", "package", *args], cwd=ROOT,
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        (line,) = [ln for ln in out.stdout.splitlines() if "pyinstaller" in ln]
        assert line.startswith(want) and line.endswith("packaging/pointlens.spec")


def test_dry_run_lists_both_builds():
    def run(*args, env=None):
        return subprocess.run([sys.executable, str(PACKAGING / "bundle_contents.py"), *args], capture_output=True,
                              text=True, timeout=60, check=True, env={**os.environ, "LIGHT": "", **(env or {})}).stdout

    full, light = run(), run("--light")
    assert run(env={"LIGHT": "1"}) == light
    assert full.splitlines()[0].startswith("bundle: full build") and light.splitlines()[0].startswith("bundle: light build")
    for out in (full, light):
        assert "packages, every module: engine viewer pointlens" in out and "lazrs" in out
    left_out = {k: set(o.split("left out: ")[1].splitlines()[0].split()) for k, o in (("full", full), ("light", light))}
    assert left_out["light"] - left_out["full"] == LIGHT_ONLY


# ---- the engine in a light bundle --------------------------------------------------------------
_WITHOUT_KERNELS = r"""
import sys, json
import numpy as np

class NotInThisBundle:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("numba", "llvmlite"):
            raise ModuleNotFoundError(f"No module named {name!r}")

sys.meta_path.insert(0, NotInThisBundle())
from engine.ops.assignment import assign_pair
from engine.ops import auction, fallbacks

a, b = np.array(json.loads(sys.argv[1])), np.array(json.loads(sys.argv[2]))
perm, cost = assign_pair(a, b, "auction")
print(json.dumps({"perm": perm.tolist(), "cost": cost, "available": auction.available(),
                  "fallbacks": fallbacks.kernel_fallbacks(), "numba": "numba" in sys.modules}))
"""


def test_engine_without_numba_finds_the_optimum_and_reports_the_fallback(tmp_path):
    """Two 3-point clouds: a on the x axis at 0, 1, 2 and b the same points shifted by 0.1 in y
    and listed in reverse. The optimal pairing matches equal x (cost 3 x 0.1); any other pairing
    costs more than 1. Without numba the auction request must still return it."""
    import json

    a = [[0, 0, 0], [1, 0, 0], [2, 0, 0]]
    b = [[2, 0.1, 0], [1, 0.1, 0], [0, 0.1, 0]]
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", _WITHOUT_KERNELS, json.dumps(a), json.dumps(b)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["perm"] == [2, 1, 0] and got["cost"] == pytest.approx(0.3)
    assert got["available"] is False and got["numba"] is False
    (why,) = got["fallbacks"]
    assert "exact solver" in why and "No module named 'numba'" in why
    assert "exact solver" in out.stderr                                  # logged as well


# ---- make smoke on a light bundle --------------------------------------------------------------
def _fake_bundle(tmp_path: Path, lacks: str | None, failing: list[str]) -> Path:
    """A bundle folder whose `pointlens` prints self-test lines as viewer/selftest.py does (one
    FAIL per name in ``failing``), writes the screenshot and exits 1 when anything failed."""
    bundle = tmp_path / "bundle"
    (bundle / "_internal").mkdir(parents=True)
    checks = ["mix", "viewer:plots", *failing]
    lines = [f"self-test {'FAIL' if c in failing else 'ok  '} {c:<18}    0.1 s  msg" for c in checks]
    lines.append(f"self-test {'FAILED' if failing else 'PASSED'}: {len(checks) - len(failing)}/{len(checks)} checks ok")
    app = bundle / "pointlens"
    app.write_text("#!/bin/sh\n"
                   'while [ $# -gt 0 ]; do [ "$1" = --screenshot ] && echo png > "$2"; shift; done\n'
                   + "".join(f"echo '{ln}'\n" for ln in lines) + f"exit {1 if failing else 0}\n")
    app.chmod(0o755)
    if lacks is not None:
        (bundle / bc.LACKS_FILE).write_text(lacks)
    return bundle


@pytest.mark.parametrize("light, failing, passed", [
    (True, ["viewer:ffmpeg", "engine:auction"], True),       # only what a light bundle lacks
    (True, ["viewer:ffmpeg", "viewer:image"], False),        # something else broke
    (False, ["viewer:ffmpeg"], False),                       # a full bundle must pass every check
    (False, [], True),
])
def test_smoke_accepts_only_the_checks_a_light_bundle_lacks(tmp_path, light, failing, passed):
    if shutil.which("timeout") is None or shutil.which("du") is None:
        pytest.skip("needs coreutils")
    bundle = _fake_bundle(tmp_path, bc.lacks_text(bc.plan(light), "0.1.0"), failing)
    env = {**os.environ, "DISPLAY": ":0"}
    env.pop("SMOKE_XVFB", None)
    out = subprocess.run(["bash", str(PACKAGING / "smoke"), str(bundle), str(tmp_path / "shot.png")],
                         capture_output=True, text=True, timeout=120, env=env)
    assert (out.returncode == 0) is passed, out.stdout + out.stderr
    assert ("smoke: PointLens 0.1.0, light bundle" in out.stdout) is light
    if passed and light:
        assert "PASSED for a light bundle" in out.stdout
