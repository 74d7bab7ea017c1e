"""Installing anywhere: the torch build bootstrap.sh picks (packaging/torch_build.sh, with a faked
nvidia-smi), the pinned constraints, the numba/llvmlite floors, logged kernel fallbacks, the licence
and the version. Nothing is installed here."""
from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
TORCH_BUILD = ROOT / "packaging" / "torch_build.sh"
BASH = shutil.which("bash")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _requirements() -> dict[str, Requirement]:
    return {Requirement(r).name.lower(): Requirement(r) for r in PYPROJECT["project"]["dependencies"]}


# ---- which torch build -------------------------------------------------------------------------
def _fake_bin(tmp_path: Path, nvidia_exit: int | None) -> Path:
    """A PATH folder with just what torch_build.sh uses, and nvidia-smi exiting ``nvidia_exit``
    (None: no nvidia-smi at all)."""
    d = tmp_path / "bin"
    d.mkdir()
    for tool in ("uname", "timeout"):
        if shutil.which(tool):
            (d / tool).symlink_to(shutil.which(tool))
    if nvidia_exit is not None:
        smi = d / "nvidia-smi"
        smi.write_text(f"#!/bin/sh\necho 'fake nvidia-smi'\nexit {nvidia_exit}\n")
        smi.chmod(0o755)
    return d


def _torch_build(tmp_path: Path, nvidia_exit: int | None, torch_build: str | None = None):
    env = {"PATH": str(_fake_bin(tmp_path, nvidia_exit)), "HOME": str(tmp_path)}
    if torch_build is not None:
        env["TORCH_BUILD"] = torch_build
    return subprocess.run([BASH, str(TORCH_BUILD)], env=env, capture_output=True, text=True, timeout=60)


pytestmark_linux = pytest.mark.skipif(sys.platform == "darwin", reason="macOS always gets PyPI's build")


@pytestmark_linux
@pytest.mark.parametrize("nvidia_exit, expected, why", [
    (0, "cuda", "nvidia-smi answered"),
    (1, "cpu", "nvidia-smi is installed but failed (exit 1)"),
    (None, "cpu", "no nvidia-smi on PATH"),
])
def test_torch_build_follows_nvidia_smi(tmp_path, nvidia_exit, expected, why):
    out = _torch_build(tmp_path, nvidia_exit)
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"{expected}\n"           # only the choice on stdout
    assert why in out.stderr                       # the reason on stderr


@pytestmark_linux
@pytest.mark.parametrize("nvidia_exit", [0, 1, None])
@pytest.mark.parametrize("choice", ["cpu", "cuda"])
def test_torch_build_env_overrides(tmp_path, nvidia_exit, choice):
    out = _torch_build(tmp_path, nvidia_exit, choice)
    assert (out.returncode, out.stdout) == (0, f"{choice}\n"), out.stderr
    assert f"TORCH_BUILD={choice}" in out.stderr


def test_torch_build_rejects_unknown_choice(tmp_path):
    out = _torch_build(tmp_path, 0, "rocm")
    assert out.returncode == 2 and out.stdout == ""
    assert "TORCH_BUILD='rocm' is not cpu or cuda" in out.stderr


def test_bootstrap_uses_the_choice_and_the_constraints():
    """bootstrap.sh: keeps an installed torch, asks torch_build.sh otherwise, takes the CPU index
    with a fallback to the plain registry, and installs the project with the constraints."""
    text = (ROOT / "packaging" / "bootstrap.sh").read_text()
    subprocess.run([BASH, "-n", str(ROOT / "packaging" / "bootstrap.sh")], check=True)
    assert "import torch" in text and "is installed: kept" in text
    assert "packaging/torch_build.sh" in text
    assert "--index-url \"$CPU_INDEX\"" in text and "CPU_INDEX=https://download.pytorch.org/whl/cpu" in text
    fallback = text[text.index("--index-url \"$CPU_INDEX\""):]
    assert 'pip" install -q "$TORCH_SPEC"' in fallback       # the plain registry when the index fails
    assert '-e ".[dev]" -c packaging/constraints.txt' in text


# ---- the tested versions -----------------------------------------------------------------------
def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "packaging" / "constraints.txt").read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==(\S+)", line)
        assert m, f"constraints.txt: {line!r} is not NAME==VERSION"
        pins[m.group(1).lower().replace("_", "-")] = m.group(2)
    return pins


def test_constraints_pin_the_dependencies_but_not_torch():
    pins = _pins()
    assert not [n for n in pins if n in ("pointlens", "torch", "triton") or n.startswith(("nvidia-", "cuda-"))]
    for name, req in _requirements().items():
        if name == "torch":
            continue
        key = name.replace("_", "-")
        assert key in pins, f"constraints.txt does not pin {name} (make upgrade-deps)"
        assert req.specifier.contains(pins[key], prereleases=True), f"{name}=={pins[key]} is outside {req}"
    for dev in ("pytest", "pytest-qt", "import-linter"):
        assert dev in pins


