"""PointLens engine: data, models, methods and training. Headless: never imports Qt or VTK.

This package is the engine's one door for the viewer (besides the torch-free ``engine.specs`` and
``engine.numeric``): every name below loads its module on first use, so ``import engine`` stays
cheap (no torch) and the viewer can draw before torch has finished importing on the engine thread.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# name -> (module, attribute)
_EXPORTS: dict[str, tuple[str, str]] = {}


def _export(module: str, *names: str) -> None:
    for n in names:
        _EXPORTS[n] = (module, n)


# jobs: what to run, how it runs, what crosses the thread line
_export("engine.core.jobs", "Job", "drive", "run_sync")
_export("engine.catalog", "start", "run", "method_names", "model_options")
_export("engine.core.types", "PointCloud", "Progress", "Result")
_export("engine.core.errors", "EngineError", "DataError", "CheckpointError", "ParameterError",
        "ModelError", "RegistryError")
_export("engine.core.params", "describe")
# files: atomic writes, results, fingerprints, the bundled demo models
_export("engine.atomic", "atomic_path", "replace_durably", "temp_beside")
_export("engine.results", "save_result", "load_result", "read_result_group", "write_result_group",
        "to_json")
_EXPORTS["RESULT_FORMAT"] = ("engine.results", "FORMAT")
_export("engine.export", "export_points", "export_result")
_EXPORTS["EXPORT_FORMATS"] = ("engine.export", "FORMATS")
_export("engine.fingerprint", "file_fingerprint", "path_fingerprint")
_export("engine.inputs", "begin_command")
_export("engine.fsguard", "check_input")
_export("engine.assets", "demo_path", "checkpoint_problem", "CHECKPOINT_SUFFIXES")
# data and checkpoints
_export("engine.data.open", "open_dataset", "DATA_SUFFIXES")
_export("engine.data.h5safe", "open_h5")
_export("engine.data.dataset", "Loading", "SAMPLINGS", "sample_indices", "normalise_points")
_export("engine.data.mesh_surface", "mesh_surface", "MESH_SUFFIXES")
_export("engine.data.alphabet", "class_letter", "letter_anchor", "place_letter")
_EXPORTS["BUILTIN_CLASSES"] = ("engine.data.builtin_shapes", "CLASSES")
_export("engine.models.checkpoints", "load_checkpoint", "load_checkpoint_cached", "read_meta")
# what a user says about a checkpoint: its model, the model's options, its class names
_export("engine.models.checkpoint_options", "parse_classes", "parse_model_options", "named_classes",
        "with_dataset_classes")
_export("engine.models.checkpoint_choice", "CheckpointChoice", "classifier_models")
_export("engine.models.user_models", "load_model_file")     # runs the named file's code: user's choice
_export("engine.device", "available_devices")
_EXPORTS["warm_up_engine"] = ("engine.warm_up", "warm_up")   # the first job's imports, done ahead
# method helpers the viewer calls on its own thread (numpy in, numpy out)
_export("engine.methods.parae.explain", "grid_from_result", "feature_distances")
_export("engine.methods.pointmask.bias_inject", "inject_bias")
_EXPORTS["auction_available"] = ("engine.ops.auction", "available")
_EXPORTS["auction_assign"] = ("engine.ops.auction", "auction_assign")
# the papers' reproductions (Tools > Reproduce…): list, run or resume as one job, a folder's settings
_export("engine.reproduce.live", "reproduction_list", "run_reproduction", "reproduction_folder")
_EXPORTS["reproduction_number"] = ("engine.reproduce.table", "number")     # as report.md writes numbers
# the headless commands
_EXPORTS["cli_main"] = ("engine.cli", "main")
_EXPORTS["cli_parser"] = ("engine.cli", "build_parser")

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    try:
        module, attr = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'engine' has no attribute '{name}'") from None
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
