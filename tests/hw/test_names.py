"""Short unique layer labels (hw/names.py)."""

import pytest

from ristretto_sim.hw.names import short_labels


def test_short_names_are_kept_and_long_ones_keep_their_distinguishing_part():
    long = [
        "model/conv2d_1/Relu;model/batch_normalization_1/FusedBatchNormV3;model/conv2d_1/Conv2D",
        "model/conv2d_2/Relu;model/batch_normalization_2/FusedBatchNormV3;model/conv2d_2/Conv2D",
        "model/dense/MatMul;model/dense/BiasAdd",
    ]
    labels = short_labels(["conv1", *long], ["conv", "conv", "conv", "gemm"])
    assert labels[0] == "conv1"
    assert labels[1].startswith("1:conv:") and "conv2d_1" in labels[1]
    assert labels[2].startswith("2:conv:") and "conv2d_2" in labels[2]
    assert labels[3].startswith("3:gemm:") and "dense" in labels[3]
    assert len(set(labels)) == 4 and max(map(len, labels)) <= 24


def test_labels_never_repeat():
    names = ["x" * 30, "x" * 31, "0:conv:" + "x" * 3]
    labels = short_labels(names, ["conv", "conv", "conv"])
    assert len(set(labels)) == 3


def test_lengths_must_match():
    with pytest.raises(ValueError, match="equal lengths"):
        short_labels(["a"], [])
