"""MinifloatFloatPE: Amaranth simulation == golden model (the emulator's float accumulation, one addition per
cycle) bit for bit, over operand and bias codes of every class (extremes, subnormals, both zeros, Inf, NaN) for
IEEE, fn and saturating accumulators, with and without subnormals, with and without a product format, in every
deterministic rounding; the golden model over whole outputs == ``minifloat_matmul`` (its readout rule included);
a truncating adder is caught."""

import numpy as np
import pytest

from ristretto_sim.emulator.minifloat_mac import _apply_flags, minifloat_matmul
from ristretto_sim.formats import Minifloat, Rounding
from ristretto_sim.rtl.array import SystolicArray
from ristretto_sim.rtl.golden import GoldenPEs, Trace, golden_run
from ristretto_sim.rtl.minifloat_float_pe import MinifloatFloatPE
from ristretto_sim.rtl.registry import make_pe
from ristretto_sim.rtl.sim import simulate_pe
from ristretto_sim.rtl.stream import gemm_stream
from ristretto_sim.rtl.vectors import random_trace
from tests.rtl.helpers import spec
from tests.rtl.test_array import check

E4M2FN = Minifloat(4, 2, specials="fn")  # an fn accumulator: overflow to NaN
E3M3_FTZ = Minifloat(3, 3, subnormals=False)  # flushes subnormals, overflows to Inf
E5M3_SAT = Minifloat(5, 3, subnormals=False, specials="none")  # no specials: saturates
E4M1_FTZ = Minifloat(4, 1, subnormals=False)

#: (inputs, weights, accumulator, product format)
CONFIGS = {
    "e4m3fn-fp16": ("e4m3fn", "e4m3fn", "fp16", None),
    "e5m2-fp16": ("e5m2", "e5m2", "fp16", None),
    "e4m3-bf16": ("e4m3", "e4m3", "bf16", None),
    "fp4-e5m2": ("fp4_e2m1", "fp4_e2m1", "e5m2", None),
    "fp4-fp6sat": ("fp4_e2m1", "fp4_e2m1", "fp6_e3m2", None),
    "e4m3fn-e4m2fn": ("e4m3fn", "e4m3fn", E4M2FN, None),
    "e4m3xfp4-ftz-prod": ("e4m3", "fp4_e2m1", E3M3_FTZ, "e4m3"),
    "e5m2xe4m3-sat-prod-ftz": ("e5m2", "e4m3", E5M3_SAT, E4M1_FTZ),
    "e4m3fn-fp16-prod-e5m2": ("e4m3fn", "e4m3fn", "fp16", "e5m2"),
    "fp6xe4m3fn-fp6-prod-fp4": ("fp6_e3m2", "e4m3fn", "fp6_e3m2", "fp4_e2m1"),
}

ROUNDINGS = [r for r in Rounding if r is not Rounding.STOCHASTIC]


def float_spec(name, k=256, rounding="nearest_even"):
    i, w, acc, prod = CONFIGS[name]
    return spec(i, w, acc, k=k, product=prod, rounding=rounding)


@pytest.mark.parametrize("name", CONFIGS)
def test_amaranth_equals_golden(name):
    s = float_spec(name)
    assert s.kind == "minifloat-float"
    trace = random_trace(s, 400, 1, seed=2)
    g = golden_run(s, trace)
    f = s.formats
    # the trace reaches the specials (the bias codes carry NaN where there is one)
    assert g.flags["nan"].any() == any(x.has_nan for x in (f.inputs, f.weights, s.accumulator))
    assert g.first_difference(simulate_pe(s, trace)) is None


@pytest.mark.parametrize("rounding", ROUNDINGS, ids=lambda r: r.value)
@pytest.mark.parametrize("name", ["e5m2-fp16", "fp4-fp6sat", "e4m3xfp4-ftz-prod", "e4m3fn-e4m2fn"])
def test_every_rounding(name, rounding):
    s = float_spec(name, rounding=rounding)
    trace = random_trace(s, 250, 1, seed=5)
    g = golden_run(s, trace)
    assert g.first_difference(simulate_pe(s, trace)) is None


