"""The vector unit: every non-GEMM layer costs cycles, energy and traffic; a residual block moves exactly its
tensors' compulsory bytes; fusion removes exactly the fused tensor's traffic; energy per op type by hand from the
technology table."""

import math
from pathlib import Path

import pytest

from ristretto_sim.emulator import LayerFormats
from ristretto_sim.errors import ConfigError
from ristretto_sim.hw import AcceleratorConfig, BufferConfig, DRAMConfig, default_table
from ristretto_sim.hw.config import VectorConfig
from ristretto_sim.hw.layers import ConvShape, GemmShape
from ristretto_sim.hw.simulate import simulate
from ristretto_sim.hw.vector import VectorShape

INT8 = LayerFormats("int8", "int8", outputs="int8", accumulator="int32")


def _config(fuse: bool, *, lanes: int = 8, bandwidth=16.0, latency: int = 20, kb: int = 256, **vector):
    return AcceleratorConfig(
        8,
        8,
        "ws",
        ifmap=BufferConfig(kb * 1024),
        filter=BufferConfig(kb * 1024),
        ofmap=BufferConfig(kb * 1024),
        dram=DRAMConfig(bandwidth, latency),
        vector=VectorConfig(lanes=lanes, fuse=fuse, **vector),
    )


def _resnet_block():
    """conv 3x3 (16 -> 16, pad 1, bias), conv 3x3 (bias), Add with the block's input (the skip)."""
    x = 8 * 8 * 16
    return [
        ConvShape("c1", 8, 8, 16, 16, kernel=3, padding=1, bias=True),
        ConvShape("c2", 8, 8, 16, 16, kernel=3, padding=1, bias=True),
        VectorShape("add", "add", (x, x), x, sources=("c2", "")),
    ]


def test_resnet_block_moves_exactly_the_compulsory_traffic_of_every_tensor():
    report = simulate(_resnet_block(), INT8, _config(fuse=True))
    act = 8 * 8 * 16  # int8 activations: one byte each
    weights, bias = 3 * 3 * 16 * 16, 16 * 4  # int8 weights; biases at the int32 accumulator's width
    c1, c2, add = report.layers
    assert (c1.dram_ifmap_bytes, c1.dram_filter_bytes, c1.dram_bias_bytes, c1.dram_ofmap_bytes) == (
        act, weights, bias, act
    )
    assert (c2.dram_ifmap_bytes, c2.dram_filter_bytes, c2.dram_bias_bytes, c2.dram_ofmap_bytes) == (
        act, weights, bias, act
    )
    # both Add operands (the second is the skip) and its output
    assert (add.dram_ifmap_bytes, add.dram_operands_bytes, add.dram_ofmap_bytes) == (act, act, act)
    compulsory = 4 * act + 2 * (weights + bias) + 3 * act  # conv inputs and outputs, parameters, add in, in, out
    assert report.total.dram_read_bytes + report.total.dram_write_bytes == compulsory
    assert report.total.compulsory_dram_bytes == compulsory
    assert add.unit == "vector" and add.fused_into == "" and add.total_cycles > 0 and add.energy.vector_pj > 0


