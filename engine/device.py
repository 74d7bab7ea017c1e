"""Pick the compute device at run time: "cpu" (default), "cuda", "cuda:N" or "mps".

Nothing is chosen at import time, so the same code and checkpoints run on a laptop without a GPU
and on a GPU machine; asking for a device that is not there is a ParameterError saying what is.
"""
from __future__ import annotations

import re

from engine.core.errors import ParameterError

_CUDA = re.compile(r"^cuda(?::(\d+))?$")


def _cuda_count() -> int:
    import torch

    try:
        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    except Exception:  # a broken driver counts as no GPU, not as a crash
        return 0


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    try:
        return bool(backend is not None and backend.is_available())
    except Exception:
        return False


def available_devices() -> list[str]:
    """Every device this machine can run on, "cpu" first: ["cpu", "cuda:0", ..., "mps"]."""
    out = ["cpu"]
    out += [f"cuda:{i}" for i in range(_cuda_count())]
    if _mps_available():
        out.append("mps")
    return out


def resolve_device(name: str | None = "cpu"):
    """Turn a device name into a ``torch.device``; unavailable or malformed names are an error."""
    import torch

    if name is None or (isinstance(name, str) and name.strip() == ""):
        name = "cpu"
    if isinstance(name, torch.device):
        name = str(name)
    text = str(name).strip().lower()
    have = ", ".join(available_devices())
    if text == "cpu":
        return torch.device("cpu")
    m = _CUDA.match(text)
    if m:
        count = _cuda_count()
        if count == 0:
            raise ParameterError(f"device '{name}': no CUDA GPU is available on this machine.",
                                 hint=f"Use one of: {have}.")
        index = int(m.group(1) or 0)
        if index >= count:
            raise ParameterError(f"device '{name}': this machine has {count} CUDA GPU(s) "
                                 f"(cuda:0..cuda:{count - 1}).", hint=f"Use one of: {have}.")
        return torch.device("cuda", index)
    if text == "mps":
        if not _mps_available():
            raise ParameterError(f"device '{name}': Apple MPS is not available on this machine.",
                                 hint=f"Use one of: {have}.")
        return torch.device("mps")
    raise ParameterError(f"device '{name}' is not a device name.",
                         hint=f"Use cpu, cuda, cuda:N or mps; available here: {have}.")
