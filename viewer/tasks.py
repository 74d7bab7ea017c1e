"""Work that runs ON THE ENGINE THREAD for the session (Qt-free).

Dataset readers hold open files, so ``Dataset`` objects stay on the engine side, in an
``EngineState`` that only these functions touch; the GUI gets frozen summaries (``DatasetInfo``,
``CheckpointInfo``) and ``PointCloud``s. Torch is imported here only when a checkpoint is
opened, so the GUI path never waits on it.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from engine import CheckpointError, DataError, Job, PointCloud

DEFAULT_MODEL_POINTS = 1024


@dataclass(frozen=True)
class SplitInfo:
    name: str
    count: int
    labels: np.ndarray            # (count,) int64
    names: tuple[str, ...]        # display name of each sample


@dataclass(frozen=True)
class DatasetInfo:
    key: str                      # the engine-side handle
    spec: str                     # what the user opened
    format: str
    classes: tuple[str, ...]
    splits: tuple[SplitInfo, ...]
    info: dict = field(default_factory=dict)
    fingerprint: str = ""

    def split(self, name: str) -> SplitInfo:
        for s in self.splits:
            if s.name == name:
                return s
        raise DataError(f"{self.spec}: no split '{name}'.")

    @property
    def title(self) -> str:
        total = sum(s.count for s in self.splits)
        return f"{self.spec} ({self.format}, {len(self.classes)} classes, {total:,} samples)"

    def class_name(self, label: int | None) -> str:
        if label is None or label < 0:
            return "—"
        return self.classes[label] if label < len(self.classes) else f"class {label}"


@dataclass(frozen=True)
class CheckpointInfo:
    spec: Any                     # what loads it again: a path / demo:<key>, or a CheckpointChoice
    model: str
    classes: tuple[str, ...]
    points: int                   # how many points the model takes
    task: str = "classification"
    sampling: str = "random"      # how the training loader cut clouds to ``points``
    meta: dict = field(default_factory=dict)
    fingerprint: str = ""
    report: tuple[str, ...] = ()

    @property
    def path(self) -> str:
        """The file (or demo:<key>) whatever ``spec`` is: a plain spec, or the engine's
        ``CheckpointChoice`` that also names the model, its options or the class names."""
        return str(getattr(self.spec, "spec", self.spec))

    @property
    def title(self) -> str:
        return f"{self.model} · {len(self.classes)} classes · {self.points:,} points ({self.path})"


class EngineState:
    """Objects that live on the engine thread (open datasets). Touch only from tasks below."""

    def __init__(self, opener: Callable[..., Any] | None = None) -> None:
        self.datasets: dict[str, Any] = {}
        self._keys = itertools.count(1)
        self._opener = opener

    def opener(self):
        if self._opener is None:
            from engine import open_dataset

            self._opener = open_dataset
        return self._opener


def open_dataset(state: EngineState, spec: str) -> DatasetInfo:
    """Open a dataset (lazily; labels only) and summarise it for the browser."""
    from engine import Loading
    from engine import path_fingerprint

    ds = state.opener()(spec, Loading(points=None, normalize=True))
    splits = []
    for name, split in ds.splits.items():
        labels = np.asarray(split.labels, dtype=np.int64).reshape(-1)
        names = tuple(split.source_name(i) for i in range(len(split)))
        splits.append(SplitInfo(name, len(split), labels, names))
    if not splits or all(s.count == 0 for s in splits):
        raise DataError(f"{spec}: the dataset holds no samples.", hint="Open a file or folder with point clouds.")
    fp = str(ds.info.get("fingerprint", "")) if isinstance(ds.info, dict) else ""
    if not fp:
        try:
            fp = path_fingerprint(ds.path)
        except OSError:
            fp = ""
    key = f"ds{next(state._keys)}"
    state.datasets[key] = ds
    info = {k: v for k, v in (ds.info or {}).items() if isinstance(v, (str, int, float, bool))}
    return DatasetInfo(key=key, spec=str(spec), format=str(ds.format), classes=tuple(ds.classes),
                       splits=tuple(splits), info=info, fingerprint=fp)


def first_split(info: DatasetInfo) -> str:
    """The split shown first: 'test' when there is one (what a model is judged on)."""
    names = [s.name for s in info.splits if s.count > 0]
    return "test" if "test" in names else (names or [info.splits[0].name])[0]


def open_dataset_with_sample(state: EngineState, spec: str):
    """Open a dataset and read its first sample in the same trip: (info, split, cloud or None).

    A first sample that cannot be read does not fail the open; the browser then shows its error.
    """
    info = open_dataset(state, spec)
    split = first_split(info)
    try:
        cloud = load_sample(state, info.key, split, 0)
    except Exception:  # noqa: BLE001 - reported when the user (or the GUI) loads it again
        cloud = None
    return info, split, cloud


def close_dataset(state: EngineState, key: str) -> None:
    state.datasets.pop(key, None)


def load_sample(state: EngineState, key: str, split: str, index: int) -> PointCloud:
    ds = state.datasets.get(key)
    if ds is None:
        raise DataError(f"dataset '{key}' is not open.", hint="Open it again.")
    return ds.split(split)[index]


def _model_points(meta: dict) -> int:
    """How many points the model was trained on, from whatever the checkpoint recorded."""
    for source in (meta, meta.get("params") or {}, meta.get("normalisation") or {}, meta.get("loading") or {}):
        if isinstance(source, dict):
            for key in ("points", "num_points", "npoints"):
                v = source.get(key)
                if isinstance(v, (int, float)) and v >= 1:
                    return int(v)
    return DEFAULT_MODEL_POINTS


def warm_up_engine() -> dict[str, float]:
    """The engine's first-job imports, timed (engine.warm_up); logged so a slow start shows why."""
    import logging

    from engine import warm_up_engine as warm_up

    took = warm_up()
    logging.getLogger("pointlens").info("engine warm-up: %s", ", ".join(f"{k} {v:.2f} s" for k, v in took.items()))
    return took


