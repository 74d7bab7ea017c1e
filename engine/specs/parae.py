"""ParAE: one cloud's Gaussian parts, density and isosurface (paper Fig. 3), and the linear-SVM
probe of a frozen network's global features (paper Table 1 / Fig. 4)."""
from __future__ import annotations

from dataclasses import dataclass

from engine.core.params import param
from engine.core.spec import Input, MethodSpec

# Where the cloud comes from: given points, or sample ``index`` of a dataset split.
CLOUD_INPUTS = (
    Input("points", "points", help="the cloud to explain (else sample 'index' of 'data')"),
    Input("data", "dataset", help="dataset to take the cloud from when no points are given"),
    Input("index", "index", help="sample index in the split (default 0)"),
    Input("split", "split", help="split name (default test)"),
    Input("n_points", "count", help="points per cloud loaded from the dataset (default: as stored)"),
)


@dataclass(frozen=True)
class ParaeExplainParams:
    resolution: int = param(64, lo=8, hi=256, unit="voxels", help="grid voxels along the cloud's longest side")
    margin: float = param(0.15, lo=0.0, hi=2.0, help="grid margin around the cloud (fraction of its size)")
    auto_level: bool = param(True, help="pick the isosurface level from level_quantile (off: use level)")
    level: float = param(0.01, lo=1e-12, hi=1e12, unit="density", scale="log",
                         help="isosurface density c of g(x) = c, when auto_level is off")
    level_quantile: float = param(0.05, lo=0.0, hi=1.0, hi_open=True,
                                  help="auto level: this fraction of the points lies outside the surface")


PARAE_EXPLAIN = MethodSpec(
    key="parae-explain", title="ParAE: Gaussian parts, density and isosurface", family="parae",
    params=ParaeExplainParams, inputs=CLOUD_INPUTS,
    needs_model=True, model_kinds=("parae",), produces="parae",
    arrays=("points", "pi", "mu", "sigma", "sigma_eigvals", "partition", "responsibilities",
            "point_features", "global_feature", "point_density", "density", "grid_origin",
            "iso_vertices", "iso_faces"),
    layers=("points", "scalar", "ellipsoids", "surface", "table"),
    help="The mixture (pi, mu, Sigma) a ParAE network makes of one cloud, each point's part, the "
         "mixture density on a grid and its isosurface g = c, per-point and global features.")


@dataclass(frozen=True)
class ProbeParams:
    c: float = param(1.0, lo=1e-6, hi=1e6, scale="log", help="LinearSVC regularisation C")
    limit: int = param(0, lo=0, hi=100_000_000, unit="samples",
                       help="at most this many samples per split, balanced over classes (0 = all)")
    points: int = param(1024, lo=1, hi=1_000_000, unit="points", help="points per cloud")
    batch_size: int = param(32, lo=1, hi=65536, unit="clouds", help="clouds per forward pass")
    baseline: bool = param(True, help="also probe a randomly initialised network")
    tsne: bool = param(True, help="2D t-SNE embedding of the test features")
    perplexity: float = param(10.0, lo=1.0, hi=1000.0, help="t-SNE perplexity (paper: 10)")
    seed: int = param(0, lo=0, hi=2**31 - 1, help="seed of the random-init network, SVM and t-SNE")


PROBE = MethodSpec(
    key="probe", title="Linear-SVM probe of learnt features", family="parae", params=ProbeParams,
    inputs=(Input("data", "dataset", required=True,
                  help="labelled dataset (path or 'builtin') with train and test splits"),),
    needs_model=True, produces="probe", arrays=("labels", "indices", "predicted"),
    layers=("table",),
    help="Linear-SVM test accuracy of the frozen network's global features against a randomly "
         "initialised network of the same architecture; a t-SNE embedding of the test features.")

SPECS = (PARAE_EXPLAIN, PROBE)
