import itertools
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ristretto_sim.formats import FixedPoint, Overflow, Rounding
from tests.formats.reference import fixed_reference

DETERMINISTIC = [r for r in Rounding if r is not Rounding.STOCHASTIC]
SMALL = [FixedPoint(b, f, signed=s) for b in (1, 2, 3, 5, 8, 12) for f in (-3, 0, 4, 14) for s in (True, False)]
# rounding tables: exhaustive up to 8 bits, two 12-bit formats (the Fraction reference is slow)
TABLES = [f for f in SMALL if f.bits <= 8] + [FixedPoint(12, 4), FixedPoint(12, -3, signed=False)]


@pytest.mark.parametrize("fmt", SMALL, ids=str)
def test_every_code_round_trips_and_is_monotone(fmt):
    codes = np.arange(fmt.min_code, fmt.max_code + 1, dtype=np.int64)
    values = fmt.decode(codes)
    assert (np.diff(values) > 0).all()
    assert (fmt.encode(values) == codes).all()
    assert (fmt.quantize(values) == values).all()  # idempotent on the grid
    assert values[0] == fmt.min and values[-1] == fmt.max
    assert np.array_equal(fmt.values(), values)


@pytest.mark.parametrize("fmt", TABLES, ids=str)
@pytest.mark.parametrize("mode", DETERMINISTIC)
def test_rounding_table_between_every_pair_of_codes(fmt, mode):
    """Midpoints, quarter points and out-of-range points, against the Fraction reference."""
    values = fmt.decode(np.arange(fmt.min_code, fmt.max_code + 1, dtype=np.int64))
    lsb = float(fmt.lsb)
    probes = np.concatenate([values + lsb / 2, values + lsb / 4, values - lsb / 4, values + 3 * lsb / 4,
                             [fmt.max + 5 * lsb, fmt.min - 7 * lsb]])
    for overflow in ("saturate", "wrap"):
        got = fmt.quantize(probes, rounding=mode, overflow=overflow)
        want = np.array([float(fixed_reference(fmt, x, mode, overflow)) for x in probes])
        assert np.array_equal(got, want), (overflow, probes[got != want][:5])
        codes = fmt.encode(probes, rounding=mode, overflow=overflow)
        assert np.array_equal(fmt.decode(codes), got)


def test_apytypes_oracle_for_every_rounding_and_overflow():
    apy = pytest.importorskip("apytypes", reason="APyTypes is the outside fixed-point oracle (test extra)")
    qmap = {
        Rounding.NEAREST_EVEN: apy.QuantizationMode.TIES_EVEN,
        Rounding.NEAREST_AWAY: apy.QuantizationMode.TIES_AWAY,
        Rounding.NEAREST_UP: apy.QuantizationMode.TIES_POS,
        Rounding.TOWARD_ZERO: apy.QuantizationMode.TO_ZERO,
        Rounding.FLOOR: apy.QuantizationMode.TO_NEG,
        Rounding.CEIL: apy.QuantizationMode.TO_POS,
    }
    omap = {Overflow.SATURATE: apy.OverflowMode.SAT, Overflow.WRAP: apy.OverflowMode.WRAP}
    rng = np.random.default_rng(5)
    x = rng.integers(-(2**40), 2**40, size=4000) / 2.0**30  # exact in a 12.30 wide fixed format
    x = np.concatenate([x, np.arange(-64, 64) / 8 + 1 / 16])  # exact ties
    wide = apy.APyFixedArray.from_float(x, int_bits=14, frac_bits=30)
    for (bits, frac), mode, ovf in itertools.product([(8, 4), (6, -1), (12, 9), (4, 0)], qmap, omap):
        fmt = FixedPoint(bits, frac)
        ref = wide.cast(int_bits=bits - frac, frac_bits=frac, quantization=qmap[mode], overflow=omap[ovf])
        got = fmt.quantize(x, rounding=mode, overflow=ovf)
        assert np.array_equal(got, np.asarray(ref.to_numpy(), dtype=np.float64)), (bits, frac, mode, ovf)


