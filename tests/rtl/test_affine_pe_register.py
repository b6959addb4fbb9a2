"""AffineMacPE with run-time zero points (``zero_point='register'``): one generated PE (one Verilog module, named by
the code formats alone) computes several layers bit for bit, each with its zero points on the ``za``/``zw``
inputs: the keyword-spotting DS-CNN's and the autoencoder's real layers and synthetic int8/uint8 layers with zero
points at the ends of the code range, against the emulator's int32 accumulators, in Amaranth simulation of the PE,
of an output-stationary array and of the ws array and sequencer, and under Icarus two layers through one exported
module; mutants (``zw`` ignored, centred operands one bit too narrow) are caught."""

from dataclasses import replace

import numpy as np
import pytest
from amaranth.hdl import Fragment

from ristretto_sim.emulator.datapaths import LayerFormats
from ristretto_sim.rtl import cosim
from ristretto_sim.rtl.affine_pe import AffineMacPE
from ristretto_sim.rtl.array import SystolicArray
from ristretto_sim.rtl.export import verilog_for, without_version
from ristretto_sim.rtl.generate import gemm_golden, layer_spec, write_design
from ristretto_sim.rtl.golden import golden_layers, golden_run
from ristretto_sim.rtl.pe import Product
from ristretto_sim.rtl.registry import make_pe
from ristretto_sim.rtl.sim import simulate_pe
from ristretto_sim.rtl.spec import PESpec
from ristretto_sim.rtl.stream import gemm_stream
from ristretto_sim.rtl.vectors import random_trace
from ristretto_sim.rtl.ws_array import WeightStationaryArray, simulate_ws_gemm
from ristretto_sim.rtl.ws_sequencer import WsSequencer, simulate_sequencer
from tests.rtl import ws_kinds
from tests.rtl.affine_layers import LAYERS, affine_gemm
from tests.rtl.test_array import check
from tests.rtl.test_fixed_pe import _dot_trace

OUT = "affine8[s=0.1,z=4]"
#: the one int8 PE every int8 layer runs on (its formats' zero points are never seen by the hardware)
INT8 = PESpec(LayerFormats("affine8[s=1.0,z=0]", "affine8[s=1.0,z=0]", outputs=OUT), k=1024, zero_point="register")
UINT8 = PESpec(LayerFormats("uaffine8[s=1.0,z=0]", "uaffine8[s=1.0,z=0]", outputs=OUT), k=1024,
               zero_point="register")
#: zero points at the ends of the code ranges (and between)
INT8_ZPS = [(-128, 127), (127, -128), (0, 0), (-7, 0), (127, 127)]
UINT8_ZPS = [(0, 255), (255, 0), (128, 120), (255, 255)]


def _layer(hw: PESpec, za: int, zw: int) -> PESpec:
    """``hw`` computing a layer of zero points ``za``, ``zw``."""
    f = hw.formats
    fmt = LayerFormats(replace(f.inputs, zero_point=za), replace(f.weights, zero_point=zw), outputs=OUT)
    return AffineMacPE.layer_of(hw, fmt)


def test_ports_name_and_one_module():
    pe = AffineMacPE(INT8)
    za, zw = pe.signature.members["za"].shape, pe.signature.members["zw"].shape
    assert za.signed and zw.signed and za.width == zw.width == 8
    upe = AffineMacPE(UINT8)
    u = upe.signature.members["za"].shape
    assert not u.signed and u.width == 8
    Fragment.get(pe, None), Fragment.get(upe, None)
    assert INT8.module_name() == "affine_mac_zreg_int8_int8_int32"
    assert "configuration inputs za, zw" in INT8.describe()
    layers = [_layer(INT8, *z) for z in INT8_ZPS]
    text = without_version(verilog_for(INT8))
    assert all(s.same_hardware(INT8) and without_version(verilog_for(s)) == text for s in layers)
    assert AffineMacPE.config_values(layers[0]) == {"za": -128, "zw": 127}
    assert not INT8.same_hardware(UINT8) and not INT8.same_hardware(replace(INT8, zero_point="subtract"))
    assert AffineMacPE.config_ports(replace(INT8, zero_point="subtract")) == {}


