import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ristretto_sim.emulator.exact_sum import _plan_chunks, column_bounds, exact_matmul, wide_matmul


def _int_ref(a, w):
    """Python-integer product (object arrays), the obvious reference."""
    return np.asarray(a, dtype=object) @ np.asarray(w, dtype=object)


@pytest.mark.parametrize(
    "abits,wbits,k",
    [
        (8, 8, 1),
        (8, 8, 1152),
        (8, 8, 3000),
        (12, 12, 500),
        (16, 16, 300),
        (24, 20, 64),
        (32, 24, 40),
        (40, 20, 9),
    ],
)
def test_exact_against_python_integers(abits, wbits, k):
    rng = np.random.default_rng(abits * 100 + wbits + k)
    a = rng.integers(-(2 ** (abits - 1)), 2 ** (abits - 1), size=(7, k), dtype=np.int64)
    w = rng.integers(-(2 ** (wbits - 1)), 2 ** (wbits - 1), size=(k, 5), dtype=np.int64)
    a[0] = -(2 ** (abits - 1))  # extreme codes: every product at its maximum magnitude
    w[:, 0] = -(2 ** (wbits - 1))
    got = exact_matmul(a, w)
    assert got.dtype == np.int64
    assert (got.astype(object) == _int_ref(a, w)).all()


def test_float32_would_be_wrong_but_chunking_is_exact():
    """All-extreme int8 codes with K = 1152: one float32 GEMM exceeds 2**24, the chunked one does not."""
    a = np.full((3, 1153), -128, dtype=np.int64)
    w = np.full((1153, 2), -128, dtype=np.int64)
    a[:, -1] = 1  # last product 1: an odd total above 2**24, not representable in float32
    w[-1, :] = 1
    plain = (a.astype(np.float32) @ w.astype(np.float32)).astype(np.int64)
    want = _int_ref(a, w).astype(np.int64)
    assert not np.array_equal(plain, want)
    assert np.array_equal(exact_matmul(a, w), want)


def test_chunk_plan_respects_limit():
    rng = np.random.default_rng(1)
    a = rng.integers(-128, 128, size=(50, 4000))
    w = rng.integers(-128, 128, size=(4000, 20))
    cb = column_bounds(a, w)
    chunks = _plan_chunks(cb, 2.0**24, max_chunks=100)
    assert chunks[0][0] == 0 and chunks[-1][1] == 4000
    assert all(c[1] == d[0] for c, d in zip(chunks, chunks[1:], strict=False))
    for k0, k1 in chunks:
        assert cb[k0:k1].sum(axis=0).max() <= 2.0**24


def test_batched_groups_broadcast():
    rng = np.random.default_rng(2)
    a = rng.integers(-(2**15), 2**15, size=(3, 4, 50))
    w = rng.integers(-(2**15), 2**15, size=(3, 50, 6))
    got = exact_matmul(a, w)
    for g in range(3):
        assert (got[g].astype(object) == _int_ref(a[g], w[g])).all()


def test_unsigned_and_float_held_codes():
    rng = np.random.default_rng(3)
    a = rng.integers(0, 256, size=(5, 70)).astype(np.uint8)
    w = rng.integers(-128, 128, size=(70, 4)).astype(np.float32)
    assert (exact_matmul(a, w).astype(object) == _int_ref(a.astype(np.int64), w.astype(np.int64))).all()


def test_shape_mismatch_and_too_wide():
    with pytest.raises(ValueError, match="shape mismatch"):
        exact_matmul(np.zeros((2, 3), np.int64), np.zeros((4, 2), np.int64))
    with pytest.raises(ValueError, match="2\\*\\*62"):
        exact_matmul(np.full((1, 4), 2**40, np.int64), np.full((4, 1), 2**30, np.int64))


def test_zero_k_and_zero_operands():
    assert exact_matmul(np.zeros((2, 0), np.int64), np.zeros((0, 3), np.int64)).shape == (2, 3)
    assert not exact_matmul(np.zeros((2, 5), np.int64), np.ones((5, 3), np.int64)).any()


