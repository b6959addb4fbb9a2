"""WideInt primitives against Python integers (unbounded: the obvious reference)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ristretto_sim.emulator import wide as wd
from ristretto_sim.emulator.wide import WideInt
from tests.emulator.reference import float_round_to_odd

N = 5  # 160 bits: every value below holds with guard bits
B127 = 2**127
EDGES = [0, 1, -1, B127 - 1, -B127, B127 // 3, -(B127 // 3), 2**32 - 1, 2**32, -(2**32), 2**64 - 1, -(2**64),
         2**63, -(2**63) - 1, 2**96 + 2**31, -(2**96) + 1]
wide_ints = st.one_of(st.sampled_from(EDGES), st.integers(-B127, B127 - 1))
int64s = st.integers(-(2**63), 2**63 - 1)


def _w(values, n=N):
    return WideInt.from_ints(values, n)


def _list(v: WideInt):
    return [int(x) for x in v.to_python()]


@settings(max_examples=60, deadline=None)
@given(st.lists(int64s, min_size=1, max_size=12), st.integers(0, 100), st.integers(3, 6))
def test_from_int64_with_shift(xs, shift, n):
    got = WideInt.from_int64(np.array(xs, dtype=np.int64), n, shift)
    mod = 2 ** (32 * n)
    want = [((x << shift) + mod // 2) % mod - mod // 2 for x in xs]  # wraps modulo 2**(32 n)
    assert _list(got) == want


@settings(max_examples=80, deadline=None)
@given(st.lists(wide_ints, min_size=1, max_size=10), st.lists(wide_ints, min_size=1, max_size=10))
def test_add_negate_subtract_carry_across_digits(xs, ys):
    m = min(len(xs), len(ys))
    xs, ys = xs[:m], ys[:m]
    a, b = _w(xs), _w(ys)
    assert _list(a) == xs
    assert _list(wd.add(a, b)) == [x + y for x, y in zip(xs, ys, strict=True)]
    assert _list(wd.negate(a)) == [-x for x in xs]
    assert _list(wd.subtract(a, b)) == [x - y for x, y in zip(xs, ys, strict=True)]
    assert wd.is_negative(a).tolist() == [x < 0 for x in xs]
    assert wd.sign(a).tolist() == [(x > 0) - (x < 0) for x in xs]


@settings(max_examples=80, deadline=None)
@given(st.lists(wide_ints, min_size=1, max_size=10), wide_ints, wide_ints)
def test_compare_and_clamp(xs, c, d):
    lo, hi = min(c, d), max(c, d)
    a = _w(xs)
    assert wd.less_than(a, c).tolist() == [x < c for x in xs]
    assert wd.greater_than(a, c).tolist() == [x > c for x in xs]
    v, mask = wd.clamp(a, lo, hi)
    assert _list(v) == [min(max(x, lo), hi) for x in xs]
    assert mask.tolist() == [not lo <= x <= hi for x in xs]
    # comparisons with constants wider than the digits extend the value first
    small = WideInt.from_int64(np.array([-5, 5]), 2)
    assert wd.less_than(small, 2**100).tolist() == [True, True]
    assert wd.greater_than(small, -(2**100)).tolist() == [True, True]


@settings(max_examples=80, deadline=None)
@given(st.lists(wide_ints, min_size=1, max_size=10), st.integers(2, 128), st.booleans())
def test_wrap_to_accumulator_width(xs, bits, signed):
    lo = -(2 ** (bits - 1)) if signed else 0
    got = wd.wrap(_w(xs), bits, signed)
    assert _list(got) == [(x - lo) % 2**bits + lo for x in xs]


@settings(max_examples=80, deadline=None)
@given(st.lists(wide_ints, min_size=1, max_size=10), st.integers(-40, 150), st.integers(1, 62), st.integers(0, 170))
def test_bit_fields(xs, start, width, k):
    a = _w(xs)
    mod = 2 ** (32 * N)

    def field(x, s, wdt):
        x %= mod * 2**80  # two's complement bits with the sign bits above, far enough for every field tested
        return (x >> s) & (2**wdt - 1) if s >= 0 else (x << -s) & (2**wdt - 1)

    assert wd.bits_at(a, start, width).tolist() == [field(x, start, width) for x in xs]
    starts = np.arange(len(xs)) * 7 % 120
    assert wd.bits_at(a, starts, width).tolist() == [field(x, int(s), width) for x, s in zip(xs, starts, strict=True)]
    assert wd.any_bits_below(a, k).tolist() == [x % 2**k != 0 for x in xs]
    ks = np.arange(len(xs)) * 13 % 150
    assert wd.any_bits_below(a, ks).tolist() == [x % 2 ** int(kk) != 0 for x, kk in zip(xs, ks, strict=True)]


@settings(max_examples=80, deadline=None)
@given(st.lists(wide_ints, min_size=1, max_size=10), st.integers(0, 140), st.integers(0, 20))
def test_shifts(xs, s, left):
    a = _w(xs)
    assert _list(wd.shift_right_floor(a, s)) == [x >> s for x in xs]
    small = [x >> 30 for x in xs]  # room for the left shift
    assert _list(wd.shift_left(_w(small), left)) == [x << left for x in small]


@settings(max_examples=80, deadline=None)
@given(st.lists(wide_ints, min_size=1, max_size=10))
def test_int64_and_float64_conversions(xs):
    a = _w(xs)
    fits = [-(2**63) <= x < 2**63 for x in xs]
    assert wd.fits_int64(a).tolist() == fits
    got = wd.to_int64(a)
    assert [int(g) for g, f in zip(got, fits, strict=True) if f] == [x for x, f in zip(xs, fits, strict=True) if f]
    assert wd.to_float64(a).tolist() == [float(x) for x in xs]  # Python rounds ints to nearest even
    assert wd.to_float64(a, odd=True).tolist() == [float_round_to_odd(x) for x in xs]
    assert wd.bit_length(a).tolist() == [abs(x).bit_length() for x in xs]


def test_boundaries_and_shapes():
    v = _w([[B127 - 1, -B127], [0, -1]])
    assert v.shape == (2, 2) and v.ndim == 2 and v.size == 4
    assert v.to_python().tolist() == [[B127 - 1, -B127], [0, -1]]
    assert v.transpose().to_python().tolist() == [[B127 - 1, 0], [-B127, -1]]
    assert v.reshape(4)[1:3].to_python().tolist() == [-B127, 0]
    assert v.take([1], axis=1).to_python().tolist() == [[-B127], [-1]]
    assert v.broadcast_to((3, 2, 2)).to_python()[2].tolist() == [[B127 - 1, -B127], [0, -1]]
    c = wd.concatenate([v, WideInt.from_int64(np.array([[7, 8]]), 2)], axis=0)
    assert c.n == N and c.to_python().tolist()[2] == [7, 8]
    assert v.resize(8).to_python().tolist() == v.to_python().tolist()
    assert wd.where(np.array([[True, False], [False, True]]), v, _w([[1, 2], [3, 4]])).to_python().tolist() == [
        [B127 - 1, 2], [3, -1]]
    assert WideInt.from_python_int(-(2**200), 2).to_python() == 0  # modulo 2**64
    with pytest.raises(ValueError, match="width"):
        wd.bits_at(v, 0, 63)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(int64s, int64s), min_size=1, max_size=12))
def test_exact_products_of_int64(pairs):
    x = np.array([p[0] for p in pairs], dtype=np.int64)
    y = np.array([p[1] for p in pairs], dtype=np.int64)
    assert _list(wd.product_int64(x, y, 5)) == [a * b for a, b in pairs]


# ------------------------------------------------------------------ carry-save sums and int64 windows
terms = st.tuples(int64s, st.integers(0, 140), st.booleans())


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(terms, min_size=3, max_size=3), min_size=1, max_size=8), st.integers(2, 5),
       st.one_of(st.none(), st.lists(wide_ints, min_size=3, max_size=3)))
def test_sum_int64_with_bounds_and_base(rows, n, base):
    """Every term shape (whole or split, with or without a bound), a base, and carries mid-way all give the sum
    modulo 2**(32 n)."""
    parts = []
    for j in range(len(rows)):
        xs = np.array([rows[j][i][0] for i in range(3)], dtype=np.int64)
        shift = rows[j][0][1]
        bound = max(abs(int(v)) for v in xs.tolist()) if rows[j][0][2] else None
        parts.append((xs, shift) if bound is None else (xs, shift, bound))
    b = None if base is None else WideInt.from_ints(base, 5)
    got = wd.sum_int64(parts, n, b)
    mod = 2 ** (32 * n)
    for i in range(3):
        want = sum(int(p[0][i]) << p[1] for p in parts) + (0 if base is None else base[i])
        assert _list(got)[i] == (want + mod // 2) % mod - mod // 2


def test_sum_int64_many_large_terms_carry_in_between():
    """Terms near 2**62 at shifts that keep them whole force carries before the raw digits could overflow."""
    x = np.array([2**62 - 1, -(2**62), 12345, -1], dtype=np.int64)
    parts = [(x, s, 2**62) for s in (0, 0, 1, 32, 33, 64, 31, 63)] * 3
    got = wd.sum_int64(parts, 5, WideInt.from_ints([2**100, -(2**100), 7, 0], 5))
    want = [sum(int(v) << s for _, s, _ in parts) for v in x.tolist()]
    want = [w + b for w, b in zip(want, [2**100, -(2**100), 7, 0], strict=True)]
    assert _list(got) == want
    # broadcasting terms, and a base alone
    got = wd.sum_int64([(np.array([[1], [2]], dtype=np.int64), 40), (np.array([3, 4, 5], dtype=np.int64), 0)], 3)
    assert got.shape == (2, 3) and _list(got.reshape(-1)) == [(r << 40) + c for r in (1, 2) for c in (3, 4, 5)]
    assert _list(wd.sum_int64([], 3, WideInt.from_ints([5, -5], 3))) == [5, -5]
    with pytest.raises(ValueError, match="at least one term"):
        wd.sum_int64([], 3)
    with pytest.raises(ValueError, match="shift"):
        wd.sum_int64([(x, -1)], 3)


@settings(max_examples=80, deadline=None)
@given(st.lists(wide_ints, min_size=1, max_size=10), st.integers(0, 170), st.integers(1, 62))
def test_int64_windows(xs, k, window):
    """low_int64_at, sign_run_from and floor_shift_clamped against Python integers, at and around the window
    edges."""
    extra = [((2**window) << k) - 1, -((2**window) << k), (2**window) << k, -((2**window) << k) - 1]
    xs = xs + [v for v in extra if -B127 <= v < B127]
    a = _w(xs)
    low = wd.low_int64_at(a, k)
    assert [int(v) for v in low.tolist()] == [((v >> k) + 2**63) % 2**64 - 2**63 for v in xs]
    assert wd.sign_run_from(a, k).tolist() == [(v >> k) in (0, -1) for v in xs]
    got = wd.floor_shift_clamped(a, k, window, 2**61)
    want = [v >> k if -(2**window) <= v >> k < 2**window else (2**61 if v >= 0 else -(2**61)) for v in xs]
    assert [int(v) for v in got.tolist()] == want
