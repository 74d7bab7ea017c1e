"""Read named inner activations without editing the model: forward hooks, removed on exit."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Sequence

import torch

from engine.models.base import PointModel


@contextmanager
def tap(model: PointModel, names: Sequence[str], detach: bool = False) -> Iterator[dict[str, torch.Tensor]]:
    """Within the block, ``store[name]`` holds the latest output of each named layer.

    Names may be aliases ("fT1.fc1", "global") or module paths ("feat.stn.fc1"). Hooks are
    removed in ``finally`` even if the block raises or a generator using it is closed.
    """
    store: dict[str, torch.Tensor] = {}
    handles = []
    try:
        for name in names:
            module = model.resolve_layer(name)

            def hook(_m, _inp, out, _name=name):
                store[_name] = out.detach() if detach else out

            handles.append(module.register_forward_hook(hook))
        yield store
    finally:
        for h in handles:
            h.remove()
