from fractions import Fraction

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ristretto_sim.emulator import requantize, rounding_shift
from ristretto_sim.emulator.wide import WideInt
from ristretto_sim.formats import FixedPoint, Overflow, Rounding
from ristretto_sim.formats.rounding import StochasticKey, uniform_bits53
from tests.emulator.reference import requantize_ref

DETERMINISTIC = [r for r in Rounding if r is not Rounding.STOCHASTIC]


@pytest.mark.parametrize("mode", DETERMINISTIC)
@pytest.mark.parametrize("shift", [1, 2, 5])
def test_every_code_of_a_12_bit_accumulator(mode, shift):
    codes = np.arange(-(2**11), 2**11, dtype=np.int64)
    out = FixedPoint(6, 3)
    got = requantize(codes, 3 + shift, out, mode).codes
    want = [requantize_ref(int(c), shift, mode.value, out.min_code, out.max_code) for c in codes]
    assert got.tolist() == want


@pytest.mark.parametrize("mode", DETERMINISTIC)
def test_wide_codes_and_large_shifts(mode):
    rng = np.random.default_rng(3)
    codes = rng.integers(-(2**62), 2**62, size=500, dtype=np.int64)
    codes[:4] = [-(2**62), 2**62 - 1, -1, 1]
    for shift in (1, 17, 40, 55, 62):
        got = rounding_shift(codes, shift, mode)
        want = [requantize_ref(int(c), shift, mode.value, -(2**63), 2**63 - 1) for c in codes]
        assert got.tolist() == want, shift


def test_left_shift_and_per_channel():
    codes = np.array([[3, -3, 100], [1, 2, -128]], dtype=np.int64)
    out = FixedPoint(8, (4, 2, 0))  # channel axis 1
    r = requantize(codes, 2, out, "nearest_even", channel_axis=1)
    assert r.codes.tolist() == [[12, -3, 25], [4, 2, -32]]
    r = requantize(np.array([100, -100]), 0, FixedPoint(8, 2))  # x4 -> saturates both ways
    assert r.codes.tolist() == [127, -128] and r.saturations == 2


def test_unsigned_output_clamps_negative():
    r = requantize(np.array([-5, 5, 10000]), 1, FixedPoint(8, 0, signed=False))
    assert r.codes.tolist() == [0, 2, 255] and r.saturations == 2


def test_stochastic_matches_formula_and_is_chunk_independent():
    codes = np.arange(-300, 300, dtype=np.int64)
    key = StochasticKey(42)
    got = rounding_shift(codes, 3, "stochastic", rng=key)
    k = uniform_bits53(key, codes.shape)
    want = [
        requantize_ref(int(c), 3, "stochastic", -(2**63), 2**63, Fraction(int(u), 2**53))
        for c, u in zip(codes, k, strict=True)
    ]
    assert got.tolist() == want
    tail = rounding_shift(codes[100:], 3, "stochastic", rng=StochasticKey(42, 100))
    assert np.array_equal(tail, got[100:])
    # unbiased on average: mean of 7/8 rounded many times
    many = rounding_shift(np.full(20000, 7), 3, "stochastic", rng=1)
    assert abs(many.mean() - 7 / 8) < 0.02


def test_apytypes_cast_oracle():
    apy = pytest.importorskip("apytypes", reason="APyTypes is not installed "
                              "(it is in the test extra: pip install -e '.[test]')")
    qmap = {
        Rounding.NEAREST_EVEN: apy.QuantizationMode.TIES_EVEN,
        Rounding.NEAREST_AWAY: apy.QuantizationMode.TIES_AWAY,
        Rounding.NEAREST_UP: apy.QuantizationMode.TIES_POS,
        Rounding.TOWARD_ZERO: apy.QuantizationMode.TO_ZERO,
        Rounding.FLOOR: apy.QuantizationMode.TO_NEG,
        Rounding.CEIL: apy.QuantizationMode.TO_POS,
    }
    rng = np.random.default_rng(4)
    codes = rng.integers(-(2**23), 2**23, size=3000, dtype=np.int64)
    acc = apy.APyFixedArray.from_float(np.ldexp(codes.astype(float), -12), int_bits=12, frac_bits=12)
    for mode, q in qmap.items():
        want = acc.cast(int_bits=4, frac_bits=4, quantization=q, overflow=apy.OverflowMode.SAT)
        got = requantize(codes, 12, FixedPoint(8, 4), mode)
        assert np.array_equal(np.ldexp(got.codes.astype(float), -4), np.asarray(want.to_numpy(), float)), mode


