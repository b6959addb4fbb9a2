"""A labelled image set read in batches: ``ImageSource``, so a large set is scored without holding it in memory.

A source knows its length, the shape and type of one raw image and the provenance a ``Dataset`` carries (name,
split, source, ``pixel_max``, classes), and yields ``(images, labels)`` batches in the set's order from the files
(``batches``); only one batch of raw pixels is held at a time. The readers implement ``read_range`` (images
``start .. stop - 1``) or override ``batches`` when the medium is a cursor (LMDB, LevelDB). ``DatasetSource`` wraps
a ``Dataset`` already in memory (the embedded digits, a caller's own set). ``loader.open_source`` opens one by the
same names and directories ``load_dataset`` reads.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator

import numpy as np

from ristretto_sim.data.dataset import Dataset, check_limit


def check_batch_size(batch_size) -> int:
    """``ValueError`` unless ``batch_size`` is a positive integer; returns it as ``int``."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r} must be a positive integer")
    return int(batch_size)


class ImageSource(ABC):
    """Images and labels of one split of one dataset, read from their files a batch at a time.

    Attributes
    ----------
    name, split, source : str
        As ``Dataset``'s: dataset name, split, where the data comes from.
    shape : tuple of int
        ``(C, H, W)`` of one raw image.
    dtype : numpy.dtype
        Raw pixel type (``uint8`` for 8-bit images, ``float32`` for Caffe ``float_data``).

    Subclasses set these in their constructor and implement ``__len__`` and ``read_range``; a reader whose
    medium is sequential overrides ``batches`` instead (``read_range`` then reads through it).
    """

    name: str
    split: str
    source: str
    shape: tuple[int, int, int]
    dtype: np.dtype

    @abstractmethod
    def __len__(self) -> int:
        """Number of images."""

    @property
    def pixel_max(self) -> float:
        """Largest value a pixel can take in the source encoding (255 for 8-bit images)."""
        return 255.0

    @property
    def classes(self) -> tuple[str, ...]:
        """Class names, index = label."""
        return tuple(str(i) for i in range(10))

    def read_range(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Images ``(stop - start, C, H, W)`` and labels ``(stop - start,)`` of images ``start .. stop - 1``."""
        images, labels = [], []
        for x, y in self.batches(max(stop - start, 1), start=start, limit=stop - start):
            images.append(x)
            labels.append(y)
        if not images:
            return np.empty((0, *self.shape), self.dtype), np.empty(0, np.int64)
        return np.concatenate(images), np.concatenate(labels)

    def batches(self, batch_size: int, start: int = 0, limit: int | None = None
                ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(images, labels)`` in the set's order, ``batch_size`` at a time (the last batch may be shorter),
        from image ``start`` on, ``limit`` images at most (default: to the end)."""
        batch_size = check_batch_size(batch_size)
        stop = self.stop(start, limit)
        for first in range(start, stop, batch_size):
            yield self.read_range(first, min(first + batch_size, stop))

    def count(self, limit: int | None = None) -> int:
        """How many images the first ``limit`` (default: all) are: ``min(len(self), limit)``."""
        check_limit(limit)
        return len(self) if limit is None else min(len(self), int(limit))

    def stop(self, start: int, limit: int | None) -> int:
        """One past the last image that ``batches(.., start, limit)`` reads; ``ValueError`` for a bad range."""
        check_limit(limit)
        if isinstance(start, bool) or not isinstance(start, (int, np.integer)) or start < 0:
            raise ValueError(f"start={start!r} must be a non-negative integer")
        return self.count(None if limit is None else int(start) + int(limit))

    def to_dataset(self, limit: int | None = None) -> Dataset:
        """The first ``limit`` images (default: all) as an in-memory ``Dataset``."""
        images, labels = self.read_range(0, self.count(limit))
        return Dataset(images, labels, self.name, self.split, self.source, pixel_max=self.pixel_max,
                       classes=self.classes)


class DatasetSource(ImageSource):
    """A ``Dataset`` already in memory, served in batches (its arrays are views, nothing is copied)."""

    def __init__(self, dataset: Dataset):
        if not isinstance(dataset, Dataset):
            raise TypeError(f"dataset={dataset!r} must be a ristretto_sim.data.Dataset")
        self.dataset = dataset
        self.name, self.split, self.source = dataset.name, dataset.split, dataset.source
        self.shape = dataset.shape
        self.dtype = dataset.images.dtype

    def __len__(self) -> int:
        return len(self.dataset)

    @property
    def pixel_max(self) -> float:
        return self.dataset.pixel_max

    @property
    def classes(self) -> tuple[str, ...]:
        return self.dataset.classes

    def read_range(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        return self.dataset.images[start:stop], self.dataset.labels[start:stop]

    def to_dataset(self, limit: int | None = None) -> Dataset:
        return self.dataset.take(limit)


def as_source(data) -> ImageSource:
    """``data`` as an ``ImageSource`` (a ``Dataset`` is wrapped); ``TypeError`` for anything else."""
    if isinstance(data, ImageSource):
        return data
    if isinstance(data, Dataset):
        return DatasetSource(data)
    raise TypeError(f"data={data!r} must be a ristretto_sim.data.Dataset or ImageSource")
