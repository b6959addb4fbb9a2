"""The compiled loops (numba) against the NumPy paths they replace (which stay the reference and the fallback) and
against the slow Python-integer / Fraction references: integers, overflow counts and sticky flags identical."""

from fractions import Fraction

import numpy as np
import pytest

from ristretto_sim.emulator import fixed_conv2d, fixed_matmul, jit
from ristretto_sim.emulator.im2col import ConvGeometry
from ristretto_sim.emulator.minifloat_mac import minifloat_matmul
from ristretto_sim.formats import CATALOG, FixedPoint, Minifloat
from tests.emulator.reference import conv2d_ref, matmul_ref, minifloat_round_ref

pytestmark = pytest.mark.skipif(not jit.available(), reason="numba is not installed (the 'fast' extra)")

I8 = FixedPoint(8, 0)
E4, E5, FP16, BF16, E4FN = (CATALOG[n] for n in ("e4m3", "e5m2", "fp16", "bf16", "e4m3fn"))


def _both(monkeypatch, fn):
    """``fn()`` with the compiled loops, then with NumPy only."""
    fast = fn()
    with monkeypatch.context() as m:
        m.setattr(jit, "available", lambda: False)
        slow = fn()
    return fast, slow


@pytest.mark.parametrize("acc_bits", [6, 9, 12, 14, 17])
@pytest.mark.parametrize("shape", [(7, 1, 5), (9, 300, 7), (33, 256, 3), (4, 257, 9)])
def test_saturating_walk_equals_numpy_and_python_integers(monkeypatch, acc_bits, shape):
    m, k, n = shape
    rng = np.random.default_rng(acc_bits * 1000 + k)
    a = rng.integers(-128, 128, size=(m, k))
    a[rng.random((m, k)) < 0.3] = 0  # zero activations are skipped by the compiled walk
    w = rng.integers(-128, 128, size=(k, n))
    acc = FixedPoint(acc_bits, 0)
    bias = rng.integers(acc.min_code, acc.max_code + 1, size=n)
    fast, slow = _both(monkeypatch, lambda: fixed_matmul(a, w, I8, I8, accumulator=acc, bias_codes=bias))
    assert np.array_equal(fast.codes, slow.codes) and fast.overflow_count == slow.overflow_count
    want, count = matmul_ref(a, w, bias, acc.min_code, acc.max_code, "saturate")
    assert (fast.codes.astype(object) == want).all() and fast.overflow_count == count


def test_saturating_walk_all_max_operands_and_rails(monkeypatch):
    a = np.full((3, 40), 127, dtype=np.int64)
    a[1] = -128
    a[2, ::2] = -128
    w = np.full((40, 4), -128, dtype=np.int64)
    w[:, 1] = 127
    acc = FixedPoint(16, 0)
    bias = np.array([acc.max_code, acc.min_code, 0, -1])
    fast, slow = _both(monkeypatch, lambda: fixed_matmul(a, w, I8, I8, accumulator=acc, bias_codes=bias))
    want, count = matmul_ref(a, w, bias, acc.min_code, acc.max_code, "saturate")
    assert (fast.codes.astype(object) == want).all() and fast.overflow_count == count == slow.overflow_count
    assert np.array_equal(fast.codes, slow.codes)


def test_saturating_walk_in_a_grouped_convolution(monkeypatch):
    rng = np.random.default_rng(5)
    x = rng.integers(-128, 128, size=(2, 4, 7, 6))
    w = rng.integers(-128, 128, size=(6, 2, 3, 3))
    geom = ConvGeometry(stride=(2, 1), padding=(1, 0, 1, 2), groups=2)
    acc = FixedPoint(15, 0)
    bias = rng.integers(-2000, 2000, size=6)

    def run():
        return fixed_conv2d(x, w, I8, I8, geom, accumulator=acc, overflow="saturate", bias_codes=bias)

    fast, slow = _both(monkeypatch, run)
    want, count = conv2d_ref(x, w, bias, acc.min_code, acc.max_code, "saturate", stride=(2, 1), pad=(1, 0, 1, 2),
                             groups=2)
    assert (fast.codes.astype(object) == want).all() and fast.overflow_count == count == slow.overflow_count


def _values(fmt, shape, rng, spread=3.0):
    v = fmt.quantize(rng.normal(size=shape) * np.exp(rng.normal(size=shape) * spread), overflow="saturate")
    return np.where(np.isfinite(v), v, 0.0)


def _same_floats(x, y):
    """Identical values, NaNs and signs of zero."""
    return np.array_equal(x, y, equal_nan=True) and np.array_equal(np.signbit(x), np.signbit(y))


@pytest.mark.parametrize("acc_fmt,product", [
    (FP16, None), (FP16, E5), (BF16, None), (Minifloat(5, 4), None), (E4FN, None),
    (Minifloat(4, 3, specials="none"), None), (Minifloat(6, 9), Minifloat(4, 2)),
], ids=str)
@pytest.mark.parametrize("k", [1, 37, 200])
def test_float_walk_equals_numpy(monkeypatch, acc_fmt, product, k):
    rng = np.random.default_rng(k)
    a = _values(E4, (6, k), rng, spread=2.5)
    w = _values(E4, (k, 5), rng, spread=2.5)
    a[0, : k // 2] = E4.max  # runs into the accumulator's and the product format's overflow
    w[:, 0] = -E4.max
    a[1] = 0.0
    w[0, 1] = -0.0  # signed zeros
    bias = rng.normal(size=5) * 4
    bias[2] = -0.0

    def run():
        return minifloat_matmul(a, w, E4, E4, accumulator=acc_fmt, product_format=product, bias=bias)

    fast, slow = _both(monkeypatch, run)
    assert _same_floats(fast.values, slow.values)
    assert (fast.nan_count, fast.inf_count) == (slow.nan_count, slow.inf_count)


def test_float_walk_against_fractions():
    """One rounding per addition (fp16 accumulator, exact e5m2 products), the obvious way."""
    rng = np.random.default_rng(8)
    a = _values(E5, (3, 50), rng, spread=3.0)
    w = _values(E5, (50, 4), rng, spread=3.0)
    r = minifloat_matmul(a, w, E5, E5, accumulator=FP16)
    for m in range(3):
        for n in range(4):
            s = 0.0
            for k in range(50):
                s = minifloat_round_ref(Fraction(s) + Fraction(float(a[m, k])) * Fraction(float(w[k, n])), FP16)
                if not np.isfinite(s):
                    break
            assert r.values[m, n] == s or (np.isnan(s) and np.isnan(r.values[m, n]))


def test_importing_the_emulator_does_not_import_numba():
    import subprocess
    import sys

    code = "import sys, ristretto_sim.emulator, ristretto_sim.runtime.executor; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_walks_need_numba(monkeypatch):
    monkeypatch.setattr(jit, "available", lambda: False)
    with pytest.raises(RuntimeError, match="numba"):
        jit.saturating_walk(np.zeros((1, 1)), np.zeros((1, 1)), np.zeros((1, 1), np.int64), 0, 1,
                            np.zeros(1, np.int64), np.zeros((1, 1), bool))
