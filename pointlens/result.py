"""A method's result in a notebook: numpy arrays, metrics, and the ways out of Python.

``to_pyvista`` and ``export`` take one cloud of the result with every per-point array of it, by
the rule the CLI's ``pointlens export`` uses (engine/export/result_clouds.py); ``save`` writes the
.h5 result file the GUI opens. pyvista is imported only by ``to_pyvista`` and ``plot``.
"""
from __future__ import annotations

import os
from typing import Any, Mapping

import numpy as np

from engine import Result as EngineResult


class Result:
    def __init__(self, result: EngineResult):
        self.engine_result = result

    @property
    def kind(self) -> str:
        return self.engine_result.kind

    @property
    def arrays(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(v) for k, v in self.engine_result.arrays.items()}

    @property
    def metrics(self) -> dict[str, Any]:
        return dict(self.engine_result.metrics)

    @property
    def params(self) -> Mapping[str, Any]:
        return dict(self.engine_result.params)

    @property
    def clouds(self) -> list[str]:
        """The clouds this result holds, the main one first (``cloud=`` below picks one)."""
        from engine.export import cloud_names

        return cloud_names(self.engine_result.arrays)

    def point_set(self, cloud: str | None = None):
        from engine.export import result_point_set

        return result_point_set(self.engine_result, cloud, source=f"'{self.kind}' result")

    def to_pyvista(self, cloud: str | None = None):
        """A ``pyvista.PolyData`` of one cloud (default the main one): a vertex per point, every
        per-point array as point data (an (N, K) array as K components), colours as ``colors``."""
        import pyvista as pv

        ps = self.point_set(cloud)
        poly = pv.PolyData(np.asarray(ps.points, dtype=np.float32))     # one vertex cell per point
        for name, values in ps.fields.items():
            poly.point_data[name] = values
        if ps.colors is not None:
            poly.point_data["colors"] = ps.colors
        return poly

    def plot(self, scalars: str | None = None, cloud: str | None = None, *, off_screen: bool = True,
             screenshot: str | os.PathLike | None = None, window_size=(600, 500), point_size: float = 8.0,
             **mesh_kwargs) -> np.ndarray:
        """Draw one cloud coloured by ``scalars`` (default its first per-point array) and return
        the image (H, W, 3); ``screenshot`` also writes it as a PNG."""
        import pyvista as pv

        poly = self.to_pyvista(cloud)
        names = [n for n in poly.point_data.keys() if n != "colors"]
        if scalars is not None and scalars not in poly.point_data:
            from engine import ParameterError

            raise ParameterError(f"'{self.kind}' result: no per-point array '{scalars}' on this cloud; "
                                 f"choose one of: {', '.join(names) or 'none'}.")
        scalars = scalars or (names[0] if names else None)
        plotter = pv.Plotter(off_screen=off_screen, window_size=list(window_size))
        try:
            plotter.add_mesh(poly, scalars=scalars, point_size=point_size, render_points_as_spheres=True,
                             **mesh_kwargs)
            plotter.add_text(f"{self.kind}: {scalars or 'points'}", font_size=10)
            image = plotter.show(screenshot=str(screenshot) if screenshot else None, return_img=True,
                                 auto_close=False)
        finally:
            plotter.close()
        return np.asarray(image)

    def save(self, path: str | os.PathLike) -> str:
        """The result file (HDF5) the GUI opens (File > Open result, or ``pl.show(path)``)."""
        from engine import save_result

        save_result(self.engine_result, path)
        return os.fspath(path)

    def export(self, path: str | os.PathLike, format: str | None = None, cloud: str | None = None) -> str:
        """One cloud with its per-point arrays as PLY, VTP, NPZ or CSV (``format`` or the
        extension); the same files as ``pointlens export``."""
        from engine import export_result

        export_result(self.engine_result, path, format, cloud=cloud, source=f"'{self.kind}' result")
        return os.fspath(path)

    def __repr__(self) -> str:
        arrays = ", ".join(f"{k} {tuple(np.shape(v))}" for k, v in self.engine_result.arrays.items())
        return f"<pointlens.Result {self.kind!r}: {arrays}>"
