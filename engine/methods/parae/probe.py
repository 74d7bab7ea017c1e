"""METHOD "probe": how good is a frozen backbone's representation? (ParAE paper, Table 1 / Fig. 4)

Global features of every cloud of a labelled dataset come from the frozen network (its
``global_features``, a PointNet encoder's max-pooled feature ``feat``, or the pooled feature a
classifier names "global": DGCNN, PointNet++); a linear SVM
(scikit-learn LinearSVC on standardised features) is fitted on the train split and scored on
the test split. The same is done for a randomly initialised network of the same architecture
and configuration (seeded) as the baseline. A 2D t-SNE embedding of the test features
(paper: perplexity 10, 1000 iterations) is returned for plotting.

The baseline's BatchNorm statistics are estimated on the probe's train clouds before it is
frozen: the pre-trained network's statistics come from data too, so the two then differ only in
their learnt weights. A fresh PyTorch network in eval mode instead has identity BatchNorm (mean
0, variance 1), a different function: an unnormalised random MLP whose max-pooled features are
a strong random-feature baseline (on ModelNet10 it beat the BN-from-data one by 16-31 points).
Both are reported, ``random_init_bn_from_data`` and ``random_init_default_bn``, and
``random_init`` is the better of the two (``random_init_best`` names it): a pre-trained encoder
is worth something only if it beats every random one.

Result: metrics ``pretrained``, ``random_init`` (the best baseline), ``random_init_best``,
``random_init_bn_from_data`` and ``random_init_default_bn`` (test accuracies in [0, 1]);
arrays ``embedding`` (n_test, 2), ``labels``, ``indices`` (test-split sample
indices), ``predicted``.
"""
from __future__ import annotations

import time

import numpy as np

from engine.core.errors import DataError, ModelError
from engine.core.method import Method, implements
from engine.core.types import Progress, Result
from engine.specs import parae as spec


def feature_fn(model):
    """The callable giving (B, G) global features for (B, N, 3) clouds, or a ModelError."""
    if hasattr(model, "global_features"):
        return model.global_features
    feat = getattr(model, "feat", None)
    if feat is not None and callable(feat):
        return lambda x: feat(x)["global"]
    # any classifier that names its pooled feature "global" (DGCNN, PointNet++): the encoder is
    # everything before the head
    forward_all = getattr(model, "forward_all", None)
    if callable(forward_all) and "global" in (getattr(model, "layer_aliases", None) or {}):
        return lambda x: forward_all(x)["global"]
    raise ModelError(f"Model '{getattr(model, 'key', type(model).__name__)}' has no global feature "
                     f"to probe.", hint="Probe a ParAE, PointNet, DGCNN or PointNet++ checkpoint.")


def balanced_indices(labels: np.ndarray, limit: int | None) -> np.ndarray:
    """Up to ``limit`` sample indices spread evenly over the classes (all when limit is None)."""
    labels = np.asarray(labels)
    if limit is None or limit >= len(labels):
        return np.arange(len(labels))
    per_class = [np.flatnonzero(labels == c) for c in np.unique(labels)]
    order = [idx[r] for r in range(max(len(p) for p in per_class)) for idx in per_class if r < len(idx)]
    return np.sort(np.asarray(order[:limit], np.int64))


def extract_features(model, split, indices, batch_size=32, message="features"):
    """Generator over Progress; returns (features (n, G) float32, labels (n,)). Frozen, eval mode."""
    import torch

    fn = feature_fn(model)
    dev = next(model.parameters()).device
    was_training = model.training
    model.eval()
    feats, labels, last = [], [], 0.0
    try:
        for s in range(0, len(indices), batch_size):
            x, y = split.arrays(indices=indices[s:s + batch_size])
            with torch.no_grad():
                feats.append(fn(torch.as_tensor(x, device=dev)).float().cpu().numpy())
            labels.append(y)
            if time.monotonic() - last > 0.1:
                last = time.monotonic()
                yield Progress(min(s + batch_size, len(indices)), len(indices), message)
    finally:
        model.train(was_training)
    return np.concatenate(feats), np.concatenate(labels)


