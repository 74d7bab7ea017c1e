"""Mix: two clouds mixed with SageMix, PointMixup or RSMix, every step kept for the viewer.

The constants the implementations (engine.methods.mix) and the viewer share live here, torch-free:
the method names, the public code's defaults, and SageMix's bandwidth range (``MixParams.sigma``:
the Mix panel's slider reads it from here and moves on its log scale).
"""
from __future__ import annotations

from dataclasses import dataclass

from engine.core.params import param
from engine.core.spec import Input, MethodSpec

METHOD_NAMES = ("sagemix", "pointmixup", "rsmix")

DEFAULT_THETA = 0.2          # SageMix: public code's default Beta(theta, theta) shape
SIGMA_POINTNET = 2.0         # SageMix: public code's sigma for PointNet (auto with --sigma -1) ...
SIGMA_OTHER = 0.3            # ... and 0.3 for DGCNN; the paper's Table 5 best and Figure 3
DEFAULT_ALPHA = 1.0          # PointMixup: 1.0 for input mixup without rotation (0.4 with rotation)
DEFAULT_BETA = 1.0           # RSMix: README commands of the public code
DEFAULT_PROB = 0.5           # RSMix: the DGCNN loop mixes a batch with this probability
N_SAMPLE = 512               # RSMix: most points in a swapped subset


@dataclass(frozen=True)
class MixParams:
    method: str = param("sagemix", choices=METHOD_NAMES, help="mixing method")
    sigma: float = param(SIGMA_OTHER, lo=0.01, hi=3.0, scale="log",
                         help="SageMix RBF bandwidth (small: parts kept; large: close to PointMixup)")
    pi: float = param(-1.0, lo=-1.0, hi=1.0,
                      help="prior pi (SageMix) / share of a (PointMixup); -1 draws it from Beta(theta, theta)")
    theta: float = param(-1.0, lo=-1.0, hi=100.0,
                         help="Beta shape; -1 = the method's default (0.2 SageMix, 1.0 PointMixup, 1.0 RSMix)")
    radius: float = param(-1.0, lo=-1.0, hi=10.0, help="RSMix ball radius; -1 draws it from Beta(theta, theta)")
    n_sample: int = param(N_SAMPLE, lo=1, hi=1000000, help="RSMix: most points in the swapped subset")
    seed: int = param(0, lo=0, hi=2**31 - 1, help="seed of the queries, pi and radius draws")
    exact: bool = param(True, help="exact assignment (scipy); off = the warm-started solver (same optimum)")


MIX = MethodSpec(
    key="mix", title="Mix two clouds (SageMix, PointMixup, RSMix)", family="mix", params=MixParams,
    inputs=(Input("a", "points", required=True, help="cloud a"),
            Input("b", "points", required=True, help="cloud b (as many points as a)"),
            Input("label_a", "label", help="class of a (default: the model's prediction)"),
            Input("label_b", "label", help="class of b (default: the model's prediction)"),
            Input("classes", "names", help="class names (default: the model's)"),
            Input("assignment", "indices", help="(N,) partner in b of each point of a, kept fixed"),
            Input("queries", "indices", help="(2,) query index in a and in b, kept fixed")),
    needs_model=True, model_required=False, produces="mix",
    arrays=("source_a", "source_b", "assignment", "queries", "lambda", "mixed"),
    layers=("points", "scalar"),
    help="Saliency (with a model), the optimal assignment, the query points and the blend; SageMix "
         "needs a classifier for its saliency, PointMixup and RSMix do not.")

SPECS = (MIX,)