@settings(max_examples=60, deadline=None)
@given(
    bits=st.tuples(st.integers(1, 28), st.integers(1, 28)),  # sums stay below the 2**62 limit
    m=st.integers(1, 4),
    k=st.integers(1, 40),
    n=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_property_exact_for_any_widths(bits, m, k, n, seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(-(2 ** (bits[0] - 1)), 2 ** (bits[0] - 1) + 1, size=(m, k))
    w = rng.integers(-(2 ** (bits[1] - 1)), 2 ** (bits[1] - 1) + 1, size=(k, n))
    assert (exact_matmul(a, w).astype(object) == _int_ref(a, w)).all()


def _dot_ref(a, w):
    """Python-int ``a @ w`` with leading dims broadcast (small arrays)."""
    lead = np.broadcast_shapes(a.shape[:-2], w.shape[:-2])
    a = np.broadcast_to(a, lead + a.shape[-2:])
    w = np.broadcast_to(w, lead + w.shape[-2:])
    out = np.zeros(lead + (a.shape[-2], w.shape[-1]), dtype=object)
    for idx in np.ndindex(*out.shape):
        *b, m, n = idx
        out[idx] = sum(int(a[(*b, m, k)]) * int(w[(*b, k, n)]) for k in range(a.shape[-1]))
    return out


@pytest.mark.parametrize("bits", [32, 63])
@pytest.mark.parametrize("seed", range(3))
def test_wide_matmul_equals_python_integers(bits, seed):
    rng = np.random.default_rng(seed)
    lead = [(), (2,), (3, 1)][seed]
    m, k, n = (int(v) for v in rng.integers(1, 40, size=3))
    a = rng.integers(-(2 ** (bits - 1)), 2 ** (bits - 1), size=lead + (m, k), dtype=np.int64)
    w = rng.integers(-(2 ** (bits - 1)), 2 ** (bits - 1), size=(k, n) if seed != 2 else (2, k, n), dtype=np.int64)
    a.reshape(-1)[0] = -(2 ** (bits - 1))  # the extreme code
    w.reshape(-1)[0] = -(2 ** (bits - 1))
    got = wide_matmul(a, w, 6)
    assert (got.to_python() == _dot_ref(a, w)).all()


def test_wide_matmul_small_sums_and_float_operands():
    a = np.arange(12, dtype=np.int64).reshape(3, 4) - 6
    w = np.arange(8, dtype=np.int64).reshape(4, 2)
    assert (wide_matmul(a, w, 2).to_python() == _dot_ref(a, w)).all()  # one exact_matmul, no limbs
    big = (np.arange(6, dtype=np.float64).reshape(2, 3) - 3) * 2.0**40  # float arrays holding integers
    assert (wide_matmul(big, big.T, 4).to_python() == _dot_ref(big.astype(np.int64), big.T.astype(np.int64))).all()
    assert wide_matmul(np.zeros((2, 0)), np.zeros((0, 3)), 3).shape == (2, 3)
    with pytest.raises(ValueError, match="shape mismatch"):
        wide_matmul(a, w.T, 3)


@pytest.mark.parametrize(
    "abits,wbits", [(32, 32), (33, 21), (53, 20), (64, 64), (21, 64), (41, 41), (40, 40), (38, 22)]
)
def test_wide_matmul_limb_counts_base_and_float_operands(abits, wbits):
    """Operands of 1-4 limbs (int64, and float64 holding integers up to 53 bits), a bias base added in the same
    carry-save pass, extremes of both signs."""
    from ristretto_sim.emulator.wide import WideInt

    rng = np.random.default_rng(abits * 100 + wbits)
    a = rng.integers(-(2 ** (abits - 1)), 2 ** (abits - 1), size=(2, 7, 30), dtype=np.int64)
    w = rng.integers(-(2 ** (wbits - 1)), 2 ** (wbits - 1), size=(30, 5), dtype=np.int64)
    a[0, 0, :] = -(2 ** (abits - 1))
    w[:, 0] = -(2 ** (wbits - 1))
    a[1, 1, :] = 2 ** (abits - 1) - 1
    w[:, 1] = 2 ** (wbits - 1) - 1
    bias = [2**125 - 1, -(2**125), 0, 12345, -(2**64)]
    base = WideInt.from_ints(np.array(bias, dtype=object).reshape(1, 5), 5)
    want = _dot_ref(a, w) + np.array(bias, dtype=object)
    assert (wide_matmul(a, w, 5, base).to_python() == want).all()
    if abits <= 53:
        assert (wide_matmul(a.astype(np.float64), w, 5, base).to_python() == want).all()


def test_exact_limb_gemm_cuts_k_into_exact_runs():
    """A product bound near 2**53 forces runs of one or two products; the int64 result stays exact."""
    from ristretto_sim.emulator.exact_sum import _exact_limb_gemm

    rng = np.random.default_rng(3)
    a = rng.integers(0, 2**20, size=(4, 9)).astype(np.float64)
    w = rng.integers(-(2**20), 2**20, size=(9, 3)).astype(np.float64)
    want = _dot_ref(a.astype(np.int64), w.astype(np.int64))
    for bound in (2**40, 2**52, 2**53 - 1, 0):
        got = _exact_limb_gemm(a, w, bound) if bound else _exact_limb_gemm(a * 0, w, 0)
        assert got.dtype == np.int64 and (got == (want if bound else 0)).all()


def test_wide_matmul_schoolbook_and_split_groups_when_bounds_are_tight(monkeypatch):
    """With a (test-only) lower int64 limit, Karatsuba's middle sum and same-shift groups no longer fit: the limb
    pairs go in one GEMM each and as separate terms, still exact."""
    import ristretto_sim.emulator.exact_sum as es

    rng = np.random.default_rng(5)
    a = rng.integers(-(2**31), 2**31, size=(6, 40), dtype=np.int64)
    w = rng.integers(-(2**31), 2**31, size=(40, 4), dtype=np.int64)
    a[0] = -(2**31)
    w[:, 0] = -(2**31)
    want = _dot_ref(a, w)
    for limit in (2.0**62, 2.0**47, 2.0**45):
        monkeypatch.setattr(es, "INT64_SAFE", limit)
        assert (es.wide_matmul(a, w, 4).to_python() == want).all()
        assert (es.wide_matmul(a.astype(np.float64), w, 4).to_python() == want).all()


def test_split_operands_weights_only_or_both():
    """32-bit codes with K up to about 2**10 split only the weights (2-3 GEMMs, a kept whole); wider codes or
    longer K split both (Karatsuba for two limbs each); every choice is exact, also at the largest K and codes
    that still fit the weights-only split."""
    from ristretto_sim.emulator.exact_sum import _F64_EXACT_INT, _split_operands

    def shifts(a, w):
        al, wl = _split_operands(a, w, None, a.shape[-1])
        return [s for _, _, s in al], [s for _, _, s in wl]

    rng = np.random.default_rng(8)
    for abits, wbits, k, want in [(32, 32, 25, ([0], [0, 17])), (32, 32, 500, ([0], [0, 13, 26])),
                                  (32, 32, 800, ([0], [0, 12, 24])), (40, 40, 30, ([0, 20], [0, 20])),
                                  (32, 32, 5000, ([0, 20], [0, 20]))]:
        a = rng.integers(-(2 ** (abits - 1)), 2 ** (abits - 1), size=(3, k), dtype=np.int64)
        w = rng.integers(-(2 ** (wbits - 1)), 2 ** (wbits - 1), size=(k, 2), dtype=np.int64)
        a[0] = -(2 ** (abits - 1))
        a[1] = 2 ** (abits - 1) - 1
        w[:, 0] = -(2 ** (wbits - 1))
        w[:, 1] = 2 ** (wbits - 1) - 1
        assert shifts(a, w) == want, (abits, wbits, k)
        assert (wide_matmul(a, w, 4).to_python() == _dot_ref(a, w)).all()
        assert (wide_matmul(a.astype(np.float64), w, 4).to_python() == _dot_ref(a, w)).all()
    # at the edge: max|a| * 2**L * K just fits
    a = np.full((2, 1024), 2**31, dtype=np.int64)
    a[1] = -(2**31)
    w = np.full((1024, 1), 2**31 - 1, dtype=np.int64)
    al, wl = _split_operands(a, w, None, 1024)
    assert len(al) == 1 and 2**31 * (1 << wl[1][2]) * 1024 <= _F64_EXACT_INT
    assert (wide_matmul(a, w, 4).to_python() == _dot_ref(a, w)).all()
