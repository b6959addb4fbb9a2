"""TfliteRequantize: the Amaranth simulation equals the emulator's gemmlowp readout (double rounding) and its
single-rounding form bit for bit, on random vectors and the corners (int32 extremes, ties, every shift, M0 =
2**30 and 2**31 - 1, INT32_MIN * INT32_MIN), for int8, uint8, int16 and int32 outputs and a ReLU6-style clamp;
a requantizer with its truncating division turned into a floor is caught."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from ristretto_sim.emulator.gemmlowp import INT32_MAX, INT32_MIN
from ristretto_sim.formats import Affine
from ristretto_sim.rtl.tflite_requantize import TfliteRequantize, TfliteRequantSpec, requant_vectors
from tests.emulator.test_gemmlowp import ref_mbqm

OUTPUTS = {
    "int8": dict(outputs=Affine(8, 0.1, zero_point=-5)),
    "int8_relu6": dict(outputs=Affine(8, 6 / 255, zero_point=-128), act_min=-128, act_max=127 - 20),
    "uint8": dict(outputs=Affine(8, 0.1, zero_point=128, signed=False)),
    "int16": dict(outputs=Affine(16, 0.01, zero_point=0)),
    "int32": dict(outputs=Affine(32, 1.0, zero_point=0)),  # the scaled value itself, clamped to int32 only
}


def simulate(dut: TfliteRequantize, acc, mult, shift):
    """``(out, saturated)`` of each vector, read after the clock edge of its cycle (latency 1)."""
    out, sat = [], []
    vectors = list(zip(acc.tolist(), mult.tolist(), shift.tolist(), strict=True))

    async def bench(ctx):
        for a, m, s in vectors:
            ctx.set(dut.acc, a)
            ctx.set(dut.multiplier, m)
            ctx.set(dut.shift, s)
            await ctx.tick()
            out.append(ctx.get(dut.out))
            sat.append(ctx.get(dut.saturated))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return np.array(out, dtype=np.int64), np.array(sat, dtype=bool)


@pytest.mark.parametrize("form", ["double", "single"])
@pytest.mark.parametrize("name", OUTPUTS)
def test_equals_emulator(name, form):
    spec = TfliteRequantSpec(**OUTPUTS[name], form=form)
    acc, mult, shift = requant_vectors(spec, 2500, seed=len(name))
    got, sat = simulate(TfliteRequantize(spec), acc, mult, shift)
    want, want_sat = spec.golden(acc, mult, shift)
    assert np.array_equal(got, want)
    assert np.array_equal(sat, want_sat)
    assert not want_sat.all()
    assert want_sat.any() or (name, form) == ("int32", "double")  # the double form's result is an int32


def test_vectors_cover_the_corners():
    spec = TfliteRequantSpec(Affine(8, 0.1))
    acc, mult, shift = requant_vectors(spec, 2500)
    assert set(shift.tolist()) == set(range(-31, 32))
    for m in (1 << 30, INT32_MAX, INT32_MIN):
        assert np.any(mult == m)
    assert np.any((acc == INT32_MIN) & (mult == INT32_MIN) & (shift <= 0))
    for a in (INT32_MIN, INT32_MAX):
        assert np.any(acc == a)
    # ties of the right shift: M0 = 2**30 halves acc, the bits shifted out are exactly half
    e = np.maximum(-shift, 1)
    half = (acc >> 1) & ((1 << e) - 1)
    assert np.count_nonzero((mult == 1 << 30) & (shift < 0) & (acc % 2 == 0) & (half == 1 << (e - 1))) > 50


def test_double_equals_the_python_integer_reference():
    """The emulator's golden itself against the C transcription, where the int32 left shift does not wrap."""
    spec = TfliteRequantSpec(Affine(32, 1.0))
    acc, mult, shift = requant_vectors(spec, 1000, seed=3)
    keep = (acc << np.maximum(shift, 0) >= INT32_MIN) & (acc << np.maximum(shift, 0) <= INT32_MAX)
    got, _ = simulate(TfliteRequantize(spec), acc[keep], mult[keep], shift[keep])
    ref = [min(max(ref_mbqm(a, m, s), INT32_MIN), INT32_MAX) for a, m, s in
           zip(acc[keep].tolist(), mult[keep].tolist(), shift[keep].tolist(), strict=True)]
    assert got.tolist() == ref


class FloorDivision(TfliteRequantize):
    """A mutant for shift 0: the high multiply divides by 2**31 with a floor (an arithmetic shift) instead of C's
    truncation toward zero; it differs only for negative products."""

    def elaborate(self, platform):
        from amaranth.hdl import Const, Module, Mux, Signal, signed

        m = Module()
        x = self.acc
        product = Signal(signed(64))
        m.d.sync += product.eq(x * self.multiplier)
        high = Signal(signed(32))
        m.d.comb += high.eq(((product + Mux(product >= 0, 1 << 30, 1 - (1 << 30))) >> 31)[:32].as_signed())
        total = Signal(signed(34))
        m.d.comb += total.eq(high + self.spec.outputs.zero_point)
        lo, hi = self.spec.act_min, self.spec.act_max
        m.d.comb += self.out.eq(Mux(total > hi, Const(hi), Mux(total < lo, Const(lo), total)))
        return m


def test_floor_mutant_is_caught():
    spec = TfliteRequantSpec(Affine(32, 1.0))
    acc, mult, shift = requant_vectors(spec, 400, seed=5)
    acc, mult, shift = acc[shift == 0], mult[shift == 0], shift[shift == 0]
    acc = np.concatenate([acc, [-3, -5, -(1 << 20) - 1]])
    mult, shift = np.concatenate([mult, [1 << 30] * 3]), np.concatenate([shift, [0] * 3])
    want, _ = spec.golden(acc, mult, shift)
    assert np.array_equal(simulate(TfliteRequantize(spec), acc, mult, shift)[0], want)
    assert not np.array_equal(simulate(FloorDivision(spec), acc, mult, shift)[0], want)


def test_bad_specs():
    with pytest.raises(ValueError, match="per-tensor affine"):
        TfliteRequantSpec(Affine(8, (0.1, 0.2)))
    with pytest.raises(ValueError, match="act_min=-5, act_max=-6"):
        TfliteRequantSpec(Affine(8, 0.1), act_min=-5, act_max=-6)
    with pytest.raises(ValueError, match="within the output codes"):
        TfliteRequantSpec(Affine(8, 0.1, signed=False), act_min=-1)
    with pytest.raises(ValueError, match="form='round'"):
        TfliteRequantSpec(Affine(8, 0.1), form="round")
    spec = TfliteRequantSpec(Affine(8, 0.1), form="single")
    with pytest.raises(ValueError, match="-31..30"):
        spec.golden([1], [1 << 30], [31])


def test_of_layer_formats():
    from ristretto_sim.emulator.datapaths import LayerFormats

    f = LayerFormats("affine8[s=0.05,z=-3]", "affine8[s=0.01,z=0]", outputs="affine8[s=0.1,z=4]",
                     rounding="nearest_away")
    assert TfliteRequantSpec.of(f, linear=True).form == "single"
    with pytest.raises(ValueError, match="ONNX's nearest_even readout"):
        TfliteRequantSpec.of(LayerFormats(f.inputs, f.weights, outputs=f.outputs), linear=False)
    rq = TfliteRequantSpec.of(f, linear=False)
    assert rq.form == "double" and (rq.act_min, rq.act_max) == (-128, 127)
    assert "tflite_requantize_double_int8_z4" in rq.module_name()
