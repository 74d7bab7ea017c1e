"""Datasets: readers of real formats, the built-in dataset, the bias alphabet."""
from .dataset import Dataset, Loading, Split  # noqa: F401
