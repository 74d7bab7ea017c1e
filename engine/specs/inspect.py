"""Inspect: a classifier's prediction, gradient saliency, the prediction without (or with only)
chosen points, and deletion curves."""
from __future__ import annotations

from dataclasses import dataclass

from engine.core.params import param
from engine.core.spec import Input, MethodSpec

POINTS = Input("points", "points", required=True, help="the cloud as the model sees it")


@dataclass(frozen=True)
class InspectParams:
    pass


INSPECT = MethodSpec(
    key="inspect", title="Inspect prediction", family="inspect", params=InspectParams,
    inputs=(POINTS, Input("label", "label", help="the true class, shown beside the prediction")),
    needs_model=True, produces="inspect", arrays=("probabilities", "saliency"),
    layers=("points", "scalar"),
    help="Class probabilities and the gradient saliency |dL/dp_i| of the predicted class.")


@dataclass(frozen=True)
class PredictSubsetParams:
    mode: str = param("without", choices=("without", "only"),
                      help="classify the cloud without the selected points, or with only them")


PREDICT_SUBSET = MethodSpec(
    key="predict-subset", title="Predict without / with only selected points", family="inspect",
    params=PredictSubsetParams,
    inputs=(POINTS, Input("indices", "indices", required=True, help="the selected points")),
    needs_model=True, produces="predict-subset", arrays=("probabilities",), layers=("selection",))


@dataclass(frozen=True)
class DeletionCurveParams:
    steps: int = param(20, lo=2, hi=500, help="number of deletion fractions between 0 and all-but-one")
    random_orders: int = param(5, lo=1, hi=100, help="random orders averaged for the contrast curve")
    seed: int = param(0, lo=0, hi=2**31 - 1, help="seed of the random orders")


DELETION_CURVE = MethodSpec(
    key="deletion-curve", title="Deletion curve", family="inspect", params=DeletionCurveParams,
    inputs=(POINTS, Input("scalar", "scalar", required=True, help="the order: most important first"),
            Input("target", "target", help="class whose probability is tracked (default: predicted)")),
    needs_model=True, produces="deletion-curve", arrays=("k", "probability", "probability_random"),
    layers=("curve",))



@dataclass(frozen=True)
class OcclusionParams:
    patches: int = param(64, lo=1, hi=4096, help="neighbourhoods removed one at a time (centres by "
                                                 "farthest-point sampling)")
    patch_size: int = param(32, lo=1, hi=100000, unit="points",
                            help="points in each removed neighbourhood (its centre's nearest ones)")
    batch_size: int = param(32, lo=1, hi=4096, help="occluded clouds per forward pass")


OCCLUSION = MethodSpec(
    key="occlusion", title="Occlusion saliency", family="inspect", params=OcclusionParams,
    inputs=(POINTS, Input("target", "target", help="class whose probability is tracked (default: predicted)")),
    needs_model=True, produces="occlusion", arrays=("importance", "probabilities", "drops", "centres"),
    layers=("points", "scalar"),
    help="Remove each neighbourhood of points in turn and record how much the target class's "
         "probability drops; a point's importance is the mean drop over the neighbourhoods that "
         "contain it (a model-agnostic contrast to the gradient saliency).")

SPECS = (INSPECT, PREDICT_SUBSET, DELETION_CURVE, OCCLUSION)
