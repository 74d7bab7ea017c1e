"""Datasets: readers of real formats, the built-in dataset, the bias alphabet.

``open_dataset(spec, loading)`` opens a path (file or folder, format detected) or ``builtin``;
``save_h5`` writes the PointNet HDF5 layout. Importing this package does not import torch.
"""
from engine.data.dataset import Dataset, Loading, Split  # noqa: F401
from engine.data.open import open_dataset  # noqa: F401
from engine.data.save import save_h5, save_h5_folder  # noqa: F401

__all__ = ["Dataset", "Loading", "Split", "open_dataset", "save_h5", "save_h5_folder"]
