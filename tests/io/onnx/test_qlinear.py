"""ONNX integer models in operator form (QLinearConv, QLinearMatMul) against ``onnx.reference``: every integer
tensor equal, with ONNX's own requantization (float32 multiplier, round half to even)."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

import ristretto_sim as rs
from ristretto_sim.errors import ModelError


def f32(x):
    return np.float32(x)


def _model(rng, *, signed=True, per_channel=True, auto_pad=None, extra=None):
    dt, qt = (np.int8, TensorProto.INT8) if signed else (np.uint8, TensorProto.UINT8)
    lo, hi = (-128, 127) if signed else (0, 255)
    c, o, n_out = 3, 6, 5
    zx, zc, zy = (dt(5), dt(-7), dt(3)) if signed else (dt(130), dt(120), dt(128))
    sx, sc, sy = f32(0.05), f32(rng.uniform(0.05, 0.2)), f32(rng.uniform(0.1, 0.3))
    sw = rng.uniform(0.0003, 0.001, o).astype(np.float32) if per_channel else f32(0.0006)  # outputs mostly in range
    wz = np.zeros(o if per_channel else (), np.int8)
    w = rng.integers(-127, 128, (o, c, 3, 3)).astype(np.int8)
    bias = rng.integers(-900, 900, o).astype(np.int32)
    conv_out = 4 * 3 * o  # 8x6 input, stride 2, pad 1 -> 4x3
    w2 = rng.integers(-127, 128, (o * 2 * 1, n_out)).astype(np.int8)  # after a 2x2 max pool with stride 2: 2x1
    inits = [numpy_helper.from_array(v, n) for n, v in [
        ("sx", np.array(sx)), ("zx", np.array(zx)), ("w", w), ("sw", np.asarray(sw)), ("wz", wz),
        ("sc", np.array(sc)), ("zc", np.array(zc)), ("b", bias), ("w2", w2), ("sw2", np.array(f32(0.004))),
        ("wz2", np.array(np.int8(0))), ("sy", np.array(sy)), ("zy", np.array(zy))]]
    conv_attrs = {"strides": [2, 2], "kernel_shape": [3, 3]}
    if auto_pad:
        conv_attrs["auto_pad"] = auto_pad
    else:
        conv_attrs["pads"] = [1, 1, 1, 1]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "sx", "zx"], ["xq"], name="quant"),
        helper.make_node("QLinearConv", ["xq", "sx", "zx", "w", "sw", "wz", "sc", "zc", "b"], ["c"], name="conv",
                         **conv_attrs),
        helper.make_node("MaxPool", ["c"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p"], ["f"], name="flat"),
        helper.make_node("QLinearMatMul", ["f", "sc", "zc", "w2", "sw2", "wz2", "sy", "zy"], ["yq"], name="fc"),
        helper.make_node("DequantizeLinear", ["yq", "sy", "zy"], ["y"], name="dequant"),
    ]
    if extra:
        nodes.insert(-1, extra)
    del conv_out, lo, hi
    outs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, n_out])]
    mids = [helper.make_tensor_value_info(t, qt, None) for t in ("xq", "c", "p", "f", "yq")]
    graph = helper.make_graph(nodes, "qlinear", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                               [1, c, 8, 6])], outs + mids, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    return model, (sx, zx)


@pytest.mark.parametrize("signed", [True, False])
@pytest.mark.parametrize("per_channel", [True, False])
@pytest.mark.parametrize("auto_pad", [None, "SAME_UPPER"])
def test_every_integer_tensor_equals_onnx_reference(tmp_path, signed, per_channel, auto_pad):
    rng = np.random.default_rng(int(signed) + 2 * int(per_channel))
    model, (sx, zx) = _model(rng, signed=signed, per_channel=per_channel, auto_pad=auto_pad)
    path = tmp_path / "q.onnx"
    onnx.save(model, str(path))
    net = rs.load_model(path)
    ref = ReferenceEvaluator(model)
    lo, hi = (-128, 127) if signed else (0, 255)
    for trial in range(4):
        q = np.full((1, 3, 8, 6), lo if trial == 0 else hi) if trial < 2 else rng.integers(lo, hi + 1, (1, 3, 8, 6))
        x = ((q.astype(np.float64) - int(zx)) * float(sx)).astype(np.float32)  # QuantizeLinear gives back q
        names = ["xq", "c", "p", "f", "yq"]
        want = dict(zip(names, ref.run(names, {"x": x}), strict=True))
        got = rs.run_tensors(net, q.astype(want["xq"].dtype))
        assert np.array_equal(want["xq"], q)
        for t in names:
            assert np.array_equal(got[t], want[t]), f"{t}: {(got[t] != want[t]).sum()} codes differ"


def test_an_unsupported_op_is_named_with_the_list(tmp_path):
    rng = np.random.default_rng(0)
    extra = helper.make_node("Sigmoid", ["yq"], ["s"], name="sig")
    model, _ = _model(rng, extra=extra)
    path = tmp_path / "q.onnx"
    onnx.save(model, str(path))
    with pytest.raises(ModelError, match="Sigmoid, which the QLinear importer does not support .supported: "
                                         "QuantizeLinear, DequantizeLinear, QLinearConv"):
        rs.load_model(path)
