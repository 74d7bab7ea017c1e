"""PointMask / PointMap / RandMask over another classifier (the ``backbone`` option).

The checks are independent of the wrapper's code: with the mask forced to all ones the wrapper
must give the bare classifier's logits (G sees P * M), RandMask's tensors must load into the
plain classifier, and a checkpoint must rebuild the same model.
"""
from __future__ import annotations

import pytest
import torch

from engine.core.errors import ParameterError
from engine.models.checkpoints import load_checkpoint, save_checkpoint
from engine.models.pointmask import PointLatentEncoder
from engine.models.pointnet import PointNetClassifier
from engine.models.zoo import build_model

W = 0.0625
C = 4
BACKBONES = {"dgcnn": {"k": 4, "emb_dims": 32}, "pointnet2-ssg": {}}
WRAPPERS = ("pointmask", "pointmap", "randmask")


def _model(key, backbone, seed=0, **kw):
    torch.manual_seed(seed)
    return build_model(key, num_classes=C, width=W, backbone=backbone, **BACKBONES[backbone], **kw)


def _bare(backbone, seed=1):
    torch.manual_seed(seed)
    return build_model(backbone, num_classes=C, width=W, **BACKBONES[backbone])


def _cloud(b=2, n=64, seed=0):
    return torch.randn(b, n, 3, generator=torch.Generator().manual_seed(seed))


def _settle(model, points):
    """A few training-mode passes so BatchNorm running statistics are not the identity."""
    model.train()
    with torch.no_grad():
        for s in range(3):
            model(points + 0.1 * _cloud(points.shape[0], points.shape[1], seed=10 + s))
    return model.eval()


@pytest.mark.parametrize("backbone", sorted(BACKBONES))
@pytest.mark.parametrize("key", WRAPPERS)
def test_forward_gives_one_logit_per_class(key, backbone):
    model = _model(key, backbone)
    points = _cloud()
    for mode in (model.train, model.eval):
        mode()
        with torch.no_grad():
            assert tuple(model(points).shape) == (2, C)


@pytest.mark.parametrize("backbone", sorted(BACKBONES))
@pytest.mark.parametrize("key", WRAPPERS)
def test_training_loss_reaches_mask_encoder_and_backbone(key, backbone):
    model = _model(key, backbone).train()
    loss, stats = model.training_loss(_cloud(), torch.tensor([0, 3]))
    assert torch.isfinite(loss) and stats["logits"].shape == (2, C)
    loss.backward()
    backbone_module = model if key == "randmask" else model.classifier
    got = [p.grad for p in backbone_module.parameters() if p.grad is not None]
    assert got and any(float(g.abs().sum()) > 0 for g in got)
    if key != "randmask":
        enc = [p.grad for p in model.encoder.parameters() if p.grad is not None]
        assert enc and any(float(g.abs().sum()) > 0 for g in enc)


def _force_latent(model, mu_value):
    """Make F output mu = mu_value at every point whatever the cloud (weights 0, bias set)."""
    with torch.no_grad():
        model.encoder.mu.weight.zero_()
        model.encoder.mu.bias.fill_(mu_value)


@pytest.mark.parametrize("backbone", sorted(BACKBONES))
def test_all_ones_mask_gives_the_bare_backbones_logits(backbone):
    # t = 0 and sigmoid(50) = 1 in float32, so M = ReLU1(1 - 0) = 1 and P * M = P.
    points = _cloud()
    model = _settle(_model("pointmask", backbone, threshold=0.0), points)
    _force_latent(model, 50.0)
    bare = _bare(backbone)
    bare.load_state_dict(model.classifier.state_dict())
    bare.eval()
    with torch.no_grad():
        want = bare(points)
        torch.testing.assert_close(model(points, deterministic=True), want)
        # and the mask does reach G: at t = 0.5 the same mu gives M = 0.5, P * M = P / 2
        model.threshold = 0.5
        torch.testing.assert_close(model(points, deterministic=True), bare(points * 0.5))
        assert not torch.allclose(model(points, deterministic=True), want)


@pytest.mark.parametrize("backbone", sorted(BACKBONES))
def test_zero_translation_gives_the_bare_backbones_logits(backbone):
    # PointMap at eps = 0 with mu = 0 maps P to P + 0: G's logits on the plain cloud.
    points = _cloud()
    model = _settle(_model("pointmap", backbone), points)
    _force_latent(model, 0.0)
    bare = _bare(backbone)
    bare.load_state_dict(model.classifier.state_dict())
    bare.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(points, deterministic=True), bare(points))


