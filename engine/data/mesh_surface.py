"""The surface a mesh sample was drawn from, in the sample's own coordinates (for the viewer).

A sample of a mesh file is points drawn from its triangles, then centred and scaled
(``PointCloud.centre`` / ``.scale``). The viewer draws the triangles under those points, so it
needs the vertices moved by the same centre and scale. The file is usually still parsed in the
file cache (sampling just read it), so this is cheap. numpy only: the viewer turns it into VTK.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

# Formats whose files can hold faces; other sources (HDF5 rows, XYZ tables) are never meshes.
MESH_SUFFIXES = (".off", ".obj", ".ply", ".stl", ".vtk", ".vtp", ".vtu")


def mesh_surface(source: str, centre=(0.0, 0.0, 0.0), scale: float = 1.0
                 ) -> tuple[np.ndarray, np.ndarray] | None:
    """(vertices (V,3) float32, triangles (F,3) int64) of the mesh file ``source``, mapped as its
    samples were: ``(v - centre) / scale``. None when the source is no file or holds no faces."""
    path = Path(source) if source else None
    if path is None or path.suffix.lower() not in MESH_SUFFIXES or not path.is_file():
        return None
    from engine.data.files import CACHE   # the readers load on first use: `import engine` stays light

    geom = CACHE.get(path)
    if not geom.is_mesh:
        return None
    s = float(scale) if scale else 1.0
    vertices = (np.asarray(geom.vertices, np.float64) - np.asarray(centre, np.float64)) / s
    return vertices.astype(np.float32), np.asarray(geom.triangles, np.int64)
