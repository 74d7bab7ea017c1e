"""One contract, every method of the catalog, each with its tiny example (engine/specs/examples):
it runs, yields progress, returns the result its spec declares, stops soon after a cancel, and
leaves its model as it found it (no hooks left, same train/eval mode, same requires_grad)."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from engine import Job, Progress, catalog, specs, start
from engine.core.jobs import drive
from engine.specs.examples import EXAMPLES

KEYS = sorted(s.key for s in specs.all_specs())
CANCEL_WITHIN = 0.2          # seconds from the cancel request to the generator being closed


@pytest.fixture(scope="module")
def cloud():
    from engine.data import Loading, open_dataset

    c = open_dataset("builtin", Loading(points=256)).split("test")[0]
    return c.points, int(c.label)


def _model(key):
    ex = EXAMPLES[key]
    if ex.model is None:
        return None
    from engine.models.checkpoints import load_checkpoint

    return load_checkpoint(ex.model)          # a private copy: the test may look inside it


def _state(loaded):
    if loaded is None:
        return None
    mods = list(loaded.model.modules())
    return ([m.training for m in mods], [p.requires_grad for p in loaded.model.parameters()],
            sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks) for m in mods))


def test_every_spec_has_an_implementation_and_an_example():
    registered = catalog.method_names()          # other tests may add test-only methods
    assert [k for k in KEYS if k not in registered] == []
    assert sorted(EXAMPLES) == KEYS


@pytest.mark.parametrize("key", KEYS)
def test_runs_yields_progress_and_returns_what_the_spec_declares(key, cloud, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)               # anything a method writes lands here
    spec, ex = specs.get(key), EXAMPLES[key]
    loaded = _model(key)
    before = _state(loaded)
    progress: list[Progress] = []
    result = drive(start(Job(key, ex.inputs(*cloud), ex.params, model=loaded)), progress.append)
    assert progress, "a method yields at least one Progress"
    assert all(0.0 <= p.fraction <= 1.0 for p in progress)
    assert result.kind == spec.produces
    missing = [a for a in spec.arrays if a not in result.arrays]
    assert missing == [], f"declared arrays missing from the result: {missing}"
    for name, a in result.arrays.items():
        assert isinstance(a, np.ndarray), f"array '{name}' is {type(a).__name__}, not numpy"
    assert _state(loaded) == before


@pytest.mark.parametrize("key", KEYS)
def test_cancel_stops_it_soon_and_cleans_up(key, cloud, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ex = EXAMPLES[key]
    loaded = _model(key)
    before = _state(loaded)
    cancel = threading.Event()
    asked = []

    def on_progress(p):
        if not asked:
            asked.append(time.perf_counter())
            cancel.set()

    out = drive(start(Job(key, ex.inputs(*cloud), ex.params, model=loaded)), on_progress, cancel)
    stopped = time.perf_counter()
    if asked:                                  # a job that finished before its first yield has nothing to cancel
        assert out is None
        assert stopped - asked[0] < CANCEL_WITHIN, f"{key} took {stopped - asked[0]:.3f} s to stop"
    assert _state(loaded) == before


@pytest.mark.parametrize("key", KEYS)
def test_every_number_parameter_is_bounded_and_its_default_valid(key):
    """A size parameter without an upper bound lets one typo allocate the machine away."""
    import dataclasses

    from engine.core.params import validate

    spec = specs.get(key)
    for f in dataclasses.fields(spec.params):
        meta = f.metadata or {}
        if isinstance(f.default, bool) or not isinstance(f.default, (int, float)) or meta.get("choices"):
            continue
        assert meta.get("lo") is not None and meta.get("hi") is not None, f"{key}.{f.name} needs lo and hi"
    validate(spec.params(), key)


# --- every classifier, not only the demo PointNet ----------------------------------------------------
# The methods whose example runs on demo:pointnet run again, with the same parameters, on a tiny,
# untrained copy of each other classifier architecture: Flow AM's default aligned layers ('auto')
# are each model's own.

OTHER_CLASSIFIERS = {"dgcnn": {"k": 8, "emb_dims": 64}, "pointnet2-ssg": {}, "pointnet2-msg": {}}
ON_CLASSIFIERS = sorted(k for k in KEYS if EXAMPLES[k].model == "demo:pointnet")


@pytest.fixture(scope="module")
def tiny_classifiers(tmp_path_factory):
    import torch

    from engine.data import Loading, open_dataset
    from engine.models.checkpoints import save_checkpoint
    from engine.models.zoo import build_model

    classes = list(open_dataset("builtin", Loading(points=64)).classes)
    folder = tmp_path_factory.mktemp("classifiers")
    out = {}
    for key, options in OTHER_CLASSIFIERS.items():
        torch.manual_seed(0)
        model = build_model(key, num_classes=len(classes), width=0.0625, **options).eval()
        out[key] = str(save_checkpoint(folder / f"{key}.safetensors", model, {"classes": classes}))
    return out


@pytest.mark.parametrize("arch", sorted(OTHER_CLASSIFIERS))
@pytest.mark.parametrize("key", ON_CLASSIFIERS + ["robustness"])
def test_classifier_methods_run_on_every_classifier(key, arch, cloud, tiny_classifiers, tmp_path, monkeypatch):
    from engine.models.checkpoints import load_checkpoint

    monkeypatch.chdir(tmp_path)
    spec, ex = specs.get(key), EXAMPLES[key]
    params = dict(ex.params)
    loaded = None
    if key == "robustness":
        params["checkpoints"] = tiny_classifiers[arch]
    else:
        loaded = load_checkpoint(tiny_classifiers[arch])
    before = _state(loaded)
    result = drive(start(Job(key, ex.inputs(*cloud), params, model=loaded)), lambda p: None)
    assert result.kind == spec.produces
    assert [a for a in spec.arrays if a not in result.arrays] == []
    assert _state(loaded) == before


# --- every ParAE encoder, not only the demo's PointNet -------------------------------------------------
# The methods whose example runs on demo:parae run again on a tiny, untrained ParAE of each other
# encoder (DGCNN: the paper's best).

OTHER_PARAE_ENCODERS = {"dgcnn": {"k": 8, "emb_dims": 64}}
ON_PARAE = sorted(k for k in KEYS if EXAMPLES[k].model == "demo:parae")


@pytest.fixture(scope="module")
def tiny_parae(tmp_path_factory):
    import torch

    from engine.models.checkpoints import save_checkpoint
    from engine.models.zoo import build_model

    folder = tmp_path_factory.mktemp("parae")
    out = {}
    for encoder, options in OTHER_PARAE_ENCODERS.items():
        torch.manual_seed(0)
        model = build_model("parae", parts=8, width=0.0625, encoder=encoder, **options).eval()
        out[encoder] = str(save_checkpoint(folder / f"parae-{encoder}.safetensors", model, {"classes": []}))
    return out


def test_parae_methods_have_other_encoders_to_run_on():
    assert ON_PARAE == ["parae-explain", "probe"]


@pytest.mark.parametrize("encoder", sorted(OTHER_PARAE_ENCODERS))
@pytest.mark.parametrize("key", ON_PARAE)
def test_parae_methods_run_on_every_encoder(key, encoder, cloud, tiny_parae, tmp_path, monkeypatch):
    from engine.models.checkpoints import load_checkpoint

    monkeypatch.chdir(tmp_path)
    spec, ex = specs.get(key), EXAMPLES[key]
    loaded = load_checkpoint(tiny_parae[encoder])
    assert loaded.model.config["encoder"] == encoder
    before = _state(loaded)
    result = drive(start(Job(key, ex.inputs(*cloud), dict(ex.params), model=loaded)), lambda p: None)
    assert result.kind == spec.produces
    assert [a for a in spec.arrays if a not in result.arrays] == []
    assert _state(loaded) == before
