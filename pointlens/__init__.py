"""PointLens for notebooks and scripts.

    import pointlens as pl
    ds = pl.open_dataset("builtin", points=256)
    m = pl.load_checkpoint("demo:pointnet")
    r = pl.explain("occlusion", m, ds[0], patches=8)
    r.arrays["importance"]; r.metrics; r.to_pyvista(); r.plot(screenshot="o.png"); r.save("o.h5")
    pl.show(r)                                   # the GUI on it

Its own package, beside ``engine`` and ``viewer``: it composes the engine with pyvista (for
``to_pyvista`` and ``plot``) and the GUI (``show``), and the engine may not import pyvista nor
the viewer. pyvista is imported on first use; ``import pointlens`` costs what ``import engine``
does (no torch, no VTK). Neither engine nor viewer imports this package (import-linter).
"""
from __future__ import annotations

from engine import DataError, EngineError, ParameterError
from pointlens.api import explain, load_checkpoint, load_result, methods, open_dataset
from pointlens.dataset import Dataset
from pointlens.result import Result
from pointlens.show import show, show_command

__version__ = "0.1.0"
__all__ = ["DataError", "Dataset", "EngineError", "ParameterError", "Result", "explain", "load_checkpoint", "load_result", "methods", "open_dataset",
           "show", "show_command"]
