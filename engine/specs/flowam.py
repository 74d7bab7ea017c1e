"""Flow AM (Tan 2024): a global explanation of a class by activation maximisation on the point
coordinates (``flowam``), the per-layer activation-flow analysis (``flow-layers``) and the
sanity check / ablations (``flowam-sanity``). Torch-free: the implementations live in
engine.methods.flowam and import the constants below from here."""
from __future__ import annotations

from dataclasses import dataclass

from engine.core.params import param
from engine.core.spec import Input, MethodSpec

# flow = Flow AM itself; the others are the paper's non-generative baselines (Fig. 1, Table I).
METHOD_CHOICES = ("flow", "vanilla", "l2", "blur", "tv")
METHOD_TITLES = {"flow": "Flow AM", "vanilla": "Vanilla AM", "l2": "L2-norm",
                 "blur": "Gaussian blur", "tv": "Total variation"}
# The paper's section IV: weights N_l x 1e-9, 1e-9, 1e-1, 1e-1 and 1 for fT1.fc1, fT1.fc2,
# fT2.fc1, fT2.fc2 and fc2, "where N_l is the total number of activations contained in this
# layer" (512 for fT1.fc1 in the full PointNet). "N*" marks a factor multiplied by N_l.
PAPER_LAYER_WEIGHTS = "fT1.fc1=N*1e-9, fT1.fc2=1e-9, fT2.fc1=1e-1, fT2.fc2=1e-1, fc2=1"
# The default of layer_weights: each model's own aligned layers (a classifier's
# ``flowam_layer_weights``; PointNet's are the paper's above), resolved when the model is known.
AUTO_LAYERS = "auto"
ACTIVATION_POINTS = ("linear", "act")
# The FID features: the global feature and fc2 after BN/ReLU (the authors' FID_eval).
FID_LAYERS = ("global", "fc2.act")
INIT_CHOICES = ("auto", "average", "index-average", "random", "real")
OPTIMISERS = ("adam", "sgd", "rmsprop")
EXPLANATION_CHOICES = ("none", "vanilla", "flow", "both")
SANITY_PARTS = ("dropout", "ablation", "both")


@dataclass(frozen=True)
class FlowAMParams:
    method: str = param("flow", choices=METHOD_CHOICES,
                        help="flow = Flow AM; vanilla / l2 / blur / tv = the paper's baselines")
    steps: int = param(300, lo=1, hi=100000, help="optimiser steps")
    # Adam moves every coordinate by about lr per step whatever the gradient's size: at 0.002 a
    # 300-step run could move points 0.6 (a unit-sphere object's radius is 1) and the clouds
    # drifted away from their class (demo:pointnet, built-in: 5 of 10 classes lay nearest to real
    # objects of their own class); at 0.0005, 8 of 10, with the target softmax still >= 0.88.
    lr: float = param(0.0005, lo=0.0, lo_open=True, hi=10.0, scale="log",
                      help="learning rate on the coordinates")
    # The baselines start from a random cloud and have no class-average shape to keep: at
    # Flow AM's 0.0005 their target logit barely rose in 100 steps (vanilla 0.14 on builtin).
    baseline_lr: float = param(0.002, lo=0.0, lo_open=True, hi=10.0, scale="log",
                               help="learning rate of the baselines (vanilla, l2, blur, tv)")
    optimiser: str = param("adam", choices=OPTIMISERS, help="optimiser of the point coordinates")
    beta: float = param(0.1, lo=0.0, hi=1.0, help="trade-off: (1-beta) L_LA + beta L_C")
    layer_weights: str = param(AUTO_LAYERS,
                               help="aligned layers and weights alpha_l, e.g. 'fc1=0.1, fc2=1' ('N*' multiplies "
                                    "by the layer size); auto = the model's own (PointNet: the paper's T-Net "
                                    "layers and fc2; DGCNN, PointNet++: global feature, fc1, fc2)")
    activation: str = param("linear", choices=ACTIVATION_POINTS,
                            help="align the Linear outputs, or the activations after BN+ReLU ('act')")
    use_la: bool = param(True, help="latent alignment L_LA (flow only; off = ablation)")
    use_c: bool = param(True, help="point continuity L_C (flow only; off = ablation)")
    use_lr: bool = param(True, help="legal restriction L_LR (flow only; off = ablation)")
    boundary: float = param(1.0, lo=0.0, lo_open=True, hi=100.0, unit="coordinate units",
                            help="B, the legal boundary in L_C")
    legal_limit: float = param(1.0, lo=0.0, lo_open=True, hi=100.0, unit="coordinate units",
                               help="C, the legal limit per coordinate")
    points: int = param(1024, lo=16, hi=16384, unit="points", help="points in the explanation")
    init: str = param("auto", choices=INIT_CHOICES,
                      help="start cloud; auto = class average for flow, random for baselines")
    init_noise: float = param(0.0, lo=0.0, hi=1.0, unit="coordinate units",
                              help="std of Gaussian noise added to the start")
    init_objects: int = param(16, lo=1, hi=1000, unit="objects", help="real objects averaged into the start cloud")
    seed: int = param(0, lo=0, hi=2**31 - 1, help="seed of the random start, the noise and the metric samples")
    set_size: int = param(1, lo=1, hi=64, help="explanations optimised together (seeds seed..), the FID set")
    l2_decay: float = param(0.01, lo=0.0, lo_open=True, hi=1.0, hi_open=True, scale="log",
                            help="L2 baseline: x <- (1-decay) x")
    blur_every: int = param(4, lo=1, hi=100000, unit="steps", help="Gaussian-blur baseline: blur every k steps")
    blur_k: int = param(8, lo=1, hi=64, unit="points", help="Gaussian-blur baseline: neighbours")
    blur_sigma: float = param(0.05, lo=0.0, lo_open=True, hi=100.0, scale="log", unit="coordinate units",
                              help="Gaussian-blur baseline: sigma")
    tv_weight: float = param(0.01, lo=0.0, lo_open=True, hi=1e6, scale="log", help="total-variation baseline: weight")
    tv_k: int = param(4, lo=1, hi=64, unit="points", help="total-variation baseline: neighbours")
    stats_split: str = param("test", help="split for class averages and class-mean activations")
    stats_per_class: int = param(100, lo=1, hi=100000, unit="objects",
                                 help="objects per class in the class-mean activations")
    reference_split: str = param("train", help="split of the real objects the metrics compare with "
                                 "(Chamfer's 5, the FID set); the statistics split if absent")
    fid_reals: int = param(100, lo=2, hi=100000, unit="objects", help="real objects of the class in the FID reference set")
    fid_layers: str = param(",".join(FID_LAYERS), help="feature layers of the FID (mean over them)")
    history_every: int = param(0, lo=0, hi=1000000, unit="steps", help="keep every k-th cloud for replay (0: about 200 frames)")
    preview_every: int = param(5, lo=1, hi=1000000, unit="steps", help="yield a preview every k steps")


