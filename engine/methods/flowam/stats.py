"""Class statistics for Flow AM: class-average clouds and class-mean activations of real objects.

Average initialisation (paper section III-C: "We compute the average of the points in the test
set for all objects by category and utilize it as the input to Flow AM"). Clouds are unordered,
so averaging point i of every file averages unrelated points and collapses to a blob near the
origin. ``average_cloud(method="matched")`` therefore averages after putting the points in
correspondence: the free-support Wasserstein-2 barycentre with uniform weights (Cuturi & Doucet
2014), found by the fixed point "match every cloud one-to-one to the current template with the
Hungarian algorithm (scipy linear_sum_assignment on squared distances), average the matched
points, repeat". The template starts as the first cloud; a few rounds converge. ``"index"``
keeps the naive file-order average for comparison.

Class-mean activations omega_c^l (equation (3)): the mean over every test object of class c
of the tapped layer's output, with the model in eval mode (BatchNorm uses running statistics,
so an object's activation does not depend on its batch).

Both are cached in memory and on disk (platformdirs user cache, atomic npz writes), keyed by
the model's weights fingerprint, the dataset fingerprint, the point count and the settings.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections import OrderedDict
from pathlib import Path
from typing import Sequence

import numpy as np

from engine.atomic import atomic_path
from engine.data.dataset import Loading, prepare
from engine.core.errors import DataError, ParameterError
from engine.fingerprint import array_fingerprint, path_fingerprint

AVERAGE_METHODS = ("matched", "index")
_MEMORY: "OrderedDict[str, dict[str, np.ndarray]]" = OrderedDict()
_MEMORY_SIZE = 32


# ----------------------------------------------------------------------------- fingerprints


def model_fingerprint(model) -> str:
    """Fingerprint of a model's weights and buffers (so a dropped-out copy differs)."""
    h = hashlib.sha256()
    h.update(str(getattr(model, "key", type(model).__name__)).encode())
    for name, t in model.state_dict().items():
        h.update(name.encode())
        h.update(array_fingerprint(np.ascontiguousarray(t.detach().cpu().numpy())).encode())
    return h.hexdigest()[:16]


def dataset_fingerprint(dataset) -> str:
    """The dataset's own fingerprint, its files', or (in-memory data) its labels and first cloud."""
    info = getattr(dataset, "info", {}) or {}
    if info.get("fingerprint"):
        return str(info["fingerprint"])
    path = Path(str(dataset.path))
    if dataset.path and path.exists():
        return path_fingerprint(path)
    parts = [str(dataset.path), str(dataset.format), ",".join(dataset.classes)]
    arrays = []
    for name in sorted(dataset.splits):
        split = dataset.splits[name]
        parts.append(f"{name}:{len(split)}")
        arrays.append(np.ascontiguousarray(split.labels))
        if len(split):
            arrays.append(np.ascontiguousarray(split[0].points))
    return array_fingerprint(np.frombuffer("|".join(parts).encode(), np.uint8), *arrays)


def _key(kind: str, **fields) -> str:
    blob = json.dumps(fields, sort_keys=True, default=str)
    return f"{kind}-{hashlib.sha256(blob.encode()).hexdigest()[:20]}"


# ----------------------------------------------------------------------------- cache


def cache_dir() -> Path:
    """POINTLENS_FLOWAM_CACHE if set, else the app's cache folder (as the built-in dataset uses
    it; POINTLENS_CACHE_DIR overrides it) + /flowam."""
    own = os.environ.get("POINTLENS_FLOWAM_CACHE")
    if own:
        return Path(own)
    from engine.data.builtin import cache_dir as app_cache_dir

    return app_cache_dir() / "flowam"


def drain(gen):
    """Run a statistics generator to its end and return its value (callers that need no ticks)."""
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value


