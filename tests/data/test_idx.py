"""IDX reader (MNIST, Fashion-MNIST): written files (gz and raw), errors, the real files."""

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from ristretto_sim.data import load_dataset, load_fashion_mnist, load_idx, read_idx
from ristretto_sim.errors import DataError

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
MNIST = SHARED / "mnist"
FASHION = Path("/usr/share/datasets/fashion-mnist")


def idx_bytes(arr: np.ndarray) -> bytes:
    arr = np.asarray(arr, dtype=np.uint8)
    header = struct.pack(">BBBB", 0, 0, 0x08, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.tobytes()


def write_split(directory: Path, prefix: str, images, labels, gz: bool) -> None:
    for kind, arr in (("images-idx3", images), ("labels-idx1", labels)):
        data = idx_bytes(arr)
        name = f"{prefix}-{kind}-ubyte"
        if gz:
            (directory / (name + ".gz")).write_bytes(gzip.compress(data))
        else:
            (directory / name).write_bytes(data)


@pytest.mark.parametrize("gz", [True, False])
def test_round_trip_written_files(tmp_path, gz):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=7, dtype=np.uint8)
    write_split(tmp_path, "t10k", images, labels, gz)
    ds = load_idx(tmp_path)
    assert ds.split == "test" and len(ds) == 7 and ds.shape == (1, 28, 28)
    np.testing.assert_array_equal(ds.images[:, 0], images)
    np.testing.assert_array_equal(ds.labels, labels)
    assert ds.labels.dtype == np.int64 and ds.images.dtype == np.uint8
    with pytest.raises(ValueError):
        ds.images[0, 0, 0, 0] = 1  # read-only


def test_test_only_directory_has_no_train_split(tmp_path):
    write_split(tmp_path, "t10k", np.zeros((2, 28, 28)), np.zeros(2), gz=True)
    assert len(load_dataset(tmp_path)) == 2
    with pytest.raises(DataError, match="no train split.*splits present: test"):
        load_idx(tmp_path, "train")


def test_train_split(tmp_path):
    write_split(tmp_path, "train", np.ones((3, 28, 28)), np.array([1, 2, 3]), gz=False)
    write_split(tmp_path, "t10k", np.zeros((2, 28, 28)), np.zeros(2), gz=False)
    assert len(load_idx(tmp_path, "train")) == 3
    assert len(load_idx(tmp_path, "test")) == 2


def test_missing_directory_says_where_to_get_the_files(tmp_path):
    with pytest.raises(DataError) as exc:
        load_idx(tmp_path / "nope")
    msg = str(exc.value)
    assert "nope" in msg and "t10k-images-idx3-ubyte" in msg and "never downloads" in msg
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(tmp_path / "nope")


def test_malformed_files(tmp_path):
    bad = tmp_path / "x"
    bad.write_bytes(b"\x01\x02\x03")
    with pytest.raises(DataError, match="not an IDX file"):
        read_idx(bad)
    truncated = idx_bytes(np.zeros((2, 3, 3)))[:-1]
    bad.write_bytes(truncated)
    with pytest.raises(DataError, match="payload"):
        read_idx(bad)
    write_split(tmp_path, "t10k", np.zeros((2, 28, 28)), np.zeros(3), gz=False)
    with pytest.raises(DataError, match="3 labels for 2 images"):
        load_idx(tmp_path)
    write_split(tmp_path, "t10k", np.zeros((2, 28, 28)), np.array([0, 11]), gz=False)
    with pytest.raises(DataError, match="label 11"):
        load_idx(tmp_path)


@pytest.mark.skipif(not MNIST.is_dir(), reason="../shared/data/mnist (official MNIST test set) not present")
def test_real_mnist_test_set():
    ds = load_idx(MNIST)
    assert len(ds) == 10000 and ds.name == "mnist" and ds.shape == (1, 28, 28)
    assert np.bincount(ds.labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert ds.labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert ds.images.max() == 255 and ds.images.min() == 0


@pytest.mark.skipif(not FASHION.is_dir(), reason="Debian package dataset-fashion-mnist not installed")
def test_real_fashion_mnist():
    test = load_fashion_mnist("test")
    assert len(test) == 10000 and test.name == "fashion-mnist" and test.classes[9] == "Ankle boot"
    assert np.bincount(test.labels).tolist() == [1000] * 10
    assert load_dataset("fashion-mnist").name == "fashion-mnist"
