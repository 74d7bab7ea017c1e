"""PointMask family: which points a PointMask/PointMap classifier keeps ("pointmask-explain"), and
the paper's Fig. 4 bias-injection experiment ("bias-lab"). Torch-free: the implementations are
engine/methods/pointmask/explain.py and bias_lab.py."""
from __future__ import annotations

from dataclasses import dataclass

from engine.core.params import param
from engine.core.spec import Input, MethodSpec
from engine.data.alphabet import PLACEMENTS      # where the letter goes (numpy-only module)

# The models the bias lab trains, in the order of its tables.
LAB_MODELS = ("pointnet", "randmask", "pointmap", "pointmask")


@dataclass(frozen=True)
class ExplainParams:
    threshold: float = param(0.5, lo=0.0, hi=1.0, hi_open=True,
                             help="mask threshold t: a point is kept when sigmoid(J) > t "
                                  "(used when 'model_threshold' is off)")
    model_threshold: bool = param(True, help="use the threshold the model was trained with "
                                             "(off: use 'threshold')")
    sample_seed: int = param(0, lo=0, hi=2**31 - 1, help="seed of the one noise draw shown as "
                             "'kept_sampled' (the mask as the classifier sees it in training)")


EXPLAIN = MethodSpec(
    key="pointmask-explain", title="PointMask: which points the classifier keeps", family="pointmask",
    params=ExplainParams,
    inputs=(Input("points", "points", help="the cloud to explain (or give 'data' and 'index')"),
            Input("label", "label", help="the true class, shown beside the predictions"),
            Input("data", "dataset", help="a dataset to take the cloud from when no 'points' are given"),
            Input("index", "index", help="the sample index in 'split' (with 'data'; default 0)"),
            Input("split", "split", help="the split of 'data' (default test)"),
            Input("n_points", "count", help="points per cloud read from 'data' (default: as the model "
                                            "was trained, else 1024)")),
    needs_model=True, model_kinds=("pointmask", "pointmap"), produces="pointmask-explain",
    arrays=("points", "sigma", "probabilities", "probabilities_unmasked", "probabilities_masked"),
    layers=("points", "scalar", "vectors"),
    help="PointMask: the per-point mask probability sigmoid(J) at eps = 0, the mask and the kept points "
         "at threshold t, and the classifier's prediction without the mask, on the masked cloud, on the "
         "kept points alone and with its own sampled masks. PointMap: the mapped cloud P + mu and each "
         "point's displacement.")


@dataclass(frozen=True)
class BiasLabParams:
    levels: str = param("1,50,100,256", help="letter points per cloud, comma list (0 = no letter)")
    models: str = param(",".join(LAB_MODELS), help=f"comma list of {', '.join(LAB_MODELS)}")
    epochs: int = param(10, lo=1, hi=100000, help="training epochs per model and level")
    width: float = param(0.25, lo=0.01, hi=8.0, scale="log", help="width multiplier of every model")
    points: int = param(1024, lo=8, hi=1000000, unit="points", help="object points per cloud (the letter adds k)")
    limit: int = param(0, lo=0, hi=100_000_000, unit="clouds", help="at most this many clouds per split (0 = all)")
    batch_size: int = param(32, lo=2, hi=65536, unit="clouds", help="clouds per training step")
    lr: float = param(1e-3, lo=0.0, lo_open=True, hi=10.0, scale="log", help="learning rate")
    seed: int = param(0, lo=0, hi=2**31 - 1, help="seed of training and of the letters")
    placement: str = param("per-class", choices=PLACEMENTS,
                           help="per-class: each class's letter at its own place; fixed: one place")
    distance: float = param(1.5, lo=0.0, hi=100.0, unit="object radii",
                            help="letter centre's distance from the object centre")
    scale: float = param(0.5, lo=0.0, lo_open=True, hi=100.0, unit="object radii",
                         help="letter size (unit-sphere objects)")
    pointmask_alpha: float = param(0.5, lo=0.0, hi=1e6, help="PointMask: KL weight alpha (KL summed over "
                                   "points; see engine/methods/pointmask/bias_lab.py)")
    pointmap_alpha: float = param(0.001, lo=0.0, hi=1e6, help="PointMap: KL weight alpha")
    threshold: float = param(0.8, lo=0.0, hi=1.0, hi_open=True,
                             help="PointMask: mask threshold t (0.8: sparse, near-prior random masks; "
                                  "see engine/methods/pointmask/bias_lab.py)")
    pointmask_options: str = param("", help="PointMask: further model options as JSON, e.g. "
                                            '{"kl_reduce": "mean"} (\'\' = the defaults)')
    randmask_options: str = param("", help="RandMask: model options as JSON, e.g. "
                                           '{"min_drop": 0.9, "max_drop": 0.95} (\'\' = 10-70 %)')
    augmentations: str = param("none", help="training augmentations (comma list, or none)")
    classes: str = param("", help="comma list of class names or indices to keep, renumbered 0..K-1 "
                                  "in the order given ('' = every class)")
    keep_checkpoints: str = param("", help="folder to keep the trained models in as "
                                           "<model>-<level>.safetensors ('' = deleted after testing)")


BIAS_LAB = MethodSpec(
    key="bias-lab", title="Bias lab: train on letter-biased data, test without the letters",
    family="pointmask", params=BiasLabParams,
    inputs=(Input("data", "dataset", help="the dataset to bias (default builtin), or in-memory "
                                          "(X, y[, classes]) arrays"),
            Input("test", "arrays", help="with in-memory 'data': the test split as (X_test, y_test)")),
    needs_model=False, uses_device=True, produces="bias-lab",
    arrays=("levels", "accuracy_unbiased", "accuracy_biased", "gallery", "gallery_is_bias", "gallery_labels"),
    layers=("curve", "table", "points"),
    help="The PointMask paper's Fig. 4: for every bias level k (a class letter appended as k points) "
         "and every model, train on the biased train split, then score on the unbiased and on the "
         "biased test split.")

SPECS = (EXPLAIN, BIAS_LAB)
