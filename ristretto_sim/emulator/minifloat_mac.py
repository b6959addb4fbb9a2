"""Minifloat MAC unit: exact products, accumulated into a Kulisch accumulator or a declared float accumulator.

**Products** of two minifloats are exact (their significands have at most 53 bits together).

**Kulisch accumulation** (``accumulator=None``): every product is a multiple of ``2**(qa + qw)``, where ``q =
emin - man_bits`` is the quantum of a format's lowest binade, and smaller than
``2**(emax_a + 1) * 2**(emax_w + 1)``; a fixed-point accumulator of

    ``kulisch_bits = (emax_a - qa) + (emax_w - qw) + 2 + ceil(log2 K) + 1``

bits (``2*(emax - e_min_subnormal) + 2 + ceil(log2 K) + 1`` for one format: 36 + 12 = 48 bits for e4m3fn at K
= 1152; 64 + 12 = 76 bits for e5m2; 80 + 12 = 92 for fp16) holds every sum exactly, so the order of the
additions does not matter. It is computed with exact integer GEMMs on the integer significands ``x / 2**q``
(:func:`~ristretto_sim.emulator.exact_sum.exact_matmul`: float64 BLAS while the partial sums fit 53 bits,
limb-split otherwise) into a two-word integer (sums up to ``2**94``): Kulisch widths up to 94 bits are
supported (every 8-bit, 6-bit and 4-bit format, fp16 up to K = 2**13); wider formats (bf16, fp32) need a float
accumulator. The readout rounds the exact sum once to the output format (via a round-to-odd float64, which is
exact double rounding for every target of at most 51 significant bits).

Kulisch widths of the catalog formats (same format for inputs and weights), from ``kulisch_bits``; bf16 and
fp32 exceed the supported 94 bits (use a float accumulator):

===========  ====  ======  =========  ===========
format       emax  q       K = 1024   K = 1152
===========  ====  ======  =========  ===========
fp4_e2m1     2     -1      19         20
fp6_e2m3     2     -3      23         24
fp6_e3m2     4     -4      29         30
e4m3         7     -9      45         46
e4m3fn       8     -9      47         48
e5m2         15    -16     75         76
fp16         15    -24     91         92
bf16         127   -133    533        534
fp32         127   -149    565        566
===========  ====  ======  =========  ===========

**Float accumulation** (``accumulator`` a ``Minifloat``, e.g. fp32, fp16): the bias is rounded to the
accumulator format and preloaded; then the products (optionally rounded to ``product_format`` first) are added
over K in order, each addition rounded once to the accumulator format (the exact sum is formed with TwoSum and
rounded to odd in float64 first, so the one rounding is correct for accumulators of at most 51 significant
bits). With numba installed (the ``fast`` extra) and nearest-even rounding, the same steps run as one compiled
loop per output row (:func:`~ristretto_sim.emulator.jit.float_walk`); when every ``acc + a*w`` is provably exact in
float64 (:func:`_sums_exact_in_float64`: fp16 accumulating e4m3 or e5m2 products) TwoSum is not needed and the
loop runs as vector code (:func:`~ristretto_sim.emulator.jit.float_walk_exact_sums`). Kulisch sums that provably
fit float64's 53 bits (bias included) are one float64 GEMM of the values (:func:`_kulisch_in_float64`).

**NaN and Inf** products (NaN operand, ``0 x Inf``, ``Inf x y``) set sticky flags instead of entering the sum:
the readout is NaN if a NaN or both infinities were seen, ``+-Inf`` if one infinity was, else the rounded sum;
the output format then represents it as it can (``fn`` formats turn Inf into NaN, ``none`` formats saturate).
An infinite or NaN bias sets the same flags.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ristretto_sim.emulator import jit
from ristretto_sim.emulator.exact_sum import LIMB_BITS, check_chain, column_max, exact_matmul, split_limbs
from ristretto_sim.emulator.wide import WideInt, digits_for
from ristretto_sim.emulator.wide import add as wide_add
from ristretto_sim.formats import FixedPoint, Minifloat, Rounding, Specials
from ristretto_sim.formats.base import require
from ristretto_sim.formats.rounding import StochasticKey, round_to_integer, stochastic_key
from ristretto_sim.formats.saturation import clamped_outputs

#: widest Kulisch accumulator supported (sums are held in two int64 words)
MAX_KULISCH_BITS = 94
_M32 = np.int64(0xFFFFFFFF)


def quantum_exp(fmt: Minifloat) -> int:
    """Exponent of the quantum of ``fmt``'s lowest binade, ``emin - man_bits``: every value is a multiple of
    ``2**quantum_exp``."""
    return fmt.emin - fmt.man_bits


def kulisch_bits(in_fmt: Minifloat, w_fmt: Minifloat, k: int) -> int:
    """Width in bits of the exact (Kulisch) accumulator for ``k`` products of ``in_fmt`` x ``w_fmt``.

    ``(emax_a - qa) + (emax_w - qw) + 2 + ceil(log2 k) + 1`` with ``q = emin - man_bits``; for one format this
    is ``2*(emax - e_min_subnormal) + 2 + ceil(log2 K) + 1``.
    """
    for f, n in ((in_fmt, "in_fmt"), (w_fmt, "w_fmt")):
        require(f, Minifloat, n)
    if k < 1:
        raise ValueError(f"k={k} must be >= 1")
    span = (in_fmt.emax - quantum_exp(in_fmt)) + (w_fmt.emax - quantum_exp(w_fmt))
    return span + 2 + math.ceil(math.log2(k)) + 1


def kulisch_format(in_fmt: Minifloat, w_fmt: Minifloat, k: int) -> FixedPoint:
    """The exact (Kulisch) accumulator as a fixed-point register: ``kulisch_bits`` wide, its fraction the
    products' quantum (``-(q_in + q_w)``), so its integer codes are the exact sums."""
    return FixedPoint(kulisch_bits(in_fmt, w_fmt, k), -(quantum_exp(in_fmt) + quantum_exp(w_fmt)))


