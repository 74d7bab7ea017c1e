"""The data a training run sees: train/test arrays, class names, fingerprint, seeded batches.

Training data is held in memory as (n, N, 3) float32 (ModelNet40 at 1,024 points is 120 MB).
Input is a dataset spec (``builtin``, a path), an opened ``Dataset``, or in-memory arrays
``(X, y, classes)`` (tests, the GUI) with optional test arrays.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import numpy as np
import torch

from engine.core.errors import DataError, ParameterError
from engine.fingerprint import array_fingerprint


@dataclass
class TrainData:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    classes: list[str]
    fingerprint: str
    source: str
    info: dict = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.classes)


def spread_indices(n: int, limit: int | None) -> np.ndarray:
    """``limit`` indices spread evenly over 0..n-1 (all when limit is 0/None or >= n).

    Evenly spaced rather than the first ``limit``: many datasets are stored class by class, and
    the first samples would all be one class.
    """
    if not limit or limit >= n:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, int(limit)).round().astype(np.int64))


def _check_arrays(x: Any, y: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y).reshape(-1).astype(np.int64)
    if x.ndim != 3 or x.shape[-1] != 3:
        raise DataError(f"{where}: points must be (n, N, 3), got {x.shape}.")
    if x.shape[0] != y.shape[0]:
        raise DataError(f"{where}: {x.shape[0]} clouds but {y.shape[0]} labels.")
    if not np.isfinite(x).all():
        raise DataError(f"{where}: the points hold NaN or Inf values.", hint="Clean the data first.")
    return x, y


def load_train_data(data: Any, *, points: int, limit: int = 0, sampling: str = "random",
                    seed: int = 0, test: Any = None) -> TrainData:
    """Open ``data`` (spec, Dataset or arrays) and return its train and test splits in memory."""
    from engine.data import Dataset, Loading, open_dataset

    if isinstance(data, (tuple, list)):
        if len(data) not in (2, 3):
            raise ParameterError("in-memory training data must be (points, labels[, classes]).")
        x, y = _check_arrays(data[0], data[1], "training data")
        classes = list(data[2]) if len(data) == 3 and data[2] is not None else \
            [f"class {i}" for i in range(int(y.max()) + 1 if y.size else 0)]
        idx = spread_indices(len(y), limit)
        x, y = x[idx], y[idx]
        xt = yt = None
        if test is not None:
            xt, yt = _check_arrays(test[0], test[1], "test data")
            tidx = spread_indices(len(yt), limit)
            xt, yt = xt[tidx], yt[tidx]
        return _finish(x, y, xt, yt, classes, "arrays", {})
    if isinstance(data, Dataset):
        ds = data
    else:
        if not data:
            raise ParameterError("no training data given.", hint="Pass --data PATH or --data builtin.")
        ds = open_dataset(str(data), Loading(points=points, sampling=sampling, seed=seed))
    if "train" not in ds.splits:
        raise DataError(f"{ds.path}: no 'train' split to train on (splits: {', '.join(ds.splits)}).")
    tr = ds.split("train")
    x, y = tr.arrays(indices=spread_indices(len(tr), limit))
    xt = yt = None
    if "test" in ds.splits and len(ds.split("test")):
        te = ds.split("test")
        xt, yt = te.arrays(indices=spread_indices(len(te), limit))
    info = dict(ds.info)
    info.setdefault("format", ds.format)
    if ds.info.get("fingerprint"):
        info["dataset_fingerprint"] = ds.info["fingerprint"]
    return _finish(x, y, xt, yt, list(ds.classes), str(ds.path), info)


def _finish(x, y, xt, yt, classes, source, info) -> TrainData:
    if len(y) < 2:
        raise DataError(f"{source}: training needs at least 2 clouds, got {len(y)}.")
    k = len(classes)
    for name, lab in (("train", y), ("test", yt)):
        if lab is not None and lab.size and (lab.min() < 0 or lab.max() >= k):
            raise DataError(f"{source}: {name} labels run {lab.min()}..{lab.max()} but there are {k} classes.")
    fp = array_fingerprint(x, y) if xt is None else array_fingerprint(x, y, xt, yt)
    return TrainData(x, y, xt, yt, classes, fp, source, info)


def epoch_batches(n: int, batch_size: int, seed: int, epoch: int, rank: int = 0, world: int = 1,
                  shuffle: bool = True) -> list[np.ndarray]:
    """Index batches of one epoch: a permutation seeded by (seed, epoch), sharded over ranks.

    Every rank gets the same number of batches (DDP needs that); a last batch of one sample is
    dropped because batch norm cannot train on a single cloud.
    """
    order = np.random.default_rng([seed, epoch]).permutation(n) if shuffle else np.arange(n)
    per_rank = n // world
    mine = order[rank::world][:per_rank]
    batches = [mine[i:i + batch_size] for i in range(0, len(mine), batch_size)]
    if batches and len(batches[-1]) < 2:
        batches.pop()
    return batches


def tensor_batches(x: np.ndarray, y: np.ndarray, batch_size: int, device: torch.device
                   ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Consecutive batches (for evaluation), moved to ``device``."""
    for i in range(0, len(y), batch_size):
        yield (torch.from_numpy(x[i:i + batch_size]).to(device),
               torch.from_numpy(y[i:i + batch_size]).to(device))


def gather(x: np.ndarray, y: np.ndarray, idx: Sequence[int], device: torch.device
           ) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.from_numpy(x[idx]).to(device), torch.from_numpy(y[idx]).to(device)
