"""Naming a checkpoint's model, options and classes; your own architecture (issue 16).

Each test builds its files from our own models on tiny settings, so what detection can and cannot
tell apart is known: RandMask's tensors are PointNet's (same names and shapes), PointMask's are
recognised by nothing, and DGCNN's neighbour count k shapes no tensor at all.
"""
from __future__ import annotations

import json
import logging
import textwrap
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch.nn import functional as F

from engine.catalog import _dataset_classes, resolve_model
from engine.cli import main
from engine.core.errors import CheckpointError, ModelError, ParameterError
from engine.core.jobs import Job
from engine.core.registry import MODELS
from engine.models import user_models
from engine.models.base import PointModel
from engine.models.checkpoint_choice import CheckpointChoice, classifier_models
from engine.models.checkpoint_options import parse_classes, parse_model_options
from engine.models.checkpoints import load_checkpoint, load_checkpoint_cached, save_checkpoint
from engine.models.zoo import build_model
from engine.specs.training import EVALUATE
from tests.engine.core_helpers import CLASSES, toy_folder

SMALL = dict(width=0.125)


def _pth(model, path: Path) -> Path:
    torch.save(model.state_dict(), path)
    return path


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return toy_folder(tmp_path_factory.mktemp("toy") / "toy")


@pytest.fixture
def forget_registered():
    """Models registered by a test are removed again, so tests do not see each other's."""
    before = set(MODELS.names())
    yield
    for key in set(MODELS.names()) - before:
        MODELS._entries.pop(key, None)
        user_models._FILES.pop(key, None)


# --- naming the model -----------------------------------------------------------------------------

def test_named_model_loads_a_file_detection_takes_for_another(tmp_path):
    src = build_model("randmask", num_classes=4, **SMALL)
    path = _pth(src, tmp_path / "randmask.pth")
    assert load_checkpoint(path).key == "pointnet"          # same tensors: detection cannot tell
    loaded = load_checkpoint(path, model="randmask")
    assert loaded.key == "randmask" and type(loaded.model).__name__ == "RandMask"
    assert loaded.meta["config"]["num_classes"] == 4 and loaded.meta["config"]["width"] == 0.125
    for k, v in src.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[k], v), k
    assert any("named by the user" in line for line in loaded.report)


def test_safetensors_without_metadata_loads_with_model_and_typed_options(tmp_path):
    src = build_model("pointmask", num_classes=4, **SMALL)
    path = tmp_path / "bare.safetensors"
    save_file({k: v.contiguous() for k, v in src.state_dict().items()}, str(path))     # no metadata
    with pytest.raises(CheckpointError, match="cannot tell which model") as e:
        load_checkpoint(path)
    assert "--model" in e.value.hint
    loaded = load_checkpoint(path, model="pointmask", model_options={"num_classes": "4", "width": "0.125"})
    assert loaded.key == "pointmask"
    assert loaded.meta["config"] == {"num_classes": 4, "width": 0.125}          # typed, not text
    x = torch.rand(2, 32, 3)
    torch.manual_seed(0); want = src.eval()(x)
    torch.manual_seed(0); got = loaded.model(x)
    assert torch.allclose(want if isinstance(want, torch.Tensor) else want[0],
                          got if isinstance(got, torch.Tensor) else got[0])


def test_model_options_change_the_built_model(tmp_path):
    path = _pth(build_model("dgcnn", num_classes=4, emb_dims=64), tmp_path / "dgcnn.pth")
    cloud = torch.rand(1, 8, 3)                     # 8 points: fewer than the default k = 20
    plain = load_checkpoint(path)
    assert plain.meta["config"].get("k", 20) == 20
    with pytest.raises(ModelError, match="k = 20"):
        plain.model(cloud)
    tuned = load_checkpoint(path, model_options={"k": "5"})
    assert tuned.meta["config"]["k"] == 5 and tuned.model.k == 5
    assert tuned.model(cloud).shape == (1, 4)
    with pytest.raises(CheckpointError, match="no option 'kk'.*emb_dims"):
        load_checkpoint(path, model_options={"kk": 5})