def _conv_relu_pool():
    conv = ConvShape("conv", 12, 12, 8, 16, kernel=3, padding=1, bias=True)
    out = 12 * 12 * 16
    return [
        conv,
        VectorShape("relu", "relu", (out,), out, sources=("conv",), fusable=True),
        VectorShape("pool", "max_pool", (out,), out // 4, window=4, sources=("relu",), fusable=True),
        GemmShape("fc", 1, 10, out // 4, bias=True),
    ]


def test_fusing_relu_and_pool_removes_exactly_their_input_tensors_traffic():
    layers = _conv_relu_pool()
    plain = simulate(layers, INT8, _config(fuse=False))
    fused = simulate(layers, INT8, _config(fuse=True))
    out = 12 * 12 * 16
    moved = lambda r: r.total.dram_read_bytes + r.total.dram_write_bytes  # noqa: E731
    # unfused: conv's output is written and read by relu, relu's output written and read by pool
    assert moved(plain) - moved(fused) == 2 * out + 2 * out
    assert [x.fused_into for x in fused.layers] == ["", "conv", "conv", ""]
    assert [x.fused_into for x in plain.layers] == ["", "", "", ""]
    # the conv writes the pooled output from its output path, overlapped with its folds; relu and pool move nothing
    assert fused.layer("conv").dram_ofmap_bytes == out // 4 == plain.layer("pool").dram_ofmap_bytes
    assert plain.layer("conv").dram_ofmap_bytes == out
    for name in ("relu", "pool"):
        assert fused.layer(name).dram_read_bytes == 0 == fused.layer(name).dram_write_bytes
    assert fused.total.compulsory_dram_bytes == fused.total.dram_read_bytes + fused.total.dram_write_bytes
    # the op's energy is spent either way
    assert fused.layer("pool").energy.vector_pj == plain.layer("pool").energy.vector_pj
    assert fused.total.total_cycles < plain.total.total_cycles


def test_a_layer_not_fusable_or_with_other_consumers_is_not_fused():
    conv = ConvShape("conv", 12, 12, 8, 16, kernel=3, padding=1)
    out = 12 * 12 * 16
    layers = [conv, VectorShape("relu", "relu", (out,), out, sources=("conv",), fusable=False)]
    assert simulate(layers, INT8, _config(fuse=True)).layer("relu").fused_into == ""
    softmax = [conv, VectorShape("sm", "softmax", (out,), out, window=16, sources=("conv",), fusable=True)]
    assert simulate(softmax, INT8, _config(fuse=True)).layer("sm").fused_into == ""  # not an output-path op


def _only(op, sizes, outputs, window=1, **vector):
    cfg = _config(fuse=False, bandwidth=None, latency=0, **vector)
    gemm = GemmShape("g", 1, 8, 8)  # a network needs a GEMM layer; the vector layer's input is a network input
    return simulate([gemm, VectorShape("v", op, sizes, outputs, window=window, sources=("",))], INT8, cfg).layer("v")


@pytest.mark.parametrize(
    ("op", "inputs", "outputs", "window", "counts"),
    [
        ("relu", (1000,), 1000, 1, {"cmp": 1}),
        ("max_pool", (4000,), 1000, 4, {"cmp": 3}),
        ("avg_pool", (9000,), 1000, 9, {"add": 8, "mul": 1}),
        ("add", (1000, 1000), 1000, 1, {"add": 1}),
        ("lrn", (1000,), 1000, 5, {"mul": 8, "add": 5}),
        ("softmax", (1000,), 1000, 10, {"mul": 2 + 4 / 10, "add": 3, "cmp": 1}),
        ("concat", (600, 400), 1000, 1, {}),
    ],
)
def test_energy_per_layer_type_by_hand_from_the_technology_table(op, inputs, outputs, window, counts):
    """int8 lanes with an int32 accumulator: multiplier int_mul(8, 8), adder int_add(32), comparator int_add(8),
    one 8-bit pipeline register per input element."""
    t = default_table()
    row = _only(op, inputs, outputs, window)
    price = {"mul": t.int_mul_pj(8, 8), "add": t.int_add_pj(32), "cmp": t.int_add_pj(8)}
    expected = outputs * sum(n * price[u] for u, n in counts.items()) + sum(inputs) * 8 * t.reg_pj_per_bit
    assert row.energy.vector_pj == pytest.approx(expected, rel=1e-12)
    assert row.energy.arithmetic_pj == 0 and row.macs == 0 and row.kind == op


def test_vector_cycles_are_elements_over_lanes_plus_the_pipeline():
    row = _only("max_pool", (4000,), 1000, 4, lanes=16, pipeline_cycles=6)
    assert row.compute_cycles == math.ceil(4000 / 16) + 6
    row = _only("lrn", (1000,), 1000, 5, lanes=16, pipeline_cycles=6)  # 8 multiplies per output: mul-bound
    assert row.compute_cycles == math.ceil(8 * 1000 / 16) + 6
    # unlimited bandwidth: no stalls; reads and writes still counted
    assert row.total_cycles == row.compute_cycles and row.dram_read_bytes == 1000 == row.dram_write_bytes


def test_minifloat_lanes_price_float_units():
    t = default_table()
    row = _only("add", (100, 100), 100, inputs="bf16", accumulator="fp32")
    assert row.energy.vector_pj == pytest.approx(100 * t.float_add_pj(32) + 200 * 16 * t.reg_pj_per_bit)


def test_unsupported_op_and_bad_vector_fields_are_clear_errors():
    with pytest.raises(ConfigError, match=r"layer 'v' is a softmax layer.*add 'softmax' to vector.ops"):
        _only("softmax", (10,), 10, 10, ops=("relu", "add"))
    with pytest.raises(ValueError, match=r"vector\.lanes=0 must be >= 1"):
        VectorConfig(lanes=0)
    with pytest.raises(ValueError, match=r"vector\.ops"):
        VectorConfig(ops=("relu", "fft"))
    with pytest.raises(TypeError, match=r"vector\.fuse"):
        VectorConfig(fuse="yes")


def test_vector_config_round_trips_through_yaml():
    cfg = _config(fuse=False, lanes=32, ops=("relu", "max_pool"), inputs="int16", accumulator="fixed40.0")
    assert AcceleratorConfig.from_yaml(cfg.to_yaml()) == cfg


def test_scalesim_mode_runs_only_gemm_layers():
    report = simulate(_conv_relu_pool(), INT8, _config(fuse=True), scalesim_compatible=True)
    assert [x.name for x in report.layers] == ["conv", "fc"]
    assert report.not_simulated == ("relu", "pool")
    assert report.layer("conv").dram_bias_bytes == 0


CIFAR = Path(__file__).resolve().parents[2] / "models" / "cifar10_full_lrn" / "cifar10_full_lrn.onnx"


def test_a_real_network_costs_every_layer():
    """The repository's CIFAR-10 'full' network (conv, pool, ReLU, LRN, dense, softmax-free): every layer but the
    views has cycles and energy, and the DRAM traffic covers each layer's input."""
    from ristretto_sim.cli.modelargs import load_structure
    from ristretto_sim.hw import preset
    from ristretto_sim.hw.network import layers_from_network

    network, _ = load_structure(str(CIFAR), None)
    layers, skipped = layers_from_network(network)
    kinds = {type(x).__name__ for x in layers}
    assert "VectorShape" in kinds and "ConvShape" in kinds
    report = simulate(layers, None, preset("edge-32x32-int8"))
    assert len(report.layers) == len(network.layers) - len(skipped)
    for row in report.layers:
        assert row.total_cycles > 0 and row.energy.total_pj > 0, row.name
    lrn = [x for x in report.layers if x.kind == "lrn"]
    assert lrn and all(x.energy.vector_pj > 0 for x in lrn)