def test_refusals():
    with pytest.raises(ValueError, match="for affine PEs"):
        PESpec(LayerFormats("int8", "int8", accumulator="int32"), zero_point="register")
    with pytest.raises(ValueError, match="not a code of"):
        AffineMacPE.layer_of(INT8, LayerFormats("uaffine8[s=1.0,z=200]", "affine8[s=1.0,z=0]", outputs=OUT))
    with pytest.raises(ValueError, match="not the same PE"):
        golden_layers([(INT8, random_trace(INT8, 4)), (UINT8, random_trace(UINT8, 4))])


@pytest.mark.parametrize("hw, zps", [(INT8, INT8_ZPS), (UINT8, UINT8_ZPS)], ids=["int8", "uint8"])
def test_one_pe_many_zero_points(hw, zps):
    """Each layer's random corner trace through the same PE component, and all of them back to back in one
    simulation (the zero points changing between layers) against the golden model layer after layer."""
    pe = make_pe(hw)
    runs = [(s, random_trace(s, 300, 1, seed=i)) for i, s in enumerate(_layer(hw, *z) for z in zps)]
    for s, t in runs:
        g = golden_run(s, t)
        assert g.first_difference(simulate_pe(s, t, pe=pe)) is None
    trace = type(runs[0][1])(*(np.concatenate([getattr(t, f) for _, t in runs])
                               for f in ("a", "w", "bias", "en", "load", "clear")))
    config = {n: np.concatenate([np.full(t.cycles, AffineMacPE.config_values(s)[n]) for s, t in runs])
              for n in ("za", "zw")}
    got = simulate_pe(hw, trace, pe=make_pe(hw), config=config)
    assert golden_layers(runs).first_difference(got) is None


@pytest.mark.parametrize("unsigned, zps", [(False, INT8_ZPS[:3]), (True, UINT8_ZPS[:2])], ids=["int8", "uint8"])
def test_synthetic_layers_against_the_emulator(unsigned, zps):
    """Random layers of the emulator's affine datapath (``PreparedLayer``) with zero points at the range ends: the
    golden PEs on every output and the one simulated PE on two, their int32 accumulators."""
    hw = UINT8 if unsigned else INT8
    pe = make_pe(hw)
    for i, z in enumerate(zps):
        g = ws_kinds.affine_gemm(3, 40, 4, seed=i, unsigned=unsigned, zero_points=z, zero_point="register")
        assert g.spec.same_hardware(hw)
        assert np.array_equal(gemm_golden(g.spec, g.a, g.w, g.bias), g.codes)
        for r, c in ((0, 0), (2, 3)):
            t = _dot_trace(g.a[r][:, None], g.w[:, c][:, None], g.bias[c])
            assert simulate_pe(g.spec, t, pe=pe).acc[-1, 0] == g.codes[r, c]


def test_real_layers_on_one_pe():
    """The KWS pointwise convolution (z_a = -128) and the autoencoder's dense layer (z_a = 89): one PE, each
    layer's spec from its own formats, the emulator's accumulators."""
    pe = make_pe(INT8)
    seen = set()
    for name in LAYERS:
        g = affine_gemm(name)
        s = layer_spec(g.formats, g.a.shape[1], zero_point="register")
        assert s.same_hardware(INT8)
        seen.add(tuple(AffineMacPE.config_values(s).values()))
        assert np.array_equal(gemm_golden(s, g.a, g.w, g.bias), g.acc)
        for i, j in ((0, 0), (g.a.shape[0] - 1, g.w.shape[1] - 1)):
            t = _dot_trace(g.a[i][:, None], g.w[:, j][:, None], g.bias[j])
            assert simulate_pe(s, t, pe=pe).acc[-1, 0] == g.acc[i, j]
    assert len(seen) == len(LAYERS)  # different zero points