@dataclass(frozen=True, eq=False)
class MinifloatMacResult:
    """Readout of a minifloat MAC array.

    Attributes
    ----------
    values : ndarray of float64, shape (..., M, N)
        Readout values, rounded once to ``readout`` (or the float accumulator's contents / the nearest float64
        of the exact sum when there is no readout format); NaN / +-Inf per the sticky flags.
    accumulator : str
        ``"kulisch<bits>"`` or the float accumulator's text form.
    nan_count, inf_count : int
        Outputs that read out NaN / infinite (before the readout format).
    saturations : int
        Finite accumulator values outside the readout format's range (they saturate, or overflow to Inf/NaN as
        the format does).
    """

    values: np.ndarray
    accumulator: str
    nan_count: int
    inf_count: int
    saturations: int = 0


def _check_values(x, fmt: Minifloat, name: str) -> np.ndarray:
    require(fmt, Minifloat, f"{name} format")
    x = np.asarray(x, dtype=np.float64)
    fin = np.isfinite(x)
    if not np.array_equal(fmt.quantize(np.where(fin, x, 0.0)), np.where(fin, x, 0.0)):
        raise ValueError(f"{name} values are not all representable in {fmt}; quantize them first")
    if (np.isinf(x).any() and not fmt.has_inf) or (np.isnan(x).any() and not fmt.has_nan):
        raise ValueError(f"{name} holds NaN/Inf values that {fmt} cannot represent")
    return x


def _special_flags(a, w):
    """Sticky flags per output, (nan, +inf, -inf), from NaN/Inf products via indicator GEMMs."""
    f32 = np.float32
    an, wn = np.isnan(a), np.isnan(w)
    ap, am = a == np.inf, a == -np.inf
    wp, wm = w == np.inf, w == -np.inf
    az, wz = a == 0, w == 0
    apos, aneg = (a > 0) & ~np.isnan(a), (a < 0) & ~np.isnan(a)
    wpos, wneg = (w > 0) & ~np.isnan(w), (w < 0) & ~np.isnan(w)
    ones_w = np.ones(w.shape[-2:], f32)
    ones_a = np.ones(a.shape[-2:], f32)
    nan = (
        np.matmul(an.astype(f32), ones_w)
        + np.matmul(ones_a, wn.astype(f32))
        + np.matmul((ap | am).astype(f32), wz.astype(f32))
        + np.matmul(az.astype(f32), (wp | wm).astype(f32))
    ) > 0
    pinf = (
        np.matmul(ap.astype(f32), wpos.astype(f32))
        + np.matmul(am.astype(f32), wneg.astype(f32))
        + np.matmul(apos.astype(f32), wp.astype(f32))
        + np.matmul(aneg.astype(f32), wm.astype(f32))
    ) > 0
    ninf = (
        np.matmul(ap.astype(f32), wneg.astype(f32))
        + np.matmul(am.astype(f32), wpos.astype(f32))
        + np.matmul(apos.astype(f32), wm.astype(f32))
        + np.matmul(aneg.astype(f32), wp.astype(f32))
    ) > 0
    return nan, pinf, ninf


