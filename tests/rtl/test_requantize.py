"""Requantize: every accumulator code of small formats, every deterministic rounding mode, right and left
shifts: the Amaranth simulation equals the emulator's requantize and the slow Fraction reference."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from ristretto_sim.formats import FixedPoint, Rounding
from ristretto_sim.rtl.requantize import Requantize, RequantSpec
from tests.emulator.reference import requantize_ref

MODES = [r for r in Rounding if r is not Rounding.STOCHASTIC]
CASES = [
    (FixedPoint(10, 6), FixedPoint(4, 2)),  # shift 4, saturating both ways
    (FixedPoint(9, 3), FixedPoint(8, 2)),  # shift 1
    (FixedPoint(8, 3, signed=False), FixedPoint(4, 0, signed=False)),  # unsigned
    (FixedPoint(8, 2), FixedPoint(6, 4)),  # left shift (exact), saturating
    (FixedPoint(7, 5), FixedPoint(7, 5)),  # no shift
    (FixedPoint(12, 11), FixedPoint(8, 4, signed=False)),  # signed accumulator into unsigned outputs
]


def simulate(spec: RequantSpec, codes):
    dut = Requantize(spec)
    out, sat = [], []

    async def bench(ctx):
        for c in codes:
            ctx.set(dut.acc, int(c))
            out.append(ctx.get(dut.out))
            sat.append(ctx.get(dut.saturated))

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    return np.array(out, dtype=np.int64), np.array(sat, dtype=bool)


@pytest.mark.parametrize("rounding", MODES, ids=lambda r: r.value)
@pytest.mark.parametrize("acc,out", CASES, ids=str)
def test_every_code(acc, out, rounding):
    spec = RequantSpec(acc, out, rounding)
    codes = np.arange(acc.min_code, acc.max_code + 1)
    got, sat = simulate(spec, codes)
    want, want_sat = spec.golden(codes)
    assert np.array_equal(got, want)
    assert np.array_equal(sat, want_sat)
    ref = [requantize_ref(c, spec.shift, rounding.value, out.min_code, out.max_code) for c in codes]
    assert got.tolist() == ref


def test_stochastic_needs_an_lfsr():
    with pytest.raises(ValueError, match="LFSR"):
        RequantSpec(FixedPoint(16, 8), FixedPoint(8, 4), "stochastic")


def test_per_channel_refused():
    with pytest.raises(ValueError, match="one shift"):
        RequantSpec(FixedPoint(16, (8, 7)), FixedPoint(8, 4))