def open_checkpoint(spec: Any, device: str = "cpu", dataset_classes: tuple[str, ...] = ()) -> CheckpointInfo:
    """Load (and cache) a checkpoint on the engine thread; summarise it for the GUI.
    ``dataset_classes``: the open dataset's names, taken by a checkpoint that names no classes
    when its head has as many outputs (as the engine does for a job's dataset)."""
    try:
        from engine import load_checkpoint_cached
    except ImportError as e:
        raise CheckpointError(f"cannot open checkpoint '{spec}': the checkpoint loader is not available ({e}).",
                              hint="Update PointLens; engine.models.checkpoints is missing.") from None
    from engine import CheckpointChoice, file_fingerprint, with_dataset_classes

    load = getattr(spec, "load", None)      # a CheckpointChoice loads itself (cached, its options)
    loaded = load(device) if load is not None else load_checkpoint_cached(spec, device)
    named = with_dataset_classes(loaded, dataset_classes)
    if named is not loaded:
        loaded = named
        # the jobs get the names too: a job carrying only a cloud has no dataset to take them from
        spec = CheckpointChoice(spec=str(getattr(spec, "spec", spec)), model=getattr(spec, "model", None),
                                model_options=getattr(spec, "model_options", ()), classes=tuple(dataset_classes))
        load = spec.load
    meta = dict(loaded.meta or {})
    classes = tuple(meta.get("classes") or ())
    model = loaded.model
    task = getattr(model, "task", "classification")
    fp = ""
    path = getattr(loaded, "path", "")
    if path:
        try:
            fp = file_fingerprint(path, full=False)
        except OSError:
            fp = ""
    plain = {k: v for k, v in meta.items() if isinstance(v, (str, int, float, bool, list, dict))}
    norm = meta.get("normalisation") if isinstance(meta.get("normalisation"), dict) else {}
    sampling = str(norm.get("sampling") or (meta.get("params") or {}).get("sampling") or "random")
    return CheckpointInfo(spec=spec if load is not None else str(spec), model=str(getattr(loaded, "key", meta.get("model", "?"))),
                          classes=classes, points=_model_points(meta), task=task, sampling=sampling, meta=plain,
                          fingerprint=fp, report=tuple(getattr(loaded, "report", ()) or ()))


def available_devices() -> list[str]:
    from engine import available_devices as devices

    return devices()


FPS_LIMIT = 50_000   # farthest-point sampling beyond this runs too long for an interactive pick


def model_input(points: np.ndarray, n_model: int, index: int = 0, sampling: str = "random",
                seed: int = 0) -> tuple[np.ndarray, str]:
    """Indices of the points a model sees for sample ``index``, by the engine loader's own rule
    (``engine.sample_indices``), and how they were chosen.

    Clouds with at most ``n_model`` points are shown whole (for max-pooling models, the loader's
    repeated points change nothing); farthest-point sampling of more than FPS_LIMIT points is
    too slow for an interactive pick and falls back to the random rule (the text says so).
    """
    from engine import sample_indices

    n = int(points.shape[0])
    if n <= n_model:
        return np.arange(n, dtype=np.int64), "all points"
    slow = sampling == "fps" and n > FPS_LIMIT
    rule = "random" if slow else sampling
    idx = np.asarray(sample_indices(points, n_model, rule, seed, index), dtype=np.int64)
    if rule == "first":
        return idx, f"first {n_model:,}"
    if rule == "fps":
        return idx, "farthest-point sampling"
    how = "random subset" + (f" (FPS is too slow for {n:,} points)" if slow else "")
    return idx, f"{how}, seed ({seed}, {index})"


def normalise(points: np.ndarray) -> np.ndarray:
    """The loader's normalisation (engine.normalise_points): centre on the mean, divide by the
    largest norm; invariant to a prior normalisation, so normalise(p[idx]) equals the loader's."""
    from engine import normalise_points

    return normalise_points(np.asarray(points, np.float32))[0]


def used_text(used: int, total: int) -> str:
    return f"{used:,} of {total:,} points used by the model" if used < total else f"all {total:,} points used by the model"


def predict_split(key_spec: str, split: str, checkpoint: Any, device: str):
    """Generator: logits.argmax of every sample of a split, by the engine's 'evaluate' method
    (batched, the checkpoint's own sampling): -1 where a sample was not evaluated."""
    from engine import start

    job = Job("evaluate", {"data": key_spec}, {"split": split}, model=checkpoint, device=device)
    result = yield from start(job)
    logits, idx = np.asarray(result.arrays["logits"]), np.asarray(result.arrays["indices"], np.int64)
    preds = np.full(int(idx.max()) + 1 if idx.size else 0, -1, dtype=np.int64)
    preds[idx] = logits.argmax(1)
    return preds


def start_method(method: str, inputs: dict, params: dict, model: Any, device: str):
    """Engine thread: start a catalog method (imports torch on first use)."""
    from engine import Job, start

    return start(Job(method, inputs, params, model=model, device=device))
