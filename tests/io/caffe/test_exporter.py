"""Ristretto prototxt writer: what it writes is read back by the Caffe importer as the same plan."""

from pathlib import Path

import pytest

from ristretto_sim import load_model
from ristretto_sim.graph.plan import QuantPlan
from ristretto_sim.io.caffe.exporter import (
    edit_prototxt,
    network_prototxt,
    quantization_fields,
    ristretto_view,
    write_ristretto_prototxt,
)
from ristretto_sim.io.caffe.importer import load_caffe_model

LENET = Path("/work/shared/data/caffe-lenet/lenet_train_test.prototxt")
SQUEEZE = Path("/work/shared/data/ristretto/squeezenet_v1.0_dfp8_quantized.prototxt")

MIXED = """version: 1
mode: ristretto
layers:
  conv1: {inputs: fixed8.8, weights: fixed2.1, bias: fixed2.1, outputs: fixed8.6, rounding: nearest_even}
  conv2: {inputs: fixed16.-2, weights: fixed4.3, bias: fixed4.3, outputs: fixed8.-4, rounding: stochastic}
  ip1:   {inputs: fixed8.4, weights: pow2[-8,-1,nozero], outputs: fixed8.4, rounding: nearest_even}
  ip2:   {inputs: e4m3[nosub,specials=none], weights: e4m3[nosub,specials=none], bias: e4m3[nosub,specials=none],
          outputs: e4m3[nosub,specials=none], rounding: nearest_even}
"""


@pytest.fixture
def plan():
    return QuantPlan.from_yaml(MIXED)


@pytest.mark.skipif(not LENET.is_file(), reason="shared Caffe LeNet absent")
def test_edited_train_val_round_trips(plan, tmp_path):
    out = write_ristretto_prototxt(plan, tmp_path / "q.prototxt", source=LENET)
    model = load_caffe_model(out, structure_only=True)
    assert model.quant_plan() == plan == ristretto_view(plan)
    text = out.read_text()
    assert text.count("ConvolutionRistretto") == 2 and text.count("FcRistretto") == 2
    assert "phase: TRAIN" in text and "phase: TEST" in text  # both phases kept
    # writing the written file again changes nothing (old quantization_param blocks are replaced)
    assert edit_prototxt(text, plan) == text


def test_dfp_fields_in_field_number_order(plan):
    assert quantization_fields("conv1", plan.layers["conv1"], plan.rounding_of("conv1")) == [
        ("bw_layer_in", 8), ("bw_layer_out", 8), ("bw_params", 2), ("fl_layer_in", 8), ("fl_layer_out", 6),
        ("fl_params", 1)]
    assert quantization_fields("conv2", plan.layers["conv2"], plan.rounding_of("conv2"))[0] == (
        "rounding_scheme", "STOCHASTIC")
    assert [k for k, _ in quantization_fields("ip1", plan.layers["ip1"], plan.rounding_of("ip1"))] == [
        "precision", "bw_layer_in", "bw_layer_out", "fl_layer_in", "fl_layer_out", "exp_min", "exp_max"]
    assert quantization_fields("ip2", plan.layers["ip2"], plan.rounding_of("ip2")) == [
        ("precision", "MINIFLOAT"), ("mant_bits", 3), ("exp_bits", 4)]


def test_generated_prototxt_for_a_bundled_network_round_trips(plan, tmp_path):
    net = load_model("lenet")
    text = network_prototxt(net, plan)
    p = tmp_path / "lenet_q.prototxt"
    p.write_text(text)
    model = load_caffe_model(p, structure_only=True)
    assert model.quant_plan() == plan
    assert [layer.name for layer in model.network.layers] == [layer.name for layer in net.layers]
    assert model.network.tensor_shapes[model.network.outputs[0]] == net.tensor_shapes[net.outputs[0]]


def test_exact_plan_view_drops_accumulators():
    exact = QuantPlan.from_yaml("""version: 1
mode: exact
layers:
  conv1: {inputs: fixed8.8, weights: fixed4.3, bias: fixed32.11, outputs: fixed8.6, accumulator: fixed32.11}
""")
    view = ristretto_view(exact)
    e = view.layers["conv1"]
    assert e.accumulator is None and e.bias == e.weights and view.mode.value == "ristretto"


@pytest.mark.skipif(not SQUEEZE.is_file(), reason="shared SqueezeNet prototxt absent")
def test_a_real_ristretto_file_is_rewritten_to_the_same_plan(tmp_path):
    model = load_caffe_model(SQUEEZE, structure_only=True, input_shape=(3, 227, 227))
    plan = model.quant_plan()
    out = write_ristretto_prototxt(plan, tmp_path / "sq.prototxt", source=SQUEEZE)
    again = load_caffe_model(out, structure_only=True, input_shape=(3, 227, 227)).quant_plan()
    assert again == plan


