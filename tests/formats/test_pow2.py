import numpy as np
import pytest

from ristretto_sim.formats import PowerOfTwo, Rounding
from tests.formats.reference import pow2_reference

DETERMINISTIC = [r for r in Rounding if r is not Rounding.STOCHASTIC]
FORMATS = [PowerOfTwo(lo, hi, has_zero=z, domain=d)
           for lo, hi in [(-8, -1), (0, 0), (-3, 4), (-20, -5)] for z in (True, False) for d in ("log", "linear")]


def test_bit_widths():
    assert PowerOfTwo(-8, -1).bits == 5  # Ristretto's range with a zero code
    assert PowerOfTwo(-8, -1, has_zero=False).bits == 4  # Ristretto's own encoding
    assert PowerOfTwo(0, 0, has_zero=False).bits == 1
    assert PowerOfTwo(0, 0).bits == 2
    assert PowerOfTwo(-7, 8, has_zero=False).bits == 5
    assert PowerOfTwo(-7, 8).bits == 6


@pytest.mark.parametrize("fmt", FORMATS, ids=str)
def test_every_code(fmt):
    mags = np.arange(fmt.n_magnitudes)
    codes = np.concatenate([mags, mags | (1 << (fmt.bits - 1))])
    vals = fmt.decode(codes)
    if fmt.has_zero:
        assert vals[0] == 0.0 and vals[fmt.n_magnitudes] == 0.0 and not np.signbit(vals[fmt.n_magnitudes])
        assert fmt.encode(vals).tolist() == list(mags) + [0] + list(codes[fmt.n_magnitudes + 1:])
    else:
        assert fmt.encode(vals).tolist() == codes.tolist()
    assert np.array_equal(fmt.quantize(vals), vals)
    expected = [2.0**e for e in range(fmt.exp_min, fmt.exp_max + 1)]
    assert sorted(v for v in fmt.values() if v > 0) == expected
    with pytest.raises(ValueError, match="invalid codes"):
        fmt.decode([fmt.n_magnitudes]) if fmt.n_magnitudes < (1 << (fmt.bits - 1)) else fmt.decode([1 << fmt.bits])


@pytest.mark.parametrize("fmt", FORMATS, ids=str)
@pytest.mark.parametrize("mode", DETERMINISTIC)
def test_rounding_against_fraction_reference(fmt, mode):
    powers = 2.0 ** np.arange(fmt.exp_min - 3, fmt.exp_max + 3)
    probes = np.concatenate([powers, powers * 1.5, powers * 1.4142135623730951, powers * 1.4142135623730950,
                             powers * 1.25, powers * 1.75, powers * 0.75, [0.0, -0.0, 1e-300, 1e300]])
    probes = np.concatenate([probes, -probes])
    got = fmt.quantize(probes, rounding=mode)
    want = np.array([pow2_reference(fmt, x, mode) for x in probes])
    assert np.array_equal(got, want), probes[got != want][:6]
    assert np.array_equal(fmt.decode(fmt.encode(probes, rounding=mode)), got)


def test_log_domain_decides_exactly_at_sqrt2():
    f = PowerOfTwo(-4, 4)
    s = np.sqrt(2.0)  # 1.4142135623730951 > sqrt(2): rounds up; its predecessor is below sqrt(2)
    assert f.quantize([s, np.nextafter(s, 0), 2 * s, 2 * np.nextafter(s, 0)]).tolist() == [2.0, 1.0, 4.0, 2.0]
    lin = PowerOfTwo(-4, 4, domain="linear")
    assert lin.quantize([1.49, 1.5, -1.5]).tolist() == [1.0, 2.0, -2.0]
    assert lin.quantize([-1.5], rounding="nearest_up").tolist() == [-1.0]


def test_flush_and_saturation():
    f = PowerOfTwo(-8, -1)
    t = 2.0 ** -8.5
    assert f.quantize([t * 1.0001, t * 0.9999, 1.0, np.inf, -np.inf]).tolist() == [2**-8, 0.0, 0.5, 0.5, -0.5]
    lin = PowerOfTwo(-8, -1, domain="linear")
    assert lin.quantize([2.0**-9, 2.0**-9 * 0.999]).tolist() == [2**-8, 0.0]


def test_ristretto_no_zero_encoding():
    f = PowerOfTwo(-8, -1, has_zero=False)
    assert f.quantize([0.0, -0.0, 1e-9, -1e-9]).tolist() == [2**-8, 2**-8, 2**-8, -(2**-8)]
    assert f.encode([0.0, -1e-9, 0.5, -0.5]).tolist() == [0, 8, 7, 15]


def test_negative_zero_decodes_to_positive_zero():
    f = PowerOfTwo(-8, -1)
    v = f.decode([1 << (f.bits - 1)])
    assert v[0] == 0.0 and not np.signbit(v[0])
    assert not np.signbit(f.quantize([-1e-9]))[0]


def test_stochastic_in_both_domains():
    x = np.full(100_000, 0.75)
    lin = PowerOfTwo(-4, 4, domain="linear").quantize(x, rounding="stochastic", rng=1)
    assert set(np.unique(lin)) == {0.5, 1.0} and abs(lin.mean() - 0.75) < 0.003  # unbiased in value
    log = PowerOfTwo(-4, 4).quantize(x, rounding="stochastic", rng=1)
    p_up = np.log2(0.75) + 1  # Ristretto: floor(log2|x| + u)
    assert abs((log == 1.0).mean() - p_up) < 0.005
    tiny = PowerOfTwo(-4, 4).quantize(np.full(100_000, 2.0**-6), rounding="stochastic", rng=2)
    assert abs((tiny == 2.0**-4).mean() - 0.25) < 0.005


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(exp_min=0, exp_max=-1), "range is empty"),
        (dict(exp_min=0.5, exp_max=1), "exp_min=0.5"),
        (dict(exp_min=0, exp_max=1, domain="cubic"), "domain='cubic'"),
        (dict(exp_min=0, exp_max=1, has_zero="no"), "has_zero='no'"),
    ],
)
def test_invalid_parameters(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        PowerOfTwo(**kwargs)


def test_bad_inputs():
    f = PowerOfTwo(-8, -1)
    with pytest.raises(ValueError, match="NaN"):
        f.quantize([np.nan])
    with pytest.raises(ValueError, match="wrap"):
        f.quantize([1.0], overflow="wrap")
