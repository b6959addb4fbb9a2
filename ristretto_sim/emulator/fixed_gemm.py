"""Exact fixed-point GEMM and dot product with a declared accumulator (codes in, accumulator codes out).

``fixed_matmul(a, w, in_fmt, w_fmt, accumulator=..., overflow=...)`` computes what a fixed-point MAC array
holds after the last addition: the bias preloaded, then ``a[m, k] * w[k, n]`` added over ``k`` in order, with
wrap or saturation as in :mod:`ristretto_sim.emulator.accumulator`. It runs on float32/float64 BLAS whenever
the partial sums provably fit the mantissa (:mod:`ristretto_sim.emulator.exact_sum`), and is bit-exact for
every input.

Limits: accumulators up to 128 bits (signed; 127 unsigned), operand codes of int64, K below ``2**31``. Exact sums
below ``2**62`` in magnitude (``|bias| + sum_k max|a*w|``) run in int64; wider ones through the limb path
(:mod:`~ristretto_sim.emulator.wide_accumulator`). Accumulators wider than int64 give
:class:`~ristretto_sim.emulator.wide.WideInt` codes (and take WideInt ``bias_codes``).
"""

from __future__ import annotations

import numpy as np

from ristretto_sim.emulator import wide as wd
from ristretto_sim.emulator.accumulator import (
    AccumulatorResult,
    IntegerProducts,
    accumulate,
    check_accumulator,
    check_fixed,
    default_accumulator,
)
from ristretto_sim.emulator.exact_sum import EXACT_MARGIN, F32_EXACT, check_chain
from ristretto_sim.emulator.wide import WideInt, digits_for
from ristretto_sim.formats import FixedPoint, Overflow


def check_codes(codes, fmt: FixedPoint, name: str) -> np.ndarray:
    """Validate integer codes against ``fmt``'s code range (shared by every channel of a per-channel format);
    return them as an integer array.

    Parameters
    ----------
    codes : array of int
    fmt : FixedPoint
    name : str
        Parameter name used in error messages.
    """
    if isinstance(codes, WideInt):
        if codes.size and (wd.less_than(codes, fmt.min_code) | wd.greater_than(codes, fmt.max_code)).any():
            raise ValueError(f"{name} codes lie outside {fmt}'s range [{fmt.min_code}, {fmt.max_code}]")
        return codes
    c = np.asarray(codes)
    if c.dtype.kind == "O" and c.size:  # Python integers (e.g. codes of a wide accumulator)
        return check_codes(WideInt.from_ints(c, digits_for(max(int(v).bit_length() for v in c.flat) + 1)), fmt, name)
    if c.dtype.kind not in "iu":
        raise TypeError(f"{name} must be integer codes, got dtype {c.dtype}")
    if c.size:
        lo, hi = int(c.min()), int(c.max())
        if lo < fmt.min_code or hi > fmt.max_code:
            raise ValueError(f"{name} codes span [{lo}, {hi}], outside {fmt}'s range [{fmt.min_code}, {fmt.max_code}]")
    return c


def resolve_accumulator(in_fmt: FixedPoint, w_fmt: FixedPoint, accumulator, bias_codes, k: int, n: int):
    """The accumulator (``accumulator``, or the default for ``k`` products and ``n`` output channels), checked
    against the contract, and ``bias_codes`` checked against it (``n`` codes in its range):
    ``(acc, bias_codes)``."""
    acc = accumulator if accumulator is not None else default_accumulator(in_fmt, w_fmt, max(k, 1), n)
    check_accumulator(acc, in_fmt, w_fmt, n)
    if bias_codes is not None:
        bias_codes = check_codes(bias_codes, acc, "bias_codes")
        if bias_codes.shape != (n,):
            raise ValueError(f"bias_codes has shape {bias_codes.shape}, expected ({n},)")
    return acc, bias_codes


