from fractions import Fraction

import numpy as np
import pytest

from ristretto_sim.emulator import ConvGeometry, LayerFormats, emulate_conv2d
from ristretto_sim.emulator.minifloat_mac import kulisch_bits, minifloat_matmul, round_to_odd_sum
from ristretto_sim.formats import CATALOG, FixedPoint, Minifloat
from tests.emulator.reference import minifloat_round_ref

E4FN, E4, E5, FP16, BF16, FP32 = (CATALOG[n] for n in ("e4m3fn", "e4m3", "e5m2", "fp16", "bf16", "fp32"))


def _values(fmt, shape, rng, spread=3.0):
    v = fmt.quantize(rng.normal(size=shape) * np.exp(rng.normal(size=shape) * spread), overflow="saturate")
    return np.where(np.isfinite(v), v, 0.0)


def _exact(a, w):
    M, K = a.shape
    N = w.shape[1]
    return [
        [sum(Fraction(float(a[m, k])) * Fraction(float(w[k, n])) for k in range(K)) for n in range(N)] for m in range(M)
    ]


@pytest.mark.parametrize("fmt", [E4FN, E4, E5, FP16, CATALOG["e3m2"], CATALOG["e2m1"]], ids=str)
def test_kulisch_is_the_exact_sum(fmt):
    rng = np.random.default_rng(fmt.bits)
    a = _values(fmt, (5, 40), rng)
    w = _values(fmt, (40, 3), rng)
    a[0] = fmt.max  # the largest products
    w[:, 0] = fmt.max
    a[1] = fmt.min_subnormal  # the smallest
    w[:, 1] = -fmt.min_subnormal
    a[2, :20] = fmt.max  # huge and tiny in one sum: only a Kulisch accumulator keeps the tiny ones
    a[2, 20:] = fmt.min_subnormal
    ex = _exact(a, w)
    r = minifloat_matmul(a, w, fmt, fmt)
    assert np.array_equal(r.values, np.array([[float(v) for v in row] for row in ex]))  # nearest float64
    for readout in (fmt, FP16, FixedPoint(16, 6)):
        r = minifloat_matmul(a, w, fmt, fmt, readout=readout)
        if isinstance(readout, FixedPoint):
            want = [[float(readout.quantize(float(v))) for v in row] for row in ex]  # float(v) is exact here
        else:
            want = [[minifloat_round_ref(v, readout) for v in row] for row in ex]
        assert np.array_equal(r.values, np.array(want), equal_nan=True), readout
    assert r.accumulator == f"kulisch{kulisch_bits(fmt, fmt, 40)}"


def test_kulisch_widths_per_format():
    assert kulisch_bits(E4FN, E4FN, 1152) == 48
    assert kulisch_bits(E5, E5, 1152) == 76
    assert kulisch_bits(FP16, FP16, 1024) == 91
    assert kulisch_bits(E4FN, E5, 1) == (8 + 9) + (15 + 16) + 2 + 0 + 1
    with pytest.raises(ValueError, match="float accumulator"):
        minifloat_matmul(np.zeros((1, 2)), np.zeros((2, 1)), BF16, BF16)


def test_wide_kulisch_two_word_path():
    """e5m2 extremes: integer significand sums above 2**63 need the two-word accumulator."""
    a = np.full((2, 64), E5.max)
    w = np.full((64, 2), E5.max)
    w[:, 1] = -E5.max
    a[1, -1] = E5.min_subnormal
    w[-1, :] = E5.min_subnormal
    ex = _exact(a, w)
    r = minifloat_matmul(a, w, E5, E5, readout=FP32)
    assert np.array_equal(r.values, np.array([[minifloat_round_ref(v, FP32) for v in row] for row in ex]))


def test_float32_accumulator_matches_numpy_float32():
    rng = np.random.default_rng(1)
    a = _values(E4FN, (6, 200), rng)
    w = _values(E4FN, (200, 5), rng)
    bias = np.array([0.1, -3.0, 1e-3, 0.0, 7.0])
    r = minifloat_matmul(a, w, E4FN, E4FN, accumulator=FP32, bias=bias)
    acc = np.broadcast_to(bias.astype(np.float32), (6, 5)).copy()
    for k in range(200):
        acc = acc + (a[:, k, None] * w[None, k, :]).astype(np.float32)  # exact products, float32 additions
    assert np.array_equal(r.values, acc.astype(np.float64))


