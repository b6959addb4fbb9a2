"""Real layers on the weight-stationary sequencer, bit for bit against the emulator, ``done`` in the sequencer's
closed-form cycle: the keyword-spotting DS-CNN's first 1x1 convolution (per-channel weight scales) and the
anomaly-detection autoencoder's first fully connected layer (K = 640, input zero point 89) on affine PEs, their int32
accumulators, in Amaranth and through the exported Verilog under Icarus; LeNet's conv2 with power-of-two weights on
shift PEs and with e4m3 operands on minifloat Kulisch PEs, under Icarus."""

import numpy as np
import pytest

from ristretto_sim.rtl import cosim
from ristretto_sim.rtl.export import verilog_for
from ristretto_sim.rtl.generate import layer_spec
from ristretto_sim.rtl.registry import pe_class
from ristretto_sim.rtl.ws_sequencer import WsSequencer, expected_stream, simulate_sequencer
from tests.rtl.affine_layers import affine_gemm


def test_kws_pointwise_on_4x4_in_amaranth():
    """25 pixels x 64 channels -> 64 channels (16 reduction x column folds), every output."""
    g = affine_gemm("kws_pointwise")
    seq = WsSequencer(4, 4, layer_spec(g.formats, g.a.shape[1]), g.a, g.w, g.bias)
    got, done = simulate_sequencer(seq)
    assert got.tolist() == g.acc.tolist()
    assert done == seq.cycles()


@pytest.mark.skipif(cosim.iverilog_path() is None, reason="iverilog is not installed (apt-get)")
@pytest.mark.parametrize("name, rows, cols", [("kws_pointwise", 8, 8), ("ad01_dense", 8, 8)])
def test_real_affine_layer_under_icarus(tmp_path, name, rows, cols):
    """The whole layer through the exported Verilog (ad01: 4 inputs, 80 reduction x 16 column folds)."""
    g = affine_gemm(name)
    seq = WsSequencer(rows, cols, layer_spec(g.formats, g.a.shape[1]), g.a, g.w, g.bias)
    (tmp_path / "dut.v").write_text(verilog_for(seq))
    stim, exp, mask = expected_stream(seq, g.acc)
    tb = cosim.write_testbench(seq, seq.verilog_name(), stim, exp, tmp_path, mask=mask, before_edge=True)
    r = cosim.run_icarus(tmp_path, tb, [tmp_path / "dut.v"])
    assert r.passed, r.mismatches
    assert r.cycles == seq.cycles() + 1


def _conv2(entry):
    """LeNet's conv2 for one image with the golden 8-bit plan's conv2 entry replaced by ``entry(old entry)``."""
    import ristretto_sim as rs
    from tests.rtl.lenet_layer import PLAN, conv2_gemm

    net = rs.load_model("lenet")
    plan = rs.load_plan(PLAN, net)
    return conv2_gemm(0, plan.replace(layers={**plan.layers, "conv2": entry(plan.layers["conv2"])}))


def _pow2(e):
    from ristretto_sim.formats import PowerOfTwo
    from ristretto_sim.graph.plan import LayerPlan

    return LayerPlan(e.inputs, PowerOfTwo(-8, -1, has_zero=True), None, e.outputs, None)


def _e4m3(e):
    from ristretto_sim.graph.plan import LayerPlan

    return LayerPlan("e4m3", "e4m3", None, "e4m3", None)


@pytest.mark.skipif(cosim.iverilog_path() is None, reason="iverilog is not installed (apt-get)")
@pytest.mark.parametrize("entry, kind", [(_pow2, "shift"), (_e4m3, "minifloat-kulisch")])
def test_lenet_conv2_on_shift_and_minifloat_pes_under_icarus(tmp_path, entry, kind):
    """LeNet's conv2 for one image on an 8x8 array: with Ristretto's power-of-two weights (2**-8 .. 2**-1 and zero)
    on shift PEs (their lossless 26-bit accumulator), and with e4m3 inputs and weights on minifloat PEs (their
    44-bit Kulisch register): every output the emulator's datapath gives, the bias preloaded."""
    formats, a, w, bias, acc = _conv2(entry)
    s = layer_spec(formats, 500)
    assert s.kind == kind and len(set(w.ravel().tolist())) > 8 and len(set(bias.tolist())) > 8
    seq = WsSequencer(8, 8, s, a, w, bias)
    (tmp_path / "dut.v").write_text(verilog_for(seq))
    # a minifloat PE's sticky NaN/Inf flags: none raised by LeNet's finite values
    flags = {name: np.zeros(acc.shape, dtype=bool) for name in pe_class(s).flags}
    stim, exp, mask = expected_stream(seq, acc, flags)
    tb = cosim.write_testbench(seq, seq.verilog_name(), stim, exp, tmp_path, mask=mask, before_edge=True)
    r = cosim.run_icarus(tmp_path, tb, [tmp_path / "dut.v"])
    assert r.passed, r.mismatches
    assert r.cycles == seq.cycles() + 1 == 28249
