"""CIFAR-10 python and binary batches, written by the tests in the standard layout."""

import os
import pickle

import numpy as np
import pytest

from ristretto_sim.data import load_cifar10, load_dataset
from ristretto_sim.errors import DataError


def make_batches(n: int, seed: int):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 3072), dtype=np.uint8), rng.integers(0, 10, size=n).tolist()


def write_python(directory, n=4):
    directory.mkdir()
    batches = {}
    for stem in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data, labels = make_batches(n, len(batches))
        batches[stem] = (data, labels)
        with open(directory / stem, "wb") as fh:
            pickle.dump({b"batch_label": stem.encode(), b"labels": labels, b"data": data,
                         b"filenames": [b"x.png"] * n}, fh, protocol=2)
    return batches


def write_binary(directory, n=4):
    directory.mkdir()
    batches = {}
    for stem in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data, labels = make_batches(n, len(batches) + 10)
        batches[stem] = (data, labels)
        records = np.concatenate([np.asarray(labels, dtype=np.uint8)[:, None], data], axis=1)
        (directory / f"{stem}.bin").write_bytes(records.tobytes())
    return batches


@pytest.mark.parametrize("writer,sub", [(write_python, "cifar-10-batches-py"),
                                        (write_binary, "cifar-10-batches-bin")])
def test_both_layouts(tmp_path, writer, sub):
    batches = writer(tmp_path / sub)
    test = load_cifar10(tmp_path)  # parent directory: the batch folder is found inside
    data, labels = batches["test_batch"]
    assert test.shape == (3, 32, 32) and len(test) == 4 and test.classes[0] == "airplane"
    np.testing.assert_array_equal(test.images.reshape(4, -1), data)
    assert test.labels.tolist() == labels
    # channel-major: the first 1024 bytes are the red plane
    np.testing.assert_array_equal(test.images[1, 0].ravel(), data[1, :1024])
    train = load_cifar10(tmp_path / sub, "train")
    assert len(train) == 20
    assert load_dataset(tmp_path / sub).name == "cifar10"


def test_errors(tmp_path):
    with pytest.raises(DataError, match="cifar.html"):
        load_cifar10(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no CIFAR-10 batches"):
        load_cifar10(tmp_path / "empty")
    d = tmp_path / "bin"
    d.mkdir()
    (d / "test_batch.bin").write_bytes(b"\x00" * 100)
    with pytest.raises(DataError, match="whole number"):
        load_cifar10(d)


def test_pickle_with_foreign_objects_is_refused(tmp_path):
    d = tmp_path / "py"
    d.mkdir()
    with open(d / "test_batch", "wb") as fh:
        pickle.dump({b"data": np.zeros((1, 3072), np.uint8), b"labels": [0], b"evil": os.getcwd}, fh)
    with pytest.raises(DataError, match="not a CIFAR-10 python batch"):
        load_cifar10(d)