def _cached(key: str, compute):
    """Generator: the cached value of ``key``, else ``yield from compute()`` and store it.

    The statistics are generators that yield a message now and then, so a method computing
    them still yields progress (and can be cancelled) at least every ~100 ms."""
    if key in _MEMORY:
        _MEMORY.move_to_end(key)
        return _MEMORY[key]
    path = cache_dir() / f"{key}.npz"
    value = None
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as f:
                value = {k: f[k] for k in f.files}
        except (OSError, ValueError):   # unreadable cache entry: recompute and overwrite it
            value = None
    if value is None:
        value = yield from compute()
        try:
            with atomic_path(path) as tmp:
                with open(tmp, "wb") as f:
                    np.savez(f, **value)
        except OSError:                 # a read-only cache folder only costs the disk cache
            pass
    _MEMORY[key] = value
    while len(_MEMORY) > _MEMORY_SIZE:
        _MEMORY.popitem(last=False)
    return value


def clear_memory_cache() -> None:
    _MEMORY.clear()


# ----------------------------------------------------------------------------- data access


def class_indices(split, label: int, limit: int | None = None, seed: int | None = None) -> np.ndarray:
    """Indices of ``label`` in the split: the first ``limit``, or ``limit`` drawn with ``seed``."""
    idx = np.flatnonzero(np.asarray(split.labels) == label)
    if idx.size == 0:
        raise DataError(f"split '{split.name}' has no object of class {label}.",
                        hint="Pick a class present in the data, or another split.")
    if limit is not None and idx.size > limit:
        idx = np.sort(np.random.default_rng(seed).choice(idx, limit, replace=False)) if seed is not None else idx[:limit]
    return idx


def effective_loading(split, n_points: int) -> Loading:
    """How ``load_clouds`` samples: the split's own loading if it already gives ``n_points``,
    else the same with ``n_points`` ('first' becomes 'random': file order may be structured)."""
    lo = split.loading
    if lo.points == n_points:
        return lo
    return Loading(points=n_points, sampling="random" if lo.sampling == "first" else lo.sampling,
                   normalize=lo.normalize, seed=lo.seed)


def load_clouds(split, indices: Sequence[int], n_points: int) -> np.ndarray:
    """(len(indices), n_points, 3) float32, re-sampled to ``n_points`` if the split holds another N."""
    if split.loading.points == n_points:
        return split.arrays(indices=list(indices))[0]
    loading = effective_loading(split, n_points)
    out = np.empty((len(indices), n_points, 3), np.float32)
    for k, i in enumerate(indices):
        out[k] = prepare(split._raw(int(i)), loading, int(i)).points
    return out


# ----------------------------------------------------------------------------- average clouds


def average_cloud(clouds: np.ndarray, method: str = "matched", iterations: int = 3) -> np.ndarray:
    """The class-average cloud of (M, N, 3) clouds; see the module text for the two methods."""
    return drain(average_cloud_steps(clouds, method, iterations))


def average_cloud_steps(clouds: np.ndarray, method: str = "matched", iterations: int = 3):
    """Generator form of ``average_cloud``: yields a message after every matching."""
    clouds = np.asarray(clouds, np.float64)
    if clouds.ndim != 3 or clouds.shape[0] == 0:
        raise DataError(f"average_cloud needs (M, N, 3) clouds, got shape {clouds.shape}.")
    if method == "index":
        return clouds.mean(0).astype(np.float32)
    if method != "matched":
        raise ParameterError(f"average method '{method}' is not one of {list(AVERAGE_METHODS)}.")
    from scipy.optimize import linear_sum_assignment

    template = clouds[0].copy()
    for it in range(max(1, iterations)):
        acc = np.zeros_like(template)
        for m, x in enumerate(clouds):
            cost = ((template[:, None, :] - x[None, :, :]) ** 2).sum(-1)
            rows, cols = linear_sum_assignment(cost)
            acc[rows] += x[cols]
            yield f"class average: round {it + 1}, cloud {m + 1}/{len(clouds)}"
        new = acc / clouds.shape[0]
        moved = float(np.abs(new - template).max())
        template = new
        if moved < 1e-6:
            break
    return template.astype(np.float32)