@pytest.mark.parametrize("backbone", sorted(BACKBONES))
@pytest.mark.parametrize("key", WRAPPERS)
def test_checkpoint_round_trip_rebuilds_the_same_model(tmp_path, key, backbone):
    points = _cloud()
    model = _settle(_model(key, backbone), points)
    path = save_checkpoint(tmp_path / f"{key}-{backbone}.safetensors", model)
    loaded = load_checkpoint(path)
    assert loaded.key == key and loaded.meta["config"]["backbone"] == backbone
    assert loaded.meta["config"].get("k") == BACKBONES[backbone].get("k")
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(points), model(points))


@pytest.mark.parametrize("backbone", sorted(BACKBONES))
def test_randmask_tensors_are_the_backbones_own(backbone):
    points = _cloud()
    model = _settle(_model("randmask", backbone), points)
    bare = _bare(backbone)
    assert list(model.state_dict()) == list(bare.state_dict())
    bare.load_state_dict(model.state_dict(), strict=True)
    bare.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(points), bare(points))


def test_randmask_over_dgcnn_masks_the_chosen_fraction():
    # the masking mixed into the backbone's class keeps its settings: min_drop = max_drop = 0.5
    # drops exactly half of the 64 points of every cloud
    model = _model("randmask", "dgcnn", min_drop=0.5, max_drop=0.5)
    keep = model.random_keep(_cloud())
    assert keep.shape == (2, 64) and keep.sum(1).tolist() == [32.0, 32.0]


def test_layer_names_follow_the_backbone():
    model = _model("pointmask", "dgcnn")
    assert model.resolve_layer("edge1") is model.classifier.edge1
    assert model.resolve_layer("fc2") is model.classifier.linear2
    assert model.flowam_layer_weights == model.classifier.flowam_layer_weights
    assert model.head_weight == "classifier.linear3.weight"


def test_forward_all_without_the_backbones_forward_all():
    # A classifier with only forward (as a user's model may be): its logits are the whole output.
    class OnlyForward(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return self.inner(x)

    model = _model("pointmask", "dgcnn").eval()
    model.classifier = OnlyForward(model.classifier)
    assert not hasattr(model.classifier, "forward_all")
    with torch.no_grad():
        out = model.forward_all(_cloud(), deterministic=True)
        assert set(out) >= {"logits", "mask", "input", "mu"}
        torch.testing.assert_close(out["logits"], model.classifier.inner(out["input"]))


@pytest.mark.parametrize("key", WRAPPERS)
def test_unknown_backbone_is_one_clear_error(key):
    with pytest.raises(ParameterError) as err:
        build_model(key, num_classes=C, width=W, backbone="pointnett")
    text = str(err.value)
    assert "pointnett" in text
    for choice in ("dgcnn", "pointnet", "pointnet2-msg", "pointnet2-ssg"):
        assert choice in text.split("choose one of")[1]
    assert "pointmask" not in text.split("choose one of")[1]


def test_pointnet_only_option_with_another_backbone_is_refused():
    with pytest.raises(ParameterError, match="feature_transform"):
        build_model("pointmask", num_classes=C, width=W, backbone="dgcnn", feature_transform=False)


def test_default_backbone_keeps_todays_tensors_and_config():
    torch.manual_seed(0)
    model = build_model("pointmask", num_classes=C, width=W)
    want = ({f"classifier.{k}" for k in PointNetClassifier(num_classes=C, width=W).state_dict()}
            | {f"encoder.{k}" for k in PointLatentEncoder(1, W).state_dict()})
    assert set(model.state_dict()) == want
    assert "backbone" not in model.config and model.config["feature_transform"] is True
    assert model.config["dropout"] == 0.4
    rand = build_model("randmask", num_classes=C, width=W)
    assert isinstance(rand, PointNetClassifier) and "backbone" not in rand.config
    assert list(rand.state_dict()) == list(PointNetClassifier(num_classes=C, width=W).state_dict())
    explicit = build_model("pointmask", num_classes=C, width=W, backbone="pointnet")
    assert explicit.config == model.config


def test_the_pointnet_default_draws_its_initial_weights_in_the_old_order():
    """F (the mask encoder) is built before G, as before the backbone option: a seed gives the
    same initial PointMask as it always did (tests and experiments seeded on it stay put)."""
    import torch

    from engine.models.pointmask import PointLatentEncoder
    from engine.models.pointnet import PointNetClassifier

    torch.manual_seed(3)
    model = build_model("pointmask", num_classes=4, width=0.125)
    torch.manual_seed(3)
    encoder = PointLatentEncoder(1, 0.125, 0.0, "point")
    classifier = PointNetClassifier(num_classes=4, width=0.125, feature_transform=True, dropout=0.4)
    expected = {**{f"encoder.{k}": v for k, v in encoder.state_dict().items()},
                **{f"classifier.{k}": v for k, v in classifier.state_dict().items()}}
    got = model.state_dict()
    assert set(got) == set(expected)
    assert all(torch.equal(got[k], expected[k]) for k in expected)
