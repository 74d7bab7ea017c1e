"""DGCNN and PointNet++ (SSG, MSG, with and without normals): the public layouts load without
naming the model and give the reference's logits; bad files give one plain message; FPS and the
ball query behave as the CUDA kernels; training and the methods run on them.

The references (tests/engine/pointcloud_references.py) follow the public code literally and import
nothing from engine.models.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from engine.core.errors import CheckpointError, ModelError
from engine.models.checkpoints import load_checkpoint, save_checkpoint
from engine.models.zoo import build_model
from engine.ops.geometry import ball_query, farthest_point_sample
from tests.engine.pointcloud_references import (RefDGCNN, RefPointNet2, randomise_batchnorm,
                                                ref_farthest_point_sample, ref_knn, ref_query_ball_point)

WIDTH = 0.125
CLASSES = 7
# name -> (model key, reference factory, our config, input channels)
KINDS = {
    "dgcnn": ("dgcnn", lambda: RefDGCNN(CLASSES, k=20, emb_dims=1024, width=WIDTH),
              {"num_classes": CLASSES, "width": WIDTH, "emb_dims": 1024}, 3),
    "ssg": ("pointnet2-ssg", lambda: RefPointNet2(CLASSES, False, False, WIDTH),
            {"num_classes": CLASSES, "width": WIDTH, "normal_channel": False}, 3),
    "msg": ("pointnet2-msg", lambda: RefPointNet2(CLASSES, False, True, WIDTH),
            {"num_classes": CLASSES, "width": WIDTH, "normal_channel": False}, 3),
    "ssg-normals": ("pointnet2-ssg", lambda: RefPointNet2(CLASSES, True, False, WIDTH),
                    {"num_classes": CLASSES, "width": WIDTH, "normal_channel": True}, 6),
    "msg-normals": ("pointnet2-msg", lambda: RefPointNet2(CLASSES, True, True, WIDTH),
                    {"num_classes": CLASSES, "width": WIDTH, "normal_channel": True}, 6),
}


def _clouds(channels: int, b: int = 2, n: int = 600, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    xyz = torch.randn(b, n, 3, generator=g)
    xyz = xyz / xyz.norm(dim=-1, keepdim=True).amax(1, keepdim=True)       # unit sphere
    if channels == 3:
        return xyz
    normals = torch.nn.functional.normalize(torch.randn(b, n, 3, generator=g), dim=-1)
    return torch.cat([xyz, normals], -1)


def _ref_logits(ref, x):
    with torch.no_grad():
        out = ref(x.transpose(1, 2).contiguous())
    return out[0] if isinstance(out, tuple) else out        # PointNet++: log-probabilities


def _our_logits(model, x, key):
    with torch.no_grad():
        out = model(x)
    return out if key == "dgcnn" else torch.log_softmax(out, -1)


@pytest.fixture(scope="module")
def refs():
    out = {}
    for i, (name, (_, make, _, _)) in enumerate(KINDS.items()):
        torch.manual_seed(10 + i)
        ref = make()
        randomise_batchnorm(ref, i)
        out[name] = ref.eval()
    return out


# --- layouts -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(KINDS))
def test_full_size_state_dicts_have_the_public_names_and_shapes(name):
    key, _, config, _ = KINDS[name]
    ref = {"dgcnn": lambda: RefDGCNN(40), "ssg": lambda: RefPointNet2(40, False, False),
           "msg": lambda: RefPointNet2(40, False, True), "ssg-normals": lambda: RefPointNet2(40, True, False),
           "msg-normals": lambda: RefPointNet2(40, True, True)}[name]()
    ours = build_model(key, **{**config, "num_classes": 40, "width": 1.0})
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
           [(k, tuple(v.shape)) for k, v in ref.state_dict().items()]
    if name == "dgcnn":      # REFERENCES.md 1.2b: 70 tensors, each BN as bnX and convX.1
        assert len(ours.state_dict()) == 70 and "conv1.1.running_mean" in ours.state_dict()


def _layouts(sd: dict, name: str) -> dict[str, object]:
    """filename -> object saved with torch.save, in the layouts the public code writes."""
    dp = {f"module.{k}": v for k, v in sd.items()}
    return {
        "model.t7": dp,                                                   # WangYueFt/AnTao97 main.py
        "best_model.pth": {"epoch": 120, "instance_acc": 0.91, "class_acc": 0.88,   # yanx27
                           "model_state_dict": sd,
                           "optimizer_state_dict": {"state": {}, "param_groups": [{"lr": 1e-3, "params": [0]}]}},
        "checkpoint.tar": {"epoch": 3, "state_dict": dp},
        "pytorch_model.bin": sd,
        "last.ckpt": {"state_dict": sd},
    }


@pytest.mark.parametrize("name", list(KINDS))
def test_public_layouts_load_unnamed_and_give_the_reference_logits(tmp_path, refs, name):
    key, _, config, channels = KINDS[name]
    ref = refs[name]
    x = _clouds(channels)
    want = _ref_logits(ref, x)
    for filename, obj in _layouts(ref.state_dict(), name).items():
        path = tmp_path / filename
        torch.save(obj, path)
        loaded = load_checkpoint(path)                         # no model named
        assert loaded.key == key, filename
        assert not loaded.model.training
        for k, v in config.items():
            assert loaded.model.config[k] == v, (filename, k)
        assert any(f"recognised as '{key}'" in r for r in loaded.report), loaded.report
        if filename == "model.t7":
            assert any("module." in r for r in loaded.report)
        assert loaded.classes == [f"class {i}" for i in range(CLASSES)]
        torch.testing.assert_close(_our_logits(loaded.model, x, key), want, rtol=0, atol=1e-5,
                                   msg=lambda m: f"{name} {filename}: {m}")


@pytest.mark.parametrize("name", ["dgcnn", "ssg", "msg"])
def test_gradients_match_the_reference_in_eval_and_training(refs, name):
    """Saliency and Flow AM differentiate the eval-mode model w.r.t. the points (float32, as they
    run, and float64); training differentiates the train-mode model w.r.t. its weights, checked
    in float64: batch norm over 3 clouds amplifies float32 rounding past any useful tolerance."""
    import copy

    key, _, config, channels = KINDS[name]
    for mode, dtype, tol, gtol in (("eval", torch.float32, 1e-5, 1e-3), ("eval", torch.float64, 1e-9, 1e-9),
                                   ("train", torch.float64, 1e-9, 1e-9)):
        ref = copy.deepcopy(refs[name]).to(dtype)
        ours = build_model(key, **config).to(dtype)
        ours.load_state_dict(ref.state_dict())
        x = _clouds(channels, b=3, n=600, seed=7).to(dtype)
        grads = []
        for net, fwd in ((ref, lambda p: _ref_out(ref, p)), (ours, lambda p: _our_out(ours, p, key))):
            net.train(mode == "train")
            p = x.clone().requires_grad_(True)
            torch.manual_seed(3)                               # the same dropout masks
            out = fwd(p)
            out[:, 1].sum().backward()
            grads.append((out.detach(), p.grad, {n: q.grad for n, q in net.named_parameters()}))
        (o_ref, g_ref, w_ref), (o_ours, g_ours, w_ours) = grads
        torch.testing.assert_close(o_ours, o_ref, rtol=tol, atol=tol)
        assert g_ref.abs().max() > 0
        torch.testing.assert_close(g_ours, g_ref, rtol=0, atol=gtol * g_ref.abs().max().item())
        if mode == "train":
            for n, g in w_ref.items():
                torch.testing.assert_close(w_ours[n], g, rtol=1e-7, atol=1e-9, msg=lambda m: f"{n}: {m}")


def _ref_out(ref, x):
    out = ref(x.transpose(1, 2))
    return out[0] if isinstance(out, tuple) else out


def _our_out(model, x, key):
    out = model(x)
    return out if key == "dgcnn" else torch.log_softmax(out, -1)


def test_a_hooked_block_runs_its_modules_with_the_same_result(refs):
    model = build_model("dgcnn", num_classes=CLASSES, width=WIDTH)
    model.load_state_dict(refs["dgcnn"].state_dict())
    model.eval()
    x = _clouds(3, n=200)
    with torch.no_grad():
        folded = model(x)
        seen = []
        handle = model.conv2[1].register_forward_hook(lambda m, i, o: seen.append(o.shape))
        try:
            unfolded = model(x)
        finally:
            handle.remove()
    assert seen and seen[0][-1] == 20                         # the BN ran on the (B, C, N, k) edges
    torch.testing.assert_close(folded, unfolded, rtol=1e-5, atol=1e-5)


def test_the_wrong_architecture_is_named(tmp_path, refs):
    torch.save({"model_state_dict": refs["msg"].state_dict()}, tmp_path / "best_model.pth")
    with pytest.raises(CheckpointError, match=r"'pointnet2-msg' checkpoint, not 'pointnet2-ssg'"):
        load_checkpoint(tmp_path / "best_model.pth", expect="pointnet2-ssg")
    assert load_checkpoint(tmp_path / "best_model.pth", expect="pointnet2-msg").key == "pointnet2-msg"


# --- bad variants: one message each, naming what differs --------------------------------------------

def _message(path) -> str:
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path)
    return str(e.value)


@pytest.mark.parametrize("name, head, trunk", [("dgcnn", "linear3", "conv2.0.weight"),
                                               ("ssg", "fc3", "sa2.mlp_convs.1.weight"),
                                               ("msg", "fc3", "sa1.conv_blocks.2.1.weight")])
def test_bad_variants_each_give_one_plain_message(tmp_path, refs, name, head, trunk):
    sd = {f"module.{k}": v.clone() for k, v in refs[name].state_dict().items()}

    wrong_head = dict(sd)
    wrong_head[f"module.{head}.bias"] = torch.zeros(CLASSES + 3)        # head rows disagree
    torch.save(wrong_head, tmp_path / "head.t7")
    text = _message(tmp_path / "head.t7")
    assert f"{head}.bias is ({CLASSES + 3},) in the file but ({CLASSES},) in the model" in text, text

    missing = dict(sd)
    del missing[f"module.{trunk}"]
    torch.save(missing, tmp_path / "missing.t7")
    text = _message(tmp_path / "missing.t7")
    assert "1 tensor(s) the model needs are missing from the file" in text and trunk in text, text

    wrong_shape = dict(sd)
    t = wrong_shape[f"module.{trunk}"]
    wrong_shape[f"module.{trunk}"] = torch.zeros(t.shape[0], t.shape[1] + 1, *t.shape[2:])
    torch.save(wrong_shape, tmp_path / "shape.t7")
    text = _message(tmp_path / "shape.t7")
    assert f"{trunk} is {tuple(wrong_shape[f'module.{trunk}'].shape)} in the file but {tuple(t.shape)}" in text, text

    for text in (_message(tmp_path / f) for f in ("head.t7", "missing.t7", "shape.t7")):
        assert "\n" not in text and "Traceback" not in text


def test_a_pointlens_file_with_the_wrong_class_count(tmp_path, refs):
    """A PointLens checkpoint whose metadata says 10 classes around a 7-class head."""
    from safetensors.torch import save_file

    model = build_model("dgcnn", num_classes=10, width=WIDTH)
    path = save_checkpoint(tmp_path / "wrong.safetensors", model, {})
    save_file({k: v.clone() for k, v in refs["dgcnn"].state_dict().items()}, str(path),
              metadata={"pointlens": json.dumps({"model": "dgcnn", "config": model.config})})
    text = _message(path)
    assert f"linear3.weight is ({CLASSES}, 32) in the file but (10, 32)" in text
    assert f"the file expects {CLASSES} classes, the model has 10" in text


def test_pointnet2_with_odd_input_channels_is_explained(tmp_path, refs):
    sd = dict(refs["ssg"].state_dict())
    sd["sa1.mlp_convs.0.weight"] = torch.zeros(8, 4, 1, 1)
    torch.save({"model_state_dict": sd}, tmp_path / "best_model.pth")
    with pytest.raises(CheckpointError, match=r"sa1\.mlp_convs\.0\.weight\) takes 4 channels.*3 \(xyz\) or 6"):
        load_checkpoint(tmp_path / "best_model.pth")


def test_round_trip_through_our_own_format(tmp_path):
    for key in ("dgcnn", "pointnet2-ssg", "pointnet2-msg"):
        torch.manual_seed(0)
        model = build_model(key, num_classes=3, width=0.0625, **({"k": 8} if key == "dgcnn" else {}))
        randomise_batchnorm(model)
        model.eval()
        path = save_checkpoint(tmp_path / f"{key}.safetensors", model, {"classes": ["a", "b", "c"]})
        loaded = load_checkpoint(path, expect=key)
        x = _clouds(3, n=200)
        with torch.no_grad():
            torch.testing.assert_close(loaded.model(x), model(x), rtol=0, atol=0)
        assert loaded.model.config == model.config and loaded.classes == ["a", "b", "c"]


# --- the kernels -----------------------------------------------------------------------------------

def test_fps_starts_at_index_zero_and_takes_the_farthest_points():
    # points on a line, index 0 in the middle: the far end, the other end, then the largest gap
    xs = torch.tensor([0.0, 1.0, -1.2, 0.5, -0.5, 0.25, 0.9, -3.0, 2.0])
    pts = torch.stack([xs, torch.zeros_like(xs), torch.zeros_like(xs)], -1)[None]
    idx = farthest_point_sample(pts, 5, start=0)[0].tolist()
    assert idx[0] == 0
    assert idx[1] == 7                          # -3 is farthest from 0
    assert idx[2] == 8                          # then 2 (distance 2 from 0, 5 from -3)
    assert idx[3] == 2                          # then -1.2 (1.2 from its nearest pick; 1 is 1 from 0 and 2)
    # the reference loop agrees on a random batch
    cloud = _clouds(3, b=3, n=300, seed=4)
    assert torch.equal(farthest_point_sample(cloud, 64, start=0), ref_farthest_point_sample(cloud, 64))


def test_ball_query_takes_the_first_in_radius_points_in_index_order():
    xs = torch.tensor([0.0, 0.9, 0.1, 0.5, 0.05, 0.2, 3.0])
    pts = torch.stack([xs, torch.zeros_like(xs), torch.zeros_like(xs)], -1)[None]
    centres = pts[:, [0, 6]]
    idx = ball_query(pts, centres, radius=0.3, nsample=3)[0].tolist()
    assert idx[0] == [0, 2, 4]                   # 5 (0.2) is in range too but comes later
    assert idx[1] == [6, 6, 6]                   # alone: the first found fills every slot
    idx = ball_query(pts, centres, radius=0.3, nsample=12)[0].tolist()    # more slots than points
    assert idx[0] == [0, 2, 4, 5] + [0] * 8
    cloud = _clouds(3, b=2, n=400, seed=5)
    c = cloud[:, :50]
    for r, k in ((0.1, 8), (0.3, 32), (0.8, 64)):
        assert torch.equal(ball_query(cloud, c, r, k), ref_query_ball_point(r, k, cloud, c))


def test_dgcnn_neighbours_match_the_public_knn():
    from engine.models.dgcnn import knn

    x = _clouds(3, b=2, n=128, seed=6).transpose(1, 2)
    assert torch.equal(knn(x, 20).sort(-1)[0], ref_knn(x, 20).sort(-1)[0])
    assert (knn(x, 20)[..., 0] == torch.arange(128)).all()          # itself first


def test_dgcnn_training_loss_is_the_public_smoothed_loss(refs):
    import copy

    ref = copy.deepcopy(refs["dgcnn"])          # train mode moves the BN statistics
    model = build_model("dgcnn", num_classes=CLASSES, width=WIDTH)
    model.load_state_dict(ref.state_dict())
    x, y = _clouds(3, b=4, n=64), torch.tensor([0, 1, 2, 6])
    model.train(), ref.train()
    torch.manual_seed(0)
    loss, stats = model.training_loss(x, y)
    torch.manual_seed(0)
    want = ref.loss(ref(x.transpose(1, 2).contiguous()), y)
    torch.testing.assert_close(loss, want, rtol=1e-5, atol=1e-5)
    assert stats["logits"].shape == (4, CLASSES)


def test_bad_inputs_are_model_errors():
    with pytest.raises(ModelError, match="at least 20 points"):
        build_model("dgcnn", num_classes=2, width=WIDTH).eval()(torch.zeros(1, 10, 3))
    with pytest.raises(ModelError, match=r"xyz and normals \(B, N, 6\)"):
        build_model("pointnet2-ssg", num_classes=2, width=WIDTH, normal_channel=True).eval()(torch.zeros(1, 64, 3))
    with pytest.raises(ModelError, match="k = 0"):
        build_model("dgcnn", k=0)


def test_small_clouds_use_every_point_as_a_centre():
    model = build_model("pointnet2-msg", num_classes=4, width=WIDTH).eval()
    with torch.no_grad():
        out = model.forward_all(_clouds(3, b=2, n=64))
    assert out["logits"].shape == (2, 4) and out["sa1_xyz"].shape == (2, 64, 3)


# --- training and methods --------------------------------------------------------------------------

@pytest.mark.parametrize("key, extra", [("dgcnn", ["--k", "8", "--emb-dims", "64"]), ("pointnet2-ssg", []),
                                         ("pointnet2-msg", [])])
def test_pointlens_train_runs_one_tiny_epoch(tmp_path, capsys, key, extra):
    from engine.cli import main

    out = tmp_path / f"{key}.safetensors"
    assert main(["train", "--model", key, "--data", "builtin", "--epochs", "1", "--width", "0.0625",
                 "--points", "64", "--limit", "20", "--batch-size", "10", "--out", str(out), "--json", *extra]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["model"] == key and res["epochs"] == 1 and 0 <= res["test_accuracy"] <= 1
    loaded = load_checkpoint(out)
    assert loaded.key == key and len(loaded.classes) == loaded.model.config["num_classes"]
    if key == "dgcnn":
        assert loaded.model.config["k"] == 8 and loaded.model.config["emb_dims"] == 64


@pytest.fixture(scope="module")
def tiny_checkpoints(tmp_path_factory):
    from engine.data import Loading, open_dataset

    classes = open_dataset("builtin", Loading(points=64)).classes
    folder = tmp_path_factory.mktemp("tiny")
    out = {}
    for key in ("dgcnn", "pointnet2-ssg", "pointnet2-msg"):
        torch.manual_seed(0)
        model = build_model(key, num_classes=len(classes), width=0.0625,
                            **({"k": 8, "emb_dims": 64} if key == "dgcnn" else {}))
        out[key] = str(save_checkpoint(folder / f"{key}.safetensors", model.eval(), {"classes": list(classes)}))
    return out


@pytest.mark.parametrize("key", ["dgcnn", "pointnet2-ssg", "pointnet2-msg"])
def test_inspect_deletion_curve_and_flow_am_run_on_them(tiny_checkpoints, key):
    from engine import Job, run
    from engine.data.open import open_sample

    ckpt = tiny_checkpoints[key]
    cloud, _ = open_sample("builtin", 0, "test", 128)
    ins = run(Job("inspect", {"points": cloud.points}, model=ckpt))
    sal = ins.arrays["saliency"]
    assert sal.shape == (128,) and np.isfinite(sal).all() and sal.max() > 0
    assert "transformed" not in ins.arrays                   # no T-Net to show
    curve = run(Job("deletion-curve", {"points": cloud.points, "scalar": sal}, {"steps": 4, "random_orders": 1},
                    model=ckpt))
    assert curve.arrays["probability"].shape == curve.arrays["k"].shape
    flow = run(Job("flowam", {"data": "builtin", "target": 0},
                   {"steps": 2, "points": 64, "init_objects": 2, "stats_per_class": 2, "fid_reals": 4,
                    "preview_every": 1, "fid_layers": "global,fc2.act", "layer_weights": "fc1=0.1, fc2=1"},
                   model=ckpt))
    assert flow.arrays["points"].shape[-2:] == (64, 3)
