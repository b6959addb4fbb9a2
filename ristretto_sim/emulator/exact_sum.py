"""Exact integer matrix products computed on an integer kernel proven exact on this machine, or on floating-point
BLAS.

Operands that are integer arrays of 8-bit codes (activations spanning at most 256 consecutive values, weights in
int8) go to the integer kernel of the ``backends`` in use (:mod:`~ristretto_sim.emulator.kernels`: onnxruntime
``MatMulInteger``, ``torch._int_mm``; self-tested at first use, K chunked so that no int32 partial sum can
overflow). Everything else, and every product when the backend is ``blas``, runs on BLAS as follows.

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
reaches ``2**62``. Wider sums (accumulators beyond 62 bits) go through :func:`wide_matmul` (the limb path):

* the operands are split once into limbs held exactly in float64 (:func:`_split_operands`): only the weights
  when the large operand fits float64 whole and the weights need at most three limbs of the width ``L`` that
  keeps ``max|a| * 2**L * K`` below ``2**53`` (32-bit codes with K up to about a thousand: two or three GEMMs
  and no pass over the large operand), otherwise both into 20-bit limbs;
* K is cut into runs of at most ``2**21``, and each limb-pair GEMM into runs short enough to be exact
  (:func:`_exact_limb_gemm`), converted to int64 once; two 20-bit limbs each use Karatsuba (three GEMMs);
* GEMM results with the same shift are added in int64 while their bound allows, and the few terms (with the
  bias preload, if any) go into the 32-bit digits of a :class:`~ristretto_sim.emulator.wide.WideInt` in one
  carry-save pass (:func:`~ristretto_sim.emulator.wide.sum_int64`).

Leading (batch) dimensions broadcast as in ``numpy.matmul``; operands are integer arrays or float arrays
holding integers.
"""

from __future__ import annotations

import numpy as np

from ristretto_sim.emulator.kernels import default_backends
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
EXACT_MARGIN = 1.0 - 1e-9


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
    if float(flat.sum(axis=1).max(initial=0.0)) <= limit * EXACT_MARGIN:
        return [(0, K)]
    cs = np.cumsum(flat, axis=1)
    chunks = []
    k0 = 0
    while k0 < K:
        base = cs[:, k0 - 1, :][:, None, :] if k0 > 0 else 0.0
        worst = (cs[:, k0:, :] - base).max(axis=(0, 2))  # non-decreasing in k
        n_ok = int(np.searchsorted(worst, limit * EXACT_MARGIN, side="right"))
        n_ok = max(n_ok, 1)
        chunks.append((k0, k0 + n_ok))
        k0 += n_ok
        if len(chunks) > max_chunks:
            return None
    return chunks


#: bytes of one row block of converted operands in :func:`_float_gemm` (stays in the L2 cache)
BLOCK_BYTES = 2 << 20


def _float_gemm(a, w, chunks, dtype) -> np.ndarray:
    """``sum over chunks of (a[..., k0:k1] @ w[..., k0:k1, :])`` in ``dtype`` BLAS GEMMs, as int64 (each chunk's
    sums are exact integers in ``dtype``, module docstring)."""
    wf = w.astype(dtype, copy=False)
    if a.ndim == 2 and w.ndim == 2 and a.dtype != dtype and a.shape[0] > 1:
        return _blocked_gemm(a, wf, chunks, dtype)
    # convert once (a contiguous pass is faster than converting strided K slices); BLAS takes strided chunks
    af = a.astype(dtype, copy=False)
    out = None
    for k0, k1 in chunks:
        if k0 == 0 and k1 == a.shape[-1]:
            part = np.matmul(af, wf)
        else:
            part = np.matmul(af[..., k0:k1], wf[..., k0:k1, :])
        out = part.astype(np.int64) if out is None else out + part.astype(np.int64)
    return out


