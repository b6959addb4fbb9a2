"""The accumulation contract of every fixed-point MAC array ("Accumulators are real").

An output is computed as the hardware does it: the accumulator (a declared ``FixedPoint`` with
``acc.frac_bits == in.frac_bits + w.frac_bits``) is preloaded with the bias, rounded to the accumulator's
fraction with the layer's rounding mode; then the exact products are added over K in (ky, kx, c) order,
channel innermost.

* ``Overflow.WRAP``: two's complement wrap-around, which is independent of the order; the overflow count is
  the number of outputs whose exact sum (bias included) lies outside the accumulator's range.
* ``Overflow.SATURATE``: the running sum is clamped after every addition; the count is the number of outputs
  that were clipped at least once.

Fast path: if ``bias + sum_k max(a*w)`` and ``bias + sum_k min(a*w)`` (positive and negative parts bounded
per column from the column extremes of ``a``) lie in the range, no addition can clip and the exact BLAS sum
is the answer. Otherwise two exact GEMMs give, per output, the sum ``P - N`` and the magnitude sum ``P + N``
of its products (``P``, ``N``: positive and negative parts); every prefix sum lies in ``[bias - N, bias +
P]``, and if that is inside the range for every output, the exact sum is again the answer. Otherwise K is
walked in chunks (a power of two sized so that the typical output's chunk spans about a quarter of the range)
carrying the clipped running sum ``s``, with the same test per chunk: outputs whose ``[s - N, s + P]`` stays
in range take the exact chunk sum at once; only the others are re-walked one product at a time, vectorised
over those outputs (or over all outputs, with outer products, when many need it). The result is exactly
equal to clamping after every addition.

Compiled walk: when numba is installed (the ``fast`` extra) and the products are integer codes
(:class:`IntegerProducts`), the columns that the bounds cannot prove safe are walked instead by one compiled loop
over all of K (:func:`~ristretto_sim.emulator.jit.saturating_walk`: int64 lanes over the output columns, zero
activations skipped), which is the definition itself and needs neither the bound GEMMs nor the chunking; the tests
hold it bit-identical (codes and overflow counts) to the NumPy walk above and to Python integers.

The products come from a :class:`ProductSource` (plain fixed point x fixed point, or a shift-and-add PE), so
every PE kind shares this one accumulator model.

Widths. Accumulators up to 128 bits signed (127 unsigned, :data:`MAX_ACCUMULATOR_BITS`). While the exact sums
(bias included) are bounded by ``2**62`` in magnitude everything above runs in int64. Beyond that, the limb
path (:mod:`~ristretto_sim.emulator.wide_accumulator`) computes the same contract with
:class:`~ristretto_sim.emulator.wide.WideInt` sums (integer products only; shift-and-add PEs keep the
``2**62`` limit). Accumulator codes are int64 when the accumulator's range fits int64 (signed up to 64 bits,
unsigned up to 63) and a ``WideInt`` otherwise (:func:`wide_accumulator`), whichever path computed them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ristretto_sim.emulator import jit
from ristretto_sim.emulator import wide as wd
from ristretto_sim.emulator.exact_sum import INT64_SAFE, exact_matmul, integer_kernel_matmul, wide_matmul
from ristretto_sim.emulator.wide import WideInt, digits_for
from ristretto_sim.emulator.wide_accumulator import accumulate_wide
from ristretto_sim.formats import FixedPoint, Overflow, Rounding
from ristretto_sim.formats.base import require
from ristretto_sim.formats.rounding import round_to_integer

#: widest accumulator supported (signed; unsigned accumulators one bit less): FixedPoint's own maximum
MAX_ACCUMULATOR_BITS = 128
#: largest and smallest number of products per chunk when K is walked (saturation possible)
WALK_CHUNK = 256
MIN_WALK_CHUNK = 4
#: above this fraction of outputs to re-walk in a chunk, every output is walked (dense outer products)
DENSE_WALK_FRACTION = 0.05


def walk_chunk(mass: np.ndarray, k: int, span: int) -> int:
    """Products per chunk of the saturation walk: a power of two such that the typical output's ``sum |p|``
    over a chunk (``mass / k`` per product) is about a quarter of the accumulator span, so that most outputs
    pass a chunk without a re-walk."""
    per_k = float(np.median(mass)) / max(k, 1) if mass.size else 0.0
    if per_k <= 0:
        return WALK_CHUNK
    c = 2 ** int(np.floor(np.log2(max(span / (4 * per_k), 1.0))))
    return int(min(max(c, MIN_WALK_CHUNK), WALK_CHUNK))


@dataclass(frozen=True)
class AccumulatorResult:
    """Accumulator contents after the last addition.

    Attributes
    ----------
    codes : ndarray of int64 or WideInt
        Accumulator codes (value = ``code * 2**-acc.frac_bits``): int64 when the accumulator's range fits int64,
        a :class:`~ristretto_sim.emulator.wide.WideInt` otherwise (:func:`wide_accumulator`).
    accumulator : FixedPoint
        The accumulator format.
    overflow : Overflow
        ``WRAP`` or ``SATURATE``.
    overflow_count : int
        WRAP: outputs whose exact sum left the range. SATURATE: outputs clipped at least once.
    bias_saturations : int
        Bias values that did not fit the accumulator and were clamped when preloaded.
    """

    codes: np.ndarray
    accumulator: FixedPoint
    overflow: Overflow
    overflow_count: int
    bias_saturations: int = 0


def wide_accumulator(acc: FixedPoint) -> bool:
    """Whether codes of ``acc`` are held as :class:`~ristretto_sim.emulator.wide.WideInt` (its range does not fit
    int64: signed wider than 64 bits, unsigned wider than 63)."""
    return acc.bits > (64 if acc.signed else 63)


def _frac_vector(fmt: FixedPoint, n: int, name: str) -> np.ndarray:
    if fmt.per_channel:
        if len(fmt.frac_bits) != n:
            raise ValueError(f"{name}={fmt} has {len(fmt.frac_bits)} per-channel fractional lengths, expected {n}")
        return np.asarray(fmt.frac_bits, dtype=np.int64)
    return np.full(n, fmt.frac_bits, dtype=np.int64)


def check_fixed(fmt, name: str) -> FixedPoint:
    """Return ``fmt`` if it is a ``FixedPoint``, else raise ``TypeError`` naming the parameter."""
    return require(fmt, FixedPoint, name)


def check_per_tensor(fmt, name: str) -> FixedPoint:
    """Return ``fmt`` if it is a per-tensor ``FixedPoint``; else ``TypeError`` / ``ValueError`` naming the
    parameter."""
    check_fixed(fmt, name)
    if fmt.per_channel:
        raise ValueError(f"{name}={fmt} must be per-tensor")
    return fmt


def accumulator_frac_bits(in_fmt: FixedPoint, w_fmt: FixedPoint, n_out: int):
    """The accumulator fraction the contract requires: ``in.frac_bits + w.frac_bits`` (a tuple if
    per-channel)."""
    if in_fmt.per_channel:
        raise ValueError(f"inputs={in_fmt} cannot be per-channel (per-channel fractions are for weights)")
    if not w_fmt.per_channel:
        return in_fmt.frac_bits + w_fmt.frac_bits
    fr = _frac_vector(w_fmt, n_out, "weights") + in_fmt.frac_bits
    return tuple(int(f) for f in fr)


def default_accumulator(in_fmt: FixedPoint, w_fmt: FixedPoint, k: int, n_out: int | None = None) -> FixedPoint:
    """The accumulator that cannot overflow: ``bits = in.bits + w.bits + ceil(log2 K) + 1``.

    Parameters
    ----------
    in_fmt, w_fmt : FixedPoint
        Input (activation) and weight formats.
    k : int
        Reduction length (products per output).
    n_out : int, optional
        Number of output channels (needed for per-channel weights).
    """
    check_fixed(in_fmt, "inputs")
    check_fixed(w_fmt, "weights")
    if k < 1:
        raise ValueError(f"k={k} must be >= 1")
    if w_fmt.per_channel and n_out is None:
        n_out = len(w_fmt.frac_bits)
    bits = in_fmt.bits + w_fmt.bits + math.ceil(math.log2(k)) + 1
    return FixedPoint(bits, accumulator_frac_bits(in_fmt, w_fmt, n_out or 1))


def check_accumulator(acc: FixedPoint, in_fmt: FixedPoint, w_fmt: FixedPoint, n_out: int) -> np.ndarray:
    """Validate the accumulator against the contract; return its per-output-channel fractions (int64,
    ``n_out``).

    Raises
    ------
    ValueError
        If ``acc.frac_bits != in.frac_bits + w.frac_bits`` (per channel), or the accumulator is too wide.
    """
    check_fixed(acc, "accumulator")
    limit = MAX_ACCUMULATOR_BITS - (0 if acc.signed else 1)
    if acc.bits > limit:
        raise ValueError(f"accumulator={acc} has {acc.bits} bits; at most {limit} are supported")
    want = accumulator_frac_bits(in_fmt, w_fmt, n_out)
    want_v = np.broadcast_to(np.asarray(want, dtype=np.int64), (n_out,))
    have_v = _frac_vector(acc, n_out, "accumulator")
    if not np.array_equal(want_v, have_v):
        raise ValueError(
            f"accumulator={acc}: frac_bits must equal inputs.frac_bits + weights.frac_bits = {want} "
            f"(inputs {in_fmt}, weights {w_fmt})"
        )
    return have_v


def bias_to_accumulator(bias, acc: FixedPoint, frac_bits: np.ndarray, rounding=Rounding.NEAREST_EVEN, rng=None):
    """Round bias values to the accumulator's fraction and clamp them into its range (the preload).

    Parameters
    ----------
    bias : array_like of float, shape (n_out,)
        Bias values (already on the bias format's grid, or raw floats).
    acc : FixedPoint
        Accumulator format.
    frac_bits : ndarray of int64, shape (n_out,)
        Accumulator fraction per output channel.
    rounding : Rounding or str
        The layer's rounding mode.
    rng : optional
        Seed/key for stochastic rounding.

    Returns
    -------
    codes : ndarray of int64 or WideInt, shape (n_out,)
        A WideInt when the accumulator's range does not fit int64 (:func:`wide_accumulator`).
    saturations : int
        Number of bias values clamped into the accumulator range.
    """
    rounding = Rounding.coerce(rounding, "rounding")
    b = np.asarray(bias, dtype=np.float64)
    if b.shape != frac_bits.shape:
        raise ValueError(f"bias has shape {b.shape}, expected {frac_bits.shape} (one value per output channel)")
    if not np.isfinite(b).all():
        raise ValueError("bias contains NaN or infinite values")
    r = round_to_integer(np.ldexp(b, frac_bits), rounding, rng)
    top = np.ldexp(1.0, acc.bits - 1 if acc.signed else acc.bits)  # first code above the range (exact)
    over = r >= top
    under = r < float(acc.min_code)
    if wide_accumulator(acc):  # codes beyond int64: exact through Python ints (one per output channel)
        vals = [acc.max_code if o else acc.min_code if u else int(v) for v, o, u in zip(r, over, under, strict=True)]
        return WideInt.from_ints(vals, digits_for(acc.bits)), int(over.sum() + under.sum())
    codes = np.where(over | under, 0.0, r).astype(np.int64)
    codes[over] = acc.max_code
    codes[under] = acc.min_code
    return codes, int(over.sum() + under.sum())


class ProductSource:
    """The products of a MAC array, ``p[..., m, k, n]``, summed over ``k`` (base class).

    Subclasses provide exact partial sums over a K range (BLAS), an upper bound on ``sum |p|`` over a K range,
    a per-column bound on ``sum_k |p|`` over all K, and single products for selected outputs (the slow walk).
    Leading dimensions (groups) broadcast; outputs have shape ``(..., M, N)``.
    """

    K: int
    out_shape: tuple[int, ...]

    def partial(self, k0: int, k1: int, cols=None) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def abs_partial(self, k0: int, k1: int, cols=None) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def column_bound(self) -> np.ndarray:  # pragma: no cover - interface
        """Float64 array (..., N): an upper bound on ``sum_k |p[..., m, k, n]|`` for every m."""
        raise NotImplementedError

    def column_range(self) -> tuple[np.ndarray, np.ndarray]:
        """Bounds ``(neg, pos)``, float64 (..., N), on every subset sum of ``p[..., m, :, n]``."""
        cb = self.column_bound()
        return -cb, cb

    def products_dense(self, k: int, cols=None) -> np.ndarray:  # pragma: no cover - interface
        """Exact int64 products at reduction index ``k`` for every output (of the columns ``cols``)."""
        raise NotImplementedError

    def products(self, idx: tuple[np.ndarray, ...], k: int, cols=None) -> np.ndarray:  # pragma: no cover
        """Exact int64 products at reduction index ``k`` for the outputs ``idx`` (index arrays into
        out_shape)."""
        raise NotImplementedError

    # the limb path (wide sums); sources that cannot provide it keep the int64 limit
    def partial_wide(self, n: int, base: WideInt | None = None) -> WideInt:
        """Exact sums over all of K (plus ``base``, broadcast) as a WideInt of ``n`` digits."""
        raise ValueError(
            f"{type(self).__name__}: exact sums could reach 2**62; this PE supports int64 sums only "
            "(operands too wide)"
        )

    def mass_bound(self) -> np.ndarray:
        """Float64 (..., M, N): an upper bound (up to float64 rounding) on ``sum_k |p|`` per output."""
        return np.broadcast_to(self.column_bound()[..., None, :], self.out_shape)

    def max_product(self) -> float:
        """Upper bound on ``|p|`` over every product (float64)."""
        return float("inf")

    def products_wide(self, idx: tuple[np.ndarray, ...], k: int, n: int) -> WideInt:
        """Exact products at ``k`` for the outputs ``idx`` as a WideInt of ``n`` digits."""
        return WideInt.from_int64(self.products(idx, k), n)

    def has_walk(self) -> bool:
        """Whether :meth:`walk` is available (default: no; the NumPy chunk walk runs instead)."""
        return False

    def walk(self, s: np.ndarray, todo: np.ndarray, lo: int, hi: int, cols) -> np.ndarray:  # pragma: no cover
        """The compiled saturation walk over all of K (:func:`~ristretto_sim.emulator.jit.saturating_walk`) for
        the rows of ``s`` with an output in ``todo`` (bool, shape of ``s``), columns ``cols``: updates ``s`` in
        place (the preloaded sums) and returns which outputs were clipped."""
        raise NotImplementedError


class IntegerProducts(ProductSource):
    """Products ``a[..., m, k] * w[..., k, n]`` of integer codes (fixed point x fixed point).

    ``w_abs_colsum`` (``sum_k |w|``, float64 (..., N)) may be given with ``a_column_extremes`` that are the same
    in every column k (those of ``a``'s format): the column bounds are then that product, and the whole product
    goes straight to the integer kernel when the operands fit it, without the (K, N) bound matrix.
    """

    def __init__(self, a: np.ndarray, w: np.ndarray, a_column_extremes=None, backends=None, *, w_abs_colsum=None):
        self.a = a
        self.w = w
        self.backends = backends  # kernels.Backends for the exact GEMMs (None: the process default)
        self.K = a.shape[-1]
        self.out_shape = np.broadcast_shapes(a.shape[:-2], w.shape[:-2]) + (a.shape[-2], w.shape[-1])
        self._bounds = None
        self._extremes = a_column_extremes  # (max_m a, min_m a) per column k, float64, or None
        self._colsum = w_abs_colsum
        if w_abs_colsum is not None:
            hi, lo = a_column_extremes
            self._amax = max(float(hi.max(initial=0.0)), -float(lo.min(initial=0.0)))

    def _column_extremes(self):
        if self._extremes is None:
            if self.a.shape[-2] == 0:
                z = np.zeros(self.a.shape[:-2] + self.a.shape[-1:])
                self._extremes = (z, z)
            else:
                self._extremes = (
                    self.a.max(axis=-2).astype(np.float64),
                    self.a.min(axis=-2).astype(np.float64),
                )
        return self._extremes

    def column_range(self):
        ahi, alo = self._column_extremes()
        w = self.w.astype(np.float64)
        p_hi = np.maximum(ahi[..., :, None] * w, alo[..., :, None] * w)  # largest product per (k, n)
        p_lo = np.minimum(ahi[..., :, None] * w, alo[..., :, None] * w)
        return np.minimum(p_lo, 0.0).sum(axis=-2), np.maximum(p_hi, 0.0).sum(axis=-2)

    def _w(self, cols):
        return self.w if cols is None else self.w[..., cols]

    @property
    def bounds(self):
        """``(column_bounds, max|a|, max|w|)``, computed once."""
        if self._bounds is None:
            ahi, alo = self._column_extremes()
            acol = np.maximum(ahi, -alo)
            wabs = np.abs(self.w.astype(np.float64))  # (np.abs of int8 -128 is -128)
            self._bounds = (
                acol[..., :, None] * wabs,
                float(acol.max(initial=0.0)),
                float(wabs.max(initial=0.0)),
            )
        return self._bounds

    def partial(self, k0, k1, cols=None):
        if k0 == 0 and k1 == self.K and cols is None:
            if self._colsum is not None and self.w.size and self.a.dtype.kind in "iu" and self.w.dtype.kind in "iu":
                wmax = max(-float(self.w.min()), float(self.w.max()))
                if self._amax <= 255.0 and wmax <= 128.0:
                    out = integer_kernel_matmul(self.a, self.w, self._amax, wmax, self.out_shape, self.backends)
                    if out is not None:
                        return out
            return exact_matmul(self.a, self.w, bounds=self.bounds, backends=self.backends)
        return exact_matmul(self.a[..., k0:k1], self._w(cols)[..., k0:k1, :], backends=self.backends)

    def abs_partial(self, k0, k1, cols=None):
        return exact_matmul(_abs(self.a[..., k0:k1]), _abs(self._w(cols)[..., k0:k1, :]), backends=self.backends)

    def column_bound(self):
        if self._colsum is not None:
            return self._amax * self._colsum
        return self.bounds[0].sum(axis=-2)

    def products_dense(self, k, cols=None):
        return self.a[..., :, k, None].astype(np.int64) * self._w(cols)[..., None, k, :].astype(np.int64)

    def _operands(self, idx, k, cols=None):
        *lead, m, n = idx
        w = self._w(cols)
        a_lead = tuple(ix if self.a.shape[i] != 1 else 0 for i, ix in enumerate(lead))
        w_lead = tuple(ix if w.shape[i] != 1 else 0 for i, ix in enumerate(lead))
        return self.a[a_lead + (m, k)].astype(np.int64), w[w_lead + (k, n)].astype(np.int64)

    def products(self, idx, k, cols=None):
        av, wv = self._operands(idx, k, cols)
        return av * wv

    def partial_wide(self, n, base=None):
        ahi, alo = self._column_extremes()
        top = max(float(ahi.max(initial=0.0)), -float(alo.min(initial=0.0)))
        a_range = (int(alo.min(initial=0.0)), int(ahi.max(initial=0.0))) if top <= 2.0**53 else None  # exact
        return wide_matmul(self.a, self.w, n, base, bounds=self.bounds, a_range=a_range)

    def mass_bound(self):
        a = np.abs(self.a.astype(np.float64))
        return np.matmul(a, np.abs(self.w.astype(np.float64)))

    def max_product(self):
        _, amax, wmax = self.bounds
        return amax * wmax

    def has_walk(self):
        return jit.available() and self.a.dtype.kind in "iuf" and self.w.dtype.kind in "iuf"

    def walk(self, s, todo, lo, hi, cols):
        w = self._w(cols)
        lead = s.shape[:-2]
        a = np.broadcast_to(self.a, lead + self.a.shape[-2:])
        w = np.broadcast_to(w, lead + w.shape[-2:])
        clipped = np.zeros(s.shape, dtype=bool)
        rows = todo.any(axis=-1)
        for idx in np.ndindex(*lead):
            r = np.flatnonzero(rows[idx])
            if r.size:
                sub_s, sub_c = s[idx], clipped[idx]
                jit.saturating_walk(a[idx], w[idx], sub_s, lo, hi, r, sub_c)
        return clipped

    def products_wide(self, idx, k, n):
        av, wv = self._operands(idx, k)
        if self.max_product() <= float(2**62):
            return WideInt.from_int64(av * wv, n)
        return wd.product_int64(av, wv, n)


def _abs(x: np.ndarray) -> np.ndarray:
    """``|x|`` without integer overflow (NumPy's abs of int8 -128 is -128)."""
    return np.abs(x.astype(np.int64)) if x.dtype.kind in "iu" else np.abs(x)


def accumulate(products: ProductSource, bias_codes, acc: FixedPoint, overflow=Overflow.SATURATE) -> AccumulatorResult:
    """Run the accumulator contract (module docstring) over the products.

    Parameters
    ----------
    products : ProductSource
        The exact products, shape (..., M, K, N) conceptually.
    bias_codes : array of int64 or WideInt, broadcastable to (..., 1, N), or None
        Preloaded accumulator codes (on the accumulator grid, inside its range).
    acc : FixedPoint
        Accumulator format (``bits`` <= 128 signed, 127 unsigned).
    overflow : Overflow or str
        ``"wrap"`` or ``"saturate"`` (``"natural"`` means saturate).

    Returns
    -------
    AccumulatorResult
        ``codes`` int64, or a WideInt when the accumulator's range does not fit int64.
    """
    overflow = Overflow.coerce(overflow, "overflow")
    if overflow is Overflow.NATURAL:
        overflow = Overflow.SATURATE
    shape = products.out_shape
    wide_codes = wide_accumulator(acc)
    col_bound = products.column_bound()  # (..., N)
    if isinstance(bias_codes, WideInt):
        bias_abs = np.abs(wd.to_float64(bias_codes.broadcast_to(shape[:-2] + (1, shape[-1]))))[..., 0, :]
    else:
        bias = np.zeros(shape[:-2] + (1, shape[-1]), dtype=np.int64) if bias_codes is None else bias_codes
        bias = np.broadcast_to(np.asarray(bias).astype(np.int64), shape[:-2] + (1, shape[-1]))
        bias_abs = np.abs(bias.astype(np.float64))[..., 0, :]  # (..., N)
        # int64 sums; a wide accumulator then cannot overflow if signed (unsigned ones wrap negative sums)
        if float((bias_abs + col_bound).max(initial=0.0)) < INT64_SAFE and (acc.signed or not wide_codes):
            r = _accumulate_int64(products, None if bias_codes is None else bias, bias_abs, col_bound, acc, overflow)
            if wide_codes:
                codes = WideInt.from_int64(r.codes, digits_for(acc.bits))
                r = AccumulatorResult(codes, acc, overflow, r.overflow_count)
            return r
        bias_codes = bias
    codes, count = accumulate_wide(products, bias_codes, acc, overflow, bias_abs, col_bound, wide_codes)
    return AccumulatorResult(codes, acc, overflow, count)


def _accumulate_int64(products: ProductSource, bias_codes, bias_abs, col_bound, acc: FixedPoint,
                      overflow: Overflow) -> AccumulatorResult:
    """The contract with int64 sums (``|bias| + sum_k max|p| < 2**62``)."""
    # every prefix sum lies within +-2**62, so a wider range acts as if cut there (keeps lo, hi int64; callers
    # send wide accumulators here only when signed)
    lo, hi = max(acc.min_code, -(2**62)), min(acc.max_code, 2**62)
    shape = products.out_shape
    no_bias = bias_codes is None
    bias = np.zeros(shape[:-2] + (1, shape[-1]), dtype=np.int64) if no_bias else bias_codes
    if overflow is Overflow.WRAP or products.K == 0:
        s = products.partial(0, products.K)
        if not no_bias:
            s = s + bias
        s = s.astype(np.int64, copy=False)
        if float(s.min(initial=0)) >= lo and float(s.max(initial=0)) <= hi:
            return AccumulatorResult(s, acc, overflow, 0)
        # acc.bits < 64 here (a signed 64-bit accumulator holds every int64 sum); int64 arithmetic wraps
        # modulo 2**64, a multiple of 2**bits, so masking gives the two's complement wrap exactly; a sum changes
        # iff it lies outside the range (inside it, s - lo is already in [0, 2**bits))
        mask = np.int64((1 << acc.bits) - 1)
        with np.errstate(over="ignore"):
            t = s - np.int64(lo)
            t &= mask
            t += np.int64(lo)
        return AccumulatorResult(t, acc, overflow, int(np.count_nonzero(t != s)))

    # SATURATE
    # every prefix sum of a column lies in [bias + neg, bias + pos]; inside the range, nothing can clip
    margin = 1e-12 * max(float(hi), -float(lo), 1.0)  # the float64 bounds are exact to far better than this
    safe_col = bias_abs + col_bound <= min(float(hi), -float(lo)) - margin  # symmetric bound: cheapest
    if not safe_col.all():  # signed bounds (unsigned accumulators, one-signed products, asymmetric bias)
        neg, pos = products.column_range()
        bias_f = bias.astype(np.float64)[..., 0, :]
        safe_col |= (bias_f + pos <= float(hi) - margin) & (bias_f + neg >= float(lo) + margin)
    safe_col_n = safe_col.reshape((-1, shape[-1])).all(axis=0)  # safe for every group
    if safe_col_n.all():
        s = products.partial(0, products.K)
        if not no_bias:
            s += bias
        return AccumulatorResult(s, acc, overflow, 0)
    # allocated only now: an unused buffer of the result's size before the product makes the product's own
    # result a fresh allocation (page faults: 0.5 ms of the 2.6 ms int8 GEMM of the benchmark here)
    out = np.empty(shape, dtype=np.int64)
    if safe_col_n.any():
        cols = np.flatnonzero(safe_col_n)
        out[..., cols] = products.partial(0, products.K, cols=cols) + bias[..., cols]
    cols = np.flatnonzero(~safe_col_n)
    s = np.array(np.broadcast_to(bias[..., cols], shape[:-1] + (len(cols),)), dtype=np.int64)
    if products.has_walk():  # compiled: walk every output of these columns over all of K, no bound GEMMs
        clipped = products.walk(s, np.ones(s.shape, dtype=bool), lo, hi, cols)
        out[..., cols] = s
        return AccumulatorResult(out, acc, overflow, int(clipped.sum()))
    # per output over the whole of K (two GEMMs): most outputs usually stay far from the rails
    part = products.partial(0, products.K, cols=cols)
    mass = products.abs_partial(0, products.K, cols=cols)
    ok = (s + ((mass + part) >> 1) <= hi) & (s - ((mass - part) >> 1) >= lo)
    if ok.all():
        out[..., cols] = s + part
        return AccumulatorResult(out, acc, overflow, 0)
    clipped = np.zeros(s.shape, dtype=bool)
    chunk = walk_chunk(mass[~ok], products.K, hi - lo)
    for k0 in range(0, products.K, chunk):
        k1 = min(products.K, k0 + chunk)
        part = products.partial(k0, k1, cols=cols)
        mass = products.abs_partial(k0, k1, cols=cols)
        # sum|p| = P + N and sum p = P - N (P, N: positive and negative parts), so every prefix of the chunk
        # lies in [s - N, s + P]; where that is inside the range no prefix can leave it
        ok = (s + ((mass + part) >> 1) <= hi) & (s - ((mass - part) >> 1) >= lo)
        if ok.all():
            s += part
            continue
        unsafe = ~ok
        if unsafe.mean() > DENSE_WALK_FRACTION:  # walk every output: outer products, no gathers
            for k in range(k0, k1):
                s += products.products_dense(k, cols=cols)
                clipped |= (s < lo) | (s > hi)
                np.clip(s, lo, hi, out=s)
            continue
        s = np.where(ok, s + part, s)
        idx = np.nonzero(unsafe)
        sv = s[idx]
        cv = clipped[idx]
        for k in range(k0, k1):
            sv = sv + products.products(idx, k, cols=cols)
            cv |= (sv < lo) | (sv > hi)
            np.clip(sv, lo, hi, out=sv)
        s[idx] = sv
        clipped[idx] = cv
    out[..., cols] = s
    count = int(clipped.sum())
    return AccumulatorResult(out, acc, overflow, count)
