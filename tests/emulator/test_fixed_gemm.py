import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ristretto_sim.emulator import default_accumulator, fixed_dot, fixed_matmul
from ristretto_sim.emulator.accumulator import WALK_CHUNK, bias_to_accumulator, wide_accumulator
from ristretto_sim.emulator.wide import WideInt
from ristretto_sim.formats import FixedPoint
from tests.emulator.reference import matmul_ref

I8 = FixedPoint(8, 0)


def _check(a, w, in_fmt, w_fmt, acc, mode, bias=None):
    r = fixed_matmul(a, w, in_fmt, w_fmt, accumulator=acc, overflow=mode, bias_codes=bias)
    want, count = matmul_ref(a, w, bias, acc.min_code, acc.max_code, mode)
    assert r.codes.dtype == np.int64
    assert (r.codes.astype(object) == want).all()
    assert r.overflow_count == count
    return r, count


@pytest.mark.parametrize("mode", ["saturate", "wrap"])
@pytest.mark.parametrize("acc_bits", [12, 16, 20, 32])
def test_random_against_python_integers(mode, acc_bits):
    rng = np.random.default_rng(acc_bits)
    a = rng.integers(-128, 128, size=(9, 300))
    w = rng.integers(-128, 128, size=(300, 7))
    bias = rng.integers(-(2 ** (acc_bits - 2)), 2 ** (acc_bits - 2), size=7)
    _check(a, w, I8, I8, FixedPoint(acc_bits, 0), mode, bias)