def test_errors_name_the_layer(plan):
    with pytest.raises(ValueError, match="not layers of the prototxt"):
        edit_prototxt('layer { name: "other" type: "Convolution" }\n', plan)
    bad = QuantPlan.from_yaml("version: 1\nlayers:\n  pool1: {inputs: fixed8.2, outputs: fixed8.2}\n")
    with pytest.raises(ValueError, match="pool1"):
        edit_prototxt('layer { name: "pool1" type: "Pooling" }\n', bad)
    with pytest.raises(ValueError, match="V1"):
        edit_prototxt('layers { name: "conv1" type: CONVOLUTION }\n', plan)
    per_channel = QuantPlan.from_yaml("version: 1\nlayers:\n  c: {inputs: fixed8.2, weights: fixed8.(7,6)}\n")
    with pytest.raises(ValueError, match="'c'"):
        quantization_fields("c", per_channel.layers["c"], "nearest_even")


ONNX_MNIST = Path(__file__).resolve().parents[4] / "shared" / "data" / "onnx" / "mnist-8.onnx"


def _round_trip(net, tmp_path):
    from ristretto_sim.io.caffe.caffemodel import save_caffemodel

    proto, weights = tmp_path / "net.prototxt", tmp_path / "net.caffemodel"
    proto.write_text(network_prototxt(net))
    save_caffemodel(net, weights)
    return load_caffe_model(proto, weights).network


@pytest.mark.skipif(not ONNX_MNIST.is_file(), reason="shared ONNX mnist-8 absent (../shared/data/onnx)")
def test_onnx_mnist_as_caffe_keeps_its_floor_mode_pool_and_reshape(tmp_path):
    import numpy as np

    from ristretto_sim.runtime.executor import run_float

    net = load_model(ONNX_MNIST)
    text = network_prototxt(net)
    assert "round_mode: FLOOR" in text and 'type: "Reshape"' in text
    back = _round_trip(net, tmp_path)
    x = np.random.default_rng(0).uniform(0, 1, size=(4, 1, 28, 28)).astype(np.float32)
    np.testing.assert_allclose(run_float(back, x)[back.outputs[0]], run_float(net, x)[net.outputs[0]],
                               rtol=1e-5, atol=1e-5)


def test_prelu_scale_reshape_and_pools_round_trip_through_caffe(tmp_path):
    import numpy as np

    from ristretto_sim.graph import Network
    from ristretto_sim.graph.layers import Dense, Pool, PRelu, Reshape, Scale
    from ristretto_sim.graph.network import TensorSpec
    from ristretto_sim.runtime.executor import run_float

    rng = np.random.default_rng(1)
    layers = (
        PRelu(name="pr", inputs=("x",), outputs=("a",)),
        Scale(name="sc", inputs=("a",), outputs=("b",), channels=3),
        Pool(name="pf", inputs=("b",), outputs=("c",), kind="max", kernel=(2, 2), stride=(2, 2)),
        Pool(name="pc", inputs=("c",), outputs=("d",), kind="avg", kernel=(2, 2), stride=(2, 2), ceil_mode=True,
             count_include_pad=True),
        PRelu(name="ps", inputs=("d",), outputs=("e",)),
        Reshape(name="rs", inputs=("e",), outputs=("f",), shape=(12,)),
        Dense(name="fc", inputs=("f",), outputs=("y",), in_features=12, out_features=5),
    )
    params = {"pr": {"slope": rng.normal(size=(3, 1, 1)).astype(np.float32)},
              "sc": {"weight": rng.normal(size=3).astype(np.float32), "bias": rng.normal(size=3).astype(np.float32)},
              "ps": {"slope": np.array([0.25], np.float32)},
              "fc": {"weight": rng.normal(size=(5, 12)).astype(np.float32),
                     "bias": rng.normal(size=5).astype(np.float32)}}
    net = Network(name="t", inputs=(TensorSpec("x", (3, 9, 7)),), layers=layers, outputs=("y",), params=params)
    assert net.tensor_shapes["c"] == (3, 4, 3) and net.tensor_shapes["d"] == (3, 2, 2)
    text = network_prototxt(net)
    assert text.count("round_mode: FLOOR") == 1 and "channel_shared: true" in text
    back = _round_trip(net, tmp_path)
    assert back.tensor_shapes[back.outputs[0]] == (5,)
    x = rng.normal(size=(2, 3, 9, 7)).astype(np.float32)
    np.testing.assert_allclose(run_float(back, x)[back.outputs[0]], run_float(net, x)["y"], rtol=1e-5, atol=1e-5)


def test_average_pool_without_padding_in_its_divisor_has_no_caffe_form():
    from ristretto_sim.graph import Network
    from ristretto_sim.graph.layers import Pool
    from ristretto_sim.graph.network import TensorSpec

    net = Network(name="t", inputs=(TensorSpec("x", (1, 4, 4)),), outputs=("y",), params={},
                  layers=(Pool(name="p", inputs=("x",), outputs=("y",), kind="avg", kernel=(3, 3), stride=(1, 1),
                               pads=(1, 1, 1, 1)),))
    with pytest.raises(ValueError, match="'p'.*no Caffe form"):
        network_prototxt(net)
