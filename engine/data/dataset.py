"""The dataset interface every reader implements, and fixed-N sampling + normalisation.

A ``Dataset`` has class names, named splits and per-sample access that reads lazily (a large
h5 file is never loaded whole just to show one sample). Readers subclass ``Split`` and implement
``_raw(i)``; sampling to N points and unit-sphere normalisation happen here, once, for all formats.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from engine.core.errors import DataError
from engine.core.types import PointCloud

SAMPLINGS = ("first", "random", "fps")


@dataclass(frozen=True)
class Loading:
    """How raw clouds become model inputs. ``points=None`` keeps every point."""

    points: int | None = None
    sampling: str = "first"       # first N, random N (seeded per sample), or farthest-point
    normalize: bool = True        # centre on the mean, divide by the max norm (pc_normalize)
    seed: int = 0
    # Column layout of ASCII tables ("x,y,z,r,g,b,label", engine/data/columns.py); None: read
    # the header, else guess. Other formats ignore it.
    columns: str | None = None

    def __post_init__(self):
        if self.sampling not in SAMPLINGS:
            raise DataError(f"sampling '{self.sampling}' is unknown; use one of {', '.join(SAMPLINGS)}.")
        if self.points is not None and self.points < 1:
            raise DataError(f"points = {self.points} must be at least 1.")


@dataclass
class RawSample:
    points: np.ndarray
    label: int
    normals: np.ndarray | None = None
    part_ids: np.ndarray | None = None
    source: str = ""
    colors: np.ndarray | None = None                          # (N, 3) uint8
    fields: dict[str, np.ndarray] = field(default_factory=dict)   # name -> (N,)


def farthest_point_indices(points: np.ndarray, m: int, start: int = 0) -> np.ndarray:
    n = points.shape[0]
    idx = np.empty(m, dtype=np.int64)
    dist = np.full(n, np.inf)
    cur = start
    for i in range(m):
        idx[i] = cur
        dist = np.minimum(dist, ((points - points[cur]) ** 2).sum(1))
        cur = int(np.argmax(dist))
    return idx


def check_points(points: np.ndarray, where: str) -> np.ndarray:
    """Validate an (N, 3) cloud: finite numbers, at least one point. Returns float32."""
    arr = np.asarray(points)
    if arr.ndim != 2 or arr.shape[1] < 3:
        raise DataError(f"{where}: expected points of shape (N, 3), got {arr.shape}.",
                        hint="Check that the file holds x y z columns.")
    arr = arr[:, :3]
    if arr.shape[0] == 0:
        raise DataError(f"{where}: the cloud is empty (0 points).", hint="Remove or fix this sample.")
    if not np.issubdtype(arr.dtype, np.number):
        raise DataError(f"{where}: point coordinates are not numbers (dtype {arr.dtype}).")
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        raise DataError(f"{where}: {int(bad.sum())} of {arr.shape[0]} points have NaN or Inf coordinates.",
                        hint="Clean the file (drop those points) and open it again.")
    return arr.astype(np.float32, copy=False)


def sample_indices(points: np.ndarray, m: int | None, sampling: str, seed: int, index: int) -> np.ndarray | None:
    """Which points sample ``index`` keeps when cut to ``m`` (None: all of them, unchanged).

    The one rule of the loader (the viewer shows the same points the model saw): the first m,
    farthest-point sampling from point 0, or a random draw seeded by (seed, index), with
    replacement only when the cloud has fewer than m points.
    """
    n0 = points.shape[0]
    if m is None or m == n0:
        return None
    if sampling == "first" and n0 >= m:
        return np.arange(m)
    if sampling == "fps" and n0 >= m:
        return farthest_point_indices(points.astype(np.float64), m)
    rng = np.random.default_rng((seed, index))
    return rng.choice(n0, m, replace=n0 < m)


def normalise_points(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(points centred on their mean and divided by the largest norm, centre, scale)."""
    centre = points.mean(0)
    scale = float(np.linalg.norm(points - centre, axis=1).max())
    if scale <= 0:
        scale = 1.0  # all points identical: centre only
    return ((points - centre) / scale).astype(np.float32), centre, scale


def prepare(raw: RawSample, loading: Loading, index: int) -> PointCloud:
    """Sample to N points and normalise; record what was done on the PointCloud."""
    pts = check_points(raw.points, raw.source or f"sample {index}")
    n0 = pts.shape[0]
    if n0 < 2:  # nothing to normalise or sample from: a model input needs a shape
        raise DataError(f"{raw.source or f'sample {index}'}: the cloud has a single point.",
                        hint="A sample needs at least 2 points; remove or fix it.")
    sel = sample_indices(pts, loading.points, loading.sampling, loading.seed, index)
    take = (lambda a: a if a is None or sel is None else a[sel])
    pts = take(pts)
    centre = np.zeros(3, np.float32)
    scale = 1.0
    if loading.normalize:
        pts, centre, scale = normalise_points(pts)
    return PointCloud(points=np.ascontiguousarray(pts, dtype=np.float32), label=int(raw.label),
                      normals=take(raw.normals), part_ids=take(raw.part_ids), source=raw.source,
                      colors=take(raw.colors), fields={k: take(v) for k, v in (raw.fields or {}).items()},
                      centre=tuple(float(c) for c in centre), scale=scale, original_count=n0)


class Split(Sequence[PointCloud]):
    """One split of a dataset. Subclasses implement ``__len__``, ``_raw`` and ``labels``."""

    def __init__(self, name: str, loading: Loading):
        self.name = name
        self.loading = loading

    def __len__(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def labels(self) -> np.ndarray:  # pragma: no cover - abstract
        """All labels of the split as int64 (cheap: no point data read)."""
        raise NotImplementedError

    def _raw(self, i: int) -> RawSample:  # pragma: no cover - abstract
        raise NotImplementedError

    def source_name(self, i: int) -> str:
        return f"{self.name}/{i}"

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"sample {i} is out of range: split '{self.name}' has {n} samples")
        i = i % n
        return prepare(self._raw(i), self.loading, i)

    def arrays(self, limit: int | None = None, indices: Sequence[int] | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """Stack samples into (n, N, 3) float32 and (n,) int64; needs a fixed point count."""
        if self.loading.points is None:
            raise DataError("arrays() needs a fixed point count: open the dataset with points=N.")
        idx = list(indices) if indices is not None else list(range(len(self) if limit is None else min(limit, len(self))))
        x = np.empty((len(idx), self.loading.points, 3), np.float32)
        y = np.empty(len(idx), np.int64)
        for k, i in enumerate(idx):
            c = self[i]
            x[k], y[k] = c.points, c.label
        return x, y


@dataclass
class Dataset:
    """A dataset: format, class names (label order), splits, where it came from."""

    path: str
    format: str
    classes: list[str]
    splits: dict[str, Split]
    loading: Loading
    info: dict = field(default_factory=dict)   # extra facts for `data info` (e.g. points per sample)

    def split(self, name: str) -> Split:
        if name not in self.splits:
            raise DataError(f"{self.path}: no split '{name}'; this dataset has {', '.join(self.splits) or 'none'}.")
        return self.splits[name]

    @property
    def counts(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.splits.items()}

    def class_name(self, label: int) -> str:
        return self.classes[label] if 0 <= label < len(self.classes) else f"class {label}"