def test_wrong_model_names_file_model_and_keys(tmp_path):
    path = _pth(build_model("pointnet", num_classes=4, **SMALL), tmp_path / "pn.pth")
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path, model="dgcnn")
    text = str(e.value)
    assert str(path) in text and "'dgcnn'" in text
    assert "missing from the file" in text and "feat.stn.conv1.weight" in text   # a PointNet key
    assert "You chose model 'dgcnn'" in e.value.hint
    with pytest.raises(CheckpointError, match="not a registered model.*pointnet"):
        load_checkpoint(path, model="no-such-net")


def test_pointlens_file_refuses_another_model_name(tmp_path):
    path = save_checkpoint(tmp_path / "pn.safetensors", build_model("pointnet", num_classes=3, **SMALL))
    assert load_checkpoint(path, model="pointnet").key == "pointnet"       # agreeing is fine
    with pytest.raises(CheckpointError, match="metadata says it is a 'pointnet'.*'dgcnn'"):
        load_checkpoint(path, model="dgcnn")


# --- class names ----------------------------------------------------------------------------------

def test_parse_classes_from_list_and_file(tmp_path):
    assert parse_classes(" chair, table ,lamp") == ["chair", "table", "lamp"]
    f = tmp_path / "names.txt"
    f.write_text("# ModelNet subset\nchair\n\n  table  \n# lamp is left out\nsofa\n")
    assert parse_classes(str(f)) == ["chair", "table", "sofa"]
    with pytest.raises(ParameterError, match="appears twice"):
        parse_classes("a,b,a")
    with pytest.raises(ParameterError, match="no class names"):
        parse_classes(" , ")
    with pytest.raises(ParameterError, match="name 2 is empty"):
        parse_classes("a,,b")
    with pytest.raises(ParameterError, match="does not exist"):
        parse_classes(str(tmp_path / "missing.txt"))
    (tmp_path / "empty.txt").write_text("# nothing\n\n")
    with pytest.raises(ParameterError, match="no class names"):
        parse_classes(str(tmp_path / "empty.txt"))


def test_parse_model_options():
    assert parse_model_options("k=20, emb_dims=512,width=0.5,feature_transform=false,norm=bn") == \
        {"k": 20, "emb_dims": 512, "width": 0.5, "feature_transform": False, "norm": "bn"}
    assert parse_model_options("") == {}
    with pytest.raises(ParameterError, match="'k' is given twice"):
        parse_model_options("k=1,k=2")
    with pytest.raises(ParameterError, match="not NAME=VALUE"):
        parse_model_options("k20")


def test_classes_are_checked_against_the_head(tmp_path):
    path = _pth(build_model("pointnet", num_classes=4, **SMALL), tmp_path / "pn.pth")
    assert load_checkpoint(path).classes == [f"class {i}" for i in range(4)]
    assert load_checkpoint(path, classes=list("abcd")).classes == list("abcd")
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path, classes=list("abc"))
    assert str(path) in str(e.value) and "3 class names" in str(e.value) and "4 outputs" in str(e.value)


def test_dataset_names_replace_generic_ones_only_when_the_head_size_matches(tmp_path):
    import engine

    ten = save_checkpoint(tmp_path / "ten.safetensors", build_model("pointnet", num_classes=10, **SMALL))
    four = save_checkpoint(tmp_path / "four.safetensors", build_model("pointnet", num_classes=4, **SMALL))
    names = _dataset_classes(Job("evaluate", {"data": "builtin"}), EVALUATE)
    assert names() == list(engine.BUILTIN_CLASSES) and len(engine.BUILTIN_CLASSES) == 10

    got = resolve_model(str(ten), "cpu", EVALUATE, names)
    assert got.classes == list(engine.BUILTIN_CLASSES)
    assert any("open dataset" in line for line in got.report)
    cached = load_checkpoint_cached(str(ten))
    assert cached.classes == [f"class {i}" for i in range(10)]          # the shared one is untouched
    assert got.model is cached.model

    other = resolve_model(str(four), "cpu", EVALUATE, names)
    assert other.classes == [f"class {i}" for i in range(4)]
    named = resolve_model(CheckpointChoice.make(str(ten), classes=[f"c{i}" for i in range(10)]),
                          "cpu", EVALUATE, names)
    assert named.classes == [f"c{i}" for i in range(10)]                  # the user's names win