def _blocked_gemm(a, wf, chunks, dtype) -> np.ndarray:
    """:func:`_float_gemm` of a 2-D integer ``a`` that needs converting, a block of rows at a time: each block is
    converted into a buffer that stays in cache while BLAS reads it (instead of converting all of ``a`` through
    memory first), which makes the integer GEMM about as fast as the float GEMM of already-converted operands."""
    m, k = a.shape
    rows = max(16, BLOCK_BYTES // max(1, k * np.dtype(dtype).itemsize))
    out = np.empty((m, wf.shape[1]), dtype=np.int64)
    buf = np.empty((min(rows, m), k), dtype=dtype)
    for r0 in range(0, m, rows):
        blk = buf[: min(rows, m - r0)]
        np.copyto(blk, a[r0:r0 + len(blk)], casting="unsafe")  # integers -> float: exact (|a| < 2**24 or 2**53)
        dst = out[r0:r0 + len(blk)]
        for i, (k0, k1) in enumerate(chunks):
            part = np.matmul(blk[:, k0:k1], wf[k0:k1]) if (k0, k1) != (0, k) else np.matmul(blk, wf)
            if i == 0:
                dst[...] = part
            else:
                dst += part.astype(np.int64)
    return out


def split_limbs(x: np.ndarray, bits: int) -> list[np.ndarray]:
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


def check_chain(a, w) -> None:
    """``ValueError`` unless ``a`` and ``w`` (anything with ``shape`` and ``ndim``) chain as a GEMM
    ``(..., M, K) @ (..., K, N)``."""
    if a.ndim < 2 or w.ndim < 2 or a.shape[-1] != w.shape[-2]:
        raise ValueError(
            f"shape mismatch: a has shape {a.shape}, w has shape {w.shape} (need (..., M, K) @ (..., K, N))"
        )


def _chained(a, w) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """``(a, w, out_shape)`` of a GEMM ``(..., M, K) @ (..., K, N)``; ``ValueError`` if the shapes do not chain."""
    a = np.asarray(a)
    w = np.asarray(w)
    check_chain(a, w)
    return a, w, np.broadcast_shapes(a.shape[:-2], w.shape[:-2]) + (a.shape[-2], w.shape[-1])


def exact_matmul(a, w, *, bounds: tuple | None = None, backends=None) -> np.ndarray:
    """Exact ``a @ w`` of integer matrices, as ``int64``, computed on an integer kernel proven exact on this
    machine when both operands are integer arrays of 8-bit codes, else with float32/float64 BLAS GEMMs.

    Parameters
    ----------
    a : array of integers, shape (..., M, K)
        Integer codes (any integer dtype, or a float dtype holding integers).
    w : array of integers, shape (..., K, N)
        Integer codes.
    bounds : (ndarray, float, float), optional
        Precomputed ``(column_bounds(a, w), max|a|, max|w|)``.
    backends : kernels.Backends, optional
        The integer kernel to use (default :func:`~ristretto_sim.emulator.kernels.default_backends`); the
        result is the same on every backend.

    Returns
    -------
    ndarray of int64, shape (..., M, N)
        ``sum_k a[..., m, k] * w[..., k, n]``, exact.

    Raises
    ------
    ValueError
        If the shapes do not chain, or the exact sums could reach ``2**62`` (they would not fit ``int64``).
    """
    a, w, out_shape = _chained(a, w)
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
    if amax <= 255.0 and wmax <= 128.0 and a.dtype.kind in "iu" and w.dtype.kind in "iu":
        out = integer_kernel_matmul(a, w, amax, wmax, out_shape, backends)
        if out is not None:
            return out
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
    for i, al in enumerate(split_limbs(a, LIMB_BITS)):
        for j, wl in enumerate(split_limbs(w, LIMB_BITS)):
            part = exact_matmul(al, wl)
            with np.errstate(over="ignore"):
                out += part << np.int64(LIMB_BITS * (i + j))  # wraps mod 2**64; the final sum fits int64
    return out


def integer_kernel_matmul(a: np.ndarray, w: np.ndarray, amax: float, wmax: float, out_shape, backends=None):
    """``a @ w`` as int64 on the integer kernel of ``backends`` (default: the process's, :func:`~ristretto_sim.
    emulator.kernels.default_backends`), or None when there is none (``blas``) or the codes do not fit 8 bits
    (``a`` spanning more than 256 consecutive values, ``w`` outside int8). Leading dimensions broadcast."""
    kernel = (backends if backends is not None else default_backends()).kernel
    if kernel is None:
        return None
    if a.dtype == np.int8:
        a_range = (-128, 127)
    elif a.dtype == np.uint8:
        a_range = (0, 255)
    elif amax <= 127.0:
        a_range = (-127, 127)
    else:
        a_range = (int(a.min()), int(a.max()))
        if a_range[1] - a_range[0] > 255:
            return None
    if wmax > 127.0 and w.dtype != np.int8 and int(w.max()) > 127:
        return None
    if a.ndim == 2 and w.ndim == 2:
        return kernel.matmul(a, w, a_range, int(wmax))
    out = np.empty(out_shape, dtype=np.int64)
    lead = out_shape[:-2]
    ab = np.broadcast_to(a, lead + a.shape[-2:])
    wb = np.broadcast_to(w, lead + w.shape[-2:])
    for idx in np.ndindex(*lead):
        out[idx] = kernel.matmul(ab[idx], wb[idx], a_range, int(wmax))
    return out


def wide_matmul(a, w, n: int, base: WideInt | None = None, *, bounds: tuple | None = None,
                a_range: tuple[int, int] | None = None) -> WideInt:
    """Exact ``a @ w`` (plus ``base``) of int64 codes of any magnitude, as a
    :class:`~ristretto_sim.emulator.wide.WideInt` of ``n`` digits (``32 n`` bits must hold every sum; the result
    wraps modulo ``2**(32 n)`` otherwise).

    Parameters
    ----------
    a : array of integers, shape (..., M, K)
        Integer codes (signed integer dtype up to int64, or a float dtype holding integers).
    w : array of integers, shape (..., K, N)
    n : int
        Digits of the result.
    base : WideInt, optional
        Added to every sum (broadcast against (..., M, N); e.g. the accumulator's bias preload).
    bounds : (ndarray, float, float), optional
        Precomputed ``(column_bounds(a, w), max|a|, max|w|)``.
    a_range : (int, int), optional
        Exact ``(min(a), max(a))`` if known (saves two passes over ``a``).

    Returns
    -------
    WideInt, shape (..., M, N)

    Notes
    -----
    The operands are split once into float64 limbs (:func:`_float_limbs`); limb pairs become exact float64
    GEMMs converted to int64 once (:func:`_limb_products`: one GEMM per pair, or Karatsuba's three for two
    limbs each), products with the same shift ``i + j`` are added in int64 while their bound allows, and the
    few resulting terms go into the digits in one carry-save pass
    (:func:`~ristretto_sim.emulator.wide.sum_int64`).
    """
    a, w, out_shape = _chained(a, w)
    K = a.shape[-1]
    if K == 0 or a.size == 0 or w.size == 0:
        zero = WideInt.zeros(n, out_shape)
        return zero if base is None else sum_int64([], n, base.broadcast_to(out_shape))
    colprod = column_bounds(a, w) if bounds is None else bounds[0]
    total = float(colprod.sum(axis=-2).max(initial=0.0))
    if total < INT64_SAFE * EXACT_MARGIN:
        terms = [(np.broadcast_to(exact_matmul(a, w, bounds=bounds), out_shape), 0, int(total * (1.0 + 1e-6)) + 1)]
        return sum_int64(terms, n, base)
    a_limbs, w_limbs = _split_operands(a, w, a_range, min(K, WIDE_K_RUN))
    groups: dict[int, list] = {}  # shift -> [(int64 sum, bound), ...], each sum below 2**62
    for k0 in range(0, K, WIDE_K_RUN):  # each limb GEMM's sums over a run stay below 2**61
        k1 = min(K, k0 + WIDE_K_RUN)
        for shift, part, bound in _limb_products(a_limbs, w_limbs, k0, k1):
            terms = groups.setdefault(shift, [])
            if terms and terms[-1][1] + bound < INT64_SAFE:
                terms[-1][0] += part
                terms[-1][1] += bound
            else:
                terms.append([part, bound])
    parts = [(np.broadcast_to(x, out_shape), shift, b) for shift, terms in sorted(groups.items()) for x, b in terms]
    return sum_int64(parts, n, base)


#: the largest integer below which float64 sums are exact, with the margin of :func:`_exact_limb_gemm`
_F64_EXACT_INT = int(F64_EXACT * EXACT_MARGIN)


def _split_operands(a: np.ndarray, w: np.ndarray, a_range, k_run: int):
    """The limbs ``[(array, bound, shift), ...]`` of ``a`` and ``w`` for :func:`_limb_products`.

    When ``a`` fits float64 whole and the weights need at most three limbs of the width ``L`` that keeps
    ``max|a| * 2**L * k_run`` exact in float64, only the weights are split (two or three GEMMs, and no pass
    over the large operand ``a``: e.g. 32-bit codes with K up to about 2**10). Otherwise both operands are
    split into ``LIMB_BITS``-bit limbs.
    """
    lo, hi = (int(a.min()), int(a.max())) if a_range is None else (int(a_range[0]), int(a_range[1]))
    amax = max(hi, -lo)
    if 0 < amax <= 2**53 and amax * k_run * 2 <= _F64_EXACT_INT:
        bits = (_F64_EXACT_INT // (amax * k_run)).bit_length() - 1  # largest L: amax * 2**L * k_run fits
        w_range = (int(w.min()), int(w.max()))
        if _limb_count(w_range, bits) <= 3:
            return [(a.astype(np.float64, copy=False), amax, 0)], _float_limbs(w, w_range, bits)
    return _float_limbs(a, (lo, hi)), _float_limbs(w)


def _limb_count(x_range: tuple[int, int], bits: int) -> int:
    """Limbs of ``bits`` bits for values in ``[lo, hi]`` (low limbs unsigned, the top limb signed)."""
    lo, hi = x_range
    count = 1
    while max(hi >> (bits * (count - 1)), -(lo >> (bits * (count - 1)))) >= (1 << bits):
        count += 1
    return count


def _limb_products(a_limbs, w_limbs, k0: int, k1: int):
    """Yield ``(shift, int64 sums, bound)``: the exact products of limbs over ``K`` in ``[k0, k1)``.

    Two ``LIMB_BITS``-bit limbs each (operands of 21 to 40 bits): Karatsuba, three GEMMs instead of four, when
    the middle sum's bound fits int64: ``a0 w1 + a1 w0 = (a0 + a1)(w0 + w1) - a0 w0 - a1 w1`` (limb sums exact in
    float64). Otherwise one GEMM per limb pair, at the sum of the limbs' shifts.
    """
    run = k1 - k0

    def gemm(al, wl, product_bound):
        return _exact_limb_gemm(al[..., k0:k1], wl[..., k0:k1, :], product_bound)

    if [s for _, _, s in a_limbs] == [0, LIMB_BITS] == [s for _, _, s in w_limbs]:
        (a0, ab0, _), (a1, ab1, _) = a_limbs
        (w0, wb0, _), (w1, wb1, _) = w_limbs
        if run * (ab0 + ab1) * (wb0 + wb1) < INT64_SAFE:
            low = gemm(a0, w0, ab0 * wb0)
            high = gemm(a1, w1, ab1 * wb1)
            mid = _exact_limb_gemm(a0[..., k0:k1] + a1[..., k0:k1], w0[..., k0:k1, :] + w1[..., k0:k1, :],
                                   (ab0 + ab1) * (wb0 + wb1))
            mid -= low
            mid -= high
            yield 0, low, run * ab0 * wb0
            yield LIMB_BITS, mid, run * (ab0 * wb1 + ab1 * wb0)
            yield 2 * LIMB_BITS, high, run * ab1 * wb1
            return
    for al, abound, ashift in a_limbs:
        for wl, wbound, wshift in w_limbs:
            yield ashift + wshift, gemm(al, wl, abound * wbound), run * abound * wbound


def _float_limbs(x: np.ndarray, x_range: tuple[int, int] | None = None,
                 bits: int = LIMB_BITS) -> list[tuple[np.ndarray, int, int]]:
    """``x`` split into ``bits``-bit limbs held exactly in float64: ``(limb, bound on |limb|, shift)`` each.

    ``x = sum_i limb_i * 2**(bits i)``; low limbs in ``[0, 2**bits)``, the top limb signed (for ``LIMB_BITS``
    the same limbs as :func:`split_limbs`). Float inputs (integers of at most 53 bits) are split with exact float
    arithmetic (scaling by a power of two, floor, subtraction), integer ones with masks and shifts.
    ``x_range``: exact ``(min(x), max(x))`` if known.
    """
    lo, hi = (int(x.min()), int(x.max())) if x_range is None else (int(x_range[0]), int(x_range[1]))
    count = _limb_count((lo, hi), bits)
    top = bits * (count - 1)
    top_bound = max(abs(hi >> top), abs(lo >> top))
    low_bound = (1 << bits) - 1
    limbs = []
    if x.dtype.kind == "f" and max(abs(hi), abs(lo)) <= 2**53:
        rest = x.astype(np.float64, copy=False)
        for i in range(count - 1):
            q = np.multiply(rest, 2.0**-bits)
            np.floor(q, out=q)
            low = np.multiply(q, 2.0**bits)
            np.subtract(rest, low, out=low)
            limbs.append((low, low_bound, bits * i))
            rest = q
        limbs.append((rest, top_bound, top))
        return limbs
    rest = x.astype(np.int64)
    mask = np.int64(low_bound)
    for i in range(count - 1):
        limbs.append(((rest & mask).astype(np.float64), low_bound, bits * i))
        rest = rest >> np.int64(bits)
    limbs.append((rest.astype(np.float64), top_bound, top))
    return limbs


def _exact_limb_gemm(a: np.ndarray, w: np.ndarray, product_bound: int) -> np.ndarray:
    """``a @ w`` of float64 limbs as int64, exact: K is cut into runs whose sums of products (each at most
    ``product_bound``) stay below ``2**53``, one float64 GEMM per run."""
    K = a.shape[-1]
    run = K if product_bound == 0 else max(1, min(K, int(F64_EXACT * EXACT_MARGIN) // product_bound))
    out = None
    for k0 in range(0, K, run):
        k1 = min(K, k0 + run)
        part = np.matmul(a[..., k0:k1], w[..., k0:k1, :]).astype(np.int64)
        out = part if out is None else out + part
    return out
