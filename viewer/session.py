"""The controller (Qt-free): open datasets and checkpoints, the current sample, running jobs.

The session owns the ``Scene`` and talks to the engine thread only through an injected client
(``EngineClient`` in the app, ``work.SyncClient`` in unit tests). Listeners get
``(event, payload)``:

- ``datasets``: the list of open datasets changed;  ``dataset``: DatasetInfo made current;
- ``sample``: a ``Sample`` was loaded and drawn;     ``checkpoint``: CheckpointInfo (or None);
- ``predictions``: (dataset key, split) got predicted labels;
- ``result``: (title, Result) a result was shown (live or re-opened); ``devices``: list of names;
- ``status``: a line for the status bar / log;       ``error``: a message (also a failed job).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from engine import PointCloud, Result

from . import sample_extras, tasks
from .result_layers import layers_for
from .scene import PointsLayer, Scene
from .work import Request

CLOUD = "cloud"
# The checkpoint loader's words for a file whose keys match no known model (a test holds the
# engine to them): the GUI then asks for the model instead of only reporting the failure.
UNRECOGNISED = "cannot tell which model"


@dataclass
class Sample:
    dataset: tasks.DatasetInfo
    split: str
    index: int
    cloud: PointCloud
    model_indices: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    sampling: str = ""            # how the model's points were chosen (for provenance and the UI)

    @property
    def name(self) -> str:
        sp = self.dataset.split(self.split)
        return sp.names[self.index] if self.index < len(sp.names) else f"{self.split}/{self.index}"

    @property
    def label(self) -> int | None:
        return self.cloud.label

    @property
    def label_name(self) -> str:
        return self.dataset.class_name(self.cloud.label)

    @property
    def total(self) -> int:
        return self.cloud.n

    @property
    def model_points(self) -> np.ndarray:
        """The model's points where they are drawn (on the displayed cloud)."""
        return self.cloud.points[self.model_indices] if self.model_indices.size else self.cloud.points

    @property
    def model_input(self) -> np.ndarray:
        """What the model is given: the chosen points normalised again, exactly as the data
        loader prepares a sample (so predictions match training and 'evaluate')."""
        return tasks.normalise(self.model_points)   # the viewer opens datasets normalised

    @property
    def used_text(self) -> str:
        n = int(self.model_indices.size or self.cloud.n)
        return tasks.used_text(n, self.cloud.n)