@dataclass(frozen=True)
class FlowLayersParams(FlowAMParams):
    layers: str = param("modules", help="'aliases', 'modules' (every conv/linear, as Fig. 2), 'aligned' "
                                        "(the layers of layer_weights) or a list")
    pairs: int = param(20, lo=1, hi=100000, help="pairs per class for the same / different class curves")
    per_class: int = param(20, lo=2, hi=100000, unit="objects", help="real objects per class read for the analysis")
    explanations: str = param("vanilla", choices=EXPLANATION_CHOICES,
                              help="explanations compared with real objects (raw AM = vanilla)")


@dataclass(frozen=True)
class SanityParams(FlowAMParams):
    part: str = param("both", choices=SANITY_PARTS,
                      help="parameter-dropout sanity check, term ablations, or both")
    levels: str = param("0,0.1,0.2,0.3,0.4,0.5", help="fractions of parameters zeroed")
    repeats: int = param(1, lo=1, hi=20, help="dropout draws per level (mean and spread)")
    accuracy_per_class: int = param(20, lo=1, hi=100000, unit="objects", help="test objects per class for the dropped accuracy")


DATASET = Input("dataset", "dataset", help="an open Dataset (class statistics, start cloud, metrics)")
DATA = Input("data", "dataset", help="a dataset spec: a path or 'builtin' (when no open dataset is given)")
TARGET = Input("target", "target", required=True, help="the class to explain: a name or an index")

FLOWAM = MethodSpec(
    key="flowam", title="Flow AM (global explanation of a class)", family="flowam",
    params=FlowAMParams, inputs=(DATASET, DATA, TARGET), needs_model=True,
    produces="flowam",
    arrays=("points", "init", "history", "history_steps", "loss_total", "loss_am", "real_examples"),
    layers=("points", "curve"),
    help="Optimises the points of a cloud so the classifier sees the class (L_AM), aligned with "
         "real objects' activations (L_LA), continuous (L_C) and legal (L_LR); or a baseline. "
         "Previews the cloud live; keeps the history for replay and the Table I metrics.")

FLOW_LAYERS = MethodSpec(
    key="flow-layers", title="Activation flow: per-layer similarity of real objects and explanations",
    family="flowam", params=FlowLayersParams,
    inputs=(DATASET, DATA),
    needs_model=True, produces="flow-layers",
    arrays=("layers", "same_class", "same_class_std", "different_class", "different_class_std"),
    layers=("curve", "table"),
    help="Per layer: mean cosine similarity of activations of same-class and different-class pairs "
         "of real objects, and of explanations against real objects of their class (paper Fig. 2).")

SANITY = MethodSpec(
    key="flowam-sanity", title="Flow AM sanity check (parameter dropout) and ablations",
    family="flowam", params=SanityParams, inputs=(DATASET, DATA, TARGET), needs_model=True,
    produces="flowam-sanity", arrays=(), layers=("points", "curve", "table"),
    help="Flow AM again on copies of the model with 0-50 % of the parameters zeroed (the explanation "
         "must degrade) and with L_LA, L_C or L_LR removed (Table III).")

SPECS = (FLOWAM, FLOW_LAYERS, SANITY)
