"""Exact integer matrix products computed on floating-point BLAS.

NumPy's integer ``matmul`` has no BLAS behind it (about 90x slower than float32 here), so integer GEMMs run as
float GEMMs whose every partial sum is provably an exactly representable integer:

* a float32 GEMM is exact (in any summation order, with any blocking or FMA use) when every partial sum of
  every output is an integer of magnitude at most ``2**24``; float64 when at most ``2**53``;
* a partial sum of output ``(m, n)`` over a range of ``k`` is bounded by ``sum_k max_m|a[m,k]| * |w[k,n]|``
  (the column bound), so K is cut into chunks whose largest column bound fits the mantissa: ``Kc = floor(2**24
  / max|a*w|)`` in the worst case (1024 for int8 x int8), often the whole K for real data;
* chunk results are converted to ``int64`` and added there;
* operands whose products do not fit 53 bits are split into 20-bit limbs, one float64 GEMM per limb pair,
  shifted and added in ``int64``.

The final sums must fit ``int64``: :func:`exact_matmul` raises ``ValueError`` when the bound on ``|sum|``
reaches ``2**62``. Wider sums (accumulators beyond 62 bits) go through :func:`wide_matmul`: the operands are
split into 20-bit limbs, K into runs of at most ``2**21`` (so each limb-pair GEMM's sums stay below
``2**61``), and every limb-pair GEMM (an :func:`exact_matmul`) is added into a
:class:`~ristretto_sim.emulator.wide.WideInt` at its shift.

Leading (batch) dimensions broadcast as in ``numpy.matmul``; operands are integer arrays or float arrays
holding integers.
"""

from __future__ import annotations

import numpy as np

from ristretto_sim.emulator.wide import WideInt, sum_int64

#: largest magnitude below which every integer is exact in float32 / float64
F32_EXACT = float(2**24)
F64_EXACT = float(2**53)
#: bound on |exact sum| above which results would not fit int64 safely
INT64_SAFE = float(2**62)
#: limb width used when products do not fit float64's mantissa
LIMB_BITS = 20
#: longest run of K per limb-pair GEMM in :func:`wide_matmul` (20-bit limbs: sums below 2**61)
WIDE_K_RUN = 2**21
#: relative safety margin on float64 bounds (their own rounding error is far below this)
_MARGIN = 1.0 - 1e-9


def _abs_float(x: np.ndarray) -> np.ndarray:
    if x.dtype.kind == "f":
        return np.abs(x).astype(np.float64, copy=False)
    return np.abs(x.astype(np.float64))


def column_max(a: np.ndarray) -> np.ndarray:
    """``max_m |a[..., m, k]|`` as float64, shape ``(..., K)``."""
    if a.shape[-2] == 0:
        return np.zeros(a.shape[:-2] + a.shape[-1:])
    hi = a.max(axis=-2).astype(np.float64)
    lo = a.min(axis=-2).astype(np.float64)
    return np.maximum(hi, -lo)