def _apply_flags(values, nan, pinf, ninf):
    out = np.where(pinf, np.inf, values)
    out = np.where(ninf, -np.inf, out)
    return np.where(nan | (pinf & ninf), np.nan, out)


def _two_word_matmul(ai: np.ndarray, wi: np.ndarray):
    """Exact ``ai @ wi`` of integer matrices (float64 holding integers below 2**63) as two int64 words:
    ``value = hi * 2**32 + lo`` with ``lo`` in [0, 2**32)."""
    amax = float(column_max(ai).max(initial=0))
    wmax = float(column_max(wi).max(initial=0))
    if amax * wmax * ai.shape[-1] < 2.0**61:
        s = exact_matmul(ai, wi)
        return s >> np.int64(32), s & _M32
    ai = ai.astype(np.int64)
    wi = wi.astype(np.int64)
    a_limbs = split_limbs(ai, LIMB_BITS)
    w_limbs = split_limbs(wi, LIMB_BITS)
    shape = np.broadcast_shapes(ai.shape[:-2], wi.shape[:-2]) + (ai.shape[-2], wi.shape[-1])
    hi = np.zeros(shape, np.int64)
    lo = np.zeros(shape, np.int64)
    for i, al in enumerate(a_limbs):
        for j, wl in enumerate(w_limbs):
            c = exact_matmul(al, wl)  # |c| < K * 2**40
            sh = LIMB_BITS * (i + j)
            q, r = divmod(sh, 32)
            c_lo, c_hi = c & _M32, c >> np.int64(32)
            v = c_lo << np.int64(r)  # < 2**63
            word0 = v & _M32
            word1 = (v >> np.int64(32)) + (c_hi << np.int64(r))
            if q == 0:
                lo += word0
                hi += word1
            else:  # contributes only to hi: value < 2**95 keeps hi inside int64
                hi += (word0 << np.int64(32 * (q - 1))) + (word1 << np.int64(32 * q))
            hi += lo >> np.int64(32)
            lo &= _M32
    return hi, lo


