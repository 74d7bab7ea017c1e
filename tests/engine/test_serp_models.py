"""SeRP-PointNet, SeRP-Transformer and VASP: losses as the paper writes them, gradients, weights."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from engine.core.errors import ParameterError
from engine.ops.perturb import perturb_batch
from engine.models.zoo import build_model
from engine.ops.geometry import gather_points

TINY_T = dict(size="small", dim=16, heads=2, depth=1, decoder_depth=1, groups=8, group_size=8)


def cloud(b=4, n=128, seed=0):
    return torch.rand(b, n, 3, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_serp_pointnet_losses_match_hand_computation():
    torch.manual_seed(0)
    clean = cloud()
    pert = perturb_batch(clean, 4, 8, generator=torch.Generator().manual_seed(1))
    for mode in ("delta", "chamfer"):
        m = build_model("serp-pointnet", width=0.125, reconstruction=mode).eval()
        loss, stats = m.losses(clean, pert.points, pert.mask)
        out = m.forward_all(pert.points)
        head = out["head"]
        if mode == "delta":
            rec = ((head - (clean - pert.points)) ** 2).mean()              # MSE over B*N*3
            torch.testing.assert_close(out["reconstructed"], pert.points + head)
        else:
            d = ((clean[:, :, None] - head[:, None]) ** 2).sum(-1)
            rec = (d.min(2).values.mean(1) + d.min(1).values.mean(1)).mean()
        # Weighted CE: sum_i w_yi * nll_i / sum_i w_yi with w = [0.25, 0.75].
        logp = torch.log_softmax(out["detection_logits"].reshape(-1, 2), -1)
        y = pert.mask.reshape(-1).long()
        w = torch.tensor([0.25, 0.75])[y]
        cls = -(w * logp[torch.arange(len(y)), y]).sum() / w.sum()
        torch.testing.assert_close(loss, 1.5 * rec + 0.001 * cls, rtol=1e-5, atol=1e-7)
        assert stats["rec"] == pytest.approx(float(rec.detach()), rel=1e-5)


def test_serp_pointnet_encoder_fine_tunes_a_pointnet_classifier():
    pre = build_model("serp-pointnet", width=0.125)
    enc = pre.encoder_state_dict()
    assert enc and all(k.startswith("feat.") for k in enc)
    cls = build_model("pointnet", num_classes=10, width=0.125, feature_transform=False)
    target = cls.state_dict()
    assert set(enc) == {k for k in target if k.startswith("feat.")}
    missing, unexpected = cls.load_state_dict(enc, strict=False)
    assert not unexpected and all(not k.startswith("feat.") for k in missing)
    torch.testing.assert_close(cls.feat.conv3.weight, pre.feat.conv3.weight)


def test_transformer_shapes_sizes_and_target_frame():
    m = build_model("serp-transformer", **TINY_T).eval()
    assert m.config["dim"] == 16 and m.config["groups"] == 8
    x = cloud(2, 96)
    out = m.forward_all(x)
    assert out["tokens"].shape == (2, 9, 16)
    assert out["patches"].shape == (2, 8, 8, 3) and out["detection_logits"].shape == (2, 8, 8, 2)
    assert m(x).shape == (2, 64, 3)
    # Loss = Chamfer-L2 between all predicted patch points and the clean centre-relative patches.
    pert = perturb_batch(x, 3, 6, generator=torch.Generator().manual_seed(0))
    loss, stats = m.losses(x, pert.points, pert.mask)
    o = m.forward_all(pert.points)
    tgt = gather_points(x, o["patch_idx"]) - gather_points(x, o["centre_idx"]).unsqueeze(2)
    a, b = tgt.reshape(2, -1, 3), o["patches"].reshape(2, -1, 3)
    d = ((a[:, :, None] - b[:, None]) ** 2).sum(-1)
    rec = (d.min(2).values.mean(1) + d.min(1).values.mean(1)).mean()
    assert stats["rec"] == pytest.approx(float(rec.detach()), rel=1e-5)
    assert float(loss.detach()) == pytest.approx(float(rec.detach()), rel=1e-5)   # cls weight 0 by default
    # Width scales the paper preset; kernel-2 heads give one output per patch as well.
    assert build_model("serp-transformer", width=0.125, depth=1, decoder_depth=1).config["dim"] == 48
    m2 = build_model("serp-transformer", **TINY_T, head_kernel=2).eval()
    assert m2.forward_all(x)["patches"].shape == (2, 8, 8, 3)
    with pytest.raises(ParameterError):
        build_model("serp-transformer", size="huge")
    with pytest.raises(ParameterError):
        m.forward_all(cloud(1, 7))


def test_vasp_quantises_to_nearest_codes_and_straight_through_reaches_encoder():
    torch.manual_seed(0)
    m = build_model("vasp", **TINY_T, codebook_size=32, codebook_weight=0.0, commitment_weight=0.0)
    m.train()
    x = cloud(2, 96)
    pert = perturb_batch(x, 3, 6, generator=torch.Generator().manual_seed(0))
    out = m.forward_all(pert.points)
    tok = out["tokens"].detach().reshape(-1, 16)
    brute = torch.cdist(tok, m.emb.weight.detach().t()).argmin(1)
    assert torch.equal(out["codes"].reshape(-1), brute)
    torch.testing.assert_close(out["quantised"].detach().reshape(-1, 16), m.emb.weight.detach().t()[brute])
    # Reconstruction only: the encoder gets a gradient through the codes, the codebook does not.
    loss, _ = m.losses(x, pert.points, pert.mask)
    loss.backward()
    g_enc = m.patch_embedding.first_conv[0].weight.grad
    assert g_enc is not None and float(g_enc.abs().sum()) > 0
    assert float(m.serp_encoder.blocks[0].attn.qkv.weight.grad.abs().sum()) > 0
    assert m.emb.weight.grad is None or float(m.emb.weight.grad.abs().sum()) == 0
    # The codebook loss moves the codes, the commitment loss the encoder.
    m.zero_grad()
    out = m.forward_all(pert.points)
    out["codebook"].backward(retain_graph=True)
    assert float(m.emb.weight.grad.abs().sum()) > 0
    assert m.patch_embedding.first_conv[0].weight.grad is None or \
        float(m.patch_embedding.first_conv[0].weight.grad.abs().sum()) == 0
    out["commitment"].backward()
    assert float(m.patch_embedding.first_conv[0].weight.grad.abs().sum()) > 0
    torch.testing.assert_close(out["commitment"], F.mse_loss(out["tokens"], out["quantised"]))


@pytest.mark.parametrize("pre_key", ["serp-transformer", "vasp"])
def test_transformer_encoder_keys_fit_the_classifier(pre_key):
    pre = build_model(pre_key, **TINY_T)
    cls = build_model("serp-transformer-cls", num_classes=5, **TINY_T)
    enc = pre.encoder_state_dict()
    target = cls.state_dict()
    assert enc and all(k in target and target[k].shape == v.shape for k, v in enc.items())
    assert not any(k.startswith(("serp_decoder", "reconstruction_head", "emb")) for k in enc)
    cls.load_state_dict(enc, strict=False)
    torch.testing.assert_close(cls.serp_encoder.blocks[0].attn.qkv.weight,
                               pre.serp_encoder.blocks[0].attn.qkv.weight)
    logits = cls.eval()(cloud(2, 96))
    assert logits.shape == (2, 5) and torch.isfinite(logits).all()


def test_paper_size_matches_public_parameter_count():
    # Public Point_SERP: 208 tensors, 29.0 M parameters (REFERENCES.md 1.2; its heads use kernel 2).
    m = build_model("serp-transformer", head_kernel=2)
    assert len(m.state_dict()) == 208
    assert sum(p.numel() for p in m.parameters()) == pytest.approx(29.0e6, rel=0.01)
    v = build_model("vasp", head_kernel=2)
    assert len(v.state_dict()) == 209 and tuple(v.emb.weight.shape) == (384, 512)
    assert sum(p.numel() for p in v.parameters()) == pytest.approx(29.2e6, rel=0.01)
    # Public SerpPointNet: 86 tensors incl. the CE class-weight buffer, which we do not save.
    assert len(build_model("serp-pointnet").state_dict()) == 85


def test_training_perturbation_is_reproducible_from_a_generator():
    m = build_model("serp-pointnet", width=0.125).eval()
    x = cloud()
    m.generator = torch.Generator().manual_seed(3)
    a = m.training_loss(x, None)[0].detach()
    m.generator = torch.Generator().manual_seed(3)
    b = m.training_loss(x, None)[0].detach()
    assert float(a) == float(b) and np.isfinite(float(a))