def column_bounds(a: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Per-(k, n) bound on one product: ``max_m |a[..., m, k]| * |w[..., k, n]|`` (float64)."""
    return column_max(a)[..., :, None] * _abs_float(w)


def _plan_chunks(colprod: np.ndarray, limit: float, max_chunks: int) -> list[tuple[int, int]] | None:
    """Cut K into consecutive chunks whose largest column bound is <= ``limit``; None if more than
    ``max_chunks``."""
    K = colprod.shape[-2]
    flat = colprod.reshape((-1,) + colprod.shape[-2:])  # (B, K, N)
    if float(flat.max(initial=0.0)) > limit:
        return None  # a single product does not fit
    if float(flat.sum(axis=1).max(initial=0.0)) <= limit * _MARGIN:
        return [(0, K)]
    cs = np.cumsum(flat, axis=1)
    chunks = []
    k0 = 0
    while k0 < K:
        base = cs[:, k0 - 1, :][:, None, :] if k0 > 0 else 0.0
        worst = (cs[:, k0:, :] - base).max(axis=(0, 2))  # non-decreasing in k
        n_ok = int(np.searchsorted(worst, limit * _MARGIN, side="right"))
        n_ok = max(n_ok, 1)
        chunks.append((k0, k0 + n_ok))
        k0 += n_ok
        if len(chunks) > max_chunks:
            return None
    return chunks


def _float_gemm(a, w, chunks, dtype) -> np.ndarray:
    out = None
    for k0, k1 in chunks:
        if k0 == 0 and k1 == a.shape[-1]:
            af, wf = a.astype(dtype, copy=False), w.astype(dtype, copy=False)
        else:
            af, wf = a[..., k0:k1].astype(dtype, copy=False), w[..., k0:k1, :].astype(dtype, copy=False)
        part = np.matmul(af, wf).astype(np.int64)
        out = part if out is None else out + part
    return out


def _limbs(x: np.ndarray, bits: int) -> list[np.ndarray]:
    """Split integers into limbs: ``x = sum_i limb_i * 2**(bits*i)``, low limbs in [0, 2**bits), top limb
    signed."""
    x = x.astype(np.int64)
    limbs = []
    mask = np.int64((1 << bits) - 1)
    while True:
        top = int(np.abs(x).max(initial=0))
        if top < (1 << bits):
            limbs.append(x)
            return limbs
        limbs.append(x & mask)
        x = x >> np.int64(bits)


def exact_matmul(a, w, *, bounds: tuple | None = None) -> np.ndarray:
    """Exact ``a @ w`` of integer matrices, as ``int64``, computed with float32/float64 BLAS GEMMs.

    Parameters
    ----------
    a : array of integers, shape (..., M, K)
        Integer codes (any integer dtype, or a float dtype holding integers).
    w : array of integers, shape (..., K, N)
        Integer codes.
    bounds : (ndarray, float, float), optional
        Precomputed ``(column_bounds(a, w), max|a|, max|w|)``.

    Returns
    -------
    ndarray of int64, shape (..., M, N)
        ``sum_k a[..., m, k] * w[..., k, n]``, exact.

    Raises
    ------
    ValueError
        If the shapes do not chain, or the exact sums could reach ``2**62`` (they would not fit ``int64``).
    """
    a = np.asarray(a)
    w = np.asarray(w)
    if a.ndim < 2 or w.ndim < 2 or a.shape[-1] != w.shape[-2]:
        raise ValueError(
            f"shape mismatch: a has shape {a.shape}, w has shape {w.shape} (need (..., M, K) @ (..., K, N))"
        )
    out_shape = np.broadcast_shapes(a.shape[:-2], w.shape[:-2]) + (a.shape[-2], w.shape[-1])
    if a.shape[-1] == 0 or a.size == 0 or w.size == 0:
        return np.zeros(out_shape, dtype=np.int64)
    if bounds is None:
        acol = column_max(a)
        wabs = _abs_float(w)
        colprod = acol[..., :, None] * wabs
        amax = float(acol.max(initial=0.0))
        wmax = float(wabs.max(initial=0.0))
    else:
        colprod, amax, wmax = bounds
    total = float(colprod.sum(axis=-2).max(initial=0.0))
    if total >= INT64_SAFE:
        raise ValueError(
            f"exact sums may reach {total:.3g} >= 2**62: operands too wide for int64 results "
            f"(max |a| = {float(np.abs(a).max()):.3g}, max |w| = {float(np.abs(w).max()):.3g}, "
            f"K = {a.shape[-1]})"
        )
    if total == 0.0:
        return np.zeros(out_shape, dtype=np.int64)
    if amax <= F32_EXACT and wmax <= F32_EXACT:
        chunks = _plan_chunks(colprod, F32_EXACT, max_chunks=max(3, a.shape[-1] // 128))
        if chunks is not None:
            return _float_gemm(a, w, chunks, np.float32)
    if amax <= F64_EXACT and wmax <= F64_EXACT:
        chunks = _plan_chunks(colprod, F64_EXACT, max_chunks=max(4, a.shape[-1] // 16))
        if chunks is not None:
            return _float_gemm(a, w, chunks, np.float64)
    # limb split: products of 20-bit limbs are < 2**41, so float64 chunks hold >= 2**12 terms
    out = np.zeros(out_shape, dtype=np.int64)
    for i, al in enumerate(_limbs(a, LIMB_BITS)):
        for j, wl in enumerate(_limbs(w, LIMB_BITS)):
            part = exact_matmul(al, wl)
            with np.errstate(over="ignore"):
                out += part << np.int64(LIMB_BITS * (i + j))  # wraps mod 2**64; the final sum fits int64
    return out


def wide_matmul(a, w, n: int) -> WideInt:
    """Exact ``a @ w`` of int64 codes of any magnitude, as a :class:`~ristretto_sim.emulator.wide.WideInt` of
    ``n`` digits (``32 n`` bits must hold every sum; the result wraps modulo ``2**(32 n)`` otherwise).

    Parameters
    ----------
    a : array of integers, shape (..., M, K)
        Integer codes (signed integer dtype up to int64, or a float dtype holding integers).
    w : array of integers, shape (..., K, N)
    n : int
        Digits of the result.

    Returns
    -------
    WideInt, shape (..., M, N)
    """
    a = np.asarray(a)
    w = np.asarray(w)
    if a.ndim < 2 or w.ndim < 2 or a.shape[-1] != w.shape[-2]:
        raise ValueError(
            f"shape mismatch: a has shape {a.shape}, w has shape {w.shape} (need (..., M, K) @ (..., K, N))"
        )
    out_shape = np.broadcast_shapes(a.shape[:-2], w.shape[:-2]) + (a.shape[-2], w.shape[-1])
    K = a.shape[-1]
    if K == 0 or a.size == 0 or w.size == 0:
        return WideInt.zeros(n, out_shape)
    total = float(column_bounds(a, w).sum(axis=-2).max(initial=0.0))
    if total < INT64_SAFE * _MARGIN:
        return WideInt.from_int64(exact_matmul(a, w), n)
    a_limbs = _limbs(a, LIMB_BITS)
    w_limbs = _limbs(w, LIMB_BITS)

    def parts():  # one limb-pair GEMM at a time, added into the digits as it comes
        for k0 in range(0, K, WIDE_K_RUN):
            k1 = min(K, k0 + WIDE_K_RUN)
            for i, al in enumerate(a_limbs):
                for j, wl in enumerate(w_limbs):
                    part = exact_matmul(al[..., k0:k1], wl[..., k0:k1, :])
                    yield np.broadcast_to(part, out_shape), LIMB_BITS * (i + j)

    return sum_int64(parts(), n)
