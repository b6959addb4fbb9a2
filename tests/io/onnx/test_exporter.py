"""to_onnx: onnxruntime on the exported model equals our float runner, for every layer spec."""

import numpy as np
import pytest

from ristretto_sim.data import Preprocessing
from ristretto_sim.graph import (
    LRN,
    Activation,
    Concat,
    Conv,
    ConvTranspose,
    Dense,
    Eltwise,
    Flatten,
    Network,
    Pad,
    Pool,
    PRelu,
    Reshape,
    Scale,
    Softmax,
    TensorSpec,
    Transpose,
)
from ristretto_sim.io.onnx.exporter import to_onnx
from ristretto_sim.io.onnx.importer import load_onnx
from ristretto_sim.runtime.executor import run_float

from .test_importer import MNIST8, close

RNG = np.random.default_rng(3)


def ort(model, x):
    import onnxruntime

    sess = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {model.graph.input[0].name: x})[0]


def every_spec_network(within_lrn=True):
    L = []
    L.append(
        Conv(
            name="conv",
            inputs=("x",),
            outputs=("c",),
            in_channels=3,
            out_channels=4,
            kernel=(3, 3),
            pads=(1, 1, 1, 1),
        )
    )
    L.append(Scale(name="scale", inputs=("c",), outputs=("s",), channels=4))
    L.append(Activation(name="lrelu", inputs=("s",), outputs=("a",), kind="leaky_relu", alpha=0.1))
    region = "within_channel" if within_lrn else "across_channels"
    L.append(LRN(name="lrn_w", inputs=("a",), outputs=("lw",), size=3, alpha=0.5, beta=0.75, region=region))
    L.append(LRN(name="lrn_a", inputs=("lw",), outputs=("la",), size=3, alpha=1e-2, beta=0.75, k=2.0))
    L.append(
        Pool(
            name="avg",
            inputs=("la",),
            outputs=("p",),
            kind="avg",
            kernel=3,
            stride=2,
            pads=(1, 1, 1, 1),
            ceil_mode=True,
            count_include_pad=True,
        )
    )
    L.append(
        Pool(
            name="max",
            inputs=("la",),
            outputs=("m",),
            kind="max",
            kernel=3,
            stride=2,
            pads=(1, 1, 1, 1),
            ceil_mode=True,
        )
    )
    L.append(Eltwise(name="sum", inputs=("p", "m"), outputs=("e",), op="add", coeffs=(0.5, -2.0)))
    L.append(PRelu(name="prelu", inputs=("e",), outputs=("pr",)))
    L.append(Eltwise(name="cmul", inputs=("pr",), outputs=("cm",), op="div", constant_index=0))
    L.append(Activation(name="clip", inputs=("cm",), outputs=("cl",), kind="clip", low=-3, high=6))
    L.append(
        ConvTranspose(
            name="up",
            inputs=("cl",),
            outputs=("u",),
            in_channels=4,
            out_channels=2,
            kernel=(2, 2),
            stride=(2, 2),
            groups=2,
            pads=(0, 1, 0, 0),
            output_padding=(1, 0),
        )
    )
    L.append(Pad(name="pad", inputs=("u",), outputs=("pd",), pads=(0, 1, 0, 0, 0, 2), mode="reflect"))
    L.append(Transpose(name="tr", inputs=("pd",), outputs=("t",), perm=(0, 1, 3, 2)))
    L.append(Activation(name="tanh", inputs=("t",), outputs=("th",), kind="tanh"))
    L.append(Concat(name="cat", inputs=("th", "th"), outputs=("ct",), axis=1))
    L.append(Softmax(name="soft", inputs=("ct",), outputs=("sm",), axis=2, flatten=True))
    L.append(Reshape(name="rs", inputs=("sm",), outputs=("r",), shape=(4, 12, 11)))
    L.append(Flatten(name="fl", inputs=("r",), outputs=("f",)))
    L.append(Dense(name="fc", inputs=("f",), outputs=("d",), in_features=528, out_features=6, bias=False))
    L.append(Activation(name="sig", inputs=("d",), outputs=("y",), kind="sigmoid"))
    params = {
        "conv": {"weight": RNG.normal(size=(4, 3, 3, 3)), "bias": RNG.normal(size=4)},
        "scale": {"weight": RNG.uniform(0.5, 2, 4), "bias": RNG.normal(size=4)},
        "prelu": {"slope": RNG.uniform(0, 0.3, (4, 1, 1))},
        "cmul": {"constant": RNG.uniform(1, 2, (4, 1, 1))},
        "up": {"weight": RNG.normal(size=(4, 1, 2, 2)), "bias": RNG.normal(size=2)},
        "fc": {"weight": RNG.normal(size=(6, 528)) * 0.1},
    }
    return Network(
        "every",
        (TensorSpec("x", (3, 9, 9)),),
        tuple(L),
        ("y",),
        params,
        preprocess=Preprocessing(scale=0.5, mean=(1.0, 2.0, 3.0)),
        metadata={"dataset": "none"},
    )


def test_every_spec_exports_and_matches_onnxruntime(tmp_path):
    net = every_spec_network()
    x = RNG.normal(size=(3, 3, 9, 9)).astype(np.float32)
    ours = run_float(net, x)["y"]
    model = to_onnx(net, tmp_path / "every.onnx")
    assert (tmp_path / "every.onnx").exists()
    close(ort(model, x), ours)
    # the importer reads the export back (WITHIN_CHANNEL LRN is written as Pow etc., which it does not import)
    net = every_spec_network(within_lrn=False)
    to_onnx(net, tmp_path / "every2.onnx")
    back = load_onnx(tmp_path / "every2.onnx")
    close(run_float(back, x)[back.outputs[0]], run_float(net, x)["y"])
    assert back.preprocess == net.preprocess and back.metadata["dataset"] == "none"


def test_unexportable_pool_is_an_error():
    from ristretto_sim.errors import ModelError

    net = Network(
        "p",
        (TensorSpec("x", (1, 5, 5)),),
        (Pool(name="p", inputs=("x",), outputs=("y",), kind="max", kernel=1, stride=3, ceil_mode=True),),
        ("y",),
    )
    with pytest.raises(ModelError, match="'p'"):
        to_onnx(net)


@pytest.mark.skipif(not MNIST8.exists(), reason=f"{MNIST8} not present (shared data directory absent)")
def test_mnist8_round_trip_through_onnx():
    net = load_onnx(MNIST8)
    x = RNG.uniform(0, 1, (16, 1, 28, 28)).astype(np.float32)
    close(ort(to_onnx(net), x), run_float(net, x)[net.outputs[0]])


CAFFE_LENET = MNIST8.parents[1] / "caffe-lenet"


@pytest.mark.skipif(
    not CAFFE_LENET.exists(), reason=f"{CAFFE_LENET} not present (shared data directory absent)"
)
def test_caffe_lenet_exports_and_matches_onnxruntime(tmp_path):
    from ristretto_sim.io.caffe.importer import load_caffe

    net = load_caffe(CAFFE_LENET / "lenet_train_test.prototxt", CAFFE_LENET / "lenet_iter_10000.caffemodel")
    x = RNG.uniform(0, 1, (32, *net.input.shape)).astype(np.float32)
    ours = run_float(net, x)
    model = to_onnx(net, tmp_path / "caffe_lenet.onnx")
    got = ort(model, x)
    close(got, ours[net.outputs[0]])
    back = load_onnx(tmp_path / "caffe_lenet.onnx")
    assert back.preprocess.scale == pytest.approx(0.00390625)
    close(run_float(back, x)[back.outputs[0]], got)