def round_to_odd_sum(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``x + y`` of float64 arrays rounded to odd (exact sum, then the LSB forced to 1 if inexact).

    Rounding this once more to any format with at most 51 significant bits gives the correctly rounded exact
    sum.
    """
    s = x + y
    with np.errstate(invalid="ignore"):
        bb = s - x
        e = (x - (s - bb)) + (y - bb)
        fix = np.isfinite(s) & (e != 0) & ((s.view(np.int64) & 1) == 0)
    if fix.any():
        s = np.where(fix, np.nextafter(s, np.where(e > 0, np.inf, -np.inf)), s)
    return s


def minifloat_matmul(
    a,
    w,
    in_fmt: Minifloat,
    w_fmt: Minifloat,
    *,
    accumulator: Minifloat | None = None,
    product_format: Minifloat | None = None,
    bias=None,
    readout=None,
    rounding=Rounding.NEAREST_EVEN,
    rng=None,
    check_operands: bool = True,
) -> MinifloatMacResult:
    """Minifloat MAC array: ``a @ w`` with exact products, Kulisch or float accumulation (module docstring).

    Parameters
    ----------
    a : array of float, shape (..., M, K)
        Input values, representable in ``in_fmt`` (NaN/Inf allowed where the format has them).
    w : array of float, shape (..., K, N)
        Weight values, representable in ``w_fmt``.
    in_fmt, w_fmt : Minifloat
    accumulator : Minifloat, optional
        None: exact Kulisch accumulator (``kulisch_bits`` wide). A Minifloat: float accumulation, one rounding
        per addition, in K order.
    product_format : Minifloat, optional
        Float accumulation only: round each product to this format before adding it.
    bias : array of float, shape (N,) (or broadcastable to (..., 1, N)), optional
        Preloaded value per output column (rounded to the Kulisch grid / the accumulator format first).
    readout : Minifloat or FixedPoint, optional
        Format the accumulator is read out into (one rounding). None: the nearest float64 of the exact sum
        (Kulisch) or the accumulator contents.
    rounding : Rounding or str
        Rounding of every rounding step.
    rng : optional
        Seed / key for stochastic rounding.
    check_operands : bool
        Verify that ``a`` and ``w`` are representable (one quantization pass each); callers that quantized the
        operands themselves pass False.

    Returns
    -------
    MinifloatMacResult
    """
    rounding = Rounding.coerce(rounding, "rounding")
    if check_operands:
        a = _check_values(a, in_fmt, "a")
        w = _check_values(w, w_fmt, "w")
    else:
        a = np.asarray(a, dtype=np.float64)
        w = np.asarray(w, dtype=np.float64)
    check_chain(a, w)
    if accumulator is not None:
        require(accumulator, Minifloat, "accumulator")
    if product_format is not None:
        require(product_format, Minifloat, "product_format")
        if accumulator is None:
            raise ValueError(
                "product_format rounds products before a float accumulator; the Kulisch accumulator "
                "adds exact products (give accumulator= a Minifloat)"
            )
    n = w.shape[-1]
    b = None
    if bias is not None:
        b = np.asarray(bias, dtype=np.float64)
        if b.ndim < 1 or b.shape[-1] != n:
            raise ValueError(f"bias has shape {b.shape}, expected ({n},) (one value per output column)")
    keys = (
        (None, None)
        if rounding is not Rounding.STOCHASTIC
        else (stochastic_key(rng), StochasticKey(stochastic_key(rng).seed + 1))
    )
    # a sum is finite iff every term is (these magnitudes cannot overflow float64): one pass, no temporaries
    nonfinite = not (np.isfinite(a.sum()) and np.isfinite(w.sum()) and (b is None or np.isfinite(b).all()))
    if nonfinite:
        nan, pinf, ninf = _special_flags(a, w)
        if b is not None:
            nan |= np.isnan(b)
            pinf |= b == np.inf
            ninf |= b == -np.inf
        a = np.where(np.isfinite(a), a, 0.0)
        w = np.where(np.isfinite(w), w, 0.0)
        b = None if b is None else np.where(np.isfinite(b), b, 0.0)
    if not nonfinite:
        shape = np.broadcast_shapes(a.shape[:-2], w.shape[:-2]) + (a.shape[-2], n)
        nan = pinf = ninf = np.zeros(shape, dtype=bool)
    if accumulator is None:
        values, acc_name = _kulisch(a, w, in_fmt, w_fmt, b, readout is not None, rounding, keys[1])
    else:
        native = (
            accumulator == _FP32
            and rounding is Rounding.NEAREST_EVEN
            and product_format is None
            and _products_exact_in_float32(in_fmt, w_fmt)
        )
        values, flags = _float_accumulate(a, w, accumulator, product_format, b, rounding, keys[0], native,
                                          _sums_exact_in_float64(in_fmt, w_fmt, accumulator))
        nan, pinf, ninf = nan | flags[0], pinf | flags[1], ninf | flags[2]
        acc_name = str(accumulator)
    values = _apply_flags(values, nan, pinf, ninf)
    nan_count = int(np.isnan(values).sum())
    inf_count = int(np.isinf(values).sum())
    saturations = 0
    if readout is not None:
        saturations = clamped_outputs(values, readout, lambda v, wide: wide.quantize(v, rounding, rng=keys[1]),
                                      elementwise=keys[1] is None)
        if not readout.has_nan:  # NaN has no code in the readout format (fixed point): it stays NaN
            isn = np.isnan(values)
            values = np.where(isn, np.nan, readout.quantize(np.where(isn, 0.0, values), rounding, rng=keys[1]))
        else:
            values = readout.quantize(values, rounding, rng=keys[1])
    return MinifloatMacResult(values, acc_name, nan_count, inf_count, saturations)


def _kulisch_words(a, w, in_fmt, w_fmt, b, rounding, key):
    """The exact sum in the Kulisch accumulator as two int64 words (``hi * 2**32 + lo``, ``0 <= lo < 2**32``), in
    units of ``2**(qa + qw)``, and the accumulator's width."""
    k = a.shape[-1]
    width = kulisch_bits(in_fmt, w_fmt, max(k, 1))
    if width > MAX_KULISCH_BITS:
        raise ValueError(
            f"a Kulisch accumulator for {in_fmt} x {w_fmt} with K={k} needs {width} bits; at most "
            f"{MAX_KULISCH_BITS} are supported: declare a float accumulator (e.g. accumulator=fp32)"
        )
    qa, qw = quantum_exp(in_fmt), quantum_exp(w_fmt)
    # Every value is an integer multiple of 2**q, so a float64 GEMM on the values themselves is exact when the
    # column bound, in units of 2**(qa + qw), stays below 2**53 (power-of-two scaling commutes with rounding).
    bound = k * in_fmt.max * w_fmt.max  # from the formats alone (no pass over the data)
    if np.ldexp(bound, -(qa + qw)) > 2.0**53 * (1 - 1e-9):  # then from the data: sum_k max_m|a| * |w|
        bound = float((column_max(a)[..., :, None] * np.abs(w)).sum(axis=-2).max(initial=0.0))
    if qa + qw >= -960 and np.ldexp(bound, -(qa + qw)) <= 2.0**53 * (1 - 1e-9):
        s = np.ldexp(np.matmul(a, w), -(qa + qw)).astype(np.int64)
        hi, lo = s >> np.int64(32), s & _M32
    else:
        hi, lo = _two_word_matmul(np.ldexp(a, -qa), np.ldexp(w, -qw))  # integer significands, held in float64
    if b is not None:  # preload: the bias rounded to the Kulisch grid
        bi = round_to_integer(np.ldexp(b, -(qa + qw)), rounding, key)  # exact below 2**53
        bh = np.floor(np.ldexp(bi, -32))
        bl = bi - np.ldexp(bh, 32)
        hi = hi + bh.astype(np.int64)
        lo = lo + bl.astype(np.int64)
        hi += lo >> np.int64(32)
        lo &= _M32
    return hi, lo, width


def _kulisch_in_float64(a, w, in_fmt, w_fmt, b, rounding, key):
    """The exact Kulisch sum as a float64 when it provably is one: the column bound plus the preload, in units of
    ``2**(qa + qw)``, below ``2**53`` (then one float64 GEMM of the values is exact, :func:`_kulisch_words`, and
    so is adding the preload); else None. Zero sums are +0, as the integer register's."""
    k = a.shape[-1]
    qa, qw = quantum_exp(in_fmt), quantum_exp(w_fmt)
    if qa + qw < -960:
        return None
    limit = 2.0**53 * (1 - 1e-9)
    bound = k * in_fmt.max * w_fmt.max
    if np.ldexp(bound, -(qa + qw)) > limit:
        bound = float((column_max(a)[..., :, None] * np.abs(w)).sum(axis=-2).max(initial=0.0))
    bi = None
    if b is not None:
        bi = round_to_integer(np.ldexp(b, -(qa + qw)), rounding, key)  # the preload on the register's grid
        bound = np.ldexp(bound, -(qa + qw)) + float(np.abs(bi).max(initial=0.0))
    else:
        bound = np.ldexp(bound, -(qa + qw))
    if bound > limit:
        return None
    v = np.matmul(a, w)
    if bi is not None:
        v = v + np.ldexp(bi, qa + qw)  # exact: both terms and the sum are integers below 2**53 in units
    v += 0.0  # -0.0 (all-zero products of negative sign) is the register's +0
    return v


def _kulisch(a, w, in_fmt, w_fmt, b, to_odd: bool, rounding, key):
    """Exact sum in the Kulisch accumulator, as float64: round-to-odd (for one more rounding) or nearest."""
    width = kulisch_bits(in_fmt, w_fmt, max(a.shape[-1], 1))
    if width <= MAX_KULISCH_BITS:
        v = _kulisch_in_float64(a, w, in_fmt, w_fmt, b, rounding, key)
        if v is not None:  # exact, so nearest and odd are the same value
            return v, f"kulisch{width}"
    hi, lo, width = _kulisch_words(a, w, in_fmt, w_fmt, b, rounding, key)
    q = quantum_exp(in_fmt) + quantum_exp(w_fmt)
    x = np.ldexp(hi.astype(np.float64), 32)  # exact: |hi| < 2**62
    y = lo.astype(np.float64)
    if not to_odd:
        return np.ldexp(x + y, q), f"kulisch{width}"  # one correctly rounded float64 addition
    return np.ldexp(round_to_odd_sum(x, y), q), f"kulisch{width}"


def kulisch_contents(a, w, in_fmt: Minifloat, w_fmt: Minifloat, *, bias=None, rounding=Rounding.NEAREST_EVEN,
                     rng=None) -> WideInt:
    """The integer contents of the Kulisch accumulator after ``a @ w`` (plus the preloaded ``bias``): the exact
    sums in units of ``2**(q_in + q_w)``, i.e. the codes of ``kulisch_format(in_fmt, w_fmt, K)``, as a
    ``WideInt`` (``to_python()`` gives Python integers). This is what a hardware Kulisch register holds, bit for
    bit; NaN and Inf operands contribute nothing here (the hardware's sticky flags, which ``minifloat_matmul``
    reads out, are kept beside the register). ``rng`` is the seed ``minifloat_matmul`` was given: the bias is
    rounded to the register's grid with the same key."""
    rounding = Rounding.coerce(rounding, "rounding")
    a = np.asarray(a, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    check_chain(a, w)
    key = None if rounding is not Rounding.STOCHASTIC else StochasticKey(stochastic_key(rng).seed + 1)
    a = np.where(np.isfinite(a), a, 0.0)
    w = np.where(np.isfinite(w), w, 0.0)
    b = None if bias is None else np.asarray(bias, dtype=np.float64)
    if b is not None:
        b = np.where(np.isfinite(b), b, 0.0)
    hi, lo, width = _kulisch_words(a, w, in_fmt, w_fmt, b, rounding, key)
    n = digits_for(width)
    return wide_add(WideInt.from_int64(hi, n, shift=32), WideInt.from_int64(lo, n))


_FP32 = Minifloat(8, 23)


def _products_exact_in_float32(in_fmt: Minifloat, w_fmt: Minifloat) -> bool:
    """Whether every product of the two formats is a float32 number (so float32 hardware adds round once)."""
    return (
        in_fmt.man_bits + w_fmt.man_bits + 2 <= 24
        and (in_fmt.emin - in_fmt.man_bits) + (w_fmt.emin - w_fmt.man_bits) >= -149
        and (in_fmt.emax + 1) + (w_fmt.emax + 1) <= 128
    )


def _sums_exact_in_float64(in_fmt: Minifloat, w_fmt: Minifloat, acc_fmt: Minifloat) -> bool:
    """Whether ``acc + a*w`` is exact in float64 for every accumulator value and product of these formats: all are
    multiples of ``2**qmin`` (the finer of the two quanta) and ``max|acc| + max|a*w| <= 2**(53 + qmin)`` (e.g.
    fp16 accumulating e4m3 or e5m2 products: ``qmin = -24`` (fp16) or -32 (e5m2 x e5m2), sums below ``2**17``)."""
    qmin = min(quantum_exp(acc_fmt), quantum_exp(in_fmt) + quantum_exp(w_fmt))
    return acc_fmt.max + in_fmt.max * w_fmt.max <= math.ldexp(1.0, 53 + qmin)


def _walk_format(fmt: Minifloat) -> tuple:
    """``(man_bits, emin, max, natural overflow)`` of ``fmt`` for :func:`~ristretto_sim.emulator.jit.float_walk`."""
    overflow = {Specials.IEEE: jit.OVERFLOW_INF, Specials.FN: jit.OVERFLOW_NAN}.get(fmt.specials,
                                                                                    jit.OVERFLOW_SATURATE)
    return (fmt.man_bits, fmt.emin, float(fmt.max), overflow)


def _compiled_formats(acc_fmt: Minifloat, product_format, rounding: Rounding, key):
    """The accumulator's and the product format's parameters for the compiled float walk, or None when it does
    not apply (numba missing, a rounding other than nearest-even, formats without subnormals, more than 51
    significand bits: round to odd then one rounding is exact only up to 51)."""
    if not jit.available() or rounding is not Rounding.NEAREST_EVEN or key is not None:
        return None
    fmts = (acc_fmt,) if product_format is None else (acc_fmt, product_format)
    if any(not f.subnormals or f.man_bits + 1 > 51 for f in fmts):
        return None
    return _walk_format(acc_fmt), None if product_format is None else _walk_format(product_format)


def _float_accumulate(a, w, acc_fmt: Minifloat, product_format, b, rounding, key, fp32_native=False,
                      exact_sums=False):
    shape = np.broadcast_shapes(a.shape[:-2], w.shape[:-2]) + (a.shape[-2], w.shape[-1])
    if fp32_native:
        # IEEE float32 with round-to-nearest-even is this accumulator: NumPy float32 additions are exactly it
        # (the products are float32 numbers, so each addition rounds the exact sum once)
        a32, w32 = a.astype(np.float32), w.astype(np.float32)
        acc = np.zeros(shape, dtype=np.float32)
        if b is not None:
            acc += np.asarray(b).astype(np.float32)
        with np.errstate(over="ignore", invalid="ignore"):
            for k in range(a.shape[-1]):
                acc += a32[..., :, k, None] * w32[..., k, None, :]
        return acc.astype(np.float64), tuple(np.zeros(shape, dtype=bool) for _ in range(3))
    size = int(np.prod(shape))
    acc = np.zeros(shape)
    nan, pinf, ninf = (np.zeros(shape, dtype=bool) for _ in range(3))
    if b is not None:
        acc = acc + acc_fmt.quantize(b, rounding, rng=None if key is None else StochasticKey(key.seed + 7))
    compiled = _compiled_formats(acc_fmt, product_format, rounding, key)
    if compiled is not None and a.shape[-1]:
        acc = np.ascontiguousarray(acc)
        lead = shape[:-2]
        ab = np.broadcast_to(a, lead + a.shape[-2:])
        wb = np.broadcast_to(w, lead + w.shape[-2:])
        rows = np.arange(shape[-2], dtype=np.int64)
        with np.errstate(over="ignore", invalid="ignore"):
            for idx in np.ndindex(*lead):
                if compiled[1] is None and exact_sums:
                    jit.float_walk_exact_sums(ab[idx], wb[idx], acc[idx], compiled[0], rows)
                else:
                    jit.float_walk(ab[idx], wb[idx], acc[idx], compiled[0], compiled[1], rows,
                                   (nan[idx], pinf[idx], ninf[idx]))
        return acc, (nan, pinf, ninf)
    for k in range(a.shape[-1]):
        p = a[..., :, k, None] * w[..., k, None, :]  # exact
        keys = (None, None) if key is None else (StochasticKey(key.seed, key.offset + 2 * k * size),
                                                 StochasticKey(key.seed, key.offset + (2 * k + 1) * size))
        acc, flags, _ = float_accumulate_step(acc, np.broadcast_to(p, shape), acc_fmt, product_format, rounding, keys)
        nan, pinf, ninf = nan | flags[0], pinf | flags[1], ninf | flags[2]
    return acc, (nan, pinf, ninf)


def float_accumulate_step(acc, p, acc_fmt: Minifloat, product_format, rounding, keys=(None, None)):
    """One addition of the float accumulation: the exact products ``p`` (finite, float64, shaped as ``acc``)
    rounded to ``product_format`` (when given; one that overflows it to Inf/NaN sets the sticky flags and adds
    +0), then ``acc + p`` rounded once to ``acc_fmt`` (natural overflow). ``keys``: the stochastic keys of the
    two roundings. Returns ``(acc, (nan, pinf, ninf), s)``: the new accumulator, this step's flags and the sum
    before its rounding (rounded to odd in float64, which rounds once more correctly)."""
    zeros = np.zeros(np.shape(p), dtype=bool)
    nan = pinf = ninf = zeros
    if product_format is not None:
        p = product_format.quantize(p, rounding, rng=keys[0])
        if not np.isfinite(p).all():  # a product that overflows the product format sets the sticky flags
            nan, pinf, ninf = np.isnan(p), p == np.inf, p == -np.inf
            p = np.where(np.isfinite(p), p, 0.0)
    s = round_to_odd_sum(acc, p)
    return acc_fmt.quantize(s, rounding, rng=keys[1]), (nan, pinf, ninf), s
