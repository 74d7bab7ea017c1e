"""Training: train a model, evaluate a classifier, and the robustness and calibration table.

Torch-free: the GUI's training and robustness boxes and the CLI read their ranges here.
"""
from __future__ import annotations

from dataclasses import dataclass

from engine.numeric.corruptions import TABLE3
from engine.core.params import param
from engine.core.spec import Input, MethodSpec
from engine.data.dataset import SAMPLINGS

DATA = Input("data", "dataset", help="a dataset spec (path or 'builtin'), an open Dataset, or "
                                     "(x, y, classes) arrays; default builtin")


@dataclass(frozen=True)
class TrainParams:
    model: str = param("pointnet", help="registered model key")
    epochs: int = param(10, lo=1, hi=100000, help="epochs to train (in total, when resuming)")
    lr: float = param(1e-3, lo=0.0, lo_open=True, hi=10.0, help="learning rate")
    batch_size: int = param(32, lo=2, hi=65536, help="clouds per step (over all processes)")
    points: int = param(1024, lo=8, hi=1000000, help="points per cloud")
    limit: int = param(0, lo=0, hi=100_000_000, help="use at most this many clouds per split (0 = all)")
    width: float = param(1.0, lo=0.01, hi=8.0, help="width multiplier of every layer (1 = the paper's)")
    seed: int = param(0, lo=0, hi=2**31 - 1, help="seed of initialisation, shuffling and augmentation")
    weight_decay: float = param(1e-4, lo=0.0, hi=1.0, help="L2 weight decay")
    optimizer: str = param("adam", choices=("adam", "sgd"), help="optimiser")
    momentum: float = param(0.9, lo=0.0, hi=1.0, hi_open=True, help="SGD momentum")
    scheduler: str = param("step", choices=("step", "cosine", "none"), help="learning-rate schedule")
    step_size: int = param(20, lo=1, hi=100000, help="StepLR: epochs between decays")
    gamma: float = param(0.7, lo=0.0, lo_open=True, hi=1.0, help="StepLR: decay factor")
    augmentations: str = param("scale,shift", help="comma list: jitter, rotate-up, rotate-so3, "
                               "scale, shift, dropout (or none)")
    up_axis: str = param("auto", choices=("auto", "x", "y", "z"),
                         help="axis of rotate-up (auto: the dataset's, else y as PointNet's HDF5)")
    mix: str = param("none", help="mix augmentation from the registry (e.g. sagemix) or none")
    mix_options: str = param("", help="JSON object of options for the mix augmentation")
    model_options: str = param("", help="JSON object of extra model settings")
    sampling: str = param("random", choices=SAMPLINGS, help="how clouds are cut to --points")
    init: str = param("", help="checkpoint to copy matching weights from first")
    out: str = param("", help="checkpoint to write ('' = none)")
    keep: str = param("best", choices=("best", "last"), help="write the best epoch or the last")
    resume: bool = param(False, help="continue from the resume state next to 'out'")
    fast: bool = param(True, help="fused optimiser step; channels-last PointNet training forward")
    precision: str = param("fp32", choices=("fp32", "bf16"),
                           help="bf16: mixed precision (autocast) for the forward pass, weights stay "
                                "fp32; PointNet's fused fp32 layers are not used then, so on a CPU it is "
                                "about 2x slower than fp32 (make bench); meant for GPUs")


TRAIN = MethodSpec(
    key="train", title="Train a model", family="training", params=TrainParams,
    inputs=(DATA,
            Input("test", "arrays", help="(x, y) test arrays when data is given as arrays"),
            Input("command", "text", help="the command line, recorded in the checkpoint")),
    uses_device=True, produces="train",
    arrays=("epoch", "loss", "train_acc", "test_acc", "test_loss", "step", "step_loss"),
    layers=("curve",),
    help="One training loop for every registered model; writes the checkpoint (best or last) and "
         "a resume state beside it.")


@dataclass(frozen=True)
class EvaluateParams:
    split: str = param("test", help="dataset split to evaluate")
    points: int = param(0, lo=0, hi=1000000, help="points per cloud (0 = as the checkpoint was trained)")
    limit: int = param(0, lo=0, hi=100_000_000, help="at most this many clouds, spread over the split (0 = all)")
    corrupt: str = param("", help="corruption KIND:LEVEL, e.g. noise:0.05, rotate-z:180, dropout:0.5")
    corrupt_seed: int = param(0, lo=0, hi=2**31 - 1, help="seed of the corruption")
    batch_size: int = param(32, lo=1, hi=65536, help="clouds per forward pass")
    sampling: str = param("auto", choices=("auto",) + SAMPLINGS,
                          help="how clouds are cut to N points (auto: as in training)")
    fold_bn: bool = param(True, help="fold batch norm into the preceding layers (faster, same result)")


EVALUATE = MethodSpec(
    key="evaluate", title="Evaluate a classifier", family="training", params=EvaluateParams,
    inputs=(DATA,), needs_model=True, uses_device=True, produces="evaluation",
    arrays=("logits", "labels", "indices", "confusion"), layers=("table",),
    help="Overall, per-class and top-k accuracy, the confusion matrix and the expected calibration "
         "error of the job's checkpoint on a split, optionally corrupted.")


@dataclass(frozen=True)
class RobustnessParams:
    checkpoints: str = param("demo:pointnet", help="comma-separated checkpoints (one row each)")
    split: str = param("test", help="dataset split")
    points: int = param(0, lo=0, hi=1000000, help="points per cloud (0 = as the first checkpoint was trained)")
    limit: int = param(0, lo=0, hi=100_000_000, help="at most this many clouds, spread over the split (0 = all)")
    corruptions: str = param(",".join(TABLE3), help="comma list of KIND:LEVEL columns")
    seed: int = param(0, lo=0, hi=2**31 - 1, help="seed of the corruptions (the same for every checkpoint)")
    batch_size: int = param(32, lo=1, hi=65536, help="clouds per forward pass")
    model: str = param("", help="the registered model every checkpoint is for, where its keys do not say "
                                "(empty: detected from each file)")
    model_options: str = param("", help="constructor settings over the detected ones, e.g. k=20 "
                                        "(applied to every checkpoint)")
    classes: str = param("", help="class names in output order, a,b,c or a names file (empty: each file's, "
                                  "else the dataset's when the counts match)")


ROBUSTNESS = MethodSpec(
    key="robustness", title="Robustness and calibration table", family="training", params=RobustnessParams,
    inputs=(DATA,), uses_device=True, produces="robustness", arrays=("accuracy", "ece"), layers=("table",),
    help="The SageMix paper's Table 3: accuracy clean and under each corruption, and ECE, one row "
         "per checkpoint (the checkpoints are rows to compare, given as a parameter).")

SPECS = (TRAIN, EVALUATE, ROBUSTNESS)
