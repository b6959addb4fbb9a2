import numpy as np
import pytest

from ristretto_sim.formats import CATALOG, Minifloat, Overflow, Rounding
from ristretto_sim.formats.minifloat import QUANTIZE_BLOCK
from tests.formats.reference import minifloat_grid, minifloat_reference

ml_dtypes = pytest.importorskip("ml_dtypes", reason="ml_dtypes provides the fp8/fp6/fp4 oracles (test extra)")

DETERMINISTIC = [r for r in Rounding if r is not Rounding.STOCHASTIC]

SMALL = [
    Minifloat(e, m, subnormals=sub, specials=sp)
    for e, m in [(2, 1), (2, 3), (3, 2), (4, 3), (5, 2), (3, 0), (1, 3), (4, 6)]
    for sub in (True, False)
    for sp in ("ieee", "fn", "none")
    if not (sp == "ieee" and (m == 0 or e < 2)) and not (sp == "fn" and e == 1 and m == 0)
] + [Minifloat(4, 3, bias=9), Minifloat(3, 3, bias=-2, specials="none")]


def _same(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return bool(np.all((a == b) & (np.signbit(a) == np.signbit(b)) | (np.isnan(a) & np.isnan(b))))


# ---------------------------------------------------------------- outside oracles
def test_fp16_matches_numpy_on_every_code_and_every_midpoint():
    f = CATALOG["fp16"]
    codes = np.arange(1 << 16, dtype=np.uint16)
    ref = codes.view(np.float16).astype(np.float64)
    assert _same(f.decode(codes), ref)
    finite = np.isfinite(ref)
    assert np.array_equal(f.encode(ref[finite]), codes[finite])
    pos = np.sort(np.unique(ref[finite & (ref >= 0)]))
    mids = (pos[:-1] + pos[1:]) / 2  # exact in float64
    top = pos[-1] + (pos[-1] - pos[-2]) / 2  # 65520: overflows to inf
    probes = np.concatenate([mids, np.nextafter(mids, 0), np.nextafter(mids, np.inf), [top, np.nextafter(top, 0)]])
    probes = np.concatenate([probes, -probes, [np.inf, -np.inf, np.nan, 1e300, -1e-300, -0.0]])
    with np.errstate(over="ignore"):
        want = probes.astype(np.float16).astype(np.float64)
    assert _same(f.quantize(probes), want)
    assert np.array_equal(f.encode(probes[~np.isnan(probes)]), probes[~np.isnan(probes)].astype(np.float16).view(
        np.uint16))


ORACLES = {
    "e5m2": "float8_e5m2",
    "e4m3": "float8_e4m3",
    "e4m3fn": "float8_e4m3fn",
    "fp6_e3m2": "float6_e3m2fn",
    "fp6_e2m3": "float6_e2m3fn",
    "fp4_e2m1": "float4_e2m1fn",
    "bf16": "bfloat16",
}


@pytest.mark.parametrize("name", sorted(ORACLES))
def test_catalog_matches_ml_dtypes(name):
    f = CATALOG[name]
    t = getattr(ml_dtypes, ORACLES[name])
    n = 1 << f.bits
    codes = np.arange(n, dtype=np.uint16 if f.bits > 8 else np.uint8)
    ref = codes.view(t).astype(np.float64) if f.bits in (8, 16) else codes.astype(np.uint8).view(t).astype(np.float64)
    assert _same(f.decode(codes), ref)
    finite = np.isfinite(ref)
    assert np.array_equal(f.encode(ref[finite]), codes[finite])
    pos = np.unique(ref[finite & (ref >= 0)])
    mids = (pos[:-1] + pos[1:]) / 2
    half_ulp_above = pos[-1] + (pos[-1] - pos[-2]) / 2  # max + half an ulp: the edge of the range
    probes = np.concatenate([mids, pos * 1.0625, [half_ulp_above]]).astype(np.float32)  # float32-representable
    probes = probes[np.abs(probes) <= half_ulp_above]
    for p in (probes, -probes):
        p64 = p.astype(np.float64)
        assert _same(f.quantize(p64), p.astype(t).astype(np.float64)), name


def test_e3m4_matches_ml_dtypes():
    f = Minifloat(3, 4)
    codes = np.arange(256, dtype=np.uint8)
    assert _same(f.decode(codes), codes.view(ml_dtypes.float8_e3m4).astype(np.float64))


def test_fp32_matches_numpy_float32():
    rng = np.random.default_rng(1)
    x = rng.standard_normal(50_000) * np.exp(rng.uniform(-100, 100, 50_000))
    x = np.concatenate([x, [3.4028235677973366e38, 3.4028235e38 * 1.0000001, 1e-46, 7e-46]])
    with np.errstate(over="ignore"):
        assert _same(CATALOG["fp32"].quantize(x), x.astype(np.float32).astype(np.float64))


# ---------------------------------------------------------------- exhaustive small formats
@pytest.mark.parametrize("fmt", SMALL, ids=str)
def test_every_code_decodes_encodes_and_orders(fmt):
    codes = np.arange(1 << fmt.bits, dtype=np.uint64)
    vals = fmt.decode(codes)
    fin = np.isfinite(vals)
    canonical = fin.copy()
    if not fmt.subnormals:  # field 0 with a nonzero mantissa decodes as zero: not canonical
        field0 = ((codes >> np.uint64(fmt.man_bits)) & np.uint64((1 << fmt.exp_bits) - 1)) == 0
        canonical &= ~(field0 & ((codes & np.uint64((1 << fmt.man_bits) - 1)) != 0))
    assert np.array_equal(fmt.encode(vals[canonical]), codes[canonical])
    assert _same(fmt.quantize(vals[fin]), vals[fin])
    uniq = fmt.values()
    assert (np.diff(uniq) > 0).all()
    assert uniq[-1] == fmt.max and uniq[0] == -fmt.max
    pos = uniq[uniq > 0]
    assert pos[0] == fmt.min_subnormal
    assert fmt.min_normal in pos
    if fmt.has_nan:
        assert np.isnan(fmt.decode([fmt.nan_code]))[0]
    assert np.isinf(vals).any() == fmt.has_inf


@pytest.mark.parametrize("fmt", SMALL, ids=str)
@pytest.mark.parametrize("mode", DETERMINISTIC)
def test_rounding_table_against_fraction_reference(fmt, mode):
    grid = np.array([float(g) for g in minifloat_grid(fmt)])
    mids = (grid[:-1] + grid[1:]) / 2
    quarter = grid[:-1] + (grid[1:] - grid[:-1]) / 4
    probes = np.concatenate([mids, quarter, [-0.0]])
    for overflow in ("natural", "saturate"):
        got = fmt.quantize(probes, rounding=mode, overflow=overflow)
        want = np.array([minifloat_reference(fmt, x, mode, overflow) for x in probes])
        assert _same(got, want), (overflow, probes[~((got == want) | np.isnan(got) & np.isnan(want))][:4])
        fin = ~np.isnan(got)
        assert _same(fmt.decode(fmt.encode(probes[fin], rounding=mode, overflow=overflow)), got[fin])


# ---------------------------------------------------------------- overflow and specials
@pytest.mark.parametrize(
    "specials, mode, pos, neg",
    [
        ("ieee", "nearest_even", np.inf, -np.inf),
        ("ieee", "stochastic", np.inf, -np.inf),
        ("ieee", "toward_zero", 240.0, -240.0),
        ("ieee", "floor", 240.0, -np.inf),
        ("ieee", "ceil", np.inf, -240.0),
        ("fn", "nearest_even", np.nan, np.nan),
        ("fn", "toward_zero", 448.0, -448.0),
        ("none", "nearest_even", 480.0, -480.0),
        ("none", "ceil", 480.0, -480.0),
    ],
)
def test_natural_overflow_follows_ieee_754_section_7_4(specials, mode, pos, neg):
    f = Minifloat(4, 3, specials=specials)
    got = f.quantize([1e4, -1e4], rounding=mode, rng=0)
    assert _same(got, [pos, neg])
    assert _same(f.quantize([1e4, -1e4, np.inf, -np.inf], overflow="saturate"), [f.max, -f.max, f.max, -f.max])


def test_infinite_and_nan_inputs():
    assert _same(CATALOG["e5m2"].quantize([np.inf, -np.inf, np.nan]), [np.inf, -np.inf, np.nan])
    assert _same(CATALOG["e4m3fn"].quantize([np.inf, -np.inf, np.nan]), [np.nan, np.nan, np.nan])
    assert _same(CATALOG["fp4_e2m1"].quantize([np.inf, -np.inf]), [6.0, -6.0])
    assert CATALOG["e4m3fn"].encode([np.nan]).tolist() == [0x7F]
    assert CATALOG["fp16"].encode([np.nan]).tolist() == [0x7E00]
    with pytest.raises(ValueError, match="NaN input"):
        CATALOG["fp4_e2m1"].quantize([np.nan])


def test_no_subnormals_rounds_on_zero_min_normal_grid():
    f = Minifloat(4, 3, subnormals=False)
    mn = f.min_normal
    assert f.quantize([mn * 0.49, mn * 0.5, mn * 0.51, -mn * 0.51]).tolist() == [0.0, 0.0, mn, -mn]
    assert f.quantize([mn * 0.5], rounding="nearest_away").tolist() == [mn]
    assert f.quantize([mn * 0.01], rounding="ceil").tolist() == [mn]
    assert f.decode([0b0_0000_101]).tolist() == [0.0]  # field 0 decodes to zero whatever the mantissa


def test_rounding_is_done_once_from_float64():
    # 1 + 2**-4 + 2**-30 is above the e4m3 midpoint 1.0625; through float32 it would still be, but a value that
    # float32 rounds onto the midpoint must not tie: 1.0625 + 2**-40 rounds up.
    f = Minifloat(4, 3)
    assert f.quantize([1.0625 + 2.0**-40]).tolist() == [1.125]
    assert f.quantize([1.0625]).tolist() == [1.0]


def test_stochastic_rounding_is_unbiased_and_seeded():
    f = Minifloat(4, 3)
    x = np.full(100_000, 1.03)
    q = f.quantize(x, rounding="stochastic", rng=11)
    assert set(np.unique(q)) == {1.0, 1.125}
    assert abs(q.mean() - 1.03) < 0.002
    assert np.array_equal(q, f.quantize(x, rounding="stochastic", rng=11))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(exp_bits=0, man_bits=3), "exp_bits=0"),
        (dict(exp_bits=4, man_bits=-1), "man_bits=-1"),
        (dict(exp_bits=4, man_bits=60), "man_bits=60"),
        (dict(exp_bits=1, man_bits=3, specials="ieee"), "exponent range is empty"),
        (dict(exp_bits=4, man_bits=0, specials="ieee"), "no NaN code"),
        (dict(exp_bits=4, man_bits=3, specials="ocp"), "specials='ocp'"),
        (dict(exp_bits=4, man_bits=3, bias=2.5), "bias=2.5"),
        (dict(exp_bits=4, man_bits=3, subnormals=1), "subnormals=1"),
        (dict(exp_bits=11, man_bits=52, bias=-1000), "outside float64"),
    ],
)
def test_invalid_parameters_name_themselves(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        Minifloat(**kwargs)


def test_wrap_is_rejected_and_codes_checked():
    f = CATALOG["e4m3fn"]
    with pytest.raises(ValueError, match="wrap"):
        f.quantize([1.0], overflow="wrap")
    with pytest.raises(ValueError, match="codes out of range"):
        f.decode([256])


def test_values_limited_to_16_bits():
    assert len(CATALOG["fp16"].values()) == 2 * (31 * 1024) - 1
    with pytest.raises(ValueError, match="16 bits"):
        CATALOG["fp32"].values()


@pytest.mark.parametrize("fmt", [
    Minifloat(4, 3), Minifloat(5, 2), Minifloat(5, 10), Minifloat(8, 7), Minifloat(4, 3, specials="fn"),
    Minifloat(4, 3, subnormals=False), Minifloat(3, 0, specials="fn"), Minifloat(2, 1), Minifloat(8, 23),
    Minifloat(11, 12), Minifloat(6, 5, bias=3), Minifloat(4, 3, specials="none", subnormals=False),
])
@pytest.mark.parametrize("overflow", ["saturate", "natural"])
def test_bitwise_nearest_even_equals_the_frexp_path_bit_for_bit(monkeypatch, fmt, overflow):
    """The float64-bit rounding of nearest-even against the general frexp/rint/ldexp path: every value, every
    midpoint and its neighbours, random magnitudes over 18 decades, zeros of both signs, infinities, float64
    subnormals, overflow; and blocks (large arrays) against one pass."""
    rng = np.random.default_rng(fmt.bits)
    v = fmt._all_values() if fmt.bits <= 16 else np.array([fmt.min_subnormal, fmt.min_normal, 1.0, 1.5, fmt.max])
    mids = (v[:-1] + v[1:]) / 2
    x = np.concatenate([rng.normal(size=4000) * 10.0 ** rng.uniform(-12, 6, size=4000), v, mids,
                        np.nextafter(mids, np.inf), np.nextafter(mids, -np.inf),
                        [0.0, -0.0, np.inf, -np.inf, fmt.max * 1.0001, -fmt.max * 2, 5e-324, -5e-324, 2.2e-308]])
    assert fmt._bitwise_nearest_even
    fast = fmt.quantize(x, "nearest_even", overflow)
    monkeypatch.setattr(Minifloat, "_bitwise_nearest_even", property(lambda self: False))
    with np.errstate(over="ignore"):
        slow = fmt.quantize(x, "nearest_even", overflow)
    assert np.array_equal(np.isnan(fast), np.isnan(slow))
    keep = ~np.isnan(slow)
    assert np.array_equal(fast[keep].view(np.uint64), slow[keep].view(np.uint64))  # -0.0 included
    monkeypatch.undo()
    reps = np.tile(x[keep], 1 + 3 * QUANTIZE_BLOCK // int(keep.sum()))
    big = reps[: 3 * (len(reps) // 3)].reshape(-1, 3)[: 2 * QUANTIZE_BLOCK // 3 + 7]  # across block edges
    blocked = fmt.quantize(big, "nearest_even", overflow)
    assert blocked.shape == big.shape
    assert np.array_equal(blocked.view(np.uint64), fmt._quantize(big, Rounding.NEAREST_EVEN,
                                                                  Overflow.coerce(overflow, "overflow"),
                                                                  None).view(np.uint64))
