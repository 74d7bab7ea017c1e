"""Public SeRP-PointNet, Point-MAE and Point-BERT checkpoint layouts load without naming the model.

Each file is built here the way the public code saves it (its key names, its containers, its
extra entries) from one of our models with a tiny width, then opened through
``load_checkpoint(path)`` alone. The Point-MAE / Point-BERT logits are also checked against a
forward pass written in this file from their ``PointTransformer`` using the file's own names.
"""
from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from engine.core.errors import CheckpointError
from engine.models.checkpoints import load_checkpoint
from engine.models.transformer_parts import group_patches
from engine.models.zoo import build_model
from tests.engine.pointcloud_references import randomise_batchnorm

CLASSES = 5
# Point-MAE's names for our classifier's prefixes (its models/Point_MAE.py, PointTransformer).
TO_POINT_MAE = {"patch_embedding.": "encoder.", "encoder_pos_embed.block.": "pos_embed.",
                "serp_encoder.blocks.": "blocks.blocks.", "head.": "cls_head_finetune."}
# Tiny, but with what Point-MAE's weights cannot say set to its fine-tuning values: 6 heads,
# 64 patches of 32 points.
TINY_MAE = dict(num_classes=CLASSES, dim=24, depth=2, heads=6, groups=64, group_size=32,
                head="pointmae")
TINY_BERT = dict(TINY_MAE, head="pointbert", patch_dims=16)


def _point_mae_name(ours: str) -> str:
    for mine, theirs in TO_POINT_MAE.items():
        if ours.startswith(mine):
            return theirs + ours[len(mine):]
    return ours


def _cloud(b: int = 2, n: int = 256, seed: int = 3) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, n, 3, generator=g)
    return x / x.norm(dim=-1, keepdim=True).amax(1, keepdim=True)


def _message(path) -> str:
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path)
    text = str(e.value)
    assert "\n" not in text and "Traceback" not in text
    return text


# --- Point-MAE fine-tuned classifier -> serp-transformer-cls ---------------------------------------

def _public(config: dict, seed: int):
    torch.manual_seed(seed)
    model = build_model("serp-transformer-cls", **config)
    randomise_batchnorm(model, seed=seed)
    model.eval()
    sd = {f"module.{_point_mae_name(k)}": v.clone() for k, v in model.state_dict().items()}
    return model, sd


@pytest.fixture(scope="module")
def mae():
    return _public(TINY_MAE, 1)


@pytest.fixture(scope="module")
def bert():
    return _public(TINY_BERT, 2)


def _save_point_mae(path, sd):
    """Point-MAE's runner saves the model under base_model next to the optimiser and metrics."""
    torch.save({"base_model": sd, "optimizer": {"state": {}, "param_groups": [{"lr": 5e-4}]},
                "epoch": 300, "metrics": {"acc": 93.1}, "best_metrics": {"acc": 93.5}}, path)


def test_full_size_classifier_has_point_mae_names_and_shapes():
    """Shapes of Point-MAE's PointTransformer (trans_dim 384, depth 12, encoder 128-256 / 512-384,
    pos_embed 3-128-384, qkv without bias, head 768-256-256-classes)."""
    model = build_model("serp-transformer-cls", num_classes=40, head="pointmae")   # ~22 M params
    sd = {_point_mae_name(k): tuple(v.shape) for k, v in model.state_dict().items()}
    expected = {"cls_token": (1, 1, 384), "cls_pos": (1, 1, 384),
                "encoder.first_conv.0.weight": (128, 3, 1), "encoder.first_conv.3.weight": (256, 128, 1),
                "encoder.second_conv.0.weight": (512, 512, 1), "encoder.second_conv.3.weight": (384, 512, 1),
                "pos_embed.0.weight": (128, 3), "pos_embed.2.weight": (384, 128),
                "blocks.blocks.11.attn.qkv.weight": (1152, 384), "blocks.blocks.11.mlp.fc1.weight": (1536, 384),
                "norm.weight": (384,), "cls_head_finetune.0.weight": (256, 768),
                "cls_head_finetune.1.running_var": (256,), "cls_head_finetune.4.weight": (256, 256),
                "cls_head_finetune.5.weight": (256,), "cls_head_finetune.8.weight": (40, 256)}
    for name, shape in expected.items():
        assert sd.get(name) == shape, name
    assert "blocks.blocks.12.norm1.weight" not in sd and "blocks.blocks.0.attn.qkv.bias" not in sd