def test_bad_parameters():
    with pytest.raises(TypeError, match="out="):
        requantize(np.array([1]), 0, "int8")
    with pytest.raises(ValueError, match="rounding="):
        rounding_shift(np.array([1]), 1, "sideways")


@settings(max_examples=200, deadline=None)
@given(
    code=st.integers(-(2**62), 2**62 - 1),
    f_in=st.integers(-10, 70),
    out_bits=st.integers(1, 63),
    f_out=st.integers(-10, 40),
    signed=st.booleans(),
    mode=st.sampled_from(DETERMINISTIC),
)
# left shifts into a 63-bit output: the pre-shift clamp saturated nothing (found by this property)
@example(code=2**42, f_in=0, out_bits=63, f_out=20, signed=True, mode=Rounding.NEAREST_EVEN)
@example(code=-4_398_046_510_518, f_in=17, out_bits=63, f_out=40, signed=True, mode=Rounding.NEAREST_EVEN)
@example(code=-(2**62), f_in=0, out_bits=63, f_out=1, signed=True, mode=Rounding.FLOOR)
def test_property_any_widths_against_fractions(code, f_in, out_bits, f_out, signed, mode):
    out = FixedPoint(out_bits, f_out, signed=signed)
    r = requantize(np.array([code]), f_in, out, mode)
    want = requantize_ref(code, f_in - f_out, mode.value, out.min_code, out.max_code)
    assert int(r.codes[0]) == want
    assert r.saturations == int(
        not (out.min_code <= requantize_ref(code, f_in - f_out, mode.value, -(2**200), 2**200) <= out.max_code)
    )


# ------------------------------------------------------------------ wide (WideInt) accumulator codes
def _wide_codes(rng, n):
    vals = [int(v) for v in rng.integers(-(2**62), 2**62, size=n)]
    vals = [v * (2**63 + 12345) + int(r) for v, r in zip(vals, rng.integers(0, 2**40, size=n), strict=True)]
    vals[:8] = [2**126 - 1, -(2**126), 0, -1, 1, 2**70 + 2**69, -(2**70) - 2**69, 3 * 2**60]
    return vals


@pytest.mark.parametrize("mode", list(Rounding))
@pytest.mark.parametrize("shift", [-3, 0, 1, 17, 53, 54, 60, 70, 100, 126])
def test_wide_codes_every_rounding_mode(mode, shift):
    rng = np.random.default_rng(shift + 200)
    vals = _wide_codes(rng, 200)
    codes = WideInt.from_ints(vals, 5)
    out = FixedPoint(40, 0)
    key = StochasticKey(9, 3)
    r = requantize(codes, shift, out, mode, rng=key if mode is Rounding.STOCHASTIC else None)
    draws = uniform_bits53(key, (len(vals),))
    want = [
        requantize_ref(v, shift, mode.value, out.min_code, out.max_code, Fraction(int(u), 2**53))
        for v, u in zip(vals, draws, strict=True)
    ]
    assert r.codes.dtype == np.int64 and r.codes.tolist() == want
    unclamped = [
        requantize_ref(v, shift, mode.value, -(2**300), 2**300, Fraction(int(u), 2**53))
        for v, u in zip(vals, draws, strict=True)
    ]
    assert r.saturations == sum(not out.min_code <= q <= out.max_code for q in unclamped)


