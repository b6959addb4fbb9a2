"""gemmlowp / TFLite fixed-point primitives against slow, obvious Python-integer transcriptions of the C sources
(``int32`` semantics written out: C's truncating division, two's complement shifts)."""

import math

import numpy as np
import pytest

from ristretto_sim.emulator import gemmlowp as gl

I32_MIN, I32_MAX = -(2**31), 2**31 - 1


def c_div(a: int, b: int) -> int:
    """C's integer division (toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def ref_srdhm(a: int, b: int) -> int:
    if a == b == I32_MIN:
        return I32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    return c_div(ab + nudge, 1 << 31)


def ref_rdbpot(x: int, e: int) -> int:
    mask = (1 << e) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> e) + (1 if remainder > threshold else 0)


def ref_mbqm(x: int, m: int, shift: int) -> int:
    left, right = max(shift, 0), max(-shift, 0)
    return ref_rdbpot(ref_srdhm(x * (1 << left), m), right)


def ref_quantize_multiplier(real: float):
    if real == 0:
        return 0, 0
    q, shift = math.frexp(real)
    q_fixed = int(math.floor(abs(q * 2**31) + 0.5)) * (1 if q > 0 else -1)  # std::round
    if q_fixed == 2**31:
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return q_fixed, shift


EDGES = [I32_MIN, I32_MIN + 1, -(2**30), -12345, -3, -2, -1, 0, 1, 2, 3, 12345, 2**30, I32_MAX - 1, I32_MAX]


def _pairs(rng, n=4000):
    a = np.concatenate([rng.integers(I32_MIN, I32_MAX, n, endpoint=True), np.repeat(EDGES, len(EDGES))])
    b = np.concatenate([rng.integers(I32_MIN, I32_MAX, n, endpoint=True), np.tile(EDGES, len(EDGES))])
    return a, b


def test_srdhm_matches_the_c_source():
    a, b = _pairs(np.random.default_rng(1))
    got = gl.saturating_rounding_doubling_high_mul(a, b)
    assert got.tolist() == [ref_srdhm(int(x), int(y)) for x, y in zip(a, b, strict=True)]


def test_rounding_divide_by_pot_matches_the_c_source():
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.integers(I32_MIN, I32_MAX, 3000, endpoint=True), np.array(EDGES), np.arange(-70, 70)])
    for e in (0, 1, 2, 5, 13, 30, 31):
        assert gl.rounding_divide_by_pot(x, e).tolist() == [ref_rdbpot(int(v), e) for v in x]
    es = rng.integers(0, 32, x.size)
    assert gl.rounding_divide_by_pot(x, es).tolist() == [ref_rdbpot(int(v), int(e)) for v, e in zip(x, es,
                                                                                                      strict=True)]
    with pytest.raises(ValueError, match="0..31"):
        gl.rounding_divide_by_pot(x, 32)


def test_ties_of_rounding_divide_by_pot_go_away_from_zero():
    assert gl.rounding_divide_by_pot(np.array([5, -5, 6, -6, 7, -7]), 1).tolist() == [3, -3, 3, -3, 4, -4]


def test_quantize_multiplier_matches_the_c_source_and_reconstructs_the_real():
    rng = np.random.default_rng(3)
    reals = np.concatenate([np.exp(rng.uniform(-30, 5, 2000)), [1.0, 0.5, 0.25, 2.0 - 2**-40, 2**-32, 2**-33, 0.0]])
    for r in reals:
        m, s = gl.quantize_multiplier(float(r))
        assert (m, s) == ref_quantize_multiplier(float(r))
        if m:
            assert 2**30 <= m < 2**31
            assert abs(m * 2.0 ** (s - 31) - r) <= r * 2**-31
    # a significand that rounds up to 2**31 moves to the next exponent
    assert gl.quantize_multiplier(1.0 - 2**-40) == (2**30, 1)


def test_multiply_by_quantized_multiplier_per_channel():
    rng = np.random.default_rng(4)
    acc = rng.integers(-(2**24), 2**24, (50, 7))
    reals = np.exp(rng.uniform(-14, 1, 7))
    ms, ss = zip(*[gl.quantize_multiplier(float(r)) for r in reals], strict=True)
    got = gl.multiply_by_quantized_multiplier(acc, np.array(ms), np.array(ss))
    want = [[ref_mbqm(int(acc[i, c]), ms[c], ss[c]) for c in range(7)] for i in range(50)]
    assert got.tolist() == want


def test_count_leading_zeros():
    vals = [0, 1, 2, 3, 2**31 - 1, 2**31, 2**32 - 1] + [2**k for k in range(32)] + [2**k - 1 for k in range(1, 32)]
    want = [32 - int(v).bit_length() for v in vals]
    assert gl.count_leading_zeros32(np.array(vals)).tolist() == want


# ---------------------------------------------------------------------- the fixed-point exp, scalar transcription


def ref_exp_interval(a: int) -> int:
    x = a + (1 << 28)
    x2 = ref_srdhm(x, x)
    x3 = ref_srdhm(x2, x)
    x4 = ref_srdhm(x2, x2)
    x4_4 = ref_rdbpot(x4, 2)
    poly = ref_rdbpot(ref_srdhm(x4_4 + x3, 715827883) + x2, 1)
    return 1895147668 + ref_srdhm(1895147668, x + poly)


def ref_sat_shift_left(x: int, e: int) -> int:
    threshold = (1 << (31 - e)) - 1
    if x > threshold:
        return I32_MAX
    if x < -threshold:
        return I32_MIN
    return x << e


def ref_exp_on_negative_values(a: int, ib: int = 5) -> int:
    fb = 31 - ib
    quarter = 1 << (fb - 2)
    amq = (a & (quarter - 1)) - quarter
    result = ref_exp_interval(ref_sat_shift_left(amq, ib))
    remainder = amq - a
    for e, mult in ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308), (2, 39332535),
                    (3, 720401), (4, 242)):
        if ib > e and remainder & (1 << (fb + e)):
            result = ref_srdhm(result, mult)
    return I32_MAX if a == 0 else result


def test_exp_on_negative_values_matches_the_transcription_and_exp():
    rng = np.random.default_rng(5)
    a = np.concatenate([-rng.integers(0, 2**31 - 1, 3000), -np.arange(0, 300), [-(2**26), -(2**27), -(2**31) + 1]])
    got = gl.exp_on_negative_values(a, 5)
    assert got.tolist() == [ref_exp_on_negative_values(int(v)) for v in a]
    real = np.exp(a / 2**26)
    assert np.max(np.abs(got / 2**31 - real)) < 1e-6  # gemmlowp's polynomial and barrel-shifter accuracy


def test_reciprocal_is_close_to_one_over_x():
    rng = np.random.default_rng(6)
    x = rng.integers(1 << 19, 1 << 30, 2000)  # Q12.19 sums of at least one exp
    scale, bits = gl.get_reciprocal(x, 12)
    approx = scale / 2**31 * 2.0 ** (-bits.astype(float))
    assert np.max(np.abs(approx * (x / 2**19) - 1)) < 1e-8