def test_small_accumulators_overflow_and_underflow():
    """The small accumulators reach their overflow (Inf, NaN, saturation), subnormal and zero codes."""
    for name in ("fp4-fp6sat", "e4m3fn-e4m2fn", "e4m3xfp4-ftz-prod"):
        s = float_spec(name)
        acc = s.accumulator
        g = golden_run(s, random_trace(s, 400, 1, seed=2))
        assert g.overflow.any(), name
        codes = g.acc[:, 0]
        field = (codes >> acc.man_bits) & acc.top_field
        assert ((codes & ((1 << (acc.bits - 1)) - 1)) == 0).any(), name  # zeros (signs: the signed-zero tests)
        if acc.subnormals:
            assert ((field == 0) & (codes & ((1 << acc.man_bits) - 1) != 0)).any(), name


class TruncatingAdder(MinifloatFloatPE):
    """A mutant: the adder truncates instead of rounding to nearest even."""

    def sum_rounding(self):
        return Rounding.TOWARD_ZERO


def test_truncating_adder_is_caught():
    s = float_spec("e4m3fn-fp16")
    trace = random_trace(s, 200, 1, seed=1)
    assert golden_run(s, trace).first_difference(simulate_pe(s, trace, pe=TruncatingAdder(s))) is not None


def test_stochastic_rounding_is_refused():
    with pytest.raises(ValueError, match="stochastic"):
        make_pe(float_spec("e4m3fn-fp16", rounding="stochastic"))


def test_formal_check_names_why_it_does_not_apply():
    from ristretto_sim.rtl.formal import ProductTable

    with pytest.raises(ValueError, match="float adder"):
        ProductTable.of(spec("fp4_e2m1", "fp4_e2m1", "fp6_e3m2"))


def _signed_zero_columns(s):
    """Columns (K = 4) made to hit the signed-zero rules: -0 bias, -0 products, exact cancellation, a tiny
    negative product rounding to -0, then +0."""
    f, acc = s.formats, s.accumulator
    enc_a, enc_w, enc_b = f.inputs.encode, f.weights.encode, acc.encode
    tiny = f.inputs.min_subnormal
    cols = [  # (a values, w values, bias value)
        ([-0.0, 0.0, -0.0, 0.0], [1.0, 1.0, -1.0, -1.0], -0.0),
        ([-0.0, -0.0, -0.0, -0.0], [1.0, 1.0, 1.0, 1.0], 0.0),
        ([1.0, -1.0, 0.0, -0.0], [1.0, 1.0, 1.0, 1.0], 0.0),
        ([2.0, 2.0, -2.0, -2.0], [1.0, -1.0, -1.0, 1.0], -0.0),
        ([-tiny, -tiny, 0.0, -0.0], [tiny, f.weights.min_subnormal, 1.0, 1.0], 0.0),
        ([1.0, -1.0, 0.0, 0.0], [1.0, 1.0, 1.0, -1.0], 1.0),
        ([-1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0], 1.0),
    ]
    a = np.array([enc_a(np.array(c[0])) for c in cols], dtype=np.int64).T
    w = np.array([enc_w(np.array(c[1])) for c in cols], dtype=np.int64).T
    b = np.array([int(enc_b(np.array(c[2]))) for c in cols], dtype=np.int64)
    return a, w, b


def _golden_vs_emulator(s, a, w, b):
    """Golden PEs over whole outputs (load with the bias, then K products) read out with the emulator's
    flag rule == ``minifloat_matmul``'s values, bit for bit (NaN as NaN); returns the number of NaN outputs."""
    f, acc = s.formats, s.accumulator
    k, n = a.shape
    load = np.zeros((k, n), bool)
    load[0] = True
    bias = np.tile(b, (k, 1))
    out = GoldenPEs(s, n).run(Trace(a, w, bias, np.ones((k, n), bool), load, np.zeros((k, n), bool)))
    got = _apply_flags(acc.decode(out.acc[-1]), *(out.flags[x][-1] for x in ("nan", "pinf", "ninf")))
    av, wv = f.inputs.decode(a).T.reshape(n, 1, k), f.weights.decode(w).T.reshape(n, k, 1)
    with np.errstate(invalid="ignore"):
        want = minifloat_matmul(av, wv, f.inputs, f.weights, accumulator=acc, product_format=f.product,
                                bias=acc.decode(b).reshape(n, 1, 1), rounding=f.rounding).values.reshape(n)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    ok = ~np.isnan(want)
    assert np.array_equal(got[ok].view(np.int64), want[ok].view(np.int64))  # signed zeros included
    return int(np.isnan(want).sum())


