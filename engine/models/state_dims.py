"""Reading a model's settings off a state dict's tensor shapes (shared by the layout recognisers)."""
from __future__ import annotations

import torch


def dim_of(state: dict[str, torch.Tensor], *candidates: tuple[str, int]) -> int | None:
    """Size of dimension ``d`` of the first ``(key, d)`` present, or None: a shape can be read
    from several tensors, so one missing key still leaves the report to name it."""
    for key, d in candidates:
        t = state.get(key)
        if isinstance(t, torch.Tensor) and t.dim() > d:
            return int(t.shape[d])
    return None
