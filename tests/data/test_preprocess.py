"""Preprocessing in Caffe's order: (pixel - mean) * scale, then the TEST-phase centre crop."""

import numpy as np
import pytest

from ristretto_sim.data import Dataset, Preprocessing, load_sklearn_digits, sklearn_digits_available


def test_scale_and_per_channel_mean():
    x = np.arange(2 * 3 * 4 * 4, dtype=np.uint8).reshape(2, 3, 4, 4)
    p = Preprocessing(scale=0.5, mean=(1, 2, 3))
    y = p(x)
    expected = (x.astype(np.float32) - np.array([1, 2, 3], np.float32).reshape(1, 3, 1, 1)) * 0.5
    np.testing.assert_array_equal(y, expected)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(Preprocessing(scale=1 / 256)(x[:, :1]), x[:, :1] / np.float32(256))


def test_centre_crop_after_mean_image():
    x = np.arange(1 * 1 * 5 * 6, dtype=np.float32).reshape(1, 1, 5, 6)
    mean_image = np.full((1, 5, 6), 2.0)
    p = Preprocessing(mean_image=mean_image, crop_size=3)
    assert p.output_shape((1, 5, 6)) == (1, 3, 3)
    # Caffe TEST crop: offsets (H - crop) // 2 = 1, (W - crop) // 2 = 1
    np.testing.assert_array_equal(p(x), x[:, :, 1:4, 1:4] - 2.0)


def test_validation():
    with pytest.raises(ValueError, match="either mean or mean_image"):
        Preprocessing(mean=(1,), mean_image=np.zeros((1, 2, 2)))
    with pytest.raises(ValueError, match="crop_size"):
        Preprocessing(crop_size=-1)
    with pytest.raises(ValueError, match="2 mean values for 3 channels"):
        Preprocessing(mean=(1, 2))(np.zeros((1, 3, 2, 2)))
    with pytest.raises(ValueError, match="exceeds"):
        Preprocessing(crop_size=5).output_shape((1, 4, 4))
    assert Preprocessing(scale=2) == Preprocessing(scale=2.0) != Preprocessing(scale=3)


def test_dataset_validation_and_batches():
    images = np.zeros((5, 1, 2, 2), np.uint8)
    ds = Dataset(images, np.arange(5), name="t", split="test", source="mem")
    assert [len(b[1]) for b in ds.batches(2)] == [2, 2, 1]
    assert len(ds.take(3)) == 3 and len(ds.take(None)) == 5
    with pytest.raises(ValueError, match="NCHW"):
        Dataset(np.zeros((5, 2, 2)), np.arange(5), name="t", split="test", source="mem")
    with pytest.raises(ValueError, match="does not match"):
        Dataset(images, np.arange(4), name="t", split="test", source="mem")
    with pytest.raises(ValueError, match="labels must lie"):
        Dataset(images, np.arange(5) + 6, name="t", split="test", source="mem")
    with pytest.raises(ValueError, match="batch_size"):
        next(ds.batches(0))


@pytest.mark.skipif(not sklearn_digits_available(), reason="scikit-learn not installed")
def test_sklearn_digits():
    ds = load_sklearn_digits()
    assert len(ds) == 1797 and ds.shape == (1, 8, 8) and ds.pixel_max == 16.0
