"""Checkpoints: round trip, the public PointNet layouts, the mismatch report, a bad-file corpus.

The public layouts are checked against an independent re-implementation of fxia22's
``PointNetCls`` written from REFERENCES.md section 1.1 (the public forward returns log-softmax;
ours returns logits: the state dicts hold the same tensors).
"""
from __future__ import annotations

import json
import pickle
import struct

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from engine.core.errors import CheckpointError, ParameterError
from engine.models.zoo import build_model
from engine.models.checkpoints import (load_checkpoint, load_checkpoint_cached, read_meta,
                                       resolve_spec, save_checkpoint)


# --- an independent fxia22 PointNetCls (pointnet/model.py), channels-first input ---------------

class _STN(nn.Module):
    def __init__(self, k: int, cin: int):
        super().__init__()
        self.k = k
        self.conv1, self.conv2, self.conv3 = nn.Conv1d(cin, 64, 1), nn.Conv1d(64, 128, 1), nn.Conv1d(128, 1024, 1)
        self.fc1, self.fc2, self.fc3 = nn.Linear(1024, 512), nn.Linear(512, 256), nn.Linear(256, k * k)
        self.relu = nn.ReLU()
        self.bn1, self.bn2, self.bn3 = nn.BatchNorm1d(64), nn.BatchNorm1d(128), nn.BatchNorm1d(1024)
        self.bn4, self.bn5 = nn.BatchNorm1d(512), nn.BatchNorm1d(256)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        x = F.relu(self.bn3(self.conv3(x)))
        x = torch.max(x, 2, keepdim=True)[0].view(-1, 1024)
        x = F.relu(self.bn4(self.fc1(x)))
        x = F.relu(self.bn5(self.fc2(x)))
        x = self.fc3(x) + torch.eye(self.k).flatten().view(1, -1)
        return x.view(-1, self.k, self.k)


class _Feat(nn.Module):
    def __init__(self, feature_transform: bool, cin: int = 3):
        super().__init__()
        self.stn = _STN(3, cin)
        self.conv1, self.conv2, self.conv3 = nn.Conv1d(cin, 64, 1), nn.Conv1d(64, 128, 1), nn.Conv1d(128, 1024, 1)
        self.bn1, self.bn2, self.bn3 = nn.BatchNorm1d(64), nn.BatchNorm1d(128), nn.BatchNorm1d(1024)
        self.feature_transform = feature_transform
        if feature_transform:
            self.fstn = _STN(64, 64)

    def forward(self, x):
        trans = self.stn(x)
        x = torch.bmm(x.transpose(2, 1), trans).transpose(2, 1)
        x = F.relu(self.bn1(self.conv1(x)))
        if self.feature_transform:
            tf = self.fstn(x)
            x = torch.bmm(x.transpose(2, 1), tf).transpose(2, 1)
        x = F.relu(self.bn2(self.conv2(x)))
        x = self.bn3(self.conv3(x))
        return torch.max(x, 2, keepdim=True)[0].view(-1, 1024)


class PublicPointNetCls(nn.Module):
    def __init__(self, k: int = 40, feature_transform: bool = True):
        super().__init__()
        self.feat = _Feat(feature_transform)
        self.fc1, self.fc2, self.fc3 = nn.Linear(1024, 512), nn.Linear(512, 256), nn.Linear(256, k)
        self.dropout = nn.Dropout(p=0.3)
        self.bn1, self.bn2 = nn.BatchNorm1d(512), nn.BatchNorm1d(256)
        self.relu = nn.ReLU()

    def forward(self, x):                       # x (B, 3, N) -> log-probabilities
        x = self.feat(x)
        x = F.relu(self.bn1(self.fc1(x)))
        x = F.relu(self.bn2(self.dropout(self.fc2(x))))
        return F.log_softmax(self.fc3(x), dim=1)


def _randomise_bn(model: nn.Module, seed: int = 0) -> None:
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm1d):
            n = m.num_features
            m.running_mean.copy_(torch.rand(n, generator=g) * 0.2 - 0.1)
            m.running_var.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
            m.weight.data.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
            m.bias.data.copy_(torch.rand(n, generator=g) * 0.2 - 0.1)


