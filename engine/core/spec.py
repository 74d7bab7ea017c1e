"""What a method IS, declared without torch: its parameters, inputs, model needs and products.

A ``MethodSpec`` is plain data. The GUI builds its forms from it, the CLI its options, the tests
their contract cases, and the catalog checks every job against it before any implementation runs.
Implementations (which may import torch) register against a spec with ``core.method.implements``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

# What an input holds (`pointlens run` gives the kinds it can read from the command line).
INPUT_KINDS = {
    "points": "an (N, 3) float array: one cloud",
    "labels": "an (N,) int array or one int",
    "label": "one class index",
    "dataset": "a dataset spec (path or 'builtin') or an open Dataset",
    "index": "a sample index in a split",
    "split": "a split name",
    "count": "a number of points",
    "target": "a class index or name",
    "scalar": "an (N,) float array over the points",
    "indices": "an int array of point indices",
    "arrays": "a test set or other in-memory arrays",
    "names": "class names",
    "text": "free text",
    "any": "a method-specific value",
}
# What the viewer may draw from a result.
LAYER_KINDS = ("points", "scalar", "selection", "ellipsoids", "surface", "vectors", "curve", "table")


@dataclass(frozen=True)
class Input:
    name: str
    kind: str
    required: bool = False
    help: str = ""

    def __post_init__(self) -> None:
        if self.kind not in INPUT_KINDS:
            raise ValueError(f"input '{self.name}': unknown kind '{self.kind}'")


@dataclass(frozen=True)
class MethodSpec:
    """A method's declaration. ``key`` names it in jobs, the CLI and saved results."""

    key: str
    title: str
    family: str
    params: type                      # a frozen dataclass of core.params.param fields
    inputs: tuple[Input, ...] = ()
    needs_model: bool = False         # the job's ``model`` (a checkpoint) goes to the implementation
    model_required: bool = True       # with needs_model: off = the model is optional (None passed)
    model_kinds: tuple[str, ...] = ()  # model keys it accepts; () = any classifier
    uses_device: bool = False         # the job's ``device`` is passed to the implementation
    produces: str = ""                # Result.kind
    arrays: tuple[str, ...] = ()      # result arrays that are always there
    layers: tuple[str, ...] = ()      # what the viewer draws from it (LAYER_KINDS)
    help: str = ""

    def __post_init__(self) -> None:
        if not (dataclasses.is_dataclass(self.params) and self.params.__dataclass_params__.frozen):
            raise TypeError(f"spec '{self.key}': params must be a frozen dataclass")
        names = [i.name for i in self.inputs]
        if len(set(names)) != len(names):
            raise ValueError(f"spec '{self.key}': an input is declared twice")
        bad = [k for k in self.layers if k not in LAYER_KINDS]
        if bad:
            raise ValueError(f"spec '{self.key}': unknown layer kinds {bad}")

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(i.name for i in self.inputs)

    def defaults(self) -> Any:
        return self.params()