@pytest.mark.parametrize("acc_fmt,product", [(FP16, None), (FP16, E5), (Minifloat(5, 4), None)], ids=str)
def test_float_accumulation_one_rounding_per_addition(acc_fmt, product):
    rng = np.random.default_rng(2)
    a = _values(E4, (4, 30), rng, spread=2.0)
    w = _values(E4, (30, 3), rng, spread=2.0)
    r = minifloat_matmul(a, w, E4, E4, accumulator=acc_fmt, product_format=product)
    for m in range(4):
        for n in range(3):
            s = 0.0
            for k in range(30):
                p = Fraction(float(a[m, k])) * Fraction(float(w[k, n]))
                if product is not None:
                    p = minifloat_round_ref(p, product)
                    if not np.isfinite(p):
                        s = p
                        break
                    p = Fraction(p)
                s = minifloat_round_ref(Fraction(s) + p, acc_fmt)
                if not np.isfinite(s):
                    break
            assert r.values[m, n] == s or (np.isnan(s) and np.isnan(r.values[m, n])), (m, n)


def test_sticky_nan_and_inf_flags():
    inf, nan = np.inf, np.nan
    a = np.array([[inf, 1.0, 2.0], [inf, -inf, 1.0], [nan, 1.0, 1.0], [inf, 1.0, 1.0], [1.0, 2.0, 3.0]])
    w = np.array([[1.0], [1.0], [1.0]])
    w2 = np.array([[0.0], [1.0], [1.0]])  # 0 x inf = NaN
    r = minifloat_matmul(a, w, E5, E5)
    assert r.values[0, 0] == inf and np.isnan(r.values[1, 0]) and np.isnan(r.values[2, 0])
    assert r.values[3, 0] == inf and r.values[4, 0] == 6.0 and r.nan_count == 2 and r.inf_count == 2
    r = minifloat_matmul(a, w2, E5, E5)
    assert np.isnan(r.values[0, 0]) and r.values[4, 0] == 5.0
    r = minifloat_matmul(a, -w, E5, E5, accumulator=FP16)
    assert r.values[0, 0] == -inf and np.isnan(r.values[1, 0])
    r = minifloat_matmul(a[:1], w, E5, E5, readout=E4FN)  # fn formats have no Inf: the readout is NaN
    assert np.isnan(r.values[0, 0])
    r = minifloat_matmul(np.array([[1.0, 1.0]]), np.array([[E4FN.max], [E4FN.max]]), E4FN, E4FN, readout=E4FN)
    assert np.isnan(r.values[0, 0])  # the exact sum 896 overflows e4m3fn: NaN (OCP non-saturating)
    r = minifloat_matmul(np.array([[1.0]]), np.array([[1.0]]), E4FN, E4FN, bias=np.array([nan]))
    assert np.isnan(r.values[0, 0])


def test_fp16_accumulator_overflows_to_inf():
    a = np.full((1, 4), E5.max)
    w = np.full((4, 1), 2.0)
    r = minifloat_matmul(a, w, E5, E5, accumulator=FP16)
    assert r.values[0, 0] == np.inf and r.inf_count == 1


def test_round_to_odd_sum():
    x = np.array([1.0, 1.0, 2.0**53, 1.0])
    y = np.array([2.0**-60, -(2.0**-60), 1.0, 0.5])
    s = round_to_odd_sum(x, y)
    assert s[0] == np.nextafter(1.0, 2.0) and s[1] == np.nextafter(1.0, 0.0)
    assert s[2] == 2.0**53 + 2 and s[3] == 1.5


def test_operand_checks():
    with pytest.raises(ValueError, match="not all representable"):
        minifloat_matmul(np.array([[0.3]]), np.array([[1.0]]), E4FN, E4FN)
    with pytest.raises(ValueError, match="shape mismatch"):
        minifloat_matmul(np.zeros((2, 3)), np.zeros((2, 3)), E4FN, E4FN)
    with pytest.raises(ValueError, match="product_format"):
        minifloat_matmul(np.zeros((1, 1)), np.zeros((1, 1)), E4FN, E4FN, product_format=FP16)
    with pytest.raises(TypeError, match="accumulator="):
        minifloat_matmul(np.zeros((1, 1)), np.zeros((1, 1)), E4FN, E4FN, accumulator=FixedPoint(32, 0))


