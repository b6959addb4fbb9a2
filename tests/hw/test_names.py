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


def _part(label: str) -> str:
    return label.split(":", 2)[2]


def test_converted_tflite_names_keep_the_segment_that_tells_them_apart():
    """MLPerf Tiny's TFLite names: every name holds the same segments ("functional_1", "Relu", "BiasAdd", even
    "conv2d_4/Conv2D"); the part printed is the layer's own segment (activation_3, dense_2), so no two layers'
    parts read the same, only their index."""
    ad = [f"functional_1/activation{s}/Relu;functional_1/dense{s}/BiasAdd" for s in ("", "_1", "_2", "_3")]
    labels = short_labels(ad, ["gemm"] * 4)
    assert [_part(x) for x in labels] == ["activation_dense", "activation_1", "activation_2", "activation_3"]
    kws = [
        f"functional_1/activation{s}/Relu;functional_1/batch_normalization{s}/FusedBatchNormV3;"
        f"functional_1/conv2d{s}/BiasAdd/ReadVariableOp/resource;functional_1/conv2d{s}/BiasAdd;"
        f"functional_1/conv2d_4/Conv2D;functional_1/conv2d{s}/Conv2D1"
        for s in ("", "_1", "_2", "_3")
    ]
    names = [n for k in kws for n in (k, k + "#act")]
    labels = short_labels(names, ["conv", "relu"] * 4)
    conv_parts = [_part(x) for x in labels[::2]]
    assert len(set(conv_parts)) == 4 and conv_parts[1] == "activation_1"
    assert all(_part(a) == _part(c) for c, a in zip(labels[::2], labels[1::2], strict=True))  # a conv and its ReLU
    assert max(map(len, labels)) <= 24