def class_average_cloud(dataset, split_name: str, label: int, n_points: int,
                        method: str = "matched", objects: int = 16, iterations: int = 2):
    """Cached class-average cloud of up to ``objects`` clouds of ``label`` (the first ones)."""
    split = dataset.split(split_name)
    key = _key("avg", data=dataset_fingerprint(dataset), split=split_name, label=int(label),
               points=n_points, loading=effective_loading(split, n_points), method=method, objects=objects, iterations=iterations)

    def compute():
        idx = class_indices(split, label, objects)
        yield "class average: loading"
        cloud = yield from average_cloud_steps(load_clouds(split, idx, n_points), method, iterations)
        return {"cloud": cloud}

    return (yield from _cached(key, compute))["cloud"]


# ----------------------------------------------------------------------------- activations


def activations(model, clouds: np.ndarray, names: Sequence[str], batch: int = 32) -> dict[str, np.ndarray]:
    """Per-object activations {name: (M, D)} and 'logits' for (M, N, 3) clouds (no grad, eval)."""
    import torch

    from engine.models.taps import tap

    device = next(model.parameters()).device
    names = [n for n in dict.fromkeys(names) if n != "logits"]   # the output is always kept
    out: dict[str, list[np.ndarray]] = {n: [] for n in names + ["logits"]}
    was = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with torch.no_grad(), tap(model, list(names), detach=True) as acts:
            for s in range(0, len(clouds), batch):
                x = torch.as_tensor(np.asarray(clouds[s:s + batch]), dtype=torch.float32, device=device)
                logits = model(x)
                out["logits"].append(logits.float().cpu().numpy())
                for n in names:
                    out[n].append(acts[n].flatten(1).float().cpu().numpy())
    finally:
        for m, t in was:
            m.training = t
    return {n: np.concatenate(v, 0) if v else np.zeros((0, 0), np.float32) for n, v in out.items()}


def class_mean_activations(model, dataset, names: Sequence[str], n_points: int,
                           split_name: str = "test", per_class: int = 100) -> dict[str, np.ndarray]:
    """{name: (K, D) float32} class-mean activations over up to ``per_class`` objects per class,
    plus 'counts' (K,). Classes without objects get NaN rows (an error only if targeted)."""
    names = sorted(set(names))
    split = dataset.split(split_name)
    key = _key("means", model=model_fingerprint(model), data=dataset_fingerprint(dataset),
               split=split_name, points=n_points, names=names, per_class=per_class,
               loading=effective_loading(split, n_points))

    def compute():
        labels = np.asarray(split.labels)
        k = len(dataset.classes)
        sums: dict[str, np.ndarray] = {}
        counts = np.zeros(k, np.int64)
        for c in range(k):
            idx = np.flatnonzero(labels == c)[:per_class]
            if idx.size == 0:
                continue
            yield f"class-mean activations: class {c + 1}/{k}"
            acts = activations(model, load_clouds(split, idx, n_points), names)
            counts[c] = idx.size
            for n in names:
                a = acts[n].astype(np.float64)
                sums.setdefault(n, np.full((k, a.shape[1]), np.nan))[c] = a.mean(0)
        out = {n: v.astype(np.float32) for n, v in sums.items()}
        out["counts"] = counts
        return out

    return (yield from _cached(key, compute))


def real_features(model, dataset, split_name: str, label: int, n_points: int,
                  names: Sequence[str], limit: int) -> dict[str, np.ndarray]:
    """Cached (n, d) features of up to ``limit`` real objects of ``label`` (the FID reference)."""
    names = sorted(set(names))
    split = dataset.split(split_name)
    key = _key("feats", model=model_fingerprint(model), data=dataset_fingerprint(dataset),
               split=split_name, label=int(label), points=n_points, names=names, limit=limit,
               loading=effective_loading(split, n_points))

    def compute():
        yield "FID reference features"
        idx = class_indices(split, label, limit)
        acts = activations(model, load_clouds(split, idx, n_points), names)
        return {n: acts[n].astype(np.float32) for n in names}

    return (yield from _cached(key, compute))
