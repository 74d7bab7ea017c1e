"""Session and the request loop without Qt: a SyncClient runs each request inline."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from engine.data import save_h5
from engine.core.errors import DataError
from engine.core.method import Method, implements
from engine.core.registry import METHODS
from engine.core.spec import Input, MethodSpec
from engine.core.types import Progress, Result
from viewer import tasks
from viewer.session import CLOUD, Session
from viewer.work import CANCELLED, DONE, FAILED, JobHandle, Request, SyncClient, execute

CLASSES = ["cube", "ball", "rod"]


@pytest.fixture()
def h5(tmp_path):
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(6, 2048, 3)).astype(np.float32)
    path = save_h5(tmp_path / "tiny.h5", pts, np.array([0, 1, 2, 0, 1, 2]), CLASSES)
    return str(path), pts


@pytest.fixture()
def session():
    s = Session(SyncClient())
    s.events = []
    s.listen(lambda e, p: s.events.append((e, p)))
    return s


# ---- the request loop ----------------------------------------------------------------------------

def test_execute_returns_the_generator_result_and_reports_progress():
    def job():
        for i in range(3):
            yield Progress(i, 3, "step")
        return "ok"

    seen = []
    h = JobHandle(Request("j", job))
    assert execute(h, seen.append) == (DONE, "ok")
    assert [p.done for p in seen] == [0, 1, 2]


def test_errors_come_back_as_data_with_the_engine_message():
    def job():
        yield Progress(0, 1)
        raise DataError("file x.h5: broken", hint="Fix it.")

    h = JobHandle(Request("j", job))
    state, msg = execute(h)
    assert state == FAILED and msg == "file x.h5: broken Fix it." and "DataError" in h.details
    state, msg = execute(JobHandle(Request("k", lambda: 1 / 0)))
    assert state == FAILED and msg.startswith("ZeroDivisionError")


def test_cancel_closes_the_generator_so_it_can_clean_up():
    cleaned = []
    h = JobHandle(Request("j", None))

    def job():
        try:
            while True:
                yield Progress(0, 1)
                h.cancel()
        finally:
            cleaned.append(True)

    h.request.start = job
    assert execute(h) == (CANCELLED, None) and cleaned == [True]


# ---- datasets and samples --------------------------------------------------------------------------

def test_open_dataset_loads_the_first_test_sample(session, h5):
    path, pts = h5
    session.open_dataset(path)
    info = session.current
    assert info.classes == tuple(CLASSES) and info.splits[0].count == 6
    assert session.sample.index == 0 and session.sample.label_name == "cube"
    layer = session.scene.get(CLOUD)
    assert layer.n == 2048
    # the cloud is the file's sample, normalised to the unit sphere (centre 0, max norm 1)
    p = pts[0] - pts[0].mean(0)
    assert np.allclose(layer.points, p / np.linalg.norm(p, axis=1).max(), atol=1e-5)
    session.select_sample(info.splits[0].name, 4)
    assert session.sample.index == 4 and session.sample.label_name == "ball"


def test_a_corrupt_file_leaves_what_is_open_untouched(session, h5, tmp_path):
    path, _ = h5
    session.open_dataset(path)
    before = session.current
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"this is not hdf5" * 10)
    session.open_dataset(str(bad))
    errors = [p for e, p in session.events if e == "error"]
    assert errors and "bad.h5" in errors[-1]
    assert session.current is before and session.scene.get(CLOUD).n == 2048
    assert len(session.datasets) == 1


def test_model_input_is_what_the_engine_loader_gives_the_model(session, h5):
    from engine.data import Loading, open_dataset

    path, _ = h5
    session.open_dataset(path)
    session.checkpoint = tasks.CheckpointInfo("x", "pointnet", tuple(CLASSES), points=1024, sampling="random")
    session.select_sample(session.sample.split, 3)
    s = session.sample
    assert s.model_indices.shape == (1024,) and len(np.unique(s.model_indices)) == 1024
    loader = open_dataset(path, Loading(points=1024, sampling="random", seed=0)).split(s.split)
    assert np.allclose(s.model_input, loader[3].points, atol=1e-5)     # same points, same normalisation
    assert np.allclose(s.model_points, s.cloud.points[s.model_indices])  # drawn on the displayed cloud
    assert s.used_text == "1,024 of 2,048 points used by the model"
    assert session.scene.get(CLOUD).note == s.used_text
    assert tasks.used_text(113_662, 113_662) == "all 113,662 points used by the model"
    assert tasks.used_text(1024, 113_662) == "1,024 of 113,662 points used by the model"


def test_predictions_map_model_classes_to_dataset_labels_by_name(session, h5):
    path, _ = h5
    session.open_dataset(path)
    session.checkpoint = tasks.CheckpointInfo("x", "m", ("rod", "cube", "other"), points=1024)
    session.record_prediction(session.sample, 1)      # model class 1 = "cube" = dataset label 0
    split = session.sample.split
    session.select_sample(split, 2)
    session.record_prediction(session.sample, 2)      # "other" is not a dataset class
    preds = session.predictions[(session.current.key, split)]
    assert preds[0] == 0 and preds[2] == -1 and preds[1] == -1


# ---- jobs and results --------------------------------------------------------------------------------

@dataclass(frozen=True)
class _NoParams:
    pass


ECHO = MethodSpec(key="viewer-test-echo", title="Echo (test)", family="test", params=_NoParams,
                  inputs=(Input("points", "points", required=True),), uses_device=True, produces="echo",
                  arrays=("points", "height"))


class _Echo(Method):
    def run(self, params, *, points, device):
        yield Progress(0, 1, "echo")
        return Result("echo", arrays={"points": np.asarray(points), "height": np.asarray(points)[:, 2]},
                      metrics={"device": device})


if "viewer-test-echo" not in METHODS:
    implements(ECHO)(_Echo)


def test_run_method_adds_the_device_and_results_save_and_reopen(session, h5, tmp_path):
    path, _ = h5
    session.open_dataset(path)
    got = []
    session.run_method("viewer-test-echo", {"points": session.sample.model_points}, on_result=got.append)
    assert got and got[0].metrics["device"] == "cpu"
    session.add_result("echo", got[0])
    out = tmp_path / "r.h5"
    session.save_result(str(out))
    assert out.is_file()
    session.scene.clear()
    session.open_result(str(out))
    layer = session.scene.get("echo.points")
    assert layer.n == 1024 and "height" in layer.scalars   # the model input (default 1,024 points)
    assert np.allclose(layer.scalars["height"].values, got[0].arrays["points"][:, 2])


def test_opening_a_missing_result_is_an_error_not_a_crash(session, tmp_path):
    session.open_result(str(tmp_path / "nope.h5"))
    assert any(e == "error" and "nope.h5" in p for e, p in session.events)


def test_predict_split_agrees_with_the_model_run_directly(session, h5, tmp_path):
    import torch

    import engine.models.pointnet  # noqa: F401
    from engine.models.base import build_model
    from engine.models.checkpoints import save_checkpoint

    torch.manual_seed(0)
    model = build_model("pointnet", num_classes=3, width=0.125).eval()
    ckpt = tmp_path / "m.safetensors"
    save_checkpoint(ckpt, model, {"classes": CLASSES, "normalisation": {"points": 128, "sampling": "random"}})
    path, _ = h5
    session.open_dataset(path)
    session.open_checkpoint(str(ckpt))
    assert session.checkpoint.points == 128 and session.sample.model_indices.size == 128
    session.predict_split()
    split = session.sample.split
    preds = session.predictions[(session.current.key, split)]
    from engine.data import Loading, open_dataset

    x, _ = open_dataset(path, Loading(points=128, sampling="random", seed=0)).split(split).arrays()
    with torch.no_grad():
        expected = model(torch.as_tensor(x)).argmax(1).tolist()
    assert preds.tolist() == expected     # model classes == dataset classes here, so labels agree
    # and the browser's prediction of a sample is the one Inspect computes on its model input
    s = session.sample
    with torch.no_grad():
        assert int(model(torch.as_tensor(s.model_input[None])).argmax()) == expected[s.index]


def test_the_first_model_ready_prepares_the_engine_once(h5, tmp_path):
    """After the first checkpoint, one unlisted, quiet request imports what the first job would
    (engine.warm_up); a second checkpoint asks for none."""
    import sys

    import engine.models.pointnet  # noqa: F401
    from engine.models.base import build_model
    from engine.models.checkpoints import save_checkpoint

    class Recording(SyncClient):
        def __init__(self):
            super().__init__()
            self.requests = []

        def submit(self, request):
            self.requests.append(request)
            return super().submit(request)

    ckpt = tmp_path / "m.safetensors"
    save_checkpoint(ckpt, build_model("pointnet", num_classes=3, width=0.125),
                    {"classes": CLASSES, "normalisation": {"points": 128, "sampling": "random"}})
    client = Recording()
    s = Session(client)
    s.open_dataset(h5[0])
    assert not s.warmed_up
    s.open_checkpoint(str(ckpt))
    s.open_checkpoint(str(ckpt))
    prepared = [r for r in client.requests if r.start is tasks.warm_up_engine]
    assert len(prepared) == 1 and not prepared[0].listed and prepared[0].quiet
    assert s.warmed_up and "torch._dynamo" in sys.modules