def test_wide_codes_per_channel_fractions_wrap_and_unsigned():
    rng = np.random.default_rng(7)
    vals = np.array(_wide_codes(rng, 24), dtype=object).reshape(2, 4, 3)
    codes = WideInt.from_ints(vals, 5)
    acc_frac = np.array([60, 90, 5, 64])
    out = FixedPoint(16, (3, -4, 8, 0))  # shifts 57, 94, -3, 64 along axis 1
    for mode in ("nearest_even", "stochastic"):
        r = requantize(codes, acc_frac, out, mode, channel_axis=1, rng=11)
        draws = uniform_bits53(StochasticKey(11), vals.shape)
        for idx in np.ndindex(*vals.shape):
            s = int(acc_frac[idx[1]]) - out.frac_bits[idx[1]]
            want = requantize_ref(vals[idx], s, mode, out.min_code, out.max_code, Fraction(int(draws[idx]), 2**53))
            assert int(r.codes[idx]) == want, (idx, mode)
    r = requantize(codes, 64, FixedPoint(12, 0), "floor", overflow="wrap")
    assert r.codes.tolist() == (np.vectorize(lambda v: (v >> 64) % 2**12 - (((v >> 64) % 2**12) >> 11) * 2**12,
                                             otypes=[object])(vals)).tolist()
    r = requantize(codes, 100, FixedPoint(8, 0, signed=False), "nearest_even")
    assert r.codes.tolist() == np.vectorize(lambda v: requantize_ref(v, 100, "nearest_even", 0, 255),
                                            otypes=[object])(vals).tolist()


# ------------------------------------------------------------------ the int64 fast path of WideInt codes
DETERMINISTIC = [m for m in Rounding if m is not Rounding.STOCHASTIC]


def _edge_values(shift: int, acc_bits: int, out: FixedPoint) -> list[int]:
    """Accumulator extremes, ties, values just around the output range and the fast path's window."""
    top = 2 ** (acc_bits - 1)
    vals = [top - 1, -top, 0, 1, -1]
    scale = 2**shift if shift > 0 else 1
    for q in (out.max_code, out.min_code, out.max_code + 1, out.min_code - 1, 2**58, -(2**58), 2**59, -(2**59),
              2**60, -(2**60) - 1, 3, -3):
        base = q * scale if shift > 0 else q >> -shift if shift < 0 else q
        vals += [base, base - 1, base + 1]
        if shift > 0:
            vals += [base + scale // 2, base - scale // 2, base + scale // 2 + 1]  # ties and just above
    return [v for v in vals if -top <= v < top]


@pytest.mark.parametrize("mode", DETERMINISTIC)
@pytest.mark.parametrize("shift", [-70, -5, -1, 0, 1, 2, 31, 32, 33, 63, 64, 65, 95, 120])
@pytest.mark.parametrize("out", [FixedPoint(32, 0), FixedPoint(58, 0), FixedPoint(8, 0, signed=False),
                                 FixedPoint(2, 0), FixedPoint(57, 0, signed=False)])
def test_wide_fast_path_edges(mode, shift, out):
    """Outputs inside +-2**58 take the int64 stand-in: accumulator extremes (128 bits), ties, values just inside
    and outside the output range and the stand-in's window, negative values, shifts <= 0."""
    from ristretto_sim.emulator.requantize import _fast_wide

    assert _fast_wide(out, mode, Overflow.SATURATE)
    vals = _edge_values(shift, 128, out)
    r = requantize(WideInt.from_ints(vals, 5), shift, out, mode)
    want = [requantize_ref(v, shift, mode.value, out.min_code, out.max_code) for v in vals]
    assert r.codes.dtype == np.int64 and r.codes.tolist() == want
    unclamped = [requantize_ref(v, shift, mode.value, -(2**300), 2**300) for v in vals]
    assert r.saturations == sum(not out.min_code <= q <= out.max_code for q in unclamped)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.integers(-(2**127), 2**127 - 1), min_size=1, max_size=6),
    st.lists(st.integers(-40, 140), min_size=1, max_size=4),
    st.integers(1, 64),
    st.booleans(),
    st.sampled_from(DETERMINISTIC),
    st.integers(3, 5),
)
def test_wide_fast_path_matches_python_and_the_general_path(vals, shifts, out_bits, signed, mode, n):
    """Per-channel shifts (mixed signs, repeats), any output width (above 58 bits: the general path), against
    Python integers and against the general WideInt path."""
    from ristretto_sim.emulator.requantize import _requantize_wide

    top = 2 ** (32 * n - 3)
    vals = [max(min(v, top - 1), -top) for v in vals]
    out_bits = min(out_bits, 63) if not signed else out_bits
    out = FixedPoint(out_bits, 0, signed=signed)
    grid = np.array([[v] * len(shifts) for v in vals], dtype=object)  # (M, C): channels along axis 1
    codes = WideInt.from_ints(grid, n)
    frac = np.array(shifts, dtype=np.int64) + 200
    r = requantize(codes, frac, FixedPoint(out_bits, 200, signed=signed), mode, channel_axis=1)
    want = [[requantize_ref(v, s, mode.value, out.min_code, out.max_code) for s in shifts] for v in vals]
    assert r.codes.tolist() == want
    unclamped = [requantize_ref(v, s, mode.value, -(2**400), 2**400) for v in vals for s in shifts]
    assert r.saturations == sum(not out.min_code <= q <= out.max_code for q in unclamped)
    general = _requantize_wide(codes, np.array(shifts, dtype=np.int64).reshape(1, -1), out, mode,
                               Overflow.SATURATE, None)
    assert general.codes.tolist() == want and general.saturations == r.saturations