def _point_mae_logits(sd: dict, x: torch.Tensor, heads: int = 6) -> torch.Tensor:
    """Point-MAE PointTransformer.forward in eval mode, read off the file's tensors by name."""
    w = {k.removeprefix("module."): v for k, v in sd.items()}

    def bn(t, p):
        return F.batch_norm(t, w[p + ".running_mean"], w[p + ".running_var"], w[p + ".weight"],
                            w[p + ".bias"], False, 0.0, 1e-5)

    def conv(t, p):
        return F.conv1d(t, w[p + ".weight"], w[p + ".bias"])

    def lin(t, p, bias=True):
        return F.linear(t, w[p + ".weight"], w.get(p + ".bias") if bias else None)

    centre_idx, patch_idx = group_patches(x, 64, 32)
    b, g, n = patch_idx.shape
    rows = torch.arange(b)[:, None]
    centres = x[rows, centre_idx]
    patches = x[rows[:, :, None], patch_idx] - centres[:, :, None]
    f = patches.reshape(b * g, n, 3).transpose(1, 2)
    f = conv(F.relu(bn(conv(f, "encoder.first_conv.0"), "encoder.first_conv.1")), "encoder.first_conv.3")
    f = torch.cat([f.max(2, keepdim=True)[0].expand(-1, -1, n), f], 1)
    f = conv(F.relu(bn(conv(f, "encoder.second_conv.0"), "encoder.second_conv.1")), "encoder.second_conv.3")
    tokens = f.max(2)[0].reshape(b, g, -1)
    if "reduce_dim.weight" in w:                           # Point-BERT
        tokens = lin(tokens, "reduce_dim")
    pos = lin(F.gelu(lin(centres, "pos_embed.0")), "pos_embed.2")
    t = torch.cat([w["cls_token"].expand(b, -1, -1), tokens], 1)
    pos = torch.cat([w["cls_pos"].expand(b, -1, -1), pos], 1)
    d = t.shape[-1]
    depth = len({k.split(".")[2] for k in w if k.startswith("blocks.blocks.")})
    for i in range(depth):
        p = f"blocks.blocks.{i}."
        t = t + pos
        h = F.layer_norm(t, (d,), w[p + "norm1.weight"], w[p + "norm1.bias"])
        q, k, v = lin(h, p + "attn.qkv", bias=False).reshape(b, g + 1, 3, heads, d // heads).permute(2, 0, 3, 1, 4)
        a = ((q @ k.transpose(-2, -1)) * (d // heads) ** -0.5).softmax(-1)
        t = t + lin((a @ v).transpose(1, 2).reshape(b, g + 1, d), p + "attn.proj")
        h = F.layer_norm(t, (d,), w[p + "norm2.weight"], w[p + "norm2.bias"])
        t = t + lin(F.gelu(lin(h, p + "mlp.fc1")), p + "mlp.fc2")
    t = F.layer_norm(t, (d,), w["norm.weight"], w["norm.bias"])
    z = torch.cat([t[:, 0], t[:, 1:].max(1)[0]], -1)
    if "cls_head_finetune.3.weight" in w:                  # Point-BERT: Linear, ReLU, Dropout, Linear
        return lin(F.relu(lin(z, "cls_head_finetune.0")), "cls_head_finetune.3")
    z = F.relu(bn(lin(z, "cls_head_finetune.0"), "cls_head_finetune.1"))
    z = F.relu(bn(lin(z, "cls_head_finetune.4"), "cls_head_finetune.5"))
    return lin(z, "cls_head_finetune.8")


def test_point_mae_file_loads_unnamed_with_the_same_logits(tmp_path, mae):
    model, sd = mae
    path = tmp_path / "ckpt-best.pth"
    _save_point_mae(path, sd)
    loaded = load_checkpoint(path)
    assert loaded.key == "serp-transformer-cls"
    assert {k: loaded.model.config[k] for k in ("dim", "depth", "heads", "head", "num_classes")} == \
        {"dim": 24, "depth": 2, "heads": 6, "head": "pointmae", "num_classes": CLASSES}
    assert loaded.meta["file_epoch"] == 300 and loaded.meta["file_metrics.acc"] == pytest.approx(93.1)
    report = " | ".join(loaded.report)
    assert "'base_model'" in report and "'module.'" in report and "Point-MAE" in report
    x = _cloud()
    with torch.no_grad():
        ours, native, public = loaded.model(x), model(x), _point_mae_logits(sd, x)
    torch.testing.assert_close(ours, native)
    torch.testing.assert_close(ours, public, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(ours[0], ours[1])        # the two clouds are told apart


def test_full_size_point_bert_classifier_has_its_names_and_shapes():
    """Point-BERT's PointTransformer (ModelNet config: encoder_dims 256 -> reduce_dim -> 384,
    head 768-256-classes)."""
    model = build_model("serp-transformer-cls", num_classes=40, head="pointbert", patch_dims=256)
    sd = {_point_mae_name(k): tuple(v.shape) for k, v in model.state_dict().items()}
    expected = {"encoder.first_conv.0.weight": (128, 3, 1), "encoder.second_conv.0.weight": (512, 512, 1),
                "encoder.second_conv.3.weight": (256, 512, 1), "reduce_dim.weight": (384, 256),
                "pos_embed.2.weight": (384, 128), "blocks.blocks.11.attn.qkv.weight": (1152, 384),
                "cls_head_finetune.0.weight": (256, 768), "cls_head_finetune.3.weight": (40, 256)}
    for name, shape in expected.items():
        assert sd.get(name) == shape, name
    assert not any(k.startswith(("cls_head_finetune.1.", "cls_head_finetune.4.")) for k in sd)


def test_point_bert_file_loads_unnamed_with_the_same_logits(tmp_path, bert):
    model, sd = bert
    path = tmp_path / "bert.pth"
    _save_point_mae(path, sd)
    loaded = load_checkpoint(path)
    assert loaded.key == "serp-transformer-cls"
    assert {k: loaded.model.config[k] for k in ("dim", "head", "patch_dims", "num_classes")} == \
        {"dim": 24, "head": "pointbert", "patch_dims": 16, "num_classes": CLASSES}
    assert "Point-BERT" in " | ".join(loaded.report)
    x = _cloud()
    with torch.no_grad():
        ours, native, public = loaded.model(x), model(x), _point_mae_logits(sd, x)
    torch.testing.assert_close(ours, native)
    torch.testing.assert_close(ours, public, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(ours[0], ours[1])


def test_point_bert_bad_variants_each_give_one_message(tmp_path, bert):
    _, sd = bert
    head = dict(sd)
    head["module.cls_head_finetune.3.weight"] = torch.zeros(CLASSES, 128)
    _save_point_mae(tmp_path / "head.pth", head)
    text = _message(tmp_path / "head.pth")
    assert f"cls_head_finetune.3.weight is ({CLASSES}, 128) in the file but ({CLASSES}, 256)" in text, text

    missing = dict(sd)
    del missing["module.reduce_dim.bias"]
    _save_point_mae(tmp_path / "missing.pth", missing)
    text = _message(tmp_path / "missing.pth")
    assert "missing from the file: reduce_dim.bias" in text, text


def test_point_mae_bad_variants_each_give_one_message(tmp_path, mae):
    _, sd = mae
    head = dict(sd)
    head["module.cls_head_finetune.8.bias"] = torch.zeros(CLASSES + 2)
    _save_point_mae(tmp_path / "head.pth", head)
    text = _message(tmp_path / "head.pth")
    assert f"cls_head_finetune.8.bias is ({CLASSES + 2},) in the file but ({CLASSES},) in the model" in text, text

    missing = dict(sd)
    del missing["module.blocks.blocks.1.attn.proj.bias"]
    _save_point_mae(tmp_path / "missing.pth", missing)
    text = _message(tmp_path / "missing.pth")
    assert "1 tensor(s) the model needs are missing from the file: blocks.blocks.1.attn.proj.bias" in text, text

    shape = dict(sd)
    shape["module.pos_embed.2.weight"] = sd["module.pos_embed.2.weight"].t().clone()
    _save_point_mae(tmp_path / "shape.pth", shape)
    text = _message(tmp_path / "shape.pth")
    assert "pos_embed.2.weight is (" in text and "in the file but (24," in text, text

    stray = dict(sd)
    stray["module.blocks.blocks.999999.norm1.weight"] = torch.ones(24)
    _save_point_mae(tmp_path / "stray.pth", stray)
    text = _message(tmp_path / "stray.pth")        # depth = blocks counted (3), not 1,000,000
    assert "blocks.blocks.2.attn.qkv.weight" in text and "blocks.blocks.999999.norm1.weight" in text, text

    hidden = {k: (v[:128] if k.startswith("module.cls_head_finetune.0.") else v) for k, v in sd.items()}
    _save_point_mae(tmp_path / "hidden.pth", hidden)
    text = _message(tmp_path / "hidden.pth")
    assert "cls_head_finetune.0.weight" in text and "128 outputs" in text and "256" in text, text


def test_a_point_mae_pretraining_file_is_named_as_such(tmp_path, mae):
    _, sd = mae
    pretrain = {f"module.MAE_encoder.{k.removeprefix('module.')}": v for k, v in sd.items()
                if not k.startswith("module.cls_head_finetune.")}
    pretrain["module.mask_token"] = torch.zeros(1, 1, 24)
    _save_point_mae(tmp_path / "pretrain.pth", pretrain)
    text = _message(tmp_path / "pretrain.pth")
    assert "pre-training checkpoint" in text and "MAE_encoder" in text and "pretrain.pth" in text, text


# --- SeRP-PointNet with its loss buffer --------------------------------------------------------------

def test_full_size_serp_pointnet_plus_the_loss_buffer_is_the_public_tensor_count():
    """The public SerpPointNet state dict holds 86 tensors, cls_loss_func.weight among them."""
    with torch.device("meta"):
        model = build_model("serp-pointnet")
    sd = model.state_dict()
    assert len(sd) + 1 == 86
    assert tuple(sd["feat.conv1.weight"].shape) == (64, 3, 1) and "feat.fstn.conv1.weight" not in sd
    assert tuple(sd["conv1.weight"].shape) == (512, 1088, 1)
    assert tuple(sd["cls_head.weight"].shape) == (2, 128, 1)
    assert tuple(sd["reconstruction_head.weight"].shape) == (3, 128, 1)


@pytest.fixture(scope="module")
def serp():
    torch.manual_seed(0)
    model = build_model("serp-pointnet", width=0.125)
    randomise_batchnorm(model, seed=2)
    model.eval()
    sd = {k: v.clone() for k, v in model.state_dict().items()}
    sd["cls_loss_func.weight"] = torch.tensor([0.25, 0.75])
    return model, sd


@pytest.mark.parametrize("prefix", ["", "module."])
def test_serp_pointnet_file_loads_unnamed_with_the_same_outputs(tmp_path, serp, prefix):
    model, sd = serp
    path = tmp_path / "best_model.pth"
    torch.save({"model_wts": {prefix + k: v for k, v in sd.items()}}, path)
    loaded = load_checkpoint(path)
    assert loaded.key == "serp-pointnet" and loaded.model.config["width"] == 0.125
    report = " | ".join(loaded.report)
    assert "dropped 'cls_loss_func.weight' [0.25, 0.75]" in report and "'model_wts'" in report, report
    x = _cloud(n=128)
    with torch.no_grad():
        ours, native = loaded.model.forward_all(x), model.forward_all(x)
    for name in ("detection_logits", "head", "global"):
        torch.testing.assert_close(ours[name], native[name])
    assert not torch.allclose(ours["detection_logits"][0], ours["detection_logits"][1])


def test_serp_pointnet_bad_variants_each_give_one_message(tmp_path, serp):
    _, sd = serp
    head = dict(sd)
    head["cls_head.weight"] = torch.zeros(3, *sd["cls_head.weight"].shape[1:])
    torch.save({"model_wts": head}, tmp_path / "head.pth")
    text = _message(tmp_path / "head.pth")
    assert "cls_head.weight is (3, 16, 1) in the file but (2, 16, 1) in the model" in text, text

    missing = dict(sd)
    del missing["feat.stn.fc3.bias"]
    torch.save({"model_wts": missing}, tmp_path / "missing.pth")
    text = _message(tmp_path / "missing.pth")
    assert "missing from the file: feat.stn.fc3.bias" in text and "serp-pointnet" in text, text

    shape = dict(sd)
    shape["conv4.weight"] = torch.zeros(16, 8, 1)
    torch.save({"model_wts": shape}, tmp_path / "shape.pth")
    text = _message(tmp_path / "shape.pth")
    assert "conv4.weight is (16, 8, 1) in the file but (16, 16, 1) in the model" in text, text


def test_a_transformer_config_far_larger_than_its_tensors_is_refused_before_it_is_built(tmp_path, monkeypatch):
    """The shapes are compared on torch's 'meta' device first: a file whose metadata claims a
    65,536-wide transformer (hundreds of GB of weights) is refused without allocating it."""
    from engine.models import checkpoints
    from engine.models.checkpoints import save_checkpoint

    small = build_model("serp-transformer-cls", num_classes=4, size="small", dim=48, heads=6, depth=2,
                        groups=8, group_size=8)
    config = dict(small.config, dim=65536, heads=8)
    path = save_checkpoint(tmp_path / "claims_huge.safetensors", small, {"config": config, "classes": list("abcd")})
    built = []
    real_build = checkpoints.build_model
    monkeypatch.setattr(checkpoints, "build_model", lambda *a, **k: built.append(k) or real_build(*a, **k))
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(path)
    assert str(path) in e.value.message and "65536" in e.value.message
    assert built == []          # refused by the shape check, never built for real