@pytest.fixture(scope="module")
def public_model():
    torch.manual_seed(0)
    ref = PublicPointNetCls(40, feature_transform=True)
    _randomise_bn(ref)
    return ref.eval()


@pytest.fixture(scope="module")
def clouds():
    return torch.randn(3, 64, 3, generator=torch.Generator().manual_seed(1))


def _ref_logprobs(ref, clouds):
    with torch.no_grad():
        return ref(clouds.transpose(1, 2))


def test_reference_layout_matches_appendix_a(public_model):
    # REFERENCES.md Appendix A: 111 tensors with both T-Nets, 74 without the feature transform.
    assert len(public_model.state_dict()) == 111
    assert len(PublicPointNetCls(40, feature_transform=False).state_dict()) == 74
    ours = build_model("pointnet", num_classes=40, width=1.0).state_dict()
    assert [(k, tuple(v.shape)) for k, v in ours.items()] == \
           [(k, tuple(v.shape)) for k, v in public_model.state_dict().items()]


@pytest.mark.parametrize("layout", ["fxia22", "yanx27", "dataparallel", "state_dict", "model_wts"])
def test_public_layouts_give_the_same_logits(tmp_path, public_model, clouds, layout):
    sd = public_model.state_dict()
    if layout == "fxia22":
        obj = sd
    elif layout == "yanx27":
        obj = {"epoch": 199, "instance_acc": 0.9, "class_acc": 0.86, "model_state_dict": sd,
               "optimizer_state_dict": {"state": {}, "param_groups": [{"lr": 1e-3, "params": [0]}]}}
    elif layout == "dataparallel":
        obj = {"model_state_dict": {f"module.{k}": v for k, v in sd.items()}}
    else:
        obj = {layout: sd}
    path = tmp_path / f"{layout}.pth"
    torch.save(obj, path)
    loaded = load_checkpoint(path, expect="pointnet")
    assert loaded.key == "pointnet" and not loaded.model.training
    assert loaded.model.config["num_classes"] == 40 and loaded.model.config["feature_transform"]
    assert any("recognised as 'pointnet'" in r for r in loaded.report)
    if layout == "dataparallel":
        assert any("module." in r for r in loaded.report)
    with torch.no_grad():
        ours = torch.log_softmax(loaded.model(clouds), dim=1)
    torch.testing.assert_close(ours, _ref_logprobs(public_model, clouds), rtol=1e-4, atol=1e-5)


def test_fxia22_without_feature_transform(tmp_path, clouds):
    torch.manual_seed(3)
    ref = PublicPointNetCls(10, feature_transform=False)
    _randomise_bn(ref, 3)
    ref.eval()
    torch.save(ref.state_dict(), tmp_path / "cls_model_249.pth")
    loaded = load_checkpoint(tmp_path / "cls_model_249.pth")
    assert loaded.model.config["feature_transform"] is False
    assert loaded.classes == [f"class {i}" for i in range(10)]
    with torch.no_grad():
        torch.testing.assert_close(torch.log_softmax(loaded.model(clouds), 1), _ref_logprobs(ref, clouds),
                                   rtol=1e-4, atol=1e-5)


def test_yanx27_with_normals_is_explained(tmp_path, public_model):
    sd = dict(public_model.state_dict())
    sd["feat.conv1.weight"] = torch.zeros(64, 6, 1)
    sd["feat.stn.conv1.weight"] = torch.zeros(64, 6, 1)
    torch.save({"model_state_dict": sd}, tmp_path / "best_model.pth")
    with pytest.raises(CheckpointError, match=r"best_model\.pth.*6 input channels.*normals"):
        load_checkpoint(tmp_path / "best_model.pth")


