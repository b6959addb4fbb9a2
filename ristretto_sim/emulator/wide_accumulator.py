"""The accumulator contract when exact sums or the accumulator do not fit int64: the limb path.

Same semantics as :func:`~ristretto_sim.emulator.accumulator.accumulate` (bias preloaded, products added over
K in order, two's complement wrap or clamping after every addition, the same overflow counts), with the sums
held as :class:`~ristretto_sim.emulator.wide.WideInt`:

* the exact sum of every output plus the bias comes from :func:`~ristretto_sim.emulator.exact_sum.wide_matmul`
  (limb-pair BLAS GEMMs and the bias added into 32-bit digits in one carry-save pass);
* ``WRAP``: the exact sum wrapped to the accumulator's width; the count is the number of exact sums outside
  the range;
* ``SATURATE``: where float64 bounds with a rigorous error margin show that no prefix sum can leave the range
  (per column from the column extremes, then per output from ``sum_k |p|`` and ``sum_k p``: every prefix lies
  in ``[bias - N, bias + P]``), the exact sum; every other output is walked one product at a time, vectorised
  over those outputs, with the running sum in int64 when the accumulator and the products allow it (62-bit
  accumulators, products of magnitude at most ``2**62``) and in wide arithmetic otherwise.

Limits: accumulators up to 128 bits (the ``FixedPoint`` maximum; unsigned 127), operand codes int64, K below
``2**31``.
"""

from __future__ import annotations

import math

import numpy as np

from ristretto_sim.emulator import wide as wd
from ristretto_sim.emulator.wide import WideInt, digits_for
from ristretto_sim.formats import FixedPoint, Overflow

#: 2**-52: twice the unit roundoff of float64
_ULP = 2.0**-52


def _down(limit: int) -> float:
    """A float64 at or below the (positive) integer ``limit``, and close to it."""
    return float(limit) * (1.0 - 2 * _ULP) if limit > 0 else float(limit)


def _up(limit: int) -> float:
    """A float64 at or above the (non-positive) integer ``limit``, and close to it."""
    return float(limit) * (1.0 - 2 * _ULP) if limit < 0 else float(limit)


def sum_digits(acc: FixedPoint, bound: float) -> int:
    """Digits for sums bounded by ``bound`` (float64, with a margin) in accumulator ``acc``: the larger of the
    accumulator's width and the bound's, plus a sign bit and two guard bits."""
    bits = math.frexp(bound * (1.0 + 1e-6) + 2.0)[1] + 1
    return digits_for(max(acc.bits, bits))


def result_codes(s: WideInt, acc: FixedPoint, wide_codes: bool):
    """Final accumulator codes (inside the range): a WideInt sized for the accumulator, or int64."""
    return s.resize(digits_for(acc.bits)) if wide_codes else wd.to_int64(s)


def accumulate_wide(products, bias, acc: FixedPoint, overflow: Overflow, bias_abs: np.ndarray,
                    col_bound: np.ndarray, wide_codes: bool):
    """Run the accumulator contract with wide sums (module docstring).

    Parameters
    ----------
    products : ProductSource
        Must provide ``partial_wide``, ``mass_bound`` and ``products_wide`` (integer products do).
    bias : WideInt or ndarray of int64, broadcastable to (..., 1, N)
        Preloaded codes.
    acc : FixedPoint
    overflow : Overflow
        ``WRAP`` or ``SATURATE``.
    bias_abs, col_bound : ndarray of float64, (..., N)
        ``|bias|`` and the column bounds on ``sum_k |p|``.
    wide_codes : bool
        Return the codes as a WideInt (else int64: the accumulator's range fits int64).

    Returns
    -------
    codes, overflow_count
    """
    shape = products.out_shape
    lo, hi = acc.min_code, acc.max_code
    bound = float((bias_abs + col_bound).max(initial=0.0))
    n = sum_digits(acc, bound)
    bshape = shape[:-2] + (1, shape[-1])
    if isinstance(bias, WideInt):
        b = bias.resize(n).broadcast_to(bshape)
    else:
        b = WideInt.from_int64(np.broadcast_to(np.asarray(bias, dtype=np.int64), bshape), n)
    s = products.partial_wide(n, base=b)  # the bias goes into the same carry-save pass as the products
    if overflow is Overflow.WRAP or products.K == 0:
        out = wd.less_than(s, lo) | wd.greater_than(s, hi)
        count = int(out.sum())
        if count:
            s = wd.wrap(s, acc.bits, acc.signed)
        return result_codes(s, acc, wide_codes), count
    # SATURATE: per column, every prefix lies within |bias| + sum_k max|p| of 0
    rel = (products.K + 16) * _ULP
    col = (bias_abs + col_bound) * (1.0 + rel) + 2.0
    safe_col = (col <= _down(hi)) & (-col >= _up(lo))
    if safe_col.all():
        return result_codes(s, acc, wide_codes), 0
    # per output: prefix sums lie in [bias - N, bias + P]; P + N = sum|p| (mass), P - N = sum p (part)
    bias_f = np.broadcast_to(wd.to_float64(b), shape)
    part = wd.subtract(s, b.broadcast_to(shape))  # exact: n has guard bits
    part_f = wd.to_float64(part)
    mass_f = np.maximum(products.mass_bound(), np.abs(part_f))
    err = rel * (mass_f + np.abs(part_f) + np.abs(bias_f)) + 4.0
    ok = (bias_f + 0.5 * (mass_f + part_f) + err <= _down(hi)) & (bias_f - 0.5 * (mass_f - part_f) - err >= _up(lo))
    ok |= np.broadcast_to(safe_col[..., None, :], shape)
    if ok.all():
        return result_codes(s, acc, wide_codes), 0
    idx = np.nonzero(~ok)
    walked, clipped = _walk(products, b.broadcast_to(shape)[idx], idx, acc, n)
    d = np.array(s.digits)
    d[(slice(None),) + idx] = walked.digits
    return result_codes(WideInt(d), acc, wide_codes), int(clipped.sum())


def _walk(products, start: WideInt, idx, acc: FixedPoint, n: int):
    """Add the products of outputs ``idx`` one at a time from ``start``, clamping after every addition."""
    lo, hi = acc.min_code, acc.max_code
    clipped = np.zeros(start.shape, dtype=bool)
    if acc.bits <= 62 and products.max_product() <= float(2**62):
        # |s| <= 2**61 after every clamp and |p| <= 2**62: s + p cannot overflow int64
        sv = wd.to_int64(start)
        for k in range(products.K):
            sv = sv + products.products(idx, k)
            clipped |= (sv < lo) | (sv > hi)
            np.clip(sv, lo, hi, out=sv)
        return WideInt.from_int64(sv, n), clipped
    sv = start
    for k in range(products.K):
        sv = wd.add(sv, products.products_wide(idx, k, n))
        sv, c = wd.clamp(sv, lo, hi)
        clipped |= c
    return sv, clipped