def test_os_array_runs_several_layers():
    """One 2x2 output-stationary array: a real layer's columns and two synthetic layers with zero points at the
    ends, each streamed with its za/zw, the emulator's accumulators on the done cycles."""
    arr = SystolicArray(2, 2, INT8)
    g = affine_gemm("ad01_dense")
    s = layer_spec(g.formats, g.a.shape[1], zero_point="register")
    check(arr, gemm_stream(arr, g.a[:3, :48], g.w[:48, :3], g.bias[:3], layer=s),
          gemm_golden(s, g.a[:3, :48], g.w[:48, :3], g.bias[:3]))
    for i, z in enumerate(INT8_ZPS[:2]):
        h = ws_kinds.affine_gemm(3, 20, 3, seed=10 + i, zero_points=z, zero_point="register")
        check(arr, gemm_stream(arr, h.a, h.w, h.bias, layer=h.spec), h.codes)


def test_ws_array_and_sequencer_run_several_layers():
    """One ws array (edge folds padded with each layer's zero points) and a ws sequencer per layer, all of one PE
    module: the KWS layer's first outputs and two synthetic layers (uint8 zero points 0 and 255 among them)."""
    arr = WeightStationaryArray(3, 2, INT8)
    for i, z in enumerate(INT8_ZPS[:2]):
        h = ws_kinds.affine_gemm(4, 7, 3, seed=20 + i, zero_points=z, zero_point="register")
        got, _ = simulate_ws_gemm(arr, h.a, h.w, h.bias, layer=h.spec)
        assert got.tolist() == h.codes.tolist()
    g = affine_gemm("kws_pointwise")
    s = layer_spec(g.formats, g.a.shape[1], zero_point="register")
    a, w, b = g.a[:6], g.w[:, :5], g.bias[:5]
    seq = WsSequencer(4, 4, s, a, w, b)
    got, done = simulate_sequencer(seq)
    assert got.tolist() == g.acc[:6, :5].tolist() and done == seq.cycles()
    for i, z in enumerate(UINT8_ZPS[:2]):
        h = ws_kinds.affine_gemm(3, 5, 3, seed=30 + i, unsigned=True, zero_points=z, zero_point="register")
        useq = WsSequencer(2, 2, h.spec, h.a, h.w, h.bias)
        assert useq.array.verilog_name() == f"ws_array_2x2_{UINT8.module_name()}"
        assert simulate_sequencer(useq)[0].tolist() == h.codes.tolist()


class IgnoresZw(AffineMacPE):
    """A mutant: the weight zero point input is left unconnected (``(a - za) * w``)."""

    def product(self, m, a, w):
        return Product((a - self.za) * w)


class NarrowCentred(AffineMacPE):
    """A mutant: ``a - za`` kept in as many bits as ``a`` (enough for the layer's zero point near the middle of
    the range, not for a zero point at an end)."""

    def product(self, m, a, w):
        from amaranth.hdl import Signal, signed

        da = Signal(signed(self.spec.formats.inputs.bits))
        m.d.comb += da.eq(a - self.za)
        return Product(da * (w - self.zw))


@pytest.mark.parametrize("mutant", [IgnoresZw, NarrowCentred])
def test_mutants_are_caught(mutant):
    s = _layer(INT8, 127, -128)
    trace = random_trace(s, 400, 1, seed=5)
    assert golden_run(s, trace).first_difference(simulate_pe(s, trace, pe=mutant(INT8))) is not None


@pytest.mark.skipif(cosim.iverilog_path() is None, reason="iverilog is not installed (apt-get)")
def test_icarus_two_layers_through_one_module(tmp_path):
    """The exported PE and a 2x2 os array, each with one testbench running two layers' zero points one after
    the other (the za/zw inputs change between them)."""
    layers = [_layer(INT8, -128, 127), _layer(INT8, 127, -128)]
    for where, array in (("pe", None), ("array", (2, 2))):
        out = tmp_path / where
        written = write_design(INT8, out, array=array, cycles=600, layers=layers, requantizer=False)
        assert "2 configurations (za=-128 zw=127, za=127 zw=-128)" in written.summary
        za = [int(x, 16) for x in (out / "tb_za.hex").read_text().split()]
        assert za[0] == 0x80 and za[-1] == 0x7F
        r = cosim.run_icarus(out, written.testbench, [written.verilog])
        assert r.passed and r.cycles == written.cycles, r.mismatches
