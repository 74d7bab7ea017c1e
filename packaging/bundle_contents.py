"""What the one-folder app holds, and what a light build (`make package LIGHT=1`) leaves out.

packaging/pointlens.spec builds from ``plan(light)``; run this file to see the lists without
building anything (a dry run):

    python packaging/bundle_contents.py            # the full bundle
    python packaging/bundle_contents.py --light    # what LIGHT=1 would build, and what it lacks

Pure Python (no PyInstaller, no project import), so the tests can check the lists cheaply.
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Collected module by module: registries, panels, CLI commands and extensions are imported by
# name (importlib), which PyInstaller's import scan cannot follow. `pointlens` (the Python API)
# is imported by neither engine nor viewer, so nothing would pull it in.
OWN_PACKAGES = ("engine", "viewer", "pointlens")

# Third-party packages reached only at run time, named so that a refactor of their importers
# cannot drop them silently: laspy loads lazrs (its LAZ decompressor) when a .laz is opened.
RUNTIME_PACKAGES = ("laspy", "lazrs")

# Left out of every build: not used by the app (checked by `pointlens --self-test`, which runs
# every method, and by tests/engine/test_packaging.py, which reads every import of engine/,
# viewer/ and pointlens/) or reached only by tests and tooling. matplotlib stays: `pointlens
# reproduce` draws its report's figure with it. pyvista goes although pointlens/ imports it: only
# Result.to_pyvista/plot use it, from a notebook, which a bundle (no Python prompt) never runs.
EXCLUDES = (
    "mpl_toolkits", "tkinter", "_tkinter", "pyvista", "pyvistaqt", "IPython",
    "pytest", "_pytest", "importlinter", "grimp", "setuptools", "pkg_resources", "distutils",
    "networkx", "pooch", "docutils", "sphinx", "notebook", "jupyter_client",
    # other Qt bindings that pyqtgraph / qtpy probe for
    "PyQt5", "PyQt6", "PySide2", "qtpy",
    # Qt modules the app does not import (pyqtgraph degrades gracefully without QtTest)
    "PySide6.QtNetwork", "PySide6.QtTest", "PySide6.QtDBus", "PySide6.QtQml", "PySide6.QtQuick",
    "PySide6.QtQuickWidgets", "PySide6.QtWebEngineCore", "PySide6.QtWebEngineWidgets",
    "PySide6.Qt3DCore", "PySide6.QtMultimedia", "PySide6.QtSql", "PySide6.QtXml",
    "PySide6.QtConcurrent", "PySide6.QtDesigner", "PySide6.QtHelp", "PySide6.QtUiTools",
    # torch pieces reached only by tests and tooling
    "torch.utils.benchmark", "torch.utils.tensorboard", "tensorboard",
    "numpy.tests", "scipy.tests",
)

# The file, at the top of the bundle and in its _internal/ folder (sys._MEIPASS, where the app can
# read it), that says which build this is and what it lacks.
LACKS_FILE = "bundle-lacks.txt"


@dataclass(frozen=True)
class OptionalPart:
    """A part of the full bundle that LIGHT=1 leaves out."""
    key: str                  # first word of its line in LACKS_FILE (for the app to look up)
    modules: tuple[str, ...]  # top-level modules excluded from the analysis
    what: str                 # what the part does
    without: str              # what happens in a bundle without it


OPTIONAL_PARTS = (
    OptionalPart("ffmpeg", ("imageio_ffmpeg",),
                 "MP4 movie export (imageio-ffmpeg and its ffmpeg program, about 165 MB)",
                 "saving a movie as .mp4 stops with a message; .gif movies still work"),
    OptionalPart("numba", ("numba", "llvmlite"),
                 "the compiled assignment kernels (numba and llvmlite, about 155 MB)",
                 "the SageMix/PointMixup assignment uses the exact solver (the same optimum, "
                 "slower); the fallback is logged and `train`/`mix` report it"),
)


@dataclass(frozen=True)
class Plan:
    light: bool
    own_packages: tuple[str, ...]
    runtime_packages: tuple[str, ...]
    excludes: tuple[str, ...]
    lacks: tuple[OptionalPart, ...]

    @property
    def name(self) -> str:
        return "light" if self.light else "full"


def is_light(value: str | None) -> bool:
    """LIGHT=1 (also yes/true) asks for a light build; unset, empty or 0 for the full one."""
    v = (value or "").strip().lower()
    if v in ("", "0", "no", "false"):
        return False
    if v in ("1", "yes", "true"):
        return True
    raise SystemExit(f"bundle_contents: LIGHT={value!r} is not 1 or 0 (make package LIGHT=1 builds "
                     "without ffmpeg and numba/llvmlite)")


def plan(light: bool) -> Plan:
    lacks = OPTIONAL_PARTS if light else ()
    excluded = tuple(m for part in lacks for m in part.modules)
    return Plan(light, OWN_PACKAGES, RUNTIME_PACKAGES, EXCLUDES + excluded, lacks)


def project_version() -> str:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def lacks_text(p: Plan, version: str) -> str:
    """The text of LACKS_FILE: the build, then one line per part it lacks ("KEY: ...")."""
    if not p.lacks:
        return f"PointLens {version}, full bundle: it lacks nothing.\n"
    lines = [f"PointLens {version}, light bundle (make package LIGHT=1). It lacks:"]
    lines += [f"{part.key}: {part.what}; {part.without}." for part in p.lacks]
    lines.append("Build the full bundle (make package) for these.")
    return "\n".join(lines) + "\n"


def dry_run(p: Plan, version: str) -> str:
    """What the spec would collect and leave out, as text (nothing is built)."""
    return "\n".join([
        f"bundle: {p.name} build of PointLens {version}",
        "packages, every module: " + " ".join(p.own_packages),
        "packages reached at run time: " + " ".join(p.runtime_packages),
        "left out: " + " ".join(p.excludes),
        f"{LACKS_FILE}:",
        *("  " + line for line in lacks_text(p, version).splitlines()),
    ])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="The bundle's contents (a dry run of packaging/pointlens.spec).")
    ap.add_argument("--light", action="store_true",
                    help="the light build (default: LIGHT from the environment, else full)")
    args = ap.parse_args(argv)
    p = plan(args.light or is_light(os.environ.get("LIGHT")))
    print(dry_run(p, project_version()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