def test_conv_layer_kulisch_equals_exact_sum_rounded_once():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(1, 4, 5, 5))
    w = rng.normal(size=(4, 2, 3, 3)) * 0.2
    b = rng.normal(size=4)
    f = LayerFormats(E4FN, E4FN, FP16, E4FN)
    r = emulate_conv2d(x, w, b, f, ConvGeometry(padding=1, groups=2))
    xq, wq, bq = E4FN.quantize(x), E4FN.quantize(w), FP16.quantize(b)
    xp = np.pad(xq, ((0, 0), (0, 0), (1, 1), (1, 1)))
    for o in range(4):
        g = o // 2
        for yy in range(5):
            for xx in range(5):
                s = Fraction(float(bq[o]))
                for c in range(2):
                    for ky in range(3):
                        for kx in range(3):
                            s += Fraction(float(xp[0, 2 * g + c, yy + ky, xx + kx])) * Fraction(float(wq[o, c, ky, kx]))
                assert r.values[0, o, yy, xx] == minifloat_round_ref(s, E4FN)
    assert r.stats.datapath == "minifloat-kulisch" and r.stats.accumulator.startswith("kulisch")
    assert r.codes.dtype == np.uint8 and np.array_equal(E4FN.decode(r.codes), r.values)


def test_readout_saturation_count_and_layer_stats():
    from ristretto_sim.emulator import emulate_linear

    a = np.array([[E4FN.max, E4FN.max], [1.0, 1.0], [-E4FN.max, -1.0]])
    w = np.array([[1.0], [1.0]])
    r = minifloat_matmul(a, w, E4FN, E4FN, readout=FixedPoint(12, 2))  # range [-512, 511.75]
    assert r.saturations == 1 and r.values[:, 0].tolist() == [511.75, 2.0, -449.0]
    res = emulate_linear(a, w.T, None, LayerFormats(E4FN, E4FN, outputs=E4))  # e4m3 (ieee) max is 240
    assert res.stats.output_saturations == 2 and res.values[0, 0] == np.inf and res.values[2, 0] == -np.inf


@pytest.mark.parametrize("name", ["e4m3fn", "e4m3", "e5m2"])
def test_every_product_exhaustively_against_ml_dtypes(name):
    """All pairs of finite codes (K = 1): exact products, read out into the same format, against ml_dtypes."""
    ml_dtypes = pytest.importorskip("ml_dtypes", reason="ml_dtypes is not installed "
                              "(it is in the test extra: pip install -e '.[test]')")
    fmt = CATALOG[name]
    twin = {"e4m3fn": ml_dtypes.float8_e4m3fn, "e4m3": ml_dtypes.float8_e4m3, "e5m2": ml_dtypes.float8_e5m2}[name]
    v = fmt.values()
    r = minifloat_matmul(v[:, None], v[None, :], fmt, fmt)
    assert np.array_equal(r.values, v[:, None] * v[None, :])  # exact in float64
    r = minifloat_matmul(v[:, None], v[None, :], fmt, fmt, readout=fmt)
    # the products are exact in float32 (two 4-bit significands), so ml_dtypes' float32 path rounds once
    want = (v[:, None] * v[None, :]).astype(np.float32).astype(twin).astype(np.float64)
    assert np.array_equal(r.values, want, equal_nan=True)


def test_fp32_native_path_equals_the_generic_one(monkeypatch):
    """The float32 fast path (NumPy float32 additions) equals the generic one-rounding-per-addition path."""
    from ristretto_sim.emulator import minifloat_mac as mm

    rng = np.random.default_rng(11)
    a = _values(E5, (7, 90), rng, spread=4.0)
    w = _values(E5, (90, 6), rng, spread=4.0)
    a[0, :3] = E5.max  # overflow to inf inside the accumulator is possible only beyond float32's range: not here
    bias = rng.normal(size=6)
    native = []
    real = mm._float_accumulate
    monkeypatch.setattr(mm, "_float_accumulate", lambda *args: native.append(args[7]) or real(*args))
    fast = minifloat_matmul(a, w, E5, E5, accumulator=FP32, bias=bias)
    monkeypatch.setattr(mm, "_products_exact_in_float32", lambda *_: False)
    slow = minifloat_matmul(a, w, E5, E5, accumulator=FP32, bias=bias)
    assert native == [True, False]  # the two calls did take the two paths
    assert np.array_equal(fast.values, slow.values)


def test_docstring_table_of_kulisch_widths_is_true():
    import re

    from ristretto_sim.emulator import minifloat_mac

    rows = re.findall(r"^(\w+)\s+(\d+)\s+(-\d+)\s+(\d+)\s+(\d+)$", minifloat_mac.__doc__, flags=re.M)
    assert len(rows) == 9
    for name, emax, q, k1024, k1152 in rows:
        f = CATALOG[name]
        assert (f.emax, f.emin - f.man_bits) == (int(emax), int(q))
        assert (kulisch_bits(f, f, 1024), kulisch_bits(f, f, 1152)) == (int(k1024), int(k1152))
