"""scikit-learn's 8x8 digits (1,797 images, pixels 0..16), available only when scikit-learn is importable.

Not MNIST: a different, smaller scan (UCI optical digits). Useful for quick smoke runs of tiny models.
"""

from __future__ import annotations

import importlib

import numpy as np

from ristretto_sim.data.dataset import Dataset
from ristretto_sim.errors import DataError


def sklearn_digits_available() -> bool:
    """True when ``sklearn.datasets`` can be imported."""
    try:
        importlib.import_module("sklearn.datasets")
    except ImportError:
        return False
    return True


def load_sklearn_digits() -> Dataset:
    """All 1,797 sklearn digits as ``(N, 1, 8, 8)`` uint8 images with ``pixel_max`` 16.

    Raises
    ------
    DataError
        If scikit-learn is not installed.
    """
    try:
        datasets = importlib.import_module("sklearn.datasets")
    except ImportError:
        raise DataError("the sklearn digits need scikit-learn: pip install scikit-learn") from None
    bunch = datasets.load_digits()
    images = np.asarray(bunch.images).astype(np.uint8)[:, None, :, :]
    return Dataset(images, np.asarray(bunch.target, dtype=np.int64), name="sklearn-digits", split="all",
                   source="sklearn.datasets.load_digits", pixel_max=16.0)
