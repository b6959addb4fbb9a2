"""Dataset: take and cycle (Caffe's data layers read a source from its start again after the last record)."""

import numpy as np
import pytest

from ristretto_sim.data import Dataset


def small(n=5):
    images = np.arange(n * 4, dtype=np.uint8).reshape(n, 1, 2, 2)
    return Dataset(images, np.arange(n) % 3, "toy", "test", "memory", pixel_max=255)


def test_cycle_reads_from_the_start_again():
    ds = small()
    c = ds.cycle(12)
    assert len(c) == 12
    want = [i % 5 for i in range(12)]
    assert np.array_equal(c.images[:, 0, 0, 0], ds.images[want, 0, 0, 0])
    assert np.array_equal(c.labels, ds.labels[want])
    assert np.array_equal(ds.cycle(3).images, ds.take(3).images)
    with pytest.raises(ValueError, match="count"):
        ds.cycle(-1)
    with pytest.raises(ValueError, match="empty"):
        ds.take(0).cycle(2)