def test_choice_is_hashable_and_cached(tmp_path):
    path = _pth(build_model("randmask", num_classes=3, **SMALL), tmp_path / "r.pth")
    a = CheckpointChoice.make(str(path), "randmask", "width=0.125", "x,y,z")
    b = CheckpointChoice(str(path), "randmask", (("width", 0.125),), ("x", "y", "z"))
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a.load() is b.load()
    assert a.load() is not CheckpointChoice(str(path), "randmask").load()      # options are in the key
    loaded = resolve_model(a, "cpu", EVALUATE)
    assert loaded.key == "randmask" and loaded.classes == ["x", "y", "z"]


def test_classifier_models_lists_classifiers_only():
    keys = dict(classifier_models())
    assert {"pointnet", "dgcnn", "pointnet2-ssg", "randmask"} <= set(keys)
    assert "parae" not in keys and "serp-pointnet" not in keys
    assert all(isinstance(v, str) and v and "\n" not in v for v in keys.values())


# --- the command line -----------------------------------------------------------------------------

def _eval(capsys, *args) -> tuple[int, dict | None, str]:
    rc = main(["eval", "--json", "--points", "64", *args])
    out, err = capsys.readouterr()
    return rc, (json.loads(out.strip().splitlines()[-1]) if rc == 0 else None), err


def test_cli_eval_with_model_and_classes(toy, tmp_path, capsys):
    path = _pth(build_model("randmask", num_classes=3, **SMALL), tmp_path / "r.pth")
    rc, res, _ = _eval(capsys, "--checkpoint", str(path), "--data", str(toy), "--model", "randmask",
                       "--classes", "a,b,c")
    assert rc == 0 and res["model"] == "randmask" and list(res["per_class_accuracy"]) == ["a", "b", "c"]
    rc, res, _ = _eval(capsys, "--checkpoint", str(path), "--data", str(toy))   # names from the dataset
    assert rc == 0 and res["model"] == "pointnet" and list(res["per_class_accuracy"]) == CLASSES
    names = tmp_path / "names.txt"
    names.write_text("one\ntwo\n")
    rc, _, err = _eval(capsys, "--checkpoint", str(path), "--data", str(toy), "--classes", str(names))
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert "2 class names" in err and "3 outputs" in err and str(path) in err