def test_freeze_filter_drops_the_project_torch_and_cuda_wheels():
    freeze = ("attrs==26.1.0\n# Editable Git install with no remote (pointlens==0.1.0)\n-e /work/main\n"
              "numba==0.68.1\ntorch==2.13.0+cpu\nnvidia-cublas-cu12==12.8.4.1\ntriton==3.5.0\n"
              "cuda-bindings==12.9.4\npointlens==0.1.0\ntorchmetrics==1.0\nNumPy==2.4.6\n")
    out = subprocess.run([BASH, str(ROOT / "packaging" / "freeze_constraints.sh"), "-"], input=freeze,
                         capture_output=True, text=True, timeout=30, check=True).stdout
    assert out.split() == ["attrs==26.1.0", "numba==0.68.1", "torchmetrics==1.0", "NumPy==2.4.6"]


def test_make_upgrade_deps_is_a_target():
    make = shutil.which("make")
    if make is None:
        pytest.skip("no make here")
    out = subprocess.run([make, "-n", "-W", "pyproject.toml", "upgrade-deps"], cwd=ROOT, capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert "freeze_constraints.sh" in out.stdout and "--upgrade" in out.stdout
    assert "make upgrade-deps" in (ROOT / "README.md").read_text()


# ---- the kernels' floors and their fallbacks ---------------------------------------------------
def test_numba_llvmlite_floors_and_this_venv():
    from importlib.metadata import version

    reqs = _requirements()
    assert Version("0.44.99") not in reqs["llvmlite"].specifier        # pip never picks llvmlite 0.44
    assert reqs["llvmlite"].specifier.contains("0.45.0")
    assert Version("0.61.2") not in reqs["numba"].specifier and reqs["numba"].specifier.contains("0.62.0")
    assert reqs["llvmlite"].specifier.contains(version("llvmlite"))
    assert reqs["numba"].specifier.contains(version("numba"))


def test_vector_scan_builds_with_this_llvmlite():
    from engine.ops import simd_scan

    assert simd_scan.native_top2() is not None


@pytest.fixture
def fallbacks():
    from engine.ops import fallbacks

    saved = dict(fallbacks._SEEN)
    fallbacks._reset()
    yield fallbacks
    fallbacks._reset()
    fallbacks._SEEN.update(saved)


def test_vector_scan_fallback_is_logged_once_and_reported(fallbacks, monkeypatch, caplog):
    from engine.ops import simd_scan

    monkeypatch.setattr(simd_scan, "_IR", "define void @top2(i32* %x) { not ir }")
    with caplog.at_level(logging.WARNING, logger="pointlens"):
        assert simd_scan.native_top2.__wrapped__() is None
        assert simd_scan.native_top2.__wrapped__() is None
    warnings = [r for r in caplog.records if r.name == "pointlens" and "scalar scan" in r.getMessage()]
    assert len(warnings) == 1
    (found,) = fallbacks.kernel_fallbacks()
    assert "vector scan" in found and "scalar scan" in found
    out, lines = {}, ["time: 1 s"]
    fallbacks.report_fallbacks(out, lines)
    assert out["kernel_fallbacks"] == [found] and lines[-1].startswith("fallback:")
    assert fallbacks.with_fallbacks({}, "a")[1].splitlines() == ["a", lines[-1]]


def test_auction_fallback_to_exact_is_reported(fallbacks, monkeypatch, caplog):
    from engine.ops import auction

    def broken(cache):
        raise ImportError("no numba here")

    monkeypatch.setattr(auction, "_compile", broken)
    with caplog.at_level(logging.WARNING, logger="pointlens"):
        assert auction._compiled_kernels.__wrapped__() is None
    (found,) = fallbacks.kernel_fallbacks()
    assert "exact solver" in found and "no numba here" in found
    assert any("exact solver" in r.getMessage() for r in caplog.records)


def test_no_fallback_reported_when_all_kernels_build(fallbacks):
    out, lines = {}, []
    fallbacks.report_fallbacks(out, lines)
    assert out == {"kernel_fallbacks": []} and lines == []


# ---- licence and version -----------------------------------------------------------------------
def test_licence_is_mit_everywhere():
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert PYPROJECT["project"]["license"] == "MIT"
    assert "MIT" in (ROOT / "README.md").read_text().split("## Licence", 1)[1][:300]


def test_version_matches_pyproject():
    import engine

    assert engine.__version__ == PYPROJECT["project"]["version"]
    out = subprocess.run([sys.executable, "-m", "viewer.launch", "--version"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert (out.returncode, out.stdout) == (0, f"pointlens {engine.__version__}\n")
