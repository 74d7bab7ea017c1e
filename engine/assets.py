"""Where the bundled demo checkpoints live, and whether a checkpoint spec names a file.

numpy/torch-free, so the GUI thread can check a spec (``demo:<key>`` or a path) before it submits
a job; engine.models.checkpoints (which imports torch) resolves specs with the same functions.
"""
from __future__ import annotations

from pathlib import Path

# Every checkpoint file suffix PointLens opens (safetensors, and torch files read weights-only):
# one list for the loader, the file dialogs, drag and drop and the command line.
TORCH_SUFFIXES = (".pt", ".pth", ".t7", ".tar", ".ckpt", ".bin")
CHECKPOINT_SUFFIXES = (".safetensors",) + TORCH_SUFFIXES


def package_root() -> Path:
    """The folder holding ``engine/`` and ``assets/`` (the checkout or the unpacked app)."""
    return Path(__file__).resolve().parent.parent


def demo_path(key: str) -> Path:
    return package_root() / "assets" / f"demo_{key}.safetensors"


def checkpoint_problem(spec: str) -> str:
    """'' if ``spec`` names an existing checkpoint file or bundled demo, else what is wrong and
    what to do (one line)."""
    spec = spec.strip()
    if not spec:
        return "no checkpoint given: pick a file or a demo model (demo:KEY)."
    if spec.startswith("demo:"):
        path = demo_path(spec[5:])
        return "" if path.is_file() else (f"{spec}: assets/{path.name} is missing: build it with `make demo-models` "
                                          "(assets/make_demo_models.sh), or give another checkpoint.")
    return "" if Path(spec).expanduser().is_file() else f"checkpoint {spec} does not exist: fix the path."
