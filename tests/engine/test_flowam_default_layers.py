"""Flow AM's default aligned layers ('auto'): each classifier's own, layers that exist, that see
the whole cloud (the paper aligns fully-connected layers after a global pooling, not point-wise
convolutions), PointNet's equal to the paper's section IV setting; an explicit value overrides;
the result records the layers actually aligned."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from engine import Job, run
from engine.core.errors import ModelError
from engine.methods.flowam.baselines import aligned_layer_weights, objective_config
from engine.methods.flowam.layers import layer_names
from engine.methods.flowam.objective import (PAPER_LAYER_WEIGHTS, parse_layer_weights,
                                             resolve_layer_weights, tap_name)
from engine.models.taps import tap
from engine.models.zoo import build_model
from engine.specs.flowam import AUTO_LAYERS, FlowAMParams

ARCHS = {"pointnet": {}, "dgcnn": {"k": 8, "emb_dims": 64}, "pointnet2-ssg": {}, "pointnet2-msg": {}}
FAST = {"steps": 2, "points": 64, "init_objects": 2, "stats_per_class": 2, "fid_reals": 4,
        "preview_every": 1, "fid_layers": "global"}


def _model(arch):
    torch.manual_seed(0)
    return build_model(arch, num_classes=10, width=0.0625, **ARCHS[arch]).eval()


def test_the_spec_default_is_auto_and_pointnet_resolves_to_the_papers_layers():
    assert FlowAMParams().layer_weights == AUTO_LAYERS
    assert resolve_layer_weights(_model("pointnet"), AUTO_LAYERS) == PAPER_LAYER_WEIGHTS
    # without a model (older callers) 'auto' is the paper's setting, as before
    assert [lw.layer for lw in objective_config(FlowAMParams()).layer_weights] == \
        ["fT1.fc1", "fT1.fc2", "fT2.fc1", "fT2.fc2", "fc2"]


@pytest.mark.parametrize("activation", ["linear", "act"])
@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_default_layers_exist_and_give_one_vector_per_cloud(arch, activation):
    model = _model(arch)
    weights = parse_layer_weights(resolve_layer_weights(model, AUTO_LAYERS))
    assert len(weights) >= 2
    names = [tap_name(lw.layer, activation) for lw in weights]
    for n in names:
        model.resolve_layer(n)                     # a ModelError would name the missing layer
    x = torch.rand(3, 128, 3) * 2 - 1
    with torch.no_grad(), tap(model, names) as acts:
        model(x)
    for n in names:
        # a global (pooled) layer: (B, D), not a per-point (B, D, N) map
        assert acts[n].dim() == 2 and acts[n].shape[0] == 3, (n, tuple(acts[n].shape))
    assert weights[-1].layer == "fc2" and weights[-1].factor == 1.0   # the paper's strongest weight


def test_dgcnn_default_layers_do_not_depend_on_point_order():
    """They see the whole cloud: kNN graphs and pooling make them invariant to a permutation."""
    model = _model("dgcnn")
    names = [lw.layer for lw in parse_layer_weights(resolve_layer_weights(model, AUTO_LAYERS))]
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2, 96, 3, generator=g) * 2 - 1
    perm = torch.randperm(96, generator=g)
    with torch.no_grad():
        with tap(model, names) as a:
            model(x)
            first = {n: a[n].clone() for n in names}
        with tap(model, names) as b:
            model(x[:, perm])
            for n in names:
                torch.testing.assert_close(b[n], first[n], rtol=1e-4, atol=1e-5)


def test_an_explicit_value_overrides_the_default():
    model = _model("dgcnn")
    assert resolve_layer_weights(model, "fc2=1") == "fc2=1"
    cfg = objective_config(FlowAMParams(layer_weights="fc1=0.5"), model)
    assert [(lw.layer, lw.factor) for lw in cfg.layer_weights] == [("fc1", 0.5)]
    # a baseline aligns nothing: 'auto' never asks the model for layers
    assert objective_config(FlowAMParams(method="vanilla"), model).layer_weights == []


def test_a_model_without_such_layers_asks_for_them_by_name():
    model = build_model("serp-transformer-cls", num_classes=10, width=0.0625)
    with pytest.raises(ModelError) as err:
        resolve_layer_weights(model, AUTO_LAYERS)
    assert "layer_weights" in err.value.hint and "global" in err.value.hint
    assert aligned_layer_weights(FlowAMParams(method="vanilla"), model) == ""
    assert aligned_layer_weights(FlowAMParams(use_la=False), model) == ""


@pytest.mark.parametrize("given", [AUTO_LAYERS, "fc2=1"])
def test_the_result_records_the_layers_actually_aligned(given):
    model = _model("dgcnn")
    result = run(Job("flowam", {"data": "builtin", "target": 0}, {**FAST, "layer_weights": given}, model=model))
    expected = model.flowam_layer_weights if given == AUTO_LAYERS else given
    assert result.provenance["layer_weights"] == expected
    assert result.metrics["layer_weights"] == expected
    assert result.params["layer_weights"] == given            # what the user asked for, as asked


def test_flow_layers_can_plot_the_aligned_layers_in_forward_order():
    model = _model("pointnet2-ssg")
    assert layer_names(model, "aligned") == ["global", "fc1", "fc2"]
    assert layer_names(model, "aligned", "fc2=1, fc1=1", "act") == ["fc1.act", "fc2.act"]
    params = dataclasses.replace(FlowAMParams(), layer_weights="fc2=1")
    assert aligned_layer_weights(params, model) == "fc2=1"