def test_cli_robustness_names_the_model_of_every_row(toy, tmp_path, capsys):
    """A bare PointMask state dict names no model: the table refuses it until --model and its
    width are given, then every row loads with them and takes the dataset's class names."""
    torch.manual_seed(0)
    a = _pth(build_model("pointmask", num_classes=3, width=0.125), tmp_path / "a.pth")
    b = _pth(build_model("pointmask", num_classes=3, width=0.125), tmp_path / "b.pth")
    common = ["robustness", "--json", "--checkpoints", f"{a},{b}", "--data", str(toy), "--points", "64",
              "--corruptions", "noise:0.02", "--limit", "6"]
    assert main(common) == 2
    assert "cannot tell which model" in capsys.readouterr().err
    assert main(common + ["--model", "pointmask", "--model-options", "width=0.125"]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert [r["model"] for r in res["table"]] == ["pointmask", "pointmask"]
    assert res["columns"] == ["clean", "noise:0.02"]


# --- your own architecture ------------------------------------------------------------------------

TINY_NET = """
    import torch
    from torch import nn


    class TinyNet(nn.Module):
        def __init__(self, num_classes=3, hidden=16):
            super().__init__()
            self.mlp = nn.Linear(3, hidden)
            self.head = nn.Linear(hidden, num_classes)

        def forward(self, x):
            return self.head(torch.relu(self.mlp(x)).max(dim=1).values)


    class PerPoint(TinyNet):
        def forward(self, x):
            return self.head(torch.relu(self.mlp(x)))


    class Fails(nn.Module):
        def __init__(self):
            super().__init__()
            raise ValueError("needs a config file")
    """


def _write(tmp_path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_model_file_registers_a_plain_module(tmp_path, forget_registered):
    path = _write(tmp_path, "tiny_net.py", TINY_NET)
    key = user_models.load_model_file(f"{path}:TinyNet")
    assert key == "file:tiny_net.TinyNet" and user_models.load_model_file(f"{path}:TinyNet") == key
    model = build_model(key, num_classes=5, hidden=8)
    assert isinstance(model, PointModel) and model.config == {"num_classes": 5, "hidden": 8}
    assert sorted(model.state_dict()) == ["head.bias", "head.weight", "mlp.bias", "mlp.weight"]
    x, y = torch.rand(4, 10, 3), torch.tensor([0, 1, 4, 2])
    loss, stats = model.training_loss(x, y)
    assert torch.allclose(loss, F.cross_entropy(model(x), y))

    module = __import__("sys").modules[type(model).__mro__[1].__module__]
    original = module.TinyNet(num_classes=5, hidden=8)                 # the user's own class, saved plainly
    ckpt = _pth(original, tmp_path / "tiny.pth")
    loaded = load_checkpoint(ckpt, model=key, model_options={"num_classes": 5, "hidden": 8})
    assert torch.allclose(loaded.model(x), original(x))
    assert loaded.classes == [f"class {i}" for i in range(5)]          # head found: 5 outputs


def test_model_file_errors_are_one_clear_message(tmp_path, forget_registered):
    good = _write(tmp_path, "nets.py", TINY_NET)
    with pytest.raises(ModelError, match="does not exist"):
        user_models.load_model_file(f"{tmp_path / 'absent.py'}:Net")
    with pytest.raises(ParameterError, match="PATH.py:CLASS"):
        user_models.load_model_file(str(good))
    bad = _write(tmp_path, "broken.py", "import torch\n\nclass Net(torch.nn.Module:\n    pass\n")
    with pytest.raises(ModelError, match=r"broken.py, line 3: syntax error"):
        user_models.load_model_file(f"{bad}:Net")
    with pytest.raises(ModelError, match="no class 'Missing'.*Fails, PerPoint, TinyNet"):
        user_models.load_model_file(f"{good}:Missing")
    with pytest.raises(ModelError, match=r"building Fails\(\) failed \(ValueError: needs a config file\)"):
        user_models.load_model_file(f"{good}:Fails")
    with pytest.raises(ModelError, match=r"shape \(2, 64, 3\).*\(B, C\) logits"):
        user_models.load_model_file(f"{good}:PerPoint")
    assert not [k for k in MODELS.names() if k.startswith("file:nets.")]     # nothing half-registered


def test_cli_eval_with_model_file(toy, tmp_path, capsys, forget_registered):
    path = _write(tmp_path, "cli_net.py", TINY_NET)
    key = user_models.load_model_file(f"{path}:TinyNet")
    ckpt = _pth(build_model(key, num_classes=3), tmp_path / "cli.pth")
    MODELS._entries.pop(key); user_models._FILES.pop(key)              # a fresh process knows nothing
    rc, res, _ = _eval(capsys, "--checkpoint", str(ckpt), "--data", str(toy),
                       "--model-file", f"{path}:TinyNet")
    assert rc == 0 and res["model"] == key and list(res["per_class_accuracy"]) == CLASSES


def test_help_says_the_model_file_runs_code(capsys):
    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    assert "RUNS ITS CODE" in " ".join(capsys.readouterr().out.split())    # argparse wraps lines


# --- installed packages ---------------------------------------------------------------------------

class _Dist:
    def __init__(self, name):
        self.name = name


class _EntryPoint:
    def __init__(self, name, target, dist):
        self.name, self.value, self.dist, self._target = name, f"pkg:{name}", _Dist(dist), target

    def load(self):
        if isinstance(self._target, BaseException):
            raise self._target
        return self._target


def test_entry_points_register_models_and_a_broken_one_only_warns(monkeypatch, caplog, forget_registered):
    from importlib import metadata

    class PluginNet(PointModel):
        def forward(self, x):
            return x.mean(1)

    def register_two():
        MODELS.register("plugin-a")(type("A", (PluginNet,), {"key": "plugin-a"}))
        MODELS.register("plugin-b")(type("B", (PluginNet,), {"key": "plugin-b"}))

    eps = [_EntryPoint("plugin-net", PluginNet, "good-dist"),
           _EntryPoint("broken", ImportError("No module named 'missing_dep'"), "broken-dist"),
           _EntryPoint("not-a-model", 42, "odd-dist"),
           _EntryPoint("many", register_two, "many-dist")]
    seen = []

    def fake(**kw):
        seen.append(kw.get("group"))
        return eps

    monkeypatch.setattr(metadata, "entry_points", fake)
    with caplog.at_level(logging.WARNING, logger="pointlens"):
        added = user_models.load_entry_points(force=True)
    assert seen == ["pointlens.models"]
    assert added == ["plugin-net", "plugin-a", "plugin-b"]
    assert MODELS.get("plugin-net") is PluginNet and PluginNet.key == "plugin-net"
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2
    assert "broken-dist" in warnings[0] and "missing_dep" in warnings[0]
    assert "odd-dist" in warnings[1]
    assert user_models.load_entry_points() == []                             # once per process


def test_cli_train_own_architecture_then_eval_it(toy, tmp_path, capsys, forget_registered):
    net = _write(tmp_path, "train_net.py", TINY_NET)
    out = tmp_path / "mine.safetensors"
    rc = main(["train", "--model-file", f"{net}:TinyNet", "--model-options", "hidden=8", "--data", str(toy),
               "--epochs", "1", "--points", "64", "--batch-size", "8", "--augmentations", "none",
               "--out", str(out), "--json"])
    assert rc == 0, capsys.readouterr().err
    capsys.readouterr()
    meta = __import__("engine").read_meta(out)
    assert meta["model"] == "file:train_net.TinyNet"
    assert meta["config"] == {"hidden": 8, "num_classes": 3}      # width is PointLens's own: dropped
    MODELS._entries.pop(meta["model"]); user_models._FILES.pop(meta["model"])
    rc, _, err = _eval(capsys, "--checkpoint", str(out), "--data", str(toy))
    assert rc == 2 and "--model-file" in err                        # the file alone runs no code
    rc, res, _ = _eval(capsys, "--checkpoint", str(out), "--data", str(toy), "--model-file", f"{net}:TinyNet")
    assert rc == 0 and list(res["per_class_accuracy"]) == CLASSES


def test_own_class_without_num_classes_cannot_be_trained(tmp_path, forget_registered):
    net = _write(tmp_path, "fixed_net.py", """
        import torch
        from torch import nn

        class Fixed(nn.Module):
            def __init__(self, hidden=8):
                super().__init__()
                self.mlp, self.head = nn.Linear(3, hidden), nn.Linear(hidden, 4)

            def forward(self, x):
                return self.head(self.mlp(x).max(dim=1).values)
        """)
    key = user_models.load_model_file(f"{net}:Fixed")
    assert build_model(key, width=0.5).config == {}                  # width: ignored, not passed on
    with pytest.raises(ModelError, match="takes no setting 'num_classes'") as e:
        build_model(key, width=1.0, num_classes=3)
    assert "num_classes argument" in e.value.hint


def test_cli_run_one_cloud_takes_names_from_its_dataset(toy, tmp_path, capsys):
    path = _pth(build_model("randmask", num_classes=3, **SMALL), tmp_path / "r.pth")

    def inspect(*extra):
        assert main(["run", "inspect", "--checkpoint", str(path), "--data", str(toy), "--points", "64",
                     "--json", *extra]) == 0
        return json.loads(capsys.readouterr().out.strip().splitlines()[-1])

    plain = inspect()
    assert plain["predicted_name"] == CLASSES[plain["predicted"]]              # the dataset's names
    named = inspect("--model", "randmask", "--classes", "x,y,z")
    assert named["predicted_name"] == "xyz"[named["predicted"]]


def test_mismatch_after_a_real_build_names_the_chosen_model(tmp_path, forget_registered):
    # A constructor that reads a tensor value cannot be built on the 'meta' device, so the
    # shape check happens on the real model; its message must still name the user's choice.
    net = _write(tmp_path, "shy_net.py", """
        import torch
        from torch import nn

        class Shy(nn.Module):
            def __init__(self, num_classes=3):
                super().__init__()
                hidden = int(torch.ones(1).item() * 8)
                self.mlp, self.head = nn.Linear(3, hidden), nn.Linear(hidden, num_classes)

            def forward(self, x):
                return self.head(self.mlp(x).max(dim=1).values)
        """)
    key = user_models.load_model_file(f"{net}:Shy")
    path = _pth(build_model("pointnet", num_classes=3, **SMALL), tmp_path / "pn.pth")
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path, model=key)
    assert f"does not fit model '{key}'" in str(e.value) and "mlp.weight" in str(e.value)
    assert f"You chose model '{key}'" in e.value.hint
