"""SeRP: perturb one clean cloud and reconstruct it (serp-explain), and a classifier fine-tuned from
a SeRP pre-trained encoder against the same classifier from scratch (finetune-compare)."""
from __future__ import annotations

from dataclasses import dataclass

from engine.core.params import param
from engine.core.spec import Input, MethodSpec

# SeRP's perturbation modes (engine.ops.perturb imports them from here): per-point noise as the
# paper says, or one offset per patch as the public code does.
MODES = ("per-point", "per-patch")
# The self-supervised SeRP models: what serp-explain explains and finetune-compare starts from.
SERP_MODELS = ("serp-pointnet", "serp-transformer", "vasp")


@dataclass(frozen=True)
class SerpExplainParams:
    centres: int = param(20, lo=1, hi=100000, help="number of random perturbation centres (paper: 20)")
    neighbours: int = param(20, lo=1, hi=100000, unit="points",
                            help="points per perturbed patch, the centre included (paper: 20)")
    std: float = param(0.03, lo=0.0, hi=1.0, unit="unit-sphere coordinates",
                       help="standard deviation of the Gaussian noise (paper: 0.03)")
    mode: str = param("per-point", choices=MODES,
                      help="per-point noise (paper) or one offset per patch (public code)")
    seed: int = param(0, lo=0, hi=2**31 - 1, help="seed of the centres and the noise")
    anchor: str = param("clean", choices=("clean", "perturbed"),
                        help="transformer: place predicted patches at the clean centres (as the "
                             "public reconstruct script) or at the perturbed input's centres")


SERP_EXPLAIN = MethodSpec(
    key="serp-explain", title="SeRP: perturb and reconstruct", family="serp", params=SerpExplainParams,
    inputs=(Input("points", "points", help="the clean cloud (else sample 'index' of 'data')"),
            Input("data", "dataset", help="dataset to take the cloud from when no points are given"),
            Input("index", "index", help="sample index in the split (default 0)"),
            Input("split", "split", help="split name (default test)"),
            Input("n_points", "count", help="points per cloud loaded from the dataset (default 1024, "
                                            "as the paper)")),
    needs_model=True, model_kinds=SERP_MODELS, produces="serp-explain",
    arrays=("original", "perturbed", "perturbed_mask", "centres", "reconstructed", "error",
            "detection_probability"),
    layers=("points", "scalar"),
    help="Perturb the cloud as SeRP does (Gaussian noise on random k-NN patches), reconstruct it "
         "and detect the perturbed points; Chamfer distances before and after.")


@dataclass(frozen=True)
class FinetuneCompareParams:
    epochs: int = param(10, lo=1, hi=100000, help="epochs of each classifier run")
    lr: float = param(1e-3, lo=0.0, lo_open=True, hi=10.0, scale="log", help="learning rate (both runs)")
    batch_size: int = param(32, lo=2, hi=65536, unit="clouds", help="clouds per step")
    points: int = param(1024, lo=8, hi=1000000, unit="points", help="points per cloud")
    limit: int = param(0, lo=0, hi=100_000_000, unit="clouds", help="use at most this many clouds per split (0 = all)")
    seed: int = param(0, lo=0, hi=2**31 - 1, help="seed of both runs (same initial head, same batches)")
    scheduler: str = param("step", choices=("step", "cosine", "none"), help="learning-rate schedule")
    augmentations: str = param("scale,shift", help="augmentations of both runs")
    out_prefix: str = param("", help="write <prefix>_scratch.safetensors and <prefix>_pretrained.safetensors")


FINETUNE_COMPARE = MethodSpec(
    key="finetune-compare", title="SeRP: fine-tune vs scratch", family="serp", params=FinetuneCompareParams,
    inputs=(Input("data", "dataset", required=True,
                  help="labelled training data: a dataset spec, or (x, y, class names) arrays"),
            Input("test", "arrays", help="test arrays (x, y) when 'data' is arrays")),
    needs_model=True, model_kinds=SERP_MODELS, uses_device=True, produces="finetune-compare",
    arrays=("scratch_test_acc", "pretrained_test_acc", "scratch_loss", "pretrained_loss"),
    layers=("curve", "table"),
    help="The same classifier trained twice with identical settings and seed: from scratch and "
         "initialised from the pre-trained SeRP encoder (the job's model).")

SPECS = (SERP_EXPLAIN, FINETUNE_COMPARE)