@settings(max_examples=300, deadline=None)
@given(
    bits=st.integers(13, 64),
    frac=st.integers(-20, 80),
    signed=st.booleans(),
    x=st.floats(allow_nan=False, allow_infinity=False, min_value=-1e25, max_value=1e25),
    mode=st.sampled_from(DETERMINISTIC),
    overflow=st.sampled_from(["saturate", "wrap"]),
)
def test_wide_formats_encode_like_python_integers(bits, frac, signed, x, mode, overflow):
    fmt = FixedPoint(bits, frac, signed=signed)
    want = fixed_reference(fmt, x, mode, overflow) * Fraction(2) ** frac
    assert want.denominator == 1
    code = fmt.encode(np.array([x]), rounding=mode, overflow=overflow)[0]
    assert int(code) == int(want)


def test_properties_and_saturation_bounds():
    f = FixedPoint(8, 7)
    assert (f.min, f.max, f.lsb) == (-1.0, 127 / 128, 1 / 128)
    u = FixedPoint(8, 0, signed=False)
    assert (u.min, u.max, u.min_code, u.max_code) == (0.0, 255.0, 0, 255)
    neg_frac = FixedPoint(8, -3)
    assert neg_frac.max == 127 * 8 and neg_frac.lsb == 8
    big_frac = FixedPoint(4, 10)
    assert big_frac.max == 7 / 1024
    assert f.quantize([5.0, -5.0, np.inf, -np.inf]).tolist() == [127 / 128, -1.0, 127 / 128, -1.0]


def test_wrap_keeps_the_low_bits():
    f = FixedPoint(8, 0)
    assert f.encode([128, 129, -129, 255, 256, 1000], overflow="wrap").tolist() == [-128, -127, 127, -1, 0, -24]
    u = FixedPoint(4, 0, signed=False)
    assert u.encode([16, 17, -1], overflow="wrap").tolist() == [0, 1, 15]
    f64 = FixedPoint(64, 0)
    assert f64.encode([2.0**63, 2.0**64 + 2.0**12], overflow="wrap").tolist() == [-(2**63), 2**12]


def test_negative_zero_is_plain_zero():
    assert np.signbit(FixedPoint(8, 4).quantize([-0.0, -0.01])).tolist() == [False, False]


def test_per_channel_frac_bits_follow_axis_0():
    f = FixedPoint(8, (7, 5, 2))
    w = np.array([[0.3, -0.9], [3.3, -2.0], [20.0, 40.0]])
    q = f.quantize(w)
    for i in range(3):
        assert np.array_equal(q[i], f.channel(i).quantize(w[i]))
    assert np.array_equal(f.decode(f.encode(w)), q)
    assert f.max.tolist() == [127 / 128, 127 / 32, 127 / 4]
    with pytest.raises(ValueError, match="axis 0 must have length 3"):
        f.quantize(np.zeros((2, 2)))


def test_stochastic_rounding_is_seeded_and_unbiased():
    f = FixedPoint(8, 2)
    x = np.full(100_000, 0.1)
    a = f.quantize(x, rounding="stochastic", rng=9)
    assert np.array_equal(a, f.quantize(x, rounding="stochastic", rng=9))
    assert set(np.unique(a)) == {0.0, 0.25}
    assert abs(a.mean() - 0.1) < 0.003


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(bits=0, frac_bits=0), "bits=0"),
        (dict(bits=-4, frac_bits=0), "bits=-4"),
        (dict(bits=200, frac_bits=0), "bits=200"),
        (dict(bits=8.0, frac_bits=0), "bits=8.0"),
        (dict(bits=8, frac_bits=1.5), "frac_bits=1.5"),
        (dict(bits=8, frac_bits=()), "frac_bits"),
        (dict(bits=8, frac_bits=0, signed="yes"), "signed='yes'"),
    ],
)
def test_invalid_parameters_name_themselves(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        FixedPoint(**kwargs)


def test_bad_inputs():
    f = FixedPoint(8, 0)
    with pytest.raises(ValueError, match="NaN"):
        f.quantize([np.nan])
    with pytest.raises(ValueError, match="infinite input cannot wrap"):
        f.encode([np.inf], overflow="wrap")
    with pytest.raises(ValueError, match="rounding='sideways'"):
        f.quantize([1.0], rounding="sideways")
    with pytest.raises(ValueError, match="codes out of range"):
        f.decode([200])
    with pytest.raises(TypeError, match="integers"):
        f.decode([1.5])
    with pytest.raises(ValueError, match="up to 64 bits"):
        FixedPoint(80, 0).encode([1.0])