class Session:
    def __init__(self, client, scene: Scene | None = None, opener: Callable | None = None):
        self.client = client
        self.scene = scene or Scene()
        self.engine = tasks.EngineState(opener)
        self.datasets: dict[str, tasks.DatasetInfo] = {}
        self.current: tasks.DatasetInfo | None = None
        self.sample: Sample | None = None
        self.checkpoint: tasks.CheckpointInfo | None = None
        self.device = "cpu"
        self.devices: list[str] = ["cpu"]
        self.predictions: dict[tuple[str, str], np.ndarray] = {}
        self.results: list[tuple[str, Result]] = []
        self._listeners: list[Callable[[str, Any], None]] = []
        self.opening: set[str] = set()
        self.loading_checkpoint: Any = None   # spec of the checkpoint being opened, if any
        self.warmed_up = False                 # the engine's first-job imports done (warm_up)
        # (path, message) -> None: asks which model an unrecognised checkpoint is (set by the
        # open-checkpoint dialog's extension); None: such a failure is reported like any other
        self.ask_model_for: Callable[[str, str], None] | None = None
        self.extras = sample_extras.CloudExtras(self.scene, CLOUD)   # mesh surface and normals follow the cloud

    # ---- events ------------------------------------------------------------------------------
    def listen(self, fn: Callable[[str, Any], None]) -> None:
        self._listeners.append(fn)

    def emit(self, event: str, payload: Any = None) -> None:
        for fn in list(self._listeners):
            fn(event, payload)

    def _fail(self, what: str) -> Callable[[str], None]:
        return lambda msg: self.emit("error", f"{what}: {msg}")

    # ---- datasets ----------------------------------------------------------------------------
    def open_dataset(self, spec: str, select: bool = True):
        """Open a dataset on the engine thread; what is open stays open if this fails.
        A dataset that is already open is selected instead of opened twice."""
        spec = str(spec)
        same = next((info for info in self.datasets.values() if info.spec == spec), None)
        if same is not None:
            if select:
                self.set_dataset(same.key)
            return None
        self.opening.add(spec)

        def done(out) -> None:
            info, split, cloud = out
            self.opening.discard(spec)
            self.datasets[info.key] = info
            self.emit("datasets", list(self.datasets.values()))
            self.emit("status", f"opened {info.title}")
            if select and cloud is not None:   # the first sample came with the dataset: one trip
                self.current = info
                self.emit("dataset", info)
                self.show_sample(Sample(info, split, 0, cloud))
            elif select:
                self.set_dataset(info.key)

        def failed(msg: str) -> None:
            self.opening.discard(spec)
            self.emit("error", f"could not open {spec}: {msg}")

        return self.client.submit(Request(f"Open dataset {spec}",
                                          lambda: tasks.open_dataset_with_sample(self.engine, spec),
                                          on_result=done, on_error=failed, interactive=True,
                                          on_cancel=lambda: self.opening.discard(spec)))

    def close_dataset(self, key: str) -> None:
        info = self.datasets.pop(key, None)
        if info is None:
            return
        self.client.submit(Request(f"Close {info.spec}", lambda: tasks.close_dataset(self.engine, key),
                                   quiet=True, listed=False))
        self.emit("datasets", list(self.datasets.values()))
        if self.current is not None and self.current.key == key:
            self.current = None
            nxt = next(iter(self.datasets), None)
            if nxt:
                self.set_dataset(nxt)

    def set_dataset(self, key: str) -> None:
        self.current = self.datasets[key]
        self.emit("dataset", self.current)
        self.select_sample(tasks.first_split(self.current), 0)

    def select_sample(self, split: str, index: int):
        """Load one sample (latest-wins: quick browsing never queues up stale loads)."""
        info = self.current
        if info is None:
            return None
        key = info.key

        def done(cloud: PointCloud) -> None:
            if self.current is None or self.current.key != key:
                return
            self.show_sample(Sample(info, split, index, cloud))

        return self.client.submit(Request(f"Load {split}/{index}", lambda: tasks.load_sample(self.engine, key, split, index),
                                          target="sample", on_result=done, on_error=self._fail("loading a sample"),
                                          interactive=True, quiet=True, listed=False))

    def show_sample(self, sample: Sample) -> None:
        ck = self.checkpoint
        n_model = ck.points if ck else tasks.DEFAULT_MODEL_POINTS
        sample.model_indices, sample.sampling = tasks.model_input(
            sample.cloud.points, n_model, sample.index, ck.sampling if ck else "random")
        self.sample = sample
        self.scene.clear("inspect.")
        self.scene.set_selection(None)
        c = sample.cloud
        big = c.n > 200_000
        self.scene.add(PointsLayer(CLOUD, points=c.points, scalars=sample_extras.cloud_scalars(c),
                                   colors=sample_extras.cloud_colors(c), active=sample_extras.default_colouring(c),
                                   point_size=3.0 if big else 5.0, style="points" if big else "spheres",
                                   title=f"{sample.name} · true label: {sample.label_name}",
                                   note=sample.used_text if self.checkpoint else f"{c.n:,} points"))
        self._show_extras(sample)
        self.emit("sample", sample)

    def _show_extras(self, sample: Sample) -> None:
        """The sample's normals (as glyphs, when asked for) and, for a mesh file, its surface:
        read on the engine thread (the file is parsed there), drawn under the points."""
        from engine import MESH_SUFFIXES, mesh_surface

        c = sample.cloud
        normals = sample_extras.normals_layer(c, visible=self.extras.wanted[sample_extras.NORMALS])
        if normals is not None:
            self.scene.add(normals)
        else:
            self.scene.remove(sample_extras.NORMALS)
        self.scene.remove(sample_extras.SURFACE)    # the last sample's surface never lies under this one
        if not c.source.lower().endswith(MESH_SUFFIXES):
            return

        def done(surface) -> None:
            if surface is not None and self.sample is sample:
                self.scene.add(sample_extras.surface_layer(*surface, visible=self.extras.wanted[sample_extras.SURFACE]))

        self.client.submit(Request("Read the mesh surface", lambda: mesh_surface(c.source, c.centre, c.scale),
                                   target="surface", on_result=done, on_error=self._fail("reading the mesh surface"),
                                   interactive=True, quiet=True, listed=False))

    # ---- checkpoints and devices -------------------------------------------------------------
    def open_checkpoint(self, spec: Any, quiet: bool = False):
        """Load a checkpoint on the engine thread. ``spec``: a path or demo:<key>, or the engine's
        ``CheckpointChoice`` (File > Open checkpoint… naming the model, its options or the class
        names). ``quiet``: a failure goes to the log and the Jobs dock without a dialog (the
        start-up default model may simply not be built yet)."""
        spec = spec if hasattr(spec, "load") else str(spec)
        path = str(getattr(spec, "spec", spec))

        def done(info: tasks.CheckpointInfo) -> None:
            if self.loading_checkpoint == spec:
                self.loading_checkpoint = None
            self.checkpoint = info
            self.emit("checkpoint", info)
            self.emit("status", f"model ready: {info.title}")
            for line in info.report:
                self.emit("status", f"checkpoint: {line}")
            if self.sample is not None:   # the model may take another number of points
                self.show_sample(self.sample)
            self.warm_up()

        fail = self._fail(f"could not open checkpoint {path}")

        def failed(msg: str) -> None:
            if self.loading_checkpoint == spec:
                self.loading_checkpoint = None
            self.emit("checkpoint-failed", spec)
            ask = self.ask_model_for
            if ask is not None and not quiet and UNRECOGNISED in msg and not hasattr(spec, "load"):
                ask(path, msg)      # the keys do not say which model: ask the user to name it
            else:
                fail(msg)

        device = self.device
        names = tuple(self.current.classes) if self.current is not None else ()
        # Panels say "Loading model…" until "checkpoint" or "checkpoint-failed" (not "No model").
        self.loading_checkpoint = spec
        self.emit("checkpoint-loading", spec)
        return self.client.submit(Request(f"Open checkpoint {path}", lambda: tasks.open_checkpoint(spec, device, names),
                                          target="checkpoint", on_result=done, quiet=quiet, on_error=failed))

    def warm_up(self):
        """Once per session, after the first model is ready: the imports the first job would make
        (engine.warm_up), on the engine thread while the user looks at the window, so that the
        first Flow AM run or training does not wait on them (engine/warm_up.py: measured)."""
        if self.warmed_up:
            return None
        self.warmed_up = True
        return self.client.submit(Request("Prepare the engine", tasks.warm_up_engine,
                                          quiet=True, listed=False))

    def query_devices(self):
        def done(names: list[str]) -> None:
            self.devices = list(names)
            self.emit("devices", self.devices)

        return self.client.submit(Request("List compute devices", tasks.available_devices, on_result=done,
                                          quiet=True, listed=False))

    def set_device(self, name: str) -> None:
        if name == self.device:
            return
        self.device = name
        if self.checkpoint is not None:
            self.open_checkpoint(self.checkpoint.spec)

    # ---- jobs ----------------------------------------------------------------------------------
    def run_method(self, method: str, inputs: dict, params: dict | None = None, *, model: Any = None,
                   name: str | None = None, target: str | None = None, on_result=None, on_progress=None,
                   on_error=None, on_cancel=None, quiet: bool = False):
        """Submit a catalog method as a job. A method whose spec needs a model gets ``model`` (a
        checkpoint spec), else the open checkpoint; the session's device always goes with it."""
        from engine import EngineError, specs

        try:
            spec = specs.get(method)
        except EngineError:
            spec = None          # the engine thread refuses it: the failure shows like any job's
        if spec is not None and spec.needs_model and model is None and self.checkpoint is not None:
            model = self.checkpoint.spec
        if spec is not None and not spec.needs_model:
            model = None
        device = self.device
        return self.client.submit(Request(name or method,
                                          lambda: tasks.start_method(method, dict(inputs), params or {}, model, device),
                                          target=target, on_result=on_result, on_progress=on_progress,
                                          on_error=on_error or self._fail(name or method),
                                          on_cancel=on_cancel, quiet=quiet))

    def predict_split(self, split: str | None = None):
        """Predicted labels of every sample of the current split (for the browser's filters)."""
        info, ck = self.current, self.checkpoint
        if info is None or ck is None:
            self.emit("error", "Predict split: open a dataset and a checkpoint first.")
            return None
        split = split or (self.sample.split if self.sample else info.splits[0].name)
        key, spec, device = info.key, ck.spec, self.device

        def done(preds: np.ndarray) -> None:
            full = np.full(info.split(split).count, -1, dtype=np.int64)
            full[:len(preds)] = [self.to_dataset_label(int(p)) if p >= 0 else -1 for p in preds[:len(full)]]
            preds = full
            old = self.predictions.get((key, split))
            if old is not None:
                preds = np.where(preds >= 0, preds, old)
            self.predictions[(key, split)] = preds
            self.emit("predictions", (key, split))

        return self.client.submit(Request(f"Predict {split} ({info.split(split).count:,} samples)",
                                          lambda: tasks.predict_split(info.spec, split, spec, device),
                                          target=f"predict-split", on_result=done,
                                          on_error=self._fail("predicting the split")))

    def to_dataset_label(self, predicted: int, name: str | None = None) -> int:
        """A model's class index as the current dataset's label (matched by class name), or -1."""
        ck, info = self.checkpoint, self.current
        if ck is not None and ck.classes and info is not None and info.classes:
            name = name or (ck.classes[predicted] if 0 <= predicted < len(ck.classes) else None)
            return info.classes.index(name) if name in info.classes else -1
        return int(predicted)

    def record_prediction(self, sample: Sample, predicted: int, name: str | None = None) -> None:
        key = (sample.dataset.key, sample.split)
        label = self.to_dataset_label(predicted, name)
        preds = self.predictions.get(key)
        if preds is None:
            preds = np.full(sample.dataset.split(sample.split).count, -1, dtype=np.int64)
            self.predictions[key] = preds
        if preds[sample.index] != label:
            preds[sample.index] = label
            self.emit("predictions", key)

    def provenance(self) -> dict:
        s, ck = self.sample, self.checkpoint
        out: dict[str, Any] = {"device": self.device}
        if s is not None:
            out.update(dataset=s.dataset.spec, dataset_fingerprint=s.dataset.fingerprint, split=s.split,
                       index=s.index, sample=s.name, label=s.label, label_name=s.label_name,
                       points_total=s.total, model_input=f"{s.model_indices.size:,} points: {s.sampling}")
        if ck is not None:
            out.update(checkpoint=ck.spec, checkpoint_fingerprint=ck.fingerprint, model=ck.model)
        return out

    # ---- results -------------------------------------------------------------------------------
    def add_result(self, title: str, result: Result, show: bool = True) -> Result:
        """Keep a result (for saving); optionally draw its layers."""
        self.results.append((title, result))
        del self.results[:-20]
        if show:
            for layer in layers_for(result):
                self.scene.add(layer)
        self.emit("result", (title, result))
        return result

    @property
    def last_result(self) -> Result | None:
        return self.results[-1][1] if self.results else None

    def save_result(self, path: str, result: Result | None = None):
        from engine import save_result

        res = result or self.last_result
        if res is None:
            self.emit("error", "Save result: there is no result yet; run a method first.")
            return None
        return self.client.submit(Request(f"Save result to {path}", lambda: save_result(res, path),
                                          on_result=lambda _: self.emit("status", f"saved result to {path}"),
                                          on_error=self._fail(f"could not save {path}")))

    def open_result(self, path: str):
        from engine import load_result

        def done(res: Result) -> None:
            self.scene.clear("inspect.")
            self.add_result(f"{res.kind} from {path}", res)
            self.emit("status", f"opened result {path} ({res.kind})")

        return self.client.submit(Request(f"Open result {path}", lambda: load_result(path), on_result=done,
                                          on_error=self._fail(f"could not open result {path}")))


def with_points(result: Result, points: np.ndarray, provenance: dict, **metrics) -> Result:
    """A copy of a Result that also carries its input points and provenance (for saving)."""
    arrays = dict(result.arrays)
    arrays.setdefault("points", np.asarray(points, dtype=np.float32))
    prov = dict(result.provenance)
    prov.update(provenance)
    m = dict(result.metrics)
    m.update(metrics)
    return dataclasses.replace(result, arrays=arrays, provenance=prov, metrics=m)