def test_round_trip_same_logits_and_metadata(tmp_path, clouds):
    torch.manual_seed(0)
    model = build_model("pointnet", num_classes=5, width=0.125)
    _randomise_bn(model)
    model.eval()
    meta = {"classes": list("abcde"), "metrics": {"test_accuracy": 0.5}, "data_fingerprint": "abc123",
            "normalisation": {"method": "unit sphere", "points": 64}}
    path = save_checkpoint(tmp_path / "m.safetensors", model, meta)
    loaded = load_checkpoint(path, expect="pointnet")
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(clouds), model(clouds), rtol=0, atol=0)
    import engine

    m = loaded.meta
    assert m["classes"] == list("abcde") and m["metrics"]["test_accuracy"] == 0.5
    assert m["version"] == engine.__version__ and m["model"] == "pointnet" and m["created"]
    assert m["config"] == model.config and m["data_fingerprint"] == "abc123"
    assert read_meta(path)["classes"] == list("abcde")
    assert loaded.report == []
    assert not list(tmp_path.glob(".*.tmp"))          # atomic write left no temp file


def test_cache_reloads_when_the_file_changes(tmp_path):
    model = build_model("pointnet", num_classes=3, width=0.0625).eval()
    path = save_checkpoint(tmp_path / "c.safetensors", model, {"classes": ["a", "b", "c"]})
    a = load_checkpoint_cached(path)
    assert load_checkpoint_cached(str(path)) is a
    import os

    save_checkpoint(path, model, {"classes": ["x", "y", "z"]})
    os.utime(path, ns=(1, 10**9 + 12345))           # a new mtime even on coarse clocks
    b = load_checkpoint_cached(path)
    assert b is not a and b.classes == ["x", "y", "z"]


def test_mismatch_report_names_keys_and_classes(tmp_path, public_model):
    sd = dict(public_model.state_dict())
    del sd["feat.conv2.weight"]
    sd["extra.head.weight"] = torch.zeros(3)
    torch.save(sd, tmp_path / "edited.pth")
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(tmp_path / "edited.pth")
    text = str(e.value)
    assert "edited.pth" in text and "missing" in text and "feat.conv2.weight" in text
    assert "not part of the model" in text and "extra.head.weight" in text

    # a PointLens file whose config says 10 classes but whose head has 40 rows
    model = build_model("pointnet", num_classes=10, width=1.0)
    path = save_checkpoint(tmp_path / "wrong.safetensors", model, {})
    from safetensors.torch import save_file

    tensors = {k: v.clone() for k, v in public_model.state_dict().items()}
    save_file(tensors, str(path), metadata={"pointlens": json.dumps({"model": "pointnet",
                                                                      "config": model.config})})
    with pytest.raises(CheckpointError, match=r"wrong\.safetensors.*fc3\.weight is \(40, 256\) in the file "
                                              r"but \(10, 256\).*file expects 40 classes, the model has 10"):
        load_checkpoint(path)


# --- the bad-checkpoint corpus ----------------------------------------------------------------

