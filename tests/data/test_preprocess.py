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


# ------------------------------------------------------------------ Caffe's DataTransformer: TRAIN crop, mirror
def reference_transform(pre, pixels, phase, seed):
    """Per image, as DataTransformer::Transform: crop offsets (centre or drawn), mean at the uncropped
    coordinates, scale, mirror by writing column (crop - 1 - w)."""
    n, c, h, w = pixels.shape
    crop = pre.crop_size
    ch, cw = (crop, crop) if crop else (h, w)
    flips, tops, lefts = pre.draws(n, (h, w), phase=phase, seed=seed)
    out = np.empty((n, c, ch, cw), np.float32)
    for i in range(n):
        for k in range(c):
            for r in range(ch):
                for col in range(cw):
                    v = np.float32(pixels[i, k, tops[i] + r, lefts[i] + col])
                    if pre.mean_image is not None:
                        v = v - pre.mean_image[k, tops[i] + r, lefts[i] + col]
                    elif pre.mean:
                        v = v - np.float32(pre.mean[0] if len(pre.mean) == 1 else pre.mean[k])
                    out[i, k, r, cw - 1 - col if flips[i] else col] = v * np.float32(pre.scale)
    return out


def raw(n=12, c=2, h=7, w=9, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, c, h, w), dtype=np.uint8)


def test_test_phase_centre_crop_is_unchanged_and_not_random():
    x = raw()
    p = Preprocessing(scale=0.5, crop_size=5)
    assert not p.is_random("TEST") and p.is_random("TRAIN")
    expected = x[:, :, 1:6, 2:7].astype(np.float32) * 0.5  # (7 - 5) // 2, (9 - 5) // 2
    for seed in (0, 3):
        np.testing.assert_array_equal(p(x, phase="TEST", seed=seed), expected)
    np.testing.assert_array_equal(p(x), expected)
    assert p.describe("TEST") == "TEST transform: centre crop 5"


def test_train_crop_offsets_in_range_reproducible_and_chunk_independent():
    p = Preprocessing(crop_size=5)
    flip, top, left = p.draws(5000, (7, 9), phase="TRAIN", seed=1)
    assert not flip.any()
    assert top.min() == 0 and top.max() == 2 and left.min() == 0 and left.max() == 4  # Rand(h - crop + 1)
    assert np.bincount(left).min() > 800  # every offset drawn, about uniformly
    again = p.draws(5000, (7, 9), phase="TRAIN", seed=1)
    np.testing.assert_array_equal(again[1], top)
    assert not np.array_equal(p.draws(5000, (7, 9), phase="TRAIN", seed=2)[1], top)
    # chunks (crossing the generator's 4096-image blocks) draw what the whole set draws
    for start, count in ((0, 7), (4090, 10), (4999, 1)):
        np.testing.assert_array_equal(p.draws(count, (7, 9), phase="TRAIN", seed=1, start=start)[1],
                                      top[start:start + count])
    x = raw(30)
    whole = p(x, phase="TRAIN", seed=4)
    parts = np.concatenate([p(x[s:s + 7], phase="TRAIN", seed=4, start=s) for s in range(0, 30, 7)])
    np.testing.assert_array_equal(parts, whole)
    np.testing.assert_array_equal(whole, reference_transform(p, x, "TRAIN", 4))
    assert p.describe("TRAIN", 4) == "TRAIN transform: random crop 5, seed 4"


def test_mirror_flips_exactly_the_drawn_images_in_both_phases():
    x = raw(40)
    p = Preprocessing(mirror=True)
    for phase in ("TEST", "TRAIN"):
        flip, top, left = p.draws(40, (7, 9), phase=phase, seed=5)
        assert 5 < flip.sum() < 35 and not top.any() and not left.any()
        y = p(x, phase=phase, seed=5).astype(np.int64)  # scale 1: exact integers
        np.testing.assert_array_equal(y[flip], x[flip][..., ::-1])
        np.testing.assert_array_equal(y[~flip], x[~flip])
    assert p.describe("TEST", 5) == "TEST transform: mirror, seed 5"


@pytest.mark.parametrize("kind", ["mean_image", "mean", "none"])
def test_vectorised_train_transform_matches_the_per_image_reference(kind):
    x = raw(9, c=3, h=8, w=6, seed=2)
    extra = {"mean_image": np.random.default_rng(1).uniform(0, 255, (3, 8, 6))} if kind == "mean_image" else \
        {"mean": (100.0, 50.0, 3.0)} if kind == "mean" else {}
    p = Preprocessing(scale=0.25, crop_size=4, mirror=True, **extra)
    for phase in ("TRAIN", "TEST"):
        np.testing.assert_array_equal(p(x, phase=phase, seed=7), reference_transform(p, x, phase, 7))
    # the mean image at the crop offsets = subtract, then crop (centre crop, no mirror)
    if kind == "mean_image":
        q = Preprocessing(scale=0.25, crop_size=4, mean_image=extra["mean_image"])
        full = (x.astype(np.float32) - q.mean_image) * np.float32(0.25)
        np.testing.assert_array_equal(q(x), full[:, :, 2:6, 1:5])


def test_transform_validation():
    p = Preprocessing(crop_size=2, mirror=True)
    with pytest.raises(ValueError, match="phase"):
        p(raw(), phase="VAL")
    with pytest.raises(ValueError, match="seed"):
        p(raw(), phase="TRAIN", seed=-1)
    with pytest.raises(TypeError, match="mirror"):
        Preprocessing(mirror="yes")
    assert Preprocessing(mirror=True) != Preprocessing() and Preprocessing(mirror=True) == Preprocessing(mirror=True)
    assert Preprocessing(crop_size=3).describe("TRAIN") == "TRAIN transform: random crop 3, seed 0"
    assert Preprocessing().describe("TRAIN") == "TRAIN transform: no crop, no mirror"


def test_override_replaces_scale_or_mean_and_keeps_crop_and_mirror():
    from ristretto_sim.data.preprocess import override

    base = Preprocessing(scale=0.5, mean=(10.0,), crop_size=2, mirror=True)
    assert override(base) is base and override(None) is None
    assert override(base, scale=0.25) == Preprocessing(scale=0.25, mean=(10.0,), crop_size=2, mirror=True)
    assert override(base, mean=3) == Preprocessing(scale=0.5, mean=(3.0,), crop_size=2, mirror=True)
    assert override(None, scale=2.0) == Preprocessing(scale=2.0)
    assert override(None, mean=(1, 2, 3)) == Preprocessing(mean=(1.0, 2.0, 3.0))
    with_image = Preprocessing(mean_image=np.ones((1, 4, 4)), crop_size=2)
    assert override(with_image, scale=2.0).mean_image is not None  # only the scale changes
    swapped = override(with_image, mean=5)
    assert swapped.mean_image is None and swapped.mean == (5.0,) and swapped.crop_size == 2
