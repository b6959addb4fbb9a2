"""FixedMacPE: the Amaranth simulation equals the golden model bit for bit on random and corner-case traces;
the golden model equals the emulator's fixed_matmul and the slow Python-integer reference on whole outputs;
a PE with one mutated operator is caught."""

import numpy as np
import pytest
from amaranth.hdl import Fragment

from ristretto_sim.emulator import fixed_matmul
from ristretto_sim.formats import FixedPoint
from ristretto_sim.rtl import fixed_pe
from ristretto_sim.rtl.golden import GoldenPEs, Trace, golden_run
from ristretto_sim.rtl.pe import ProcessingElement, Product
from ristretto_sim.rtl.sim import simulate_pe
from ristretto_sim.rtl.vectors import random_trace
from tests.emulator.reference import clamp_walk
from tests.rtl.helpers import spec

# (inputs, weights, accumulator): widths 2..16, signed and unsigned, narrow (overflowing) and wide accumulators
SWEEP = [
    ("fixed2.1", "fixed2.1", "fixed4.2"),
    ("fixed4.2", "fixed4.3", "fixed8.5"),
    ("ufixed4.4", "fixed4.3", "fixed10.7"),
    ("fixed8.4", "fixed8.7", "fixed24.11"),
    ("fixed8.4", "fixed8.7", "fixed14.11"),
    ("ufixed8.8", "ufixed8.8", "ufixed18.16"),
    ("fixed6.3", "ufixed5.5", "fixed12.8"),
    ("fixed12.6", "fixed12.11", "fixed28.17"),
    ("fixed16.8", "fixed16.15", "fixed40.23"),
    ("fixed16.8", "fixed16.15", "fixed33.23"),
]
DEFAULT = [SWEEP[1], SWEEP[2], SWEEP[4], SWEEP[5], SWEEP[9]]


@pytest.mark.parametrize("overflow", ["saturate", "wrap"])
@pytest.mark.parametrize("fmts", DEFAULT, ids="x".join)
def test_amaranth_equals_golden(fmts, overflow):
    s = spec(*fmts, overflow=overflow)
    trace = random_trace(s, 1200, 1, seed=len(fmts[0]) + len(overflow))
    g, h = golden_run(s, trace), simulate_pe(s, trace)
    assert g.first_difference(h) is None
    assert g.overflow.any() or fmts[2] in ("fixed24.11", "fixed40.23")  # the narrow ones do overflow


@pytest.mark.slow
@pytest.mark.parametrize("overflow", ["saturate", "wrap"])
@pytest.mark.parametrize("fmts", SWEEP, ids="x".join)
def test_amaranth_equals_golden_sweep(fmts, overflow):
    s = spec(*fmts, overflow=overflow)
    trace = random_trace(s, 20000, 1, seed=7)
    assert golden_run(s, trace).first_difference(simulate_pe(s, trace)) is None


def test_default_accumulator_from_k():
    s = spec("fixed8.4", "fixed8.7", k=1152)  # no accumulator: the datapath's no-overflow default for K
    assert s.accumulator == s.datapath.accumulator_for(1152)
    trace = random_trace(s, 400, 1, seed=3)
    assert golden_run(s, trace).first_difference(simulate_pe(s, trace)) is None


def _dot_trace(a, w, bias):
    """n PEs, each one output: load the bias with the first product, then K - 1 more products."""
    k, n = a.shape
    load = np.zeros((k, n), dtype=bool)
    load[0] = True
    return Trace(a, w, np.broadcast_to(bias, (k, n)), np.ones((k, n), bool), load, np.zeros((k, n), bool))


@pytest.mark.parametrize("overflow", ["saturate", "wrap"])
@pytest.mark.parametrize("k", [1, 2, 37])
def test_golden_equals_emulator_and_reference(k, overflow):
    fin, fw, acc = FixedPoint(8, 4), FixedPoint(8, 7), FixedPoint(16, 11)
    s = spec(fin, fw, acc, overflow=overflow)
    rng = np.random.default_rng(k)
    n = 64
    a = rng.integers(-128, 128, size=(k, n))
    w = rng.integers(-128, 128, size=(k, n))
    a[:, :8] = 127  # all one sign: overflow up (w > 0) and down (w < 0)
    w[:, :4], w[:, 4:8] = 127, -128
    bias = rng.integers(acc.min_code, acc.max_code + 1, size=n)
    g = GoldenPEs(s, n)
    out = g.run(_dot_trace(a, w, bias))
    emu = np.array([fixed_matmul(a[:, j][None, :], w[:, j][:, None], fin, fw, accumulator=acc, overflow=overflow,
                                 bias_codes=bias[j:j + 1]).codes[0, 0] for j in range(n)])
    assert np.array_equal(out.acc[-1], emu)
    ref = [clamp_walk(bias[j], a[:, j] * w[:, j], acc.min_code, acc.max_code, overflow)[0] for j in range(n)]
    assert out.acc[-1].tolist() == ref
    if overflow == "saturate":  # the sticky flag is the emulator's per-output overflow
        clipped = [clamp_walk(bias[j], a[:, j] * w[:, j], acc.min_code, acc.max_code, overflow)[1] for j in range(n)]
        assert out.overflow[-1].tolist() == clipped


class FlagAndInsteadOfOr(fixed_pe.FixedMacPE):
    """A mutant with one operator changed: the overflow flag ANDs the two out-of-range tests instead of ORing
    them (the register is right; only the flag is wrong, and only when an addition clamps)."""

    def add(self, m, base, product):
        from amaranth.hdl import Const, Mux

        acc = self.spec.accumulator
        v = base + product.value
        clamped = Mux(v > acc.max_code, Const(acc.max_code), Mux(v < acc.min_code, Const(acc.min_code), v))
        return clamped, (v > acc.max_code) & (v < acc.min_code)


class SubtractInsteadOfAdd(fixed_pe.FixedMacPE):
    """A mutant: the accumulator subtracts the product."""

    def add(self, m, base, product):
        return super().add(m, base, Product(-product.value))


class MultiplierAsAdder(fixed_pe.FixedMacPE):
    """The second mutant: a + w in place of a * w."""

    def product(self, m, a, w):
        return Product(a + w)


@pytest.mark.parametrize("mutant", [FlagAndInsteadOfOr, SubtractInsteadOfAdd, MultiplierAsAdder])
def test_mutated_pe_is_caught(mutant):
    s = spec("fixed8.4", "fixed8.7", "fixed14.11")
    trace = random_trace(s, 600, 1, seed=11)
    assert golden_run(s, trace).first_difference(simulate_pe(s, trace)) is None  # the real one passes
    assert golden_run(s, trace).first_difference(simulate_pe(s, trace, pe=mutant(s))) is not None


def test_ports_from_formats():
    s = spec("ufixed6.6", "fixed5.4", "fixed20.10")
    pe = fixed_pe.FixedMacPE(s)
    assert isinstance(pe, ProcessingElement)
    members = pe.signature.members
    assert members["a"].shape == s.input_shape and not s.input_shape.signed and s.input_shape.width == 6
    assert members["w"].shape.width == 5 and members["acc"].shape.width == 20
    Fragment.get(pe, None)  # it elaborates


def test_bad_specs():
    with pytest.raises(ValueError, match="fractional bits"):
        spec("fixed8.4", "fixed8.7", "fixed24.10")
    with pytest.raises(ValueError, match="per-channel"):
        spec(FixedPoint(8, 4), FixedPoint(8, (7, 6)), "fixed24.11")
    with pytest.raises(ValueError, match="power-of-two activations"):
        spec("pow2[-4,0]", "fixed8.7")
