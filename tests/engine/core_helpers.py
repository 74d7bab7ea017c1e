"""Tiny, easily separable clouds for the core tests (training, checkpoints, CLI).

Three classes of 64-point clouds in the unit sphere: a sphere shell, a flat disc and a thin
stick, each randomly rotated and jittered, so a tiny PointNet learns them in a few steps.
"""
from __future__ import annotations

import numpy as np

CLASSES = ["shell", "disc", "stick"]


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    return q


def toy_clouds(n: int, points: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.empty((n, points, 3), np.float32)
    y = np.arange(n) % len(CLASSES)
    for i, label in enumerate(y):
        p = rng.normal(size=(points, 3))
        if label == 0:
            p /= np.linalg.norm(p, axis=1, keepdims=True)
        elif label == 1:
            p[:, 2] *= 0.05
        else:
            p[:, 1:] *= 0.05
        p = p @ _random_rotation(rng).T + rng.normal(scale=0.01, size=p.shape)
        p -= p.mean(0)
        x[i] = p / np.linalg.norm(p, axis=1).max()
    return x, y.astype(np.int64)


def toy_folder(folder, n_train: int = 24, n_test: int = 12, points: int = 64, classes=None):
    """Write a PointNet HDF5 folder (train/test lists, shape_names.txt) of toy clouds."""
    from engine.data import save_h5_folder

    xt, yt = toy_clouds(n_train, points, seed=1)
    xe, ye = toy_clouds(n_test, points, seed=2)
    save_h5_folder(folder, {"train": {"points": xt, "labels": yt}, "test": {"points": xe, "labels": ye}},
                   classes or CLASSES)
    return folder