def linear_svm_accuracy(train_x, train_y, test_x, test_y, c: float = 1.0, seed: int = 0):
    """Fit LinearSVC on standardised train features; (test accuracy, test predictions)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    if len(np.unique(train_y)) < 2:
        raise DataError("The probe needs at least two classes in the train split.",
                        hint="Use a labelled dataset with several classes (or a larger --limit).")
    clf = make_pipeline(StandardScaler(), LinearSVC(C=c, max_iter=20000, random_state=seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(train_x, train_y)
    pred = clf.predict(test_x)
    return float((pred == test_y).mean()), pred


def random_init_like(model, seed: int):
    """A fresh model of the same key and config, initialised from ``seed``, on the same device."""
    import torch

    from engine.models.base import build_model

    key = getattr(model, "key", "")
    if not key:
        raise ModelError("The probe's random-init baseline needs a registered model (no key).")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        fresh = build_model(key, **dict(model.config))
    return fresh.to(next(model.parameters()).device).eval()


def calibrate_batchnorm(model, split, indices, batch_size=32, message="BatchNorm statistics"):
    """Generator: set every BatchNorm's running mean/variance to its average over these clouds.

    Forward passes in train mode without gradients (cumulative average: momentum None); the
    weights are not touched. Batches of one cloud are skipped (BatchNorm on fully connected
    layers needs two samples).
    """
    import torch

    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    dev = next(model.parameters()).device
    saved = [m.momentum for m in bns]
    was_training = model.training
    try:
        for m in bns:
            m.reset_running_stats()
            m.momentum = None
        model.train()
        size = max(int(batch_size), 2)
        for s in range(0, len(indices), size):
            chunk = indices[s:s + size]
            if len(chunk) < 2:
                break
            x, _ = split.arrays(indices=chunk)
            with torch.no_grad():
                model(torch.as_tensor(x, device=dev))
            yield Progress(min(s + size, len(indices)), len(indices), message)
    finally:
        for m, mom in zip(bns, saved):
            m.momentum = mom
        model.train(was_training)


@implements(spec.PROBE)
class Probe(Method):
    def run(self, params, *, model, data):
        from engine.data import open_dataset
        from engine.data.dataset import Loading

        loaded, model = model, model.model
        feature_fn(model)                  # a model without global features fails before any work
        if not data:
            raise DataError("No dataset: give a labelled dataset (a path or 'builtin').")
        ds = open_dataset(str(data), Loading(points=params.points))
        train, test = ds.split("train"), ds.split("test")
        limit = params.limit or None
        tr_idx = balanced_indices(train.labels, limit)
        te_idx = balanced_indices(test.labels, limit)
        if len(tr_idx) < 2 or len(te_idx) < 1:
            raise DataError(f"{data}: the probe needs train and test samples "
                            f"(got {len(tr_idx)} and {len(te_idx)}).")
        models = [("pretrained", model)]
        if params.baseline:
            models.append(("random_init_default_bn", random_init_like(model, params.seed)))
            fresh = random_init_like(model, params.seed)
            yield from calibrate_batchnorm(fresh, train, tr_idx, params.batch_size,
                                           "random init: BatchNorm statistics")
            fresh.eval()
            models.append(("random_init_bn_from_data", fresh))
        metrics: dict = {"n_train": int(len(tr_idx)), "n_test": int(len(te_idx)), "c": params.c,
                         "classes": list(ds.classes)}
        arrays: dict = {}
        test_feats = None
        for name, m in models:
            xtr, ytr = yield from extract_features(m, train, tr_idx, params.batch_size,
                                                   f"{name}: train features")
            xte, yte = yield from extract_features(m, test, te_idx, params.batch_size,
                                                   f"{name}: test features")
            yield Progress(0, 1, f"{name}: fitting the linear SVM")
            acc, pred = linear_svm_accuracy(xtr, ytr, xte, yte, params.c, params.seed)
            metrics[name] = acc
            if name == "pretrained":
                metrics["feature_dim"] = int(xtr.shape[1])
                arrays.update(labels=yte.astype(np.int64), indices=te_idx, predicted=pred.astype(np.int64))
                test_feats = xte
        if params.baseline:
            best = max(BASELINES, key=lambda k: metrics[k])
            metrics.update(random_init=metrics[best], random_init_best=best)
        if params.tsne:
            yield Progress(0, 1, "t-SNE embedding of the test features")
            arrays["embedding"] = tsne_embedding(test_feats, params.perplexity, params.seed)
        provenance = {"checkpoint": loaded.path or None, "data": str(data),
                      "model": getattr(model, "key", "") or loaded.key, "config": getattr(model, "config", {})}
        if (loaded.meta or {}).get("model"):
            provenance["checkpoint_model"] = loaded.meta["model"]
        return Result("probe", arrays=arrays, metrics=metrics,
                      params={"c": params.c, "limit": params.limit, "points": params.points,
                              "seed": params.seed, "perplexity": params.perplexity},
                      provenance=provenance)


BASELINES = ("random_init_bn_from_data", "random_init_default_bn")   # ties: the first


def tsne_embedding(features: np.ndarray, perplexity: float = 10.0, seed: int = 0) -> np.ndarray:
    """2D t-SNE of (n, G) features (standardised), float32 (n, 2)."""
    from sklearn.manifold import TSNE

    n = len(features)
    if n < 3:
        return np.zeros((n, 2), np.float32)
    x = features - features.mean(0)
    x = x / (x.std(0) + 1e-8)
    perp = float(min(perplexity, (n - 1) / 3.0))
    emb = TSNE(n_components=2, perplexity=perp, init="pca", random_state=seed,
               max_iter=1000).fit_transform(x)
    return emb.astype(np.float32)
