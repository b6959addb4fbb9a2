"""Packed integer weights file: bitstream layout, round trip, equality with the emulator's weights, size."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ristretto_sim import load_model, load_plan
from ristretto_sim.emulator.datapaths import Keys
from ristretto_sim.errors import ModelError
from ristretto_sim.formats import FixedPoint, Overflow, PowerOfTwo
from ristretto_sim.io.weights.packed import (
    MAGIC,
    load_packed,
    pack_bits,
    pack_network,
    parse_packed,
    unpack_bits,
)
from ristretto_sim.runtime.executor import run_network
from tests.io.packed_cases import PLANS, plan, tiny_net  # noqa: F401 - fixture


@pytest.mark.parametrize("bits", list(range(1, 65)))
def test_pack_unpack_round_trip_every_width(bits):
    rng = np.random.default_rng(bits)
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    signed = rng.integers(lo, hi, 101, dtype=np.int64, endpoint=True)
    signed[:2] = (lo, hi)
    data = pack_bits(signed, bits)
    assert len(data) == -(-101 * bits // 8)
    assert np.array_equal(unpack_bits(data, bits, 101, signed=True), signed)
    unsigned = rng.integers(0, min(1 << bits, 1 << 63), 101, dtype=np.int64)
    assert np.array_equal(unpack_bits(pack_bits(unsigned, bits), bits, 101, signed=False), unsigned)


def test_bitstream_is_lsb_first():
    # 3-bit codes 1, 2, 7, 5: stream bits (LSB first) 100 010 111 101 -> bytes 0b11010001, 0b00001011
    assert pack_bits([1, 2, 7, 5], 3) == bytes([0b11010001, 0b00001011])
    assert pack_bits([-1, 0, 1], 5) == bytes([0b00011111, 0b00000100])
    # whole-byte widths are little-endian integer arrays
    assert pack_bits([-2, 0x1234], 16) == np.array([-2, 0x1234], "<i2").tobytes()
    assert pack_bits([0x89ABCDEF], 32) == np.array([0x89ABCDEF], "<u4").tobytes()


def test_pack_rejects_codes_that_do_not_fit():
    with pytest.raises(ValueError, match="do not fit 3 bits"):
        pack_bits([8], 3)
    with pytest.raises(ValueError, match="bits=0"):
        pack_bits([0], 0)


def _emulator_weight_codes(network, p, name, rng):
    """The weight codes exactly as emulator.emulate_layer encodes them in exact mode."""
    f = p.layer_formats(name)
    kw = Keys.of(rng, f.rounding).weights
    w = network.params[name]["weight"]
    ov = Overflow.SATURATE if isinstance(f.weights, (FixedPoint, PowerOfTwo)) else None
    return f.weights.encode(w, f.rounding, ov, kw).astype(np.int64)


@pytest.mark.parametrize("case", sorted(PLANS))
def test_round_trip_equals_emulator(tiny_net, tmp_path, case):  # noqa: F811
    p = plan(case, tiny_net)
    packed = pack_network(tiny_net, p, rng=7)
    size = packed.save(tmp_path / "w.rsw")
    assert size == (tmp_path / "w.rsw").stat().st_size
    back = load_packed(tmp_path / "w.rsw")
    assert back.model == tiny_net.name and back.mode == p.mode.value
    for a, b in zip(packed.tensors, back.tensors, strict=True):
        assert (a.name, a.fmt, a.shape) == (b.name, b.fmt, b.shape)
        assert np.array_equal(a.codes, b.codes)
    if p.mode.value == "exact":
        for name in ("conv", "fc"):
            assert np.array_equal(back.tensor(name).codes, _emulator_weight_codes(tiny_net, p, name, 7))
    # the decoded weights are the emulator's: running on them gives bit-identical outputs
    decoded = back.decode()
    net_q = tiny_net.replace(params={k: {pk: v.astype(np.float32) for pk, v in g.items()} for k, g in decoded.items()})
    x = np.random.default_rng(1).random((3, 1, 28, 28)).astype(np.float32)
    y0 = run_network(tiny_net, x, p, rng=7, record=False).output
    y1 = run_network(net_q, x, p, rng=7, record=False).output
    assert np.array_equal(y0, y1)


def test_header_documents_formats(tiny_net, tmp_path):  # noqa: F811
    packed = pack_network(tiny_net, plan("pow2-minifloat", tiny_net))
    data = packed.to_bytes()
    assert data[:8] == MAGIC
    hlen = int.from_bytes(data[8:12], "little")
    header = json.loads(data[12 : 12 + hlen])
    assert header["bit_order"] == "lsb-first" and header["byte_order"] == "little"
    entries = {f"{e['layer']}.{e['param']}": e for e in header["tensors"]}
    assert entries["conv.weight"]["format"] == "pow2[-8,-1]" and entries["conv.weight"]["bits"] == 5
    assert entries["fc.weight"]["format"] == "e4m3fn" and entries["fc.weight"]["code"] == "unsigned"
    assert entries["conv.bias"]["code"] == "twos-complement"
    assert len(data) == 12 + hlen + header["payload_bytes"]


def test_malformed_files_name_the_file(tiny_net, tmp_path):  # noqa: F811
    data = pack_network(tiny_net, plan("fixed3-5", tiny_net)).to_bytes()
    with pytest.raises(ModelError, match="bad.rsw: not a ristretto-sim packed weights file"):
        parse_packed(b"nonsense" + data[8:], "bad.rsw")
    with pytest.raises(ModelError, match="payload has"):
        parse_packed(data[:-1], "cut.rsw")
    with pytest.raises(ModelError, match="does not exist"):
        load_packed(tmp_path / "missing.rsw")


def test_ristretto_minifloat_weights_have_no_codes(tiny_net):  # noqa: F811
    from ristretto_sim.graph.plan import QuantPlan

    p = QuantPlan({"fc": {"inputs": "e4m3", "weights": "e4m3"}}, mode="ristretto")
    with pytest.raises(ValueError, match="layer 'fc'.*no bit patterns"):
        pack_network(tiny_net, p)


def test_lenet_8bit_is_at_least_3_9x_smaller(tmp_path):
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
    size = pack_network(net, p).save(tmp_path / "lenet.rsw")
    float_bytes = 4 * net.total_params
    assert float_bytes / size >= 3.9
    back = load_packed(tmp_path / "lenet.rsw")
    for name in ("conv1", "conv2", "ip1", "ip2"):
        assert np.array_equal(back.tensor(name).codes, _emulator_weight_codes(net, p, name, None))


@pytest.mark.parametrize("name", ["ae_deconv", "cifar10_full_lrn"])
def test_bundled_models_round_trip(tmp_path, name):
    from ristretto_sim.runtime.calibrate import dynamic_fixed_point_plan

    net = load_model(name)
    x = np.random.default_rng(0).random((2,) + net.input.shape).astype(np.float32)
    p = dynamic_fixed_point_plan(net, x, 6)
    pack_network(net, p).save(tmp_path / "w.rsw")
    back = load_packed(tmp_path / "w.rsw")
    for layer in p.layers:
        assert np.array_equal(back.tensor(layer).codes, _emulator_weight_codes(net, p, layer, None))
        assert back.tensor(layer).shape == net.params[layer]["weight"].shape
    net_q = net.replace(params={k: {pk: v.astype(np.float32) for pk, v in g.items()} for k, g in back.decode().items()})
    assert np.array_equal(run_network(net, x, p, record=False).output, run_network(net_q, x, p, record=False).output)


def test_affine_codes_round_trip_as_twos_complement(tmp_path):
    from ristretto_sim.formats import Affine
    from ristretto_sim.io.weights.packed import PackedWeights
    from ristretto_sim.io.weights.quantized import QuantizedTensor

    rng = np.random.default_rng(8)
    fmts = [Affine(8, 0.02, -3), Affine(8, (0.1, 0.2, 0.3), (1, 0, -1)), Affine(32, 1e-5),
            Affine(8, 0.5, 128, signed=False), Affine(8, (0.1, 0.2), 0, axis=1)]
    tensors = []
    for i, f in enumerate(fmts):
        shape = (3, 4) if f.per_channel and f.axis == 0 else (4, 2) if f.per_channel else (7,)
        codes = rng.integers(f.min_code, f.max_code, shape, endpoint=True)
        codes.flat[:2] = (f.min_code, f.max_code)
        tensors.append(QuantizedTensor(f"l{i}", "weight", f, codes))
    PackedWeights(tuple(tensors), model="m").save(tmp_path / "a.rsw")
    back = load_packed(tmp_path / "a.rsw")
    for t, b in zip(tensors, back.tensors, strict=True):
        assert b.fmt == t.fmt and np.array_equal(b.codes, t.codes) and np.array_equal(b.values(), t.values())
    kinds = [e["code"] for e in back.header()["tensors"]]
    assert kinds == ["twos-complement"] * 3 + ["unsigned", "twos-complement"]
