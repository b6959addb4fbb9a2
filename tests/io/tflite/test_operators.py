"""Each supported TFLite operator on small generated files (``builder``), every int8 tensor held against LiteRT's
reference kernels: per-channel and per-tensor scales, zero points, ReLU / ReLU6 / ReLU_N1_TO_1 clamps, SAME and
VALID padding, strides, depth multipliers, NHWC flattening; and the one-line errors for what the int8 path refuses."""

import subprocess
import sys

import numpy as np
import pytest

import ristretto_sim as rs
from ristretto_sim.errors import ModelError
from tests.io.tflite import builder as tb
from tests.io.tflite.litert import REPO, all_tensors, inputs, interpreter


def _equal_to_litert(tmp_path, data: bytes, n_random: int = 3):
    path = tmp_path / "m.tflite"
    path.write_bytes(data)
    net = rs.load_model(path)
    it = interpreter(path)
    shape = tuple(it.get_input_details()[0]["shape"])
    for x in inputs(shape, n_random, seed=len(data)):
        ref = all_tensors(it, x)
        ours = rs.run_tensors(net, x)
        assert ours and set(ours) <= set(ref)
        for t, codes in ours.items():
            assert np.array_equal(codes, ref[t]), f"tensor {t}: {(codes != ref[t]).sum()} codes differ"
    return net


@pytest.mark.parametrize("padding", [0, 1], ids=["same", "valid"])
@pytest.mark.parametrize("stride", [(1, 1), (2, 2), (2, 1)])
@pytest.mark.parametrize("fused", [0, 1, 2, 3], ids=["none", "relu", "relu_n1_to_1", "relu6"])
def test_conv2d(tmp_path, padding, stride, fused):
    rng = np.random.default_rng(padding * 100 + stride[0] * 10 + stride[1] + fused)
    _equal_to_litert(tmp_path, tb.conv_model(rng, padding=padding, stride=stride, fused=fused))


@pytest.mark.parametrize("per_channel", [True, False])
@pytest.mark.parametrize("k", [1, 3])
def test_conv2d_scales_and_kernels(tmp_path, per_channel, k):
    rng = np.random.default_rng(7 + k)
    _equal_to_litert(tmp_path, tb.conv_model(rng, per_channel=per_channel, k=k, c=5, o=6, fused=1))


@pytest.mark.parametrize("multiplier", [1, 2])
@pytest.mark.parametrize("padding,stride", [(0, (1, 1)), (0, (2, 2)), (1, (1, 1))])
def test_depthwise_conv2d(tmp_path, multiplier, padding, stride):
    rng = np.random.default_rng(multiplier * 10 + padding + stride[0])
    net = _equal_to_litert(tmp_path, tb.conv_model(rng, depthwise=True, c=4, multiplier=multiplier,
                                                   padding=padding, stride=stride, fused=3))
    conv = net.layers[0]
    assert conv.groups == 4 and conv.out_channels == 4 * multiplier


@pytest.mark.parametrize("image", [False, True], ids=["vector", "nhwc_image"])
@pytest.mark.parametrize("fused", [0, 1])
def test_fully_connected(tmp_path, image, fused):
    _equal_to_litert(tmp_path, tb.fc_model(np.random.default_rng(int(image) + 2 * fused), image=image, fused=fused))


def test_softmax(tmp_path):
    _equal_to_litert(tmp_path, tb.fc_model(np.random.default_rng(5), softmax=True), n_random=20)


@pytest.mark.parametrize("fused", [0, 1, 3])
def test_add(tmp_path, fused):
    _equal_to_litert(tmp_path, tb.add_model(np.random.default_rng(fused), fused=fused), n_random=6)


@pytest.mark.parametrize("kernel,stride,padding", [((3, 3), (2, 2), 0), ((2, 3), (1, 2), 0), ((3, 2), (2, 1), 1),
                                                   ((7, 6), (1, 1), 1)])
def test_average_pool(tmp_path, kernel, stride, padding):
    _equal_to_litert(tmp_path, tb.pool_model(kernel=kernel, stride=stride, padding=padding, fused=1))


@pytest.mark.parametrize("to_image", [False, True])
def test_reshape_keeps_tflites_element_order(tmp_path, to_image):
    _equal_to_litert(tmp_path, tb.reshape_model(to_image=to_image))


# ---------------------------------------------------------------------- what the int8 path refuses


def _write(tmp_path, data: bytes):
    path = tmp_path / "bad.tflite"
    path.write_bytes(data)
    return path


def test_a_float_model_is_refused(tmp_path):
    x = tb.T("x", (1, 12), tb.FLOAT32)
    w = tb.T("w", (3, 12), tb.FLOAT32, data=np.zeros((3, 12), np.float32))
    y = tb.T("y", (1, 3), tb.FLOAT32)
    path = _write(tmp_path, tb.build([x, w, y], [tb.Op("FULLY_CONNECTED", (0, 1, -1), (2,))], (0,), (2,)))
    with pytest.raises(ModelError, match="float32: this is not a fully int8-quantized model"):
        rs.load_model(path)


def test_an_int8_model_with_a_float_interface_is_told_how_to_convert(tmp_path):
    """The TFLite converter's default: QUANTIZE after a float input, DEQUANTIZE before a float output."""
    x = tb.T("x", (1, 4), tb.FLOAT32)
    q = tb.act("q", (1, 4), 0.1, 0)
    y = tb.T("y", (1, 4), tb.FLOAT32)
    ops = [tb.Op("QUANTIZE", (0,), (1,)), tb.Op("DEQUANTIZE", (1,), (2,))]
    path = _write(tmp_path, tb.build([x, q, y], ops, (0,), (2,)))
    with pytest.raises(ModelError, match="int8 model with a float interface; convert it with "
                                         "inference_input_type=tf.int8"):
        rs.load_model(path)


def test_a_truncated_flatbuffer_is_refused(tmp_path):
    data = tb.conv_model(np.random.default_rng(0))
    for cut in (6, len(data) // 3, len(data) - 40):
        with pytest.raises(ModelError, match="bad.tflite: (malformed or truncated|not a TFLite)"):
            rs.load_model(_write(tmp_path, data[:cut]))


def test_an_operator_outside_the_list_is_refused_naming_it_and_the_list(tmp_path):
    tensors = [tb.act("x", (1, 4), 0.1, 0), tb.act("y", (1, 4), 1 / 256, -128)]
    path = _write(tmp_path, tb.build(tensors, [tb.Op("LOGISTIC", (0,), (1,))], (0,), (1,)))
    with pytest.raises(ModelError, match=r"LOGISTIC, which the TFLite importer does not support \(supported: "
                                         r"CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, ADD"):
        rs.load_model(path)


def test_per_channel_scales_on_the_wrong_axis_are_refused(tmp_path):
    data = tb.conv_model(np.random.default_rng(1), c=4, o=4, qdim=3)
    with pytest.raises(ModelError, match="per-channel scales on axis 3; CONV_2D takes them on axis 0"):
        rs.load_model(_write(tmp_path, data))


def test_the_cli_prints_one_line_and_exits_2(tmp_path):
    path = _write(tmp_path, tb.conv_model(np.random.default_rng(1), c=4, o=4, qdim=3))
    r = subprocess.run([sys.executable, "-m", "ristretto_sim.cli", "info", str(path)], capture_output=True,
                       text=True, cwd=REPO)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error:") and "axis 3" in r.stderr
