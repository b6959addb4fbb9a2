"""The bench MAC computes what it says: exact products, wrap-around accumulation, clear and enable."""

import random

import pytest
from amaranth.sim import Simulator

from ristretto_sim.emulator import LayerFormats
from ristretto_sim.rtl.synth.bench_mac import BenchMac


def _wrap(v, bits):
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


@pytest.mark.parametrize("bits, acc_bits", [(2, 6), (4, 12), (8, 24)])
def test_matches_a_python_integer_reference(bits, acc_bits):
    dut = BenchMac(LayerFormats(f"fixed{bits}.0", f"fixed{bits}.0", accumulator=f"fixed{acc_bits}.0"))
    rng = random.Random(bits)
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    # corner values first (most negative squared: the overflow-prone product), then random ones
    steps = [(lo, lo, 1, 0)] * 8 + [(hi, lo, 1, 0)] * 3 + [(0, 0, 0, 1)]
    steps += [(rng.randint(lo, hi), rng.randint(lo, hi), rng.random() < 0.8, rng.random() < 0.05) for _ in range(300)]
    seen = []

    async def bench(ctx):
        for a, w, en, clear in steps:
            ctx.set(dut.a, a)
            ctx.set(dut.w, w)
            ctx.set(dut.en, en)
            ctx.set(dut.clear, clear)
            await ctx.tick()
            seen.append(ctx.get(dut.acc))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    acc, want = 0, []
    for a, w, en, clear in steps:
        acc = 0 if clear else _wrap(acc + a * w, acc_bits) if en else acc
        want.append(acc)
    assert seen == want


@pytest.mark.filterwarnings("error")  # and no "created but never used" warning from Amaranth
def test_refuses_other_datapaths_and_missing_accumulators():
    with pytest.raises(ValueError, match="not a minifloat"):
        BenchMac(LayerFormats("e4m3", "e4m3"))
    with pytest.raises(ValueError, match="declare the accumulator"):
        BenchMac(LayerFormats("int8", "int8"))
