"""A tiny, fast job of every method: the self-test, the contract tests and the docs run these.

Torch-free. ``inputs(points, label)`` builds the job's inputs from one cloud (and its label);
``model`` is a checkpoint spec (the bundled demo models), ``params`` keep each job to seconds.
A method without an example fails the contract test: a new method adds one line here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

DATA = "builtin"


@dataclass(frozen=True)
class Example:
    inputs: Callable[[np.ndarray, int | None], dict]
    params: dict = field(default_factory=dict)
    model: str | None = None


def _mirror(points: np.ndarray) -> np.ndarray:
    """A second cloud of the same size for 'mix' (the cloud mirrored in x and reversed)."""
    return np.ascontiguousarray(points[::-1] * np.array([-1.0, 1.0, 1.0], np.float32))


FLOW = {"steps": 2, "points": 64, "init_objects": 2, "stats_per_class": 2, "fid_reals": 4,
        "preview_every": 1, "fid_layers": "global"}
TRAIN = {"epochs": 1, "points": 64, "limit": 20, "batch_size": 10}

EXAMPLES: dict[str, Example] = {
    "inspect": Example(lambda p, y: {"points": p, "label": y}, model="demo:pointnet"),
    "predict-subset": Example(lambda p, y: {"points": p, "indices": np.arange(0, len(p), 2)},
                              {"mode": "without"}, "demo:pointnet"),
    "deletion-curve": Example(lambda p, y: {"points": p, "scalar": np.linalg.norm(p, axis=1)},
                              {"steps": 4, "random_orders": 1}, "demo:pointnet"),
    "pointmask-explain": Example(lambda p, y: {"points": p, "label": y},
                                 {"threshold": 0.5, "model_threshold": False}, "demo:pointmask"),
    "parae-explain": Example(lambda p, y: {"points": p}, {"resolution": 16}, "demo:parae"),
    "serp-explain": Example(lambda p, y: {"points": p}, {"centres": 2, "neighbours": 8}, "demo:serp-pointnet"),
    "mix": Example(lambda p, y: {"a": p, "b": _mirror(p)}, {"method": "sagemix"}, "demo:pointnet"),
    "probe": Example(lambda p, y: {"data": DATA}, {"limit": 20, "points": 64, "tsne": False, "batch_size": 10},
                     "demo:parae"),
    "evaluate": Example(lambda p, y: {"data": DATA}, {"limit": 10, "points": 64}, "demo:pointnet"),
    "robustness": Example(lambda p, y: {"data": DATA}, {"checkpoints": "demo:pointnet", "limit": 5, "points": 64,
                                                        "corruptions": "noise:0.01"}),
    "train": Example(lambda p, y: {"data": DATA}, {"model": "pointnet", "width": 0.125, **TRAIN}),
    "finetune-compare": Example(lambda p, y: {"data": DATA}, TRAIN, "demo:serp-pointnet"),
    "bias-lab": Example(lambda p, y: {"data": DATA}, {"levels": "1", "models": "pointnet", "width": 0.125,
                                                      "classes": "0,1", **TRAIN}),
    "flowam": Example(lambda p, y: {"data": DATA, "target": 0}, FLOW, "demo:pointnet"),
    "flowam-sanity": Example(lambda p, y: {"data": DATA, "target": 0},
                             {**FLOW, "part": "dropout", "levels": "0,0.5", "accuracy_per_class": 1},
                             "demo:pointnet"),
    "flow-layers": Example(lambda p, y: {"data": DATA},
                           {**FLOW, "layers": "aliases", "pairs": 1, "per_class": 2, "explanations": "vanilla"},
                           "demo:pointnet"),
    "occlusion": Example(lambda p, y: {"points": p}, {"patches": 8, "patch_size": 16}, "demo:pointnet"),
}


def example(key: str) -> Example:
    from engine.core.errors import RegistryError

    try:
        return EXAMPLES[key]
    except KeyError:
        raise RegistryError(f"method '{key}' has no example: add one to engine/specs/examples.py.") from None
