"""What a point/mesh file reader returns, and area-weighted sampling of triangle meshes.

Readers return a ``Geometry``: vertices and, for meshes, triangles (polygons are fan-triangulated
here). A mesh becomes a point cloud by sampling its surface uniformly: triangles are drawn with
probability proportional to their area, points uniformly inside each (the square-root
barycentric trick), normals are the sampled triangles' normals.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.core.errors import DataError

DEFAULT_MESH_POINTS = 2048  # points drawn from a mesh when Loading.points is None


@dataclass
class Geometry:
    vertices: np.ndarray                    # (V, 3) float64
    triangles: np.ndarray | None = None     # (F, 3) int64 indices into vertices; None for clouds
    normals: np.ndarray | None = None       # (V, 3) per-vertex normals of a cloud
    part_ids: np.ndarray | None = None      # (V,) per-vertex labels of a cloud (PLY 'label')
    # (V, 3) uint8 0..255: one convention for every format (files store 8-bit, 16-bit or 0..1
    # floats; engine/data/pointfields.py converts), and what a renderer takes as it is.
    colors: np.ndarray | None = None
    # Every other per-point scalar, (V,) each, by the file's own name (intensity, classification,
    # curvature, any unknown PLY/PCD property): kept so they can be shown, never interpreted.
    fields: dict[str, np.ndarray] = field(default_factory=dict)
    # How the reader interpreted the file where that was a guess (e.g. an ASCII table's columns):
    # shown by `data info` so a wrong guess is visible.
    notes: list[str] = field(default_factory=list)

    @property
    def is_mesh(self) -> bool:
        return self.triangles is not None and len(self.triangles) > 0


def fan(polygons: np.ndarray) -> np.ndarray:
    """(F, k) polygons -> (F*(k-2), 3) triangles (v0, vi, vi+1); exact for convex polygons."""
    polygons = np.asarray(polygons, dtype=np.int64)
    k = polygons.shape[1]
    if k == 3:
        return polygons
    tris = [np.stack([polygons[:, 0], polygons[:, i], polygons[:, i + 1]], axis=1) for i in range(1, k - 1)]
    return np.concatenate(tris, axis=0)


def triangulate(polygons: list, path) -> np.ndarray:
    """A list of index sequences of any length (>= 3) -> triangles; shorter ones are skipped."""
    by_len: dict[int, list] = {}
    for p in polygons:
        if len(p) >= 3:
            by_len.setdefault(len(p), []).append(p)
    if not by_len:
        return np.zeros((0, 3), np.int64)
    return np.concatenate([fan(np.asarray(v, dtype=np.int64)) for v in by_len.values()], axis=0)


def check_mesh(vertices: np.ndarray, triangles: np.ndarray, path) -> None:
    if vertices.shape[0] == 0:
        raise DataError(f"{path}: the mesh has no vertices.", hint="The file holds no geometry.")
    if triangles.size and (triangles.min() < 0 or triangles.max() >= vertices.shape[0]):
        bad = int(triangles.max()) if triangles.max() >= vertices.shape[0] else int(triangles.min())
        raise DataError(f"{path}: a face refers to vertex {bad}, but the file has {vertices.shape[0]} "
                        f"vertices (0..{vertices.shape[0] - 1}).", hint="The face list is corrupt or truncated.")
    if not np.isfinite(vertices).all():
        raise DataError(f"{path}: some vertex coordinates are NaN or Inf.",
                        hint="Repair the mesh in a mesh editor and save it again.")


def sample_surface(vertices: np.ndarray, triangles: np.ndarray, n: int, rng: np.random.Generator,
                   path="mesh") -> tuple[np.ndarray, np.ndarray]:
    """n points uniformly on the surface (area-weighted) and their triangle normals, float32."""
    v = np.asarray(vertices, np.float64)
    a, b, c = v[triangles[:, 0]], v[triangles[:, 1]], v[triangles[:, 2]]
    cross = np.cross(b - a, c - a)
    dbl_area = np.linalg.norm(cross, axis=1)
    total = dbl_area.sum()
    if not np.isfinite(total) or total <= 0:
        raise DataError(f"{path}: the mesh has zero surface area (all {len(triangles)} faces are degenerate).",
                        hint="Nothing can be sampled from it; check the file.")
    cdf = np.cumsum(dbl_area)
    pick = np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right")
    pick = np.minimum(pick, len(triangles) - 1)
    r1 = np.sqrt(rng.random(n))[:, None]
    r2 = rng.random(n)[:, None]
    pts = (1 - r1) * a[pick] + r1 * (1 - r2) * b[pick] + r1 * r2 * c[pick]
    nrm = cross[pick] / np.maximum(dbl_area[pick], 1e-300)[:, None]
    return pts.astype(np.float32), nrm.astype(np.float32)


def to_cloud(geom: Geometry, n: int | None, rng: np.random.Generator, path
             ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """A geometry as (points, normals, part_ids): meshes are sampled to n points (default 2048)."""
    if geom.is_mesh:
        check_mesh(geom.vertices, geom.triangles, path)
        pts, nrm = sample_surface(geom.vertices, geom.triangles, n or DEFAULT_MESH_POINTS, rng, path)
        return pts, nrm, None
    nrm = None if geom.normals is None else np.asarray(geom.normals, np.float32)
    return geom.vertices, nrm, geom.part_ids