class _Payload:
    """Unpickling this calls open(marker, 'w'): a file that would run code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _good_file(tmp_path):
    model = build_model("pointnet", num_classes=3, width=0.0625)
    return save_checkpoint(tmp_path / "good.safetensors", model, {"classes": ["a", "b", "c"]})


def _corpus(tmp_path):
    good = _good_file(tmp_path).read_bytes()
    marker = tmp_path / "PWNED"
    files = {}

    def put(name, data):
        p = tmp_path / name
        p.write_bytes(data)
        files[name] = p

    put("truncated.safetensors", good[: len(good) // 2])
    put("header_only.safetensors", good[:40])
    put("garbage.safetensors", bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8)))
    put("huge_header.safetensors", struct.pack("<Q", 2**40) + b"{}")
    put("empty.pth", b"")
    put("empty.safetensors", b"")
    put("garbage.pth", b"this is not a checkpoint at all\n" * 50)
    put("payload_legacy.pth", pickle.dumps({"model_state_dict": _Payload(marker)}, protocol=2))
    p = tmp_path / "payload_zip.pth"
    torch.save({"state_dict": {"fc3.weight": torch.zeros(2)}, "hook": _Payload(marker)}, p)
    files["payload_zip.pth"] = p
    p = tmp_path / "a_list.pth"
    torch.save([torch.zeros(3)], p)
    files["a_list.pth"] = p
    p = tmp_path / "unknown_layout.pth"
    torch.save({"encoder.w": torch.zeros(3), "decoder.w": torch.zeros(3)}, p)
    files["unknown_layout.pth"] = p
    p = tmp_path / "no_weights.pth"
    torch.save({"epoch": 3, "lr": 0.1}, p)
    files["no_weights.pth"] = p
    # valid safetensors, broken PointLens metadata
    from safetensors.torch import save_file

    p = tmp_path / "bad_meta.safetensors"
    save_file({"x": torch.zeros(2)}, str(p), metadata={"pointlens": "{not json"})
    files["bad_meta.safetensors"] = p
    p = tmp_path / "unknown_model.safetensors"
    save_file({"x": torch.zeros(2)}, str(p), metadata={"pointlens": json.dumps({"model": "nosuchnet", "config": {}})})
    files["unknown_model.safetensors"] = p
    p = tmp_path / "bad_config.safetensors"
    save_file({"x": torch.zeros(2)}, str(p),
              metadata={"pointlens": json.dumps({"model": "pointnet", "config": {"num_classes": "many"}})})
    files["bad_config.safetensors"] = p
    # NaN weights from a diverged run
    model = build_model("pointnet", num_classes=3, width=0.0625)
    with torch.no_grad():
        model.fc3.weight.fill_(float("nan"))
    files["nan.safetensors"] = save_checkpoint(tmp_path / "nan.safetensors", model, {})
    # wrong shapes: config says width 0.125 but tensors are width 0.0625
    p = tmp_path / "wrong_shapes.safetensors"
    small = build_model("pointnet", num_classes=3, width=0.0625)
    cfg = dict(small.config, width=0.125)
    save_file({k: v.contiguous() for k, v in small.state_dict().items()}, str(p),
              metadata={"pointlens": json.dumps({"model": "pointnet", "config": cfg})})
    files["wrong_shapes.safetensors"] = p
    return files, marker


def test_bad_checkpoint_corpus_each_gives_a_clear_error(tmp_path):
    files, marker = _corpus(tmp_path)
    assert len(files) >= 16
    for name, path in files.items():
        with pytest.raises(CheckpointError) as e:
            load_checkpoint(path)
        assert name in str(e.value), f"{name}: message does not name the file: {e.value}"
        assert "\n" not in str(e.value)
    assert not marker.exists(), "a pickle payload ran"


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_pickle_payload_is_refused_before_running(tmp_path):
    marker = tmp_path / "PWNED"
    (tmp_path / "evil.pth").write_bytes(pickle.dumps(_Payload(marker), protocol=4))
    with pytest.raises(CheckpointError, match=r"evil\.pth: refused.*run code"):
        load_checkpoint(tmp_path / "evil.pth")
    assert not marker.exists()
    # sanity: the same bytes do run code when unpickled naively (so the test can fail)
    pickle.loads((tmp_path / "evil.pth").read_bytes()).close()
    assert marker.exists()


def test_wrong_model_and_missing_files(tmp_path):
    good = _good_file(tmp_path)
    with pytest.raises(CheckpointError, match=r"this is a 'pointnet' checkpoint, not 'parae'"):
        load_checkpoint(good, expect="parae")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.safetensors")
    with pytest.raises(CheckpointError, match="is a folder"):
        load_checkpoint(tmp_path)
    with pytest.raises(CheckpointError, match=r"demo model 'nosuchmodel' is not bundled.*make demo-models"):
        load_checkpoint("demo:nosuchmodel")
    assert resolve_spec(good) == good


def test_device_resolution():
    from engine.device import available_devices, resolve_device

    assert resolve_device("cpu") == torch.device("cpu") and resolve_device(None).type == "cpu"
    assert available_devices()[0] == "cpu"
    with pytest.raises(ParameterError, match="'gpu0' is not a device name"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ParameterError, match="no CUDA GPU"):
            resolve_device("cuda:1")
    else:
        with pytest.raises(ParameterError, match="CUDA GPU"):
            resolve_device(f"cuda:{torch.cuda.device_count()}")
