"""AffineMacPE: the Amaranth simulation equals the golden model bit for bit on random and corner traces (zero
points at both ends, int32 wrap both ways); the golden model equals the emulator's affine datapath on random data
and on real layers of the MLPerf Tiny int8 models, and so do the PE (simulated) and the TFLite requantizer after
it, output codes included; a PE that drops the input zero point is caught."""

import numpy as np
import pytest
from amaranth.hdl import Fragment

from ristretto_sim.emulator.datapaths import LayerFormats
from ristretto_sim.emulator.layer import PreparedLayer
from ristretto_sim.formats import Affine
from ristretto_sim.rtl.affine_pe import AffineMacPE
from ristretto_sim.rtl.generate import gemm_golden, layer_spec
from ristretto_sim.rtl.golden import golden_run
from ristretto_sim.rtl.pe import Product
from ristretto_sim.rtl.registry import pe_class
from ristretto_sim.rtl.sim import simulate_pe
from ristretto_sim.rtl.tflite_requantize import TfliteRequantize, TfliteRequantSpec
from ristretto_sim.rtl.vectors import random_trace
from tests.rtl.affine_layers import LAYERS, affine_gemm
from tests.rtl.helpers import spec
from tests.rtl.test_fixed_pe import _dot_trace
from tests.rtl.test_tflite_requantize import simulate as simulate_requantizer

OUT = "affine8[s=0.1,z=4]"
FORMATS = [
    ("affine8[s=0.05,z=-3]", "affine8[s=0.01,z=0]"),  # TFLite int8: symmetric weights
    ("uaffine8[s=0.05,z=128]", "uaffine8[s=0.01,z=120]"),  # uint8 (TFLite's older asymmetric scheme)
    ("affine8[s=0.5,z=127]", "affine8[s=0.01,z=-128]"),  # zero points at the ends: 9-bit centred operands
    ("affine4[s=0.5,z=-8]", "affine4[s=0.1,z=0]"),  # narrow
]


@pytest.mark.parametrize("fmts", FORMATS, ids="x".join)
def test_amaranth_equals_golden(fmts):
    s = spec(*fmts, outputs=OUT)
    trace = random_trace(s, 1500, 1, seed=len(fmts[0]))
    g = golden_run(s, trace)
    assert g.first_difference(simulate_pe(s, trace)) is None
    assert g.overflow.any()  # the int32 register wraps (biases near its ends)


def test_golden_equals_emulator_random():
    """Dot products of random int8 codes with the bias preload, K up to 300, against the emulator's int32
    accumulator (which wraps the same way)."""
    fin, fw = Affine(8, 0.05, zero_point=-7), Affine(8, 0.02)
    f = LayerFormats(fin, fw, outputs=Affine(8, 0.3, zero_point=2), bias=Affine(32, 0.05 * 0.02),
                     rounding="nearest_away")
    s = spec(fin, fw, outputs=f.outputs)
    rng = np.random.default_rng(1)
    for k in (1, 2, 300):
        a = rng.integers(-128, 128, (5, k))
        w = rng.integers(-128, 128, (k, 6))
        bias = rng.integers(-(1 << 31), 1 << 31, 6)
        bias[0] = (1 << 31) - 1  # wraps upwards
        a[:, 0], w[0, 0] = 127, 127
        res = PreparedLayer("linear", fw.decode(w.T), f.bias.decode(bias), f)(fin.decode(a), accumulator=True)
        assert np.array_equal(gemm_golden(s, a, w, bias), res.accumulator.codes)


@pytest.mark.parametrize("name", LAYERS)
def test_real_layer(name):
    """The emulator's accumulator and output codes of a real layer: the golden PEs on every output, the simulated
    PE on three, the simulated TFLite requantizer on every accumulator (with the layer's M0 and shift)."""
    g = affine_gemm(name)
    s = layer_spec(g.formats, g.a.shape[1])
    assert pe_class(s) is AffineMacPE  # the registry finds the PE from the layer's formats
    assert np.array_equal(gemm_golden(s, g.a, g.w, g.bias), g.acc)
    for i, j in ((0, 0), (1, 5), (g.a.shape[0] - 1, g.w.shape[1] - 1)):
        t = _dot_trace(g.a[i][:, None], g.w[:, j][:, None], g.bias[j])
        assert simulate_pe(s, t).acc[-1, 0] == g.acc[i, j]
    rq = TfliteRequantSpec.of(g.formats, g.linear)
    m = np.broadcast_to(g.multiplier, g.acc.shape).ravel()
    sh = np.broadcast_to(g.shift, g.acc.shape).ravel()
    got, _ = simulate_requantizer(TfliteRequantize(rq), g.acc.ravel(), m, sh)
    assert np.array_equal(got.reshape(g.out.shape), g.out)
    assert len(set(got.tolist())) > 20


class ForgetsInputZeroPoint(AffineMacPE):
    """A mutant: the multiplier takes the activation code as it is (``a * (w - z_w)``)."""

    def product(self, m, a, w):
        return Product(a * (w - self.zero_points(self.spec)[1]))


def test_mutant_is_caught():
    s = spec(*FORMATS[0], outputs=OUT)
    trace = random_trace(s, 400, 1, seed=2)
    assert golden_run(s, trace).first_difference(simulate_pe(s, trace, pe=ForgetsInputZeroPoint(s))) is not None


def test_ports_and_name():
    s = spec(*FORMATS[2], outputs=OUT)
    pe = AffineMacPE(s)
    members = pe.signature.members
    assert members["a"].shape.signed and members["a"].shape.width == 8
    assert members["acc"].shape.width == 32 and members["bias"].shape.signed
    assert pe.verilog_name() == s.module_name() == "affine_mac_int8_z127_int8_zm128_int32"
    assert "int32 wrap" in s.describe()
    Fragment.get(pe, None)


def test_pe_formats():
    per_channel = Affine(8, (0.1, 0.2, 0.3), zero_point=0)
    f = LayerFormats("affine8[s=0.05,z=-3]", per_channel, outputs=OUT)
    s = layer_spec(f, 64)
    assert s.kind == "affine" and not s.formats.weights.per_channel and s.formats.weights.zero_point == 0
    with pytest.raises(ValueError, match="per-channel zero points"):
        layer_spec(LayerFormats("affine8[s=0.05,z=-3]", Affine(8, (0.1, 0.2), zero_point=(0, 1)), outputs=OUT), 8)
    with pytest.raises(ValueError, match="a PE takes one format per operand"):
        spec("affine8[s=0.05,z=-3]", per_channel, outputs=OUT)  # the plan's format itself: pe_formats first


def test_real_layer_on_an_array():
    """The autoencoder's layer (K = 640) on three outputs of four rows, streamed through a 2x2 array: the
    emulator's int32 accumulators on the done cycles."""
    from ristretto_sim.rtl.array import SystolicArray
    from ristretto_sim.rtl.stream import gemm_stream
    from tests.rtl.test_array import check

    g = affine_gemm("ad01_dense")
    s = layer_spec(g.formats, g.a.shape[1])
    arr = SystolicArray(2, 2, s)
    check(arr, gemm_stream(arr, g.a, g.w[:, :3], g.bias[:3]), g.acc[:, :3])
