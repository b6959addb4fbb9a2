"""MinifloatMacPE: Amaranth simulation == golden model (the emulator's Kulisch contents and NaN/Inf flags) over
every operand bit pattern class (subnormals, zeros of both signs, Inf, NaN) for the catalog formats; the golden
model == the emulator's Kulisch register over whole outputs, and its readout rule gives minifloat_matmul."""

from fractions import Fraction

import numpy as np
import pytest

from ristretto_sim.emulator.datapaths import LayerFormats
from ristretto_sim.emulator.datapaths.readout import integer_readout
from ristretto_sim.emulator.minifloat_mac import kulisch_contents, kulisch_format, minifloat_matmul
from ristretto_sim.emulator.wide import WideInt, digits_for
from ristretto_sim.formats import catalog
from ristretto_sim.rtl.golden import GoldenPEs, Trace, golden_run
from ristretto_sim.rtl.sim import simulate_pe
from ristretto_sim.rtl.vectors import random_trace
from tests.rtl.helpers import spec

FORMATS = ["e4m3fn", "e4m3", "e5m2", "fp6_e3m2", "fp4_e2m1", "fp16"]


@pytest.mark.parametrize("name", FORMATS)
def test_amaranth_equals_golden(name):
    s = spec(name, name, k=64)
    assert s.accumulator == kulisch_format(catalog(name), catalog(name), 64)
    trace = random_trace(s, 500 if name != "fp16" else 300, 1, seed=2)
    g = golden_run(s, trace)
    fmt = catalog(name)
    assert g.flags["nan"].any() == fmt.has_nan  # the trace reaches the specials the format has
    assert g.flags["pinf"].any() == g.flags["ninf"].any() == fmt.has_inf
    assert g.first_difference(simulate_pe(s, trace)) is None
    assert not g.overflow.any()


def test_mixed_formats():
    s = spec("e5m2", "e4m3fn", k=16)
    trace = random_trace(s, 400, 1, seed=9)
    assert golden_run(s, trace).first_difference(simulate_pe(s, trace)) is None


@pytest.mark.slow
@pytest.mark.parametrize("name", FORMATS)
def test_amaranth_equals_golden_long(name):
    s = spec(name, name, k=1024)
    trace = random_trace(s, 10000, 1, seed=4)
    assert golden_run(s, trace).first_difference(simulate_pe(s, trace)) is None


@pytest.mark.parametrize("name", ["e4m3fn", "e5m2"])
def test_golden_is_the_emulators_register_and_readout(name):
    fmt = catalog(name)
    s = spec(fmt, fmt, k=32)
    rng = np.random.default_rng(0)
    k, n = 32, 40
    codes = rng.integers(0, 1 << fmt.bits, size=(2, k, n))
    a, w = codes
    finite = np.isfinite(fmt.decode(a)) & np.isfinite(fmt.decode(w))
    a = np.where(finite | (np.arange(n) < 4), a, 0)  # a few outputs see NaN/Inf, the rest are finite
    w = np.where(finite | (np.arange(n) < 4), w, 0)
    load = np.zeros((k, n), bool)
    load[0] = True
    zero = np.empty((k, n), dtype=object)
    zero[:] = 0
    out = GoldenPEs(s, n).run(Trace(a, w, zero, np.ones((k, n), bool), load, np.zeros((k, n), bool)))
    av, wv = fmt.decode(a), fmt.decode(w)
    checked = 0
    for j in range(n):
        reg = kulisch_contents(av[:, j][None], wv[:, j][:, None], fmt, fmt).to_python()[0, 0]
        assert out.acc[-1, j] == reg
        # the slow reference: exact products of the finite operands, in units of the register's LSB
        exact = sum(Fraction(float(x)) * Fraction(float(y)) for x, y in zip(av[:, j], wv[:, j], strict=True)
                    if np.isfinite(x) and np.isfinite(y))
        assert exact * 2**s.accumulator.frac_bits == reg
        want = minifloat_matmul(av[:, j][None], wv[:, j][:, None], fmt, fmt, readout=fmt).values[0, 0]
        nan, pinf, ninf = (out.flags[f][-1, j] for f in ("nan", "pinf", "ninf"))
        if nan or (pinf and ninf):
            assert np.isnan(want)
        elif pinf or ninf:
            assert want == (np.inf if pinf else -np.inf)
        else:  # the register rounded once to the output format (the emulator's integer readout)
            codes = WideInt.from_ints([reg], digits_for(s.accumulator.bits))
            frac = np.array([s.accumulator.frac_bits])
            rounded = integer_readout(codes, frac, LayerFormats(fmt, fmt, outputs=fmt), 0, None)[0][0]
            assert np.array_equal(want, rounded, equal_nan=True)  # (an fn format overflows to NaN)
            checked += 1
    assert checked > n // 2


def test_accumulator_narrower_than_products_is_refused():
    with pytest.raises(ValueError, match="Kulisch register"):
        spec("e4m3fn", "e4m3fn", "fixed20.18", k=64)
