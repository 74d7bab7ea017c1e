"""ParAE with the DGCNN encoder (paper section 4: PointNet and DGCNN backbones, z = the pooled
feature after the fifth layer): it trains, rebuilds from its checkpoint, its z ignores point
order, its encoder transfers to a DGCNN classifier, and the ParAE methods run on it."""
from __future__ import annotations

import pytest
import torch

from engine import Job, run
from engine.core.errors import ModelError, ParameterError
from engine.models.zoo import build_model

TINY = {"parts": 8, "width": 0.125, "encoder": "dgcnn", "k": 8, "emb_dims": 256}


def _tiny(seed=0):
    torch.manual_seed(seed)
    return build_model("parae", **TINY)


def test_forward_shapes_and_backward_reach_every_encoder_weight():
    model = _tiny().train()
    x = torch.rand(3, 48, 3) * 2 - 1
    out = model.forward_all(x)
    assert out["logits"].shape == (3, 48, 8)
    assert out["global"].shape == (3, 32)               # emb_dims 256 at width 1/8
    assert out["features"].shape == (3, 48, 16)         # 128 at width 1/8
    loss, stats = model.training_loss(x)
    assert torch.isfinite(loss) and stats["nll"] == pytest.approx(float(loss.detach()))   # no T-Net term
    loss.backward()
    for name in ("conv1.0.weight", "conv4.0.weight", "conv5.0.weight", "head1.0.weight", "out.weight"):
        g = model.backbone.get_parameter(name).grad
        assert g is not None and float(g.abs().sum()) > 0, name


def test_z_is_the_max_pool_of_the_embedding_and_ignores_point_order():
    model = _tiny().eval()
    g = torch.Generator().manual_seed(3)
    x = torch.rand(2, 64, 3, generator=g) * 2 - 1
    perm = torch.randperm(64, generator=g)
    with torch.no_grad():
        enc = model.backbone.encode(x)
        z = model.global_features(x)
        torch.testing.assert_close(z, enc["points"].amax(dim=2))
        torch.testing.assert_close(model.global_features(x[:, perm]), z, rtol=1e-4, atol=1e-5)
        # the part logits are per point: permuting the input permutes them
        torch.testing.assert_close(model(x[:, perm]), model(x)[:, perm], rtol=1e-4, atol=1e-5)


def test_checkpoint_round_trip_rebuilds_the_dgcnn_encoder(tmp_path):
    from engine.models.checkpoints import load_checkpoint, save_checkpoint

    model = _tiny().train()
    x = torch.rand(2, 32, 3) * 2 - 1
    model.training_loss(x)                                # move the BN running statistics
    model.eval()
    path = save_checkpoint(tmp_path / "parae_dgcnn.safetensors", model, {"classes": []})
    loaded = load_checkpoint(str(path)).model.eval()
    assert loaded.config["encoder"] == "dgcnn" and loaded.config["k"] == 8
    assert type(loaded.backbone).__name__ == "DGCNNSegBackbone"
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))
        torch.testing.assert_close(loaded.global_features(x), model.global_features(x))


def test_encoder_warm_starts_a_dgcnn_classifier():
    parae = _tiny()
    dgcnn = build_model("dgcnn", num_classes=10, width=0.125, k=8, emb_dims=256)
    own = dgcnn.state_dict()
    src = parae.encoder_state_dict()
    assert src and all(k in own and own[k].shape == v.shape for k, v in src.items())
    assert {k.split(".")[0] for k in src} == {f"conv{i}" for i in range(1, 6)} | {f"bn{i}" for i in range(1, 6)}


def test_bad_settings_name_the_field():
    with pytest.raises(ParameterError, match="encoder"):
        build_model("parae", encoder="resnet")
    with pytest.raises(ParameterError, match="k"):
        build_model("parae", encoder="pointnet", k=10)
    with pytest.raises(ModelError, match="at least 8"):
        _tiny()(torch.zeros(1, 4, 3))


def test_explain_and_probe_run_on_it(tmp_path):
    from engine.models.checkpoints import save_checkpoint

    path = save_checkpoint(tmp_path / "p.safetensors", _tiny().eval(), {"classes": []})
    ex = run(Job("parae-explain", {"data": "builtin", "index": 0, "n_points": 64}, {"resolution": 16},
                 model=str(path)))
    assert ex.arrays["mu"].shape == (8, 3) and ex.arrays["global_feature"].shape[-1] == 32
    pr = run(Job("probe", {"data": "builtin"}, {"points": 64, "limit": 40, "batch_size": 20, "tsne": False},
                 model=str(path)))
    assert pr.metrics["feature_dim"] == 32 and 0.0 <= pr.metrics["pretrained"] <= 1.0


@pytest.mark.parametrize("key", ["dgcnn", "pointnet2-ssg"])
def test_the_probe_takes_any_classifiers_pooled_feature(tmp_path, key):
    """The probe's features from a DGCNN / PointNet++ classifier are its pooled 'global'
    feature, the same vector its forward pass feeds the head."""
    from engine.methods.parae.probe import feature_fn
    from engine.models.checkpoints import save_checkpoint

    torch.manual_seed(0)
    opts = {"k": 4, "emb_dims": 32} if key == "dgcnn" else {}
    model = build_model(key, num_classes=10, width=0.0625, **opts).eval()
    x = torch.randn(2, 64, 3)
    with torch.no_grad():
        assert torch.equal(feature_fn(model)(x), model.forward_all(x)["global"])
    path = save_checkpoint(tmp_path / "c.safetensors", model, {"classes": [f"c{i}" for i in range(10)]})
    pr = run(Job("probe", {"data": "builtin"}, {"points": 64, "limit": 40, "batch_size": 20, "tsne": False},
                 model=str(path)))
    assert pr.metrics["feature_dim"] == model.forward_all(x)["global"].shape[-1]
    assert 0.0 <= pr.metrics["pretrained"] <= 1.0