@pytest.mark.parametrize("rounding", ["nearest_even", "toward_zero", "floor", "nearest_up"])
@pytest.mark.parametrize("name", ["e4m3fn-fp16", "e5m2-fp16", "fp4-fp6sat", "e4m3fn-e4m2fn", "e4m3xfp4-ftz-prod"])
def test_golden_is_minifloat_matmul(name, rounding):
    s = float_spec(name, rounding=rounding)
    f = s.formats
    for k, n, seed in ((1, 64, 0), (9, 64, 1), (300, 48, 2)):
        tr = random_trace(s, k, n, seed=seed)
        a, w, b = tr.a, tr.w, tr.bias[0]
        special = n // 8  # these outputs see NaN and Inf operands and biases; the others only numbers
        cols = np.arange(n) >= special
        a = np.where(cols & ~np.isfinite(f.inputs.decode(a)), 0, a)
        w = np.where(cols & ~np.isfinite(f.weights.decode(w)), 0, w)
        b = np.where(cols & ~np.isfinite(s.accumulator.decode(b)), 0, b)
        nans = _golden_vs_emulator(s, a, w, b)
        assert k > 9 or nans < n - special // 2  # (long sums may overflow the small fn accumulator to NaN)
    a, w, b = _signed_zero_columns(s)
    _golden_vs_emulator(s, a, w, b)


@pytest.mark.parametrize("name", ["e4m3fn-fp16", "e5m2-fp16"])
def test_signed_zeros_in_hardware(name):
    s = float_spec(name)
    a, w, b = _signed_zero_columns(s)
    k, n = a.shape
    for j in range(n):
        load = np.zeros((k, 1), bool)
        load[0] = True
        tr = Trace(a[:, j : j + 1], w[:, j : j + 1], np.full((k, 1), b[j]), np.ones((k, 1), bool), load,
                   np.zeros((k, 1), bool))
        assert golden_run(s, tr).first_difference(simulate_pe(s, tr)) is None


def test_2x2_array():
    """The output-stationary array of float PEs gives ``minifloat_matmul``'s accumulator codes (finite operands
    and bias), edge folds included."""
    s = float_spec("e4m3fn-fp16", k=16)
    f, acc = s.formats, s.accumulator
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 256, (2, 5 * 7))
    codes = np.where(np.isnan(f.inputs.decode(codes)), 0, codes)
    a, w = codes[0].reshape(5, 7), codes[1].reshape(7, 5)
    b = acc.encode(rng.normal(0, 300, 5)).astype(np.int64)
    want = minifloat_matmul(f.inputs.decode(a), f.weights.decode(w), f.inputs, f.weights, accumulator=acc,
                            bias=acc.decode(b)).values
    arr = SystolicArray(2, 2, s)
    check(arr, gemm_stream(arr, a, w, b), acc.encode(want).astype(np.int64))


@pytest.mark.slow
@pytest.mark.parametrize("name", CONFIGS)
def test_amaranth_equals_golden_long(name):
    s = float_spec(name, k=1024)
    trace = random_trace(s, 6000, 1, seed=4)
    assert golden_run(s, trace).first_difference(simulate_pe(s, trace)) is None


@pytest.mark.slow
@pytest.mark.parametrize("name", ["fp4-fp6sat", "e4m3xfp4-ftz-prod"])
def test_every_register_code_and_product(name):
    """Every accumulator code (preloaded) plus every product of the operand codes, one addition each."""
    s = float_spec(name)
    kind = MinifloatFloatPE
    a_codes, w_codes = kind.operand_codes(s)
    regs = np.arange(1 << s.accumulator.bits, dtype=np.int64)
    if len(regs) * len(a_codes) * len(w_codes) > 40000:  # the product format's e4m3 inputs: a sample of them
        a_codes = a_codes[:: max(1, len(a_codes) // 16)]
    r, a, w = (x.reshape(-1) for x in np.meshgrid(regs, a_codes, w_codes, indexing="ij"))
    t = 2 * len(r)
    col = np.zeros((t, 1), dtype=np.int64)
    bias, aa, ww = col.copy(), col.copy(), col.copy()
    bias[0::2, 0], aa[1::2, 0], ww[1::2, 0] = r, a, w
    load = np.zeros((t, 1), bool)
    en = np.zeros((t, 1), bool)
    load[0::2], en[1::2] = True, True  # preload the register code, then add one product
    tr = Trace(aa, ww, bias, en, load, np.zeros((t, 1), bool))
    assert golden_run(s, tr).first_difference(simulate_pe(s, tr)) is None