def fixed_matmul(
    a,
    w,
    in_fmt: FixedPoint,
    w_fmt: FixedPoint,
    *,
    accumulator: FixedPoint | None = None,
    overflow=Overflow.SATURATE,
    bias_codes=None,
    backends=None,
) -> AccumulatorResult:
    """Exact ``a @ w`` of fixed-point codes into a declared accumulator.

    Parameters
    ----------
    a : array of int, shape (..., M, K)
        Input (activation) codes in ``in_fmt``; K in (ky, kx, c) order for convolutions.
    w : array of int, shape (..., K, N)
        Weight codes in ``w_fmt``. A per-channel ``w_fmt`` has one fraction per output column ``n``.
    in_fmt, w_fmt : FixedPoint
        Operand formats (signed or unsigned).
    accumulator : FixedPoint, optional
        Accumulator; ``frac_bits`` must equal ``in.frac_bits + w.frac_bits`` (per column). Default: the one
        that cannot overflow, ``in.bits + w.bits + ceil(log2 K) + 1`` bits.
    overflow : Overflow or str
        ``"saturate"`` (clamp after every addition) or ``"wrap"``.
    bias_codes : array of int or WideInt, shape (N,), optional
        Accumulator codes preloaded before the first product (see ``bias_to_accumulator``).
    backends : kernels.Backends, optional
        Integer kernels for the exact GEMMs (default: :func:`~ristretto_sim.emulator.kernels.default_backends`);
        the result is the same on every backend.

    Returns
    -------
    AccumulatorResult
        Accumulator codes, shape (..., M, N) (int64, or WideInt for accumulators wider than int64), and the
        overflow count.
    """
    check_fixed(in_fmt, "in_fmt")
    check_fixed(w_fmt, "w_fmt")
    a = np.asarray(a)
    w = check_codes(w, w_fmt, "w")
    check_chain(a, w)
    if a.dtype.kind not in "iu":
        raise TypeError(f"a must be integer codes, got dtype {a.dtype}")
    acc, bias_codes = resolve_accumulator(in_fmt, w_fmt, accumulator, bias_codes, w.shape[-2], w.shape[-1])
    uniform = _format_extremes(a, w, in_fmt, acc, bias_codes)
    if uniform is not None:
        return accumulate(IntegerProducts(a, w, uniform[:2], backends, w_abs_colsum=uniform[2]), bias_codes, acc,
                          overflow)
    acol = None
    if a.size:  # one pass gives both the code-range check and the column maxima of the bound
        hi_col, lo_col = a.max(axis=-2), a.min(axis=-2)
        lo, hi = int(lo_col.min()), int(hi_col.max())
        if lo < in_fmt.min_code or hi > in_fmt.max_code:
            raise ValueError(
                f"a codes span [{lo}, {hi}], outside {in_fmt}'s range [{in_fmt.min_code}, {in_fmt.max_code}]"
            )
        acol = (hi_col.astype(np.float64), lo_col.astype(np.float64))
    return accumulate(IntegerProducts(a, w, acol, backends), bias_codes, acc, overflow)


def _format_extremes(a: np.ndarray, w: np.ndarray, in_fmt: FixedPoint, acc: FixedPoint, bias_codes):
    """Column extremes of ``a`` taken from its format instead of a pass over the data, when that costs nothing:
    every value of ``a``'s dtype is a valid code (int8 codes of an 8-bit format need no range check), and with
    ``|a| <= max code`` the exact sums still fit one float32 GEMM and cannot leave the accumulator (so the
    result, exact and unclipped, is the same as with the data's extremes): ``(max, min, sum_k |w|)`` (the
    extremes the same in every column k), else None."""
    if not a.size or a.dtype.kind not in "iu" or isinstance(bias_codes, WideInt):
        return None
    info = np.iinfo(a.dtype)
    if info.min < in_fmt.min_code or info.max > in_fmt.max_code:
        return None
    amax = float(max(info.max, -info.min))
    wide = np.int16 if w.dtype.itemsize == 1 else np.int64 if w.dtype.kind in "iu" else np.float64
    colsum = np.abs(w.astype(wide)).sum(axis=-2, dtype=np.float64)  # exact: integers far below 2**53
    bound = amax * float(colsum.max(initial=0.0))
    bias = 0.0 if bias_codes is None else float(np.abs(np.asarray(bias_codes, dtype=np.float64)).max(initial=0.0))
    if bound > F32_EXACT * EXACT_MARGIN or bias + bound > min(float(acc.max_code), -float(acc.min_code)) * EXACT_MARGIN:
        return None
    shape = a.shape[:-2] + a.shape[-1:]
    return np.full(shape, float(info.max)), np.full(shape, float(info.min)), colsum


def fixed_dot(
    a,
    w,
    in_fmt: FixedPoint,
    w_fmt: FixedPoint,
    *,
    accumulator: FixedPoint | None = None,
    overflow=Overflow.SATURATE,
    bias_code: int | None = None,
) -> AccumulatorResult:
    """Exact dot product of two code vectors (length K) into a declared accumulator (result shape ``()``).

    Same contract as :func:`fixed_matmul` with M = N = 1; ``bias_code`` is one accumulator code.
    """
    a = np.asarray(a)
    w = np.asarray(w)
    if a.ndim != 1 or w.shape != a.shape:
        raise ValueError(f"shape mismatch: a has shape {a.shape}, w has shape {w.shape} (need two vectors of length K)")
    if w_fmt.per_channel:
        raise ValueError(f"w_fmt={w_fmt} is per-channel; a dot product has one output channel")
    bias = None
    if bias_code is not None:
        bias = np.asarray([bias_code], dtype=object if abs(int(bias_code)) >= 2**63 else np.int64)
    r = fixed_matmul(a[None, :], w[:, None], in_fmt, w_fmt, accumulator=accumulator, overflow=overflow, bias_codes=bias)
    return AccumulatorResult(r.codes.reshape(()), r.accumulator, r.overflow, r.overflow_count, r.bias_saturations)