def test_wide_fast_path_is_not_taken_where_it_cannot_be_exact():
    from ristretto_sim.emulator.requantize import _fast_wide

    assert not _fast_wide(FixedPoint(59, 0), Rounding.NEAREST_EVEN, Overflow.SATURATE)
    assert not _fast_wide(FixedPoint(64, 0), Rounding.FLOOR, Overflow.SATURATE)
    assert not _fast_wide(FixedPoint(32, 0), Rounding.STOCHASTIC, Overflow.SATURATE)
    assert not _fast_wide(FixedPoint(32, 0), Rounding.NEAREST_EVEN, Overflow.WRAP)
    assert _fast_wide(FixedPoint(58, 0, signed=False), Rounding.NEAREST_EVEN, Overflow.NATURAL)


@pytest.mark.parametrize("block", [1, 7, 24, 10**6])
@pytest.mark.parametrize("channel_axis", [0, 1, 2])
def test_wide_fast_path_in_blocks(block, channel_axis, monkeypatch):
    """Blocks along the first axis (any size, channels on any axis, per-channel shifts) give the same codes and
    saturation count as the Python-integer reference."""
    import importlib

    rq = importlib.import_module("ristretto_sim.emulator.requantize")  # the module (the package exports the function)
    monkeypatch.setattr(rq, "_FAST_BLOCK", block)
    rng = np.random.default_rng(block + channel_axis)
    vals = np.array(_wide_codes(rng, 5 * 4 * 3), dtype=object).reshape(5, 4, 3)
    vals[1, :, :] = 2**45 + 2**12  # ties at shift 13
    codes = WideInt.from_ints(vals, 5)
    c = vals.shape[channel_axis]
    acc_frac = np.array([13, 60, -2, 80, 13][:c])
    out = FixedPoint(24, 0)
    r = requantize(codes, acc_frac, out, "nearest_even", channel_axis=channel_axis)
    want, bad = np.empty(vals.shape, dtype=object), 0
    for idx in np.ndindex(*vals.shape):
        s = int(acc_frac[idx[channel_axis]])
        want[idx] = requantize_ref(vals[idx], s, "nearest_even", out.min_code, out.max_code)
        bad += not out.min_code <= requantize_ref(vals[idx], s, "nearest_even", -(2**300), 2**300) <= out.max_code
    assert r.codes.tolist() == want.tolist() and r.saturations == bad
