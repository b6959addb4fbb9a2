"""ShiftPE: Amaranth simulation == golden model (the emulator's shifter and accumulator) over exponent ranges,
shifter widths (lossless, falling off the top, right shifts falling off the bottom) and both overflow modes;
the golden model == the emulator's shift_matmul and the slow reference on whole outputs."""

import numpy as np
import pytest

from ristretto_sim.emulator.shift_pe import ShiftPE as EmuShiftPE
from ristretto_sim.emulator.shift_pe import shift_matmul
from ristretto_sim.formats import PowerOfTwo
from ristretto_sim.rtl.golden import GoldenPEs, Trace, golden_run
from ristretto_sim.rtl.shift_pe import hardware_shifter_bits
from ristretto_sim.rtl.sim import simulate_pe
from ristretto_sim.rtl.vectors import random_trace
from tests.emulator.reference import shift_matmul_ref
from tests.rtl.helpers import spec

# (inputs, weights, accumulator, shifter_bits)
SWEEP = [
    ("fixed8.4", PowerOfTwo(-6, -1), None, None),  # lossless defaults
    ("fixed8.4", PowerOfTwo(-6, -1), "fixed20.7", None),  # right shifts: bits fall off the bottom
    ("fixed8.4", PowerOfTwo(-6, -1), "fixed12.10", None),  # narrow accumulator: overflows
    ("fixed8.4", PowerOfTwo(-6, -1), "fixed20.10", 9),  # narrow shifter: bits fall off the top
    ("ufixed6.6", PowerOfTwo(-3, 2), "fixed16.9", 10),  # unsigned activations
    ("fixed4.2", PowerOfTwo(-2, 1, has_zero=False), "fixed10.4", None),  # no zero code
    ("fixed16.8", PowerOfTwo(-8, 0), "fixed30.16", 20),
]


@pytest.mark.parametrize("overflow", ["saturate", "wrap"])
@pytest.mark.parametrize("case", SWEEP, ids=lambda c: f"{c[0]}-{c[1]}-{c[2]}-{c[3]}")
def test_amaranth_equals_golden(case, overflow):
    fin, fw, acc, bits = case
    s = spec(fin, fw, acc, k=64, overflow=overflow, shifter_bits=bits)
    trace = random_trace(s, 800, 1, seed=5)
    assert golden_run(s, trace).first_difference(simulate_pe(s, trace)) is None


@pytest.mark.parametrize("case", SWEEP[1:4], ids=lambda c: f"{c[2]}-{c[3]}")
@pytest.mark.parametrize("overflow", ["saturate", "wrap"])
def test_golden_equals_emulator_and_reference(case, overflow):
    fin, fw, acc, bits = case
    s = spec(fin, fw, acc, overflow=overflow, shifter_bits=bits)
    fin, acc = s.formats.inputs, s.accumulator
    rng = np.random.default_rng(1)
    k, n = 40, 48
    a = rng.integers(fin.min_code, fin.max_code + 1, size=(k, n))
    a[:, :6] = fin.max_code
    wv = fw.quantize(rng.normal(size=(k, n)) * 0.1)
    wv[:, :3] = fw.max
    wcodes = fw.encode(wv).astype(np.int64)
    load = np.zeros((k, n), bool)
    load[0] = True
    bias = np.zeros((k, n), np.int64)
    out = GoldenPEs(s, n).run(Trace(a, wcodes, bias, np.ones((k, n), bool), load, np.zeros((k, n), bool)))
    for j in range(n):
        r = shift_matmul(a[:, j][None], wv[:, j][:, None], fin, fw, pe=EmuShiftPE(bits), accumulator=acc,
                         overflow=overflow)
        assert out.acc[-1, j] == r.codes[0, 0]
    sign, e, zero = fw.exponents(wv)
    need = fin.bits + max(fw.exp_max + acc.frac_bits - fin.frac_bits, 0)  # the lossless shifter width
    modelled = None if bits is None or bits >= need else bits
    want, _ = shift_matmul_ref(a.T, sign, e, zero, fin.frac_bits, acc, modelled, fin.signed, overflow)
    assert out.acc[-1].tolist() == np.diagonal(want).tolist()


def test_shifter_width_is_the_datapath_one():
    s = spec("fixed8.4", PowerOfTwo(-6, -1), "fixed20.10", shifter_bits=9)
    assert hardware_shifter_bits(s) == 9
    assert hardware_shifter_bits(spec("fixed8.4", PowerOfTwo(-6, -1), "fixed20.10")) == 8 + (-1 + 10 - 4)