@pytest.mark.parametrize("mode", ["saturate", "wrap"])
def test_overflow_both_ways_and_recovery(mode):
    """Rows that run over the top, under the bottom, and ones that saturate and come back into range."""
    k = 2 * WALK_CHUNK + 37  # several walk chunks
    a = np.zeros((4, k), dtype=np.int64)
    w = np.ones((k, 3), dtype=np.int64) * 127
    a[0] = 127  # all positive: far above
    a[1] = -128  # all negative: far below
    a[2, : k // 2] = 127  # up and over, then back down: saturation changes the result, wrap does not
    a[2, k // 2 :] = -127
    a[3, ::2] = 100  # alternating, stays near zero
    a[3, 1::2] = -100
    r, count = _check(a, w, I8, I8, FixedPoint(16, 0), mode)
    assert count == 9 if mode == "saturate" else count >= 6  # 3 rows x 3 columns clip


def test_all_extreme_codes_k1_and_klarge():
    for k in (1, 2, 4097):
        a = np.full((2, k), -128)
        w = np.full((k, 2), -128)
        _check(a, w, I8, I8, FixedPoint(20, 0), "saturate")
        _check(a, w, I8, I8, FixedPoint(20, 0), "wrap")


def test_default_accumulator_cannot_overflow():
    k = 1000
    acc = default_accumulator(I8, I8, k)
    assert acc.bits == 8 + 8 + 10 + 1 and acc.frac_bits == 0
    a = np.full((1, k), -128)
    w = np.full((k, 1), -128)
    r = fixed_matmul(a, w, I8, I8)
    assert r.accumulator == acc and r.overflow_count == 0 and int(r.codes[0, 0]) == k * 2**14


def test_unsigned_inputs_and_per_channel_weights():
    rng = np.random.default_rng(5)
    fin = FixedPoint(8, 4, signed=False)
    fw = FixedPoint(6, (3, 5, 4))
    acc = FixedPoint(18, (7, 9, 8))
    a = rng.integers(0, 256, size=(6, 90))
    w = rng.integers(-32, 32, size=(90, 3))
    a[0] = 255
    w[:, 1] = -32
    for mode in ("saturate", "wrap"):
        _check(a, w, fin, fw, acc, mode, bias=np.array([5000, -70000, 3]))


def test_unsigned_accumulator():
    rng = np.random.default_rng(6)
    a = rng.integers(0, 16, size=(5, 40))
    w = rng.integers(-8, 8, size=(40, 4))
    u4 = FixedPoint(4, 0, signed=False)
    for mode in ("saturate", "wrap"):
        _check(a, w, u4, FixedPoint(4, 0), FixedPoint(9, 0, signed=False), mode)


def test_wide_operands_limb_path():
    rng = np.random.default_rng(7)
    f = FixedPoint(28, 10)
    a = rng.integers(f.min_code, f.max_code + 1, size=(3, 50))
    w = rng.integers(f.min_code, f.max_code + 1, size=(50, 2))
    for mode in ("saturate", "wrap"):
        _check(a, w, f, f, FixedPoint(62, 20), mode)
        _check(a, w, f, f, FixedPoint(60, 20), mode)


def test_dot():
    a = np.array([127, -128, 5])
    w = np.array([127, 127, -3])
    r = fixed_dot(a, w, I8, I8, accumulator=FixedPoint(15, 0), bias_code=-100)
    assert r.codes.shape == () and int(r.codes) == max(-(2**14), -100 + 127 * 127 - 128 * 127 - 15)
    r = fixed_dot(a[:1], w[:1], I8, I8, accumulator=FixedPoint(14, 0))  # K = 1 overflow: 16129 > 8191
    assert int(r.codes) == 8191 and r.overflow_count == 1


def test_contract_violations():
    a = np.zeros((2, 3), dtype=np.int64)
    w = np.zeros((3, 2), dtype=np.int64)
    with pytest.raises(ValueError, match="frac_bits must equal"):
        fixed_matmul(a, w, FixedPoint(8, 2), FixedPoint(8, 3), accumulator=FixedPoint(32, 4))
    with pytest.raises(ValueError, match="shape mismatch"):
        fixed_matmul(a, w.T, I8, I8)
    with pytest.raises(ValueError, match="outside"):
        fixed_matmul(a + 200, w, I8, I8)
    with pytest.raises(TypeError, match="integer codes"):
        fixed_matmul(a.astype(float), w, I8, I8)
    with pytest.raises(ValueError, match="at most 127"):
        fixed_matmul(a, w, I8, I8, accumulator=FixedPoint(128, 0, signed=False))
    with pytest.raises(ValueError, match="overflow='bogus'"):
        fixed_matmul(a, w, I8, I8, overflow="bogus")
    with pytest.raises(TypeError, match="in_fmt"):
        fixed_matmul(a, w, "int8", I8)


def test_bias_preload_rounds_with_layer_mode_and_saturates():
    acc = FixedPoint(8, 2)
    fr = np.array([2, 2, 2, 2])
    codes, sat = bias_to_accumulator([0.375, -0.375, 100.0, -100.0], acc, fr, "nearest_even")
    assert codes.tolist() == [2, -2, 127, -128] and sat == 2
    codes, _ = bias_to_accumulator([0.375, -0.375, 0.0, 0.0], acc, fr, "floor")
    assert codes.tolist()[:2] == [1, -2]


@settings(max_examples=40, deadline=None)
@given(
    m=st.integers(1, 3),
    k=st.integers(1, 300),
    n=st.integers(1, 3),
    acc_bits=st.integers(9, 20),
    mode=st.sampled_from(["saturate", "wrap"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_property_matches_reference(m, k, n, acc_bits, mode, seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(-128, 128, size=(m, k))
    w = rng.integers(-128, 128, size=(k, n))
    bias = rng.integers(-(2 ** (acc_bits - 1)), 2 ** (acc_bits - 1), size=n)
    _check(a, w, I8, I8, FixedPoint(acc_bits, 0), mode, bias)


def test_apytypes_oracle():
    apy = pytest.importorskip("apytypes", reason="APyTypes is not installed "
                              "(it is in the test extra: pip install -e '.[test]')")
    rng = np.random.default_rng(8)
    fa, fw = FixedPoint(8, 5), FixedPoint(8, 7)
    a = rng.integers(-128, 128, size=(40, 200))
    w = rng.integers(-128, 128, size=(200, 16))
    A = apy.APyFixedArray.from_float(fa.decode(a), int_bits=3, frac_bits=5)
    W = apy.APyFixedArray.from_float(fw.decode(w), int_bits=1, frac_bits=7)
    C = (A @ W).cast(int_bits=5, frac_bits=12, overflow=apy.OverflowMode.WRAP)  # 17-bit wrapping accumulator
    got = fixed_matmul(a, w, fa, fw, accumulator=FixedPoint(17, 12), overflow="wrap")
    assert np.array_equal(np.ldexp(got.codes.astype(float), -12), np.asarray(C.to_numpy(), dtype=float))
    assert got.overflow_count > 0


@pytest.mark.parametrize("dense_fraction", [0.0, 1.0])
@pytest.mark.parametrize("chunk", [4, 64])
def test_dense_and_sparse_rewalks_agree_with_reference(monkeypatch, dense_fraction, chunk):
    """Force the dense (every output) or the sparse (unsafe outputs only) re-walk; short and long chunks."""
    from ristretto_sim.emulator import accumulator as acc_mod

    monkeypatch.setattr(acc_mod, "DENSE_WALK_FRACTION", dense_fraction)
    monkeypatch.setattr(acc_mod, "MIN_WALK_CHUNK", chunk)
    monkeypatch.setattr(acc_mod, "WALK_CHUNK", chunk)
    rng = np.random.default_rng(9)
    a = rng.integers(-128, 128, size=(2, 8, 150))
    w = rng.integers(-128, 128, size=(2, 150, 5))
    a[0, 0] = 127
    w[0, :, 0] = 127
    for bits in (15, 18):
        acc = FixedPoint(bits, 0)
        r = fixed_matmul(a, w, I8, I8, accumulator=acc, bias_codes=np.array([0, 1000, -1000, 5, -5]))
        count = 0
        for g in range(2):
            want, c = matmul_ref(a[g], w[g], [0, 1000, -1000, 5, -5], acc.min_code, acc.max_code, "saturate")
            assert (r.codes[g].astype(object) == want).all()
            count += c
        assert r.overflow_count == count > 0


def test_narrow_integer_dtypes_with_extreme_codes():
    """int8 codes of -128 (whose NumPy abs overflows) through the saturation walk."""
    rng = np.random.default_rng(10)
    a = rng.integers(-128, 128, size=(6, 300)).astype(np.int8)
    w = rng.integers(-128, 128, size=(300, 4)).astype(np.int8)
    a[:3] = -128
    w[:, :2] = -128
    for bits in (16, 21):
        _check(a, w, I8, I8, FixedPoint(bits, 0), "saturate")
        _check(a, w, I8, I8, FixedPoint(bits, 0), "wrap")


def test_unsigned_everything():
    """Unsigned inputs, weights and accumulator: only the top can clip."""
    rng = np.random.default_rng(12)
    u8 = FixedPoint(8, 0, signed=False)
    a = rng.integers(0, 256, size=(5, 200))
    w = rng.integers(0, 256, size=(200, 3))
    a[0] = 255
    for bits in (18, 24):
        acc = FixedPoint(bits, 0, signed=False)
        for mode in ("saturate", "wrap"):
            r, count = _check(a, w, u8, u8, acc, mode, bias=np.array([0, 7, 100]))
            assert (count > 0) == (bits == 18)


def test_large_k_conv_layer_against_float64_sums():
    """K = 3*3*512 with extreme codes: one float32 GEMM would be inexact; the exact sums fit float64."""
    from ristretto_sim.emulator import ConvGeometry, fixed_conv2d

    rng = np.random.default_rng(13)
    x = rng.integers(-128, 128, size=(1, 512, 4, 4))
    w = rng.integers(-128, 128, size=(8, 512, 3, 3))
    x[0, :, 0, 0] = -128
    w[0] = -128
    r = fixed_conv2d(x, w, I8, I8, ConvGeometry(padding=1), accumulator=FixedPoint(32, 0))
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
    want = np.zeros((1, 8, 4, 4))
    for ky in range(3):
        for kx in range(3):
            want += np.einsum("nchw,oc->nohw", xp[:, :, ky : ky + 4, kx : kx + 4], w[:, :, ky, kx].astype(float))
    assert np.array_equal(r.codes, want.astype(np.int64)) and r.overflow_count == 0


@pytest.mark.slow
def test_big_saturating_gemm_against_a_plain_sequential_loop():
    """A layer-sized GEMM with a narrow saturating accumulator against the obvious k-by-k loop (int64)."""
    rng = np.random.default_rng(14)
    a = rng.integers(-128, 128, size=(512, 2304))
    w = rng.integers(-128, 128, size=(2304, 64))
    for bits in (18, 22):
        acc = FixedPoint(bits, 0)
        bias = rng.integers(acc.min_code, acc.max_code + 1, size=64)
        r = fixed_matmul(a, w, I8, I8, accumulator=acc, bias_codes=bias)
        s = np.broadcast_to(bias, (512, 64)).astype(np.int64).copy()
        clipped = np.zeros(s.shape, bool)
        for k in range(a.shape[1]):
            s += a[:, k, None] * w[None, k, :]
            clipped |= (s > acc.max_code) | (s < acc.min_code)
            np.clip(s, acc.min_code, acc.max_code, out=s)
        assert np.array_equal(r.codes, s) and r.overflow_count == int(clipped.sum())


# ------------------------------------------------------------------ the limb path (sums beyond 2**62)
I32 = FixedPoint(32, 0)
I64 = FixedPoint(64, 0)


def _check_any(a, w, in_fmt, w_fmt, acc, mode, bias=None, wide_bias=False):
    """fixed_matmul against the Python-int walk; codes are a WideInt exactly when the accumulator's range does
    not fit int64."""
    bias_arg = None if bias is None else (WideInt.from_ints(bias, 5) if wide_bias else np.asarray(bias, np.int64))
    r = fixed_matmul(a, w, in_fmt, w_fmt, accumulator=acc, overflow=mode, bias_codes=bias_arg)
    want, count = matmul_ref(a, w, bias, acc.min_code, acc.max_code, mode)
    if wide_accumulator(acc):
        assert isinstance(r.codes, WideInt)
        got = r.codes.to_python()
    else:
        assert r.codes.dtype == np.int64
        got = r.codes.astype(object)
    assert (got == want).all()
    assert r.overflow_count == count
    return r, count


def _codes(rng, fmt, shape):
    return rng.integers(fmt.min_code, fmt.max_code, size=shape, endpoint=True, dtype=np.int64)


@pytest.mark.parametrize("mode", ["saturate", "wrap"])
@pytest.mark.parametrize("acc_bits", [40, 62])
def test_narrow_accumulator_fed_by_32x32_products(mode, acc_bits):
    """Exact sums beyond 2**62 (products up to 2**62) into a narrow accumulator: today's int64 path raised."""
    rng = np.random.default_rng(acc_bits)
    a, w = _codes(rng, I32, (6, 50)), _codes(rng, I32, (50, 5))
    a[0], w[:, 0] = I32.min_code, I32.min_code  # products of 2**62: the largest
    a[1, ::2] = I32.max_code  # a row that swings between the rails
    bias = [int(v) for v in rng.integers(-(2 ** (acc_bits - 2)), 2 ** (acc_bits - 2), size=5)]
    _, count = _check_any(a, w, I32, I32, FixedPoint(acc_bits, 0), mode, bias)
    assert count > 0


@pytest.mark.parametrize("mode", ["saturate", "wrap"])
def test_default_accumulator_of_32_bit_operands(mode):
    rng = np.random.default_rng(5)
    a, w = _codes(rng, I32, (7, 800)), _codes(rng, I32, (800, 4))
    acc = default_accumulator(I32, I32, 800)
    assert acc.bits == 75
    _, count = _check_any(a[:, :800], w, I32, I32, acc, mode)
    assert count == 0
    # a bias at the rails of the 75-bit accumulator: now sums leave the range both ways
    bias = [acc.max_code, acc.min_code, acc.max_code - 2**60, 12345]
    _check_any(a, w, I32, I32, acc, mode, bias, wide_bias=True)


@pytest.mark.parametrize("mode", ["saturate", "wrap"])
@pytest.mark.parametrize("acc_bits", [96, 128])
def test_64_bit_operands_into_wide_accumulators(mode, acc_bits):
    """Products up to 2**126: the walk adds WideInt products."""
    rng = np.random.default_rng(acc_bits)
    a, w = _codes(rng, I64, (5, 9)), _codes(rng, I64, (9, 4))
    a[0], w[:, 0] = I64.min_code, I64.min_code
    a[1] = I64.max_code
    bias = [0, -(2 ** (acc_bits - 2)), 2 ** (acc_bits - 2), 7]
    _, count = _check_any(a, w, I64, I64, FixedPoint(acc_bits, 0), mode, bias, wide_bias=True)
    assert count > 0


@pytest.mark.parametrize("mode", ["saturate", "wrap"])
def test_unsigned_wide_accumulator_and_small_sums(mode):
    rng = np.random.default_rng(2)
    a, w = _codes(rng, I32, (4, 30)), _codes(rng, I32, (30, 3))
    _check_any(a, w, I32, I32, FixedPoint(100, 0, signed=False), mode, [0, 2**99, 2**70], wide_bias=True)
    # small sums into a wide accumulator: the int64 path computes them, codes are still a WideInt
    a16, w16 = _codes(rng, FixedPoint(16, 0), (4, 30)), _codes(rng, FixedPoint(16, 0), (30, 3))
    f16 = FixedPoint(16, 0)
    _check_any(a16, w16, f16, f16, FixedPoint(96, 0), mode, [1, -1, 5])
    _check_any(a16, w16, f16, f16, FixedPoint(90, 0, signed=False), mode, [1, 0, 5])


def test_wide_dot_and_bias_validation():
    a = np.array([2**31 - 1, -(2**31), 5])
    r = fixed_dot(a, a, I32, I32, accumulator=FixedPoint(75, 0), bias_code=2**73)
    assert r.codes.shape == () and r.codes.to_python() == 2**73 + (2**31 - 1) ** 2 + 2**62 + 25
    r = fixed_dot(a, a, I32, I32, accumulator=FixedPoint(75, 0), bias_code=2**74 - 1)
    assert r.codes.to_python() == 2**74 - 1 and r.overflow_count == 1
    with pytest.raises(ValueError, match="outside"):
        fixed_dot(a, a, I32, I32, accumulator=FixedPoint(75, 0), bias_code=2**74)
    codes, sat = bias_to_accumulator([2.0**80, -(2.0**80), 3.5, 1e30], FixedPoint(100, 10), np.full(4, 10))
    assert codes.to_python().tolist() == [2**90, -(2**90), 3584, 2**99 - 1] and sat == 1


def test_product_sources_without_a_limb_path_keep_the_int64_limit():
    """A PE whose products cannot be summed in wide arithmetic (the shift-and-add PE) raises a clear error."""
    from ristretto_sim.emulator.accumulator import ProductSource, accumulate

    class Huge(ProductSource):
        K = 1
        out_shape = (1, 1)

        def column_bound(self):
            return np.array([2.0**70])

    with pytest.raises(ValueError, match="could reach 2\\*\\*62.*int64 sums only"):
        accumulate(Huge(), None, FixedPoint(62, 0))


@pytest.mark.parametrize("mode", ["saturate", "wrap"])
def test_int8_codes_take_the_format_bound_without_a_data_pass(mode, monkeypatch):
    """int8 codes of an 8-bit format need no range check; the format bound (|a| <= 128) stands in for the data's
    column extremes when it still gives one float32 GEMM and no overflow; otherwise the data pass runs."""
    import ristretto_sim.emulator.fixed_gemm as fg

    rng = np.random.default_rng(12)
    a = rng.integers(-128, 128, size=(40, 900)).astype(np.int8)
    a[0] = -128
    w = rng.integers(-128, 128, size=(900, 6)).astype(np.int8)
    used = []
    real = fg._format_extremes
    monkeypatch.setattr(fg, "_format_extremes", lambda *args: used.append(real(*args)) or used[-1])
    _check(a, w, I8, I8, FixedPoint(32, 0), mode)  # bound 128 * sum|w| < 2**24: the format bound
    assert used[-1] is not None
    _check(a, w, I8, I8, FixedPoint(24, 0), mode, bias=np.full(6, 2**22))  # may clip: the data's extremes
    assert used[-1] is None
    _check(a.astype(np.int16), w, I8, I8, FixedPoint(32, 0), mode)  # int16 could hold bad codes: checked
    assert used[-1] is None
    with pytest.raises(ValueError, match="outside"):
        fixed_matmul(np.full((2, 3), 300, np.int16), w[:3], I8, I8, accumulator=FixedPoint(32, 0))
