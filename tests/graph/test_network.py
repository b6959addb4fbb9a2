"""Layer specs and Network: validation, shape inference, MACs and parameter counts."""

import numpy as np
import pytest

from ristretto_sim.data import Preprocessing
from ristretto_sim.errors import ModelError
from ristretto_sim.graph import (
    Activation,
    Conv,
    ConvTranspose,
    Dense,
    Eltwise,
    Flatten,
    Network,
    Pool,
    PoolKind,
    TensorSpec,
)
from ristretto_sim.graph.layers import pool_output_size


def lenet(params=None):
    rng = np.random.default_rng(0)
    layers = (
        Conv(
            name="conv1", inputs=("data",), outputs=("conv1",), in_channels=1, out_channels=20, kernel=(5, 5)
        ),
        Pool(
            name="pool1",
            inputs=("conv1",),
            outputs=("pool1",),
            kind="max",
            kernel=2,
            stride=2,
            ceil_mode=True,
        ),
        Conv(
            name="conv2",
            inputs=("pool1",),
            outputs=("conv2",),
            in_channels=20,
            out_channels=50,
            kernel=(5, 5),
        ),
        Pool(
            name="pool2",
            inputs=("conv2",),
            outputs=("pool2",),
            kind="max",
            kernel=2,
            stride=2,
            ceil_mode=True,
        ),
        Dense(name="ip1", inputs=("pool2",), outputs=("ip1",), in_features=800, out_features=500),
        Activation(name="relu1", inputs=("ip1",), outputs=("relu1",), kind="relu"),
        Dense(name="ip2", inputs=("relu1",), outputs=("ip2",), in_features=500, out_features=10),
    )
    if params is None:
        params = {
            "conv1": {"weight": rng.normal(size=(20, 1, 5, 5)), "bias": np.zeros(20)},
            "conv2": {"weight": rng.normal(size=(50, 20, 5, 5)), "bias": np.zeros(50)},
            "ip1": {"weight": rng.normal(size=(500, 800)), "bias": np.zeros(500)},
            "ip2": {"weight": rng.normal(size=(10, 500)), "bias": np.zeros(10)},
        }
    return Network(
        "lenet",
        (TensorSpec("data", (1, 28, 28)),),
        layers,
        ("ip2",),
        params,
        preprocess=Preprocessing(scale=0.00390625),
    )


def test_lenet_shapes_macs_params():
    net = lenet()
    assert net.shape("conv1") == (20, 24, 24)
    assert net.shape("pool2") == (50, 4, 4)
    assert net.shape("ip2") == (10,)
    assert net.macs("conv1") == 20 * 24 * 24 * 25
    assert net.macs("conv2") == 50 * 8 * 8 * 20 * 25
    assert net.macs("ip1") == 800 * 500
    assert net.param_count("conv2") == 50 * 20 * 25 + 50
    assert net.total_params == 431080
    assert [row.op_type for row in net.summary()][:2] == ["Conv", "Pool"]
    assert net.params["conv1"]["weight"].dtype == np.float32
    assert not net.params["conv1"]["weight"].flags.writeable


def test_enum_strings_and_kw_only():
    p = Pool(name="p", inputs=("x",), outputs=("y",), kind="AVG")
    assert p.kind is PoolKind.AVG
    with pytest.raises(TypeError):
        Pool("p", ("x",), ("y",), "max")  # keyword-only
    with pytest.raises(ValueError, match="kind"):
        Pool(name="p", inputs=("x",), outputs=("y",), kind="median")


def test_network_errors_name_the_layer():
    net = lenet()
    with pytest.raises(ModelError, match="ip1.*shape"):
        bad = {k: dict(v) for k, v in net.params.items()}
        bad["ip1"]["weight"] = np.zeros((500, 801))
        lenet(bad)
    with pytest.raises(ModelError, match="topological"):
        Network(
            "x",
            (TensorSpec("a", (3,)),),
            (Activation(name="r", inputs=("b",), outputs=("c",), kind="relu"),),
            ("c",),
        )
    with pytest.raises(ModelError, match="single-assignment"):
        Network(
            "x",
            (TensorSpec("a", (3,)),),
            (Activation(name="r", inputs=("a",), outputs=("a",), kind="relu"),),
            ("a",),
        )
    with pytest.raises(ModelError, match="no 'weight'"):
        Network(
            "x",
            (TensorSpec("a", (3,)),),
            (Dense(name="d", inputs=("a",), outputs=("b",), in_features=3, out_features=2),),
            ("b",),
        )


@pytest.mark.parametrize(
    "size,k,s,p,expected",
    [
        (28, 2, 2, 0, 14),
        (24, 3, 2, 0, 12),
        (32, 3, 2, 1, 17),
        (6, 3, 2, 1, 4),
        (5, 2, 2, 1, 3),
    ],
)
def test_caffe_ceil_pool_size(size, k, s, p, expected):
    # values from Caffe's PoolingLayer::Reshape formula
    assert pool_output_size(size, k, s, p, p, True) == expected


def test_conv_transpose_and_eltwise_constant_shapes():
    ct = ConvTranspose(
        name="up",
        inputs=("x",),
        outputs=("y",),
        in_channels=4,
        out_channels=2,
        kernel=(3, 3),
        stride=(2, 2),
        pads=(1, 1, 1, 1),
        output_padding=(1, 1),
    )
    assert ct.output_shapes(((4, 7, 7),)) == ((2, 14, 14),)
    net = Network(
        "e",
        (TensorSpec("x", (2, 3, 3)),),
        (
            Eltwise(name="m", inputs=("x",), outputs=("y",), op="mul", constant_index=1),
            Flatten(name="f", inputs=("y",), outputs=("z",)),
        ),
        ("z",),
        {"m": {"constant": np.ones((2, 1, 1))}},
    )
    assert net.shape("z") == (18,)


def test_network_carries_preprocessing():
    net = lenet()
    assert net.preprocess.scale == 0.00390625
    assert net.replace(preprocess=None).preprocess is None
    with pytest.raises(TypeError, match="Preprocessing"):
        net.replace(preprocess=0.5)
