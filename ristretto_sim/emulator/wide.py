"""Wide integers for accumulators beyond int64: arrays of two's complement numbers held in 32-bit digits.

A :class:`WideInt` of ``n`` digits holds an int64 array ``digits`` of shape ``(n,) + shape``: element ``x`` is
the two's complement number over ``32 * n`` bits whose bits ``[32 t, 32 t + 32)`` are ``digits[t]``, each digit
in ``[0, 2**32)``. Every operation works on whole arrays with NumPy (a loop over the few digits at most, no
Python integers per element, no per-element loops): addition with carry propagation, negation, comparison
with a Python integer, clamping, wrap-around to a narrower width, bit fields, arithmetic shifts and conversion
to int64 (exact when the value fits) and to float64 (correctly rounded, or rounded to odd).

Arithmetic is modulo ``2**(32 n)``; callers pick ``n`` with guard bits (:func:`digits_for`) so that no value
they form can wrap. Digit values stay below ``2**33`` inside an addition, so int64 never overflows.

Sums of many int64 terms at various shifts (the limb path's GEMM results) are formed in carry-save form by
:func:`sum_int64`: each term goes whole (or split in two) into signed raw digits, with a bound per digit so
that no raw digit can overflow, and carries are propagated once at the end. Reading a wide value back into
int64 for requantization goes through windows: :func:`low_int64_at` (the 64 bits at a shift),
:func:`sign_run_from` (whether the value fits below a bit) and :func:`floor_shift_clamped` (an exact floor
quotient inside a window, a clamp outside).
"""

from __future__ import annotations

import math

import numpy as np

DIGIT_BITS = 32
_MASK = np.int64(0xFFFFFFFF)
_SIGN = np.int64(1 << 31)
_U64 = np.uint64


def digits_for(bits: int) -> int:
    """Digits holding any signed value of ``bits`` bits plus two guard bits."""
    return max(1, math.ceil((int(bits) + 2) / DIGIT_BITS))


class WideInt:
    """An array of two's complement integers over ``32 * n`` bits (module docstring).

    Treat instances as immutable: operations return new ones.

    Parameters
    ----------
    digits : ndarray of int64, shape (n,) + shape
        Digits, least significant first, each in ``[0, 2**32)``.
    """

    __slots__ = ("digits",)

    def __init__(self, digits: np.ndarray):
        d = np.asarray(digits)
        if d.dtype != np.int64 or d.ndim < 1:
            raise TypeError("WideInt digits must be an int64 array of shape (n,) + shape")
        self.digits = d

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_int64(cls, x, n: int, shift: int = 0) -> WideInt:
        """``x * 2**shift`` (``shift >= 0``) of an int64 array, over ``n`` digits (wraps modulo ``2**(32 n)``)."""
        x = np.asarray(x, dtype=np.int64)
        if shift < 0:
            raise ValueError(f"shift={shift} must be >= 0")
        fill = np.where(x < 0, _MASK, np.int64(0))
        out = np.empty((n,) + x.shape, dtype=np.int64)
        for t in range(n):
            low = DIGIT_BITS * t - shift  # bit of x that lands on bit 0 of digit t
            if low >= 64:
                out[t] = fill
            elif low >= 0:
                out[t] = (x >> np.int64(low)) & _MASK
            elif low > -DIGIT_BITS:
                out[t] = (x.view(np.uint64) << _U64(-low)).view(np.int64) & _MASK
            else:
                out[t] = 0
        return cls(out)

    @classmethod
    def from_python_int(cls, v: int, n: int) -> WideInt:
        """A scalar (shape ``()``) from a Python integer, modulo ``2**(32 n)``."""
        v = int(v) % (1 << (DIGIT_BITS * n))
        return cls(np.array([(v >> (DIGIT_BITS * t)) & 0xFFFFFFFF for t in range(n)], dtype=np.int64))

    @classmethod
    def from_ints(cls, values, n: int) -> WideInt:
        """A small array from Python integers (e.g. bias codes; a loop per element: not for bulk data)."""
        arr = np.asarray(values, dtype=object)
        flat = [cls.from_python_int(int(v), n).digits for v in arr.reshape(-1)]
        d = np.stack(flat, axis=1) if flat else np.zeros((n, 0), dtype=np.int64)
        return cls(d.reshape((n,) + arr.shape))

    @classmethod
    def zeros(cls, n: int, shape) -> WideInt:
        return cls(np.zeros((n,) + tuple(shape), dtype=np.int64))

    # ------------------------------------------------------------------ shape
    @property
    def n(self) -> int:
        return self.digits.shape[0]

    @property
    def shape(self) -> tuple[int, ...]:
        return self.digits.shape[1:]

    @property
    def ndim(self) -> int:
        return self.digits.ndim - 1

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def __getitem__(self, idx) -> WideInt:
        idx = idx if isinstance(idx, tuple) else (idx,)
        return WideInt(self.digits[(slice(None),) + idx])

    def reshape(self, shape) -> WideInt:
        shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
        return WideInt(self.digits.reshape((self.n,) + shape))

    def transpose(self, *axes) -> WideInt:
        axes = axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
        axes = tuple(range(self.ndim))[::-1] if not axes else tuple(axes)
        return WideInt(self.digits.transpose((0,) + tuple(a % self.ndim + 1 for a in axes)))

    def broadcast_to(self, shape) -> WideInt:
        shape = tuple(shape)
        d = self.digits.reshape((self.n,) + (1,) * (len(shape) - self.ndim) + self.shape)
        return WideInt(np.broadcast_to(d, (self.n,) + shape))

    def take(self, indices, axis: int) -> WideInt:
        return WideInt(np.take(self.digits, indices, axis=axis % self.ndim + 1))

    def copy(self) -> WideInt:
        return WideInt(np.array(self.digits))

    def resize(self, n: int) -> WideInt:
        """The same values over ``n`` digits (sign-extended; truncation is exact when the value fits)."""
        if n <= self.n:
            return WideInt(self.digits[:n])
        fill = np.broadcast_to(self._fill(), (n - self.n,) + self.shape)
        return WideInt(np.concatenate([self.digits, fill], axis=0))

    def __repr__(self) -> str:
        return f"WideInt(n={self.n}, shape={self.shape})"

    # ------------------------------------------------------------------ helpers
    def _fill(self) -> np.ndarray:
        """Sign-extension digit per element: ``2**32 - 1`` for negative values, else 0."""
        return np.where(self.digits[-1] >= _SIGN, _MASK, np.int64(0))

    def to_python(self):
        """Python integers (an object array, or an int for shape ``()``): for tests and small arrays only."""
        flat = np.moveaxis(self.digits, 0, -1).reshape(-1, self.n)
        top = 1 << (DIGIT_BITS * self.n)
        vals = []
        for row in flat.tolist():
            v = 0
            for t, d in enumerate(row):
                v |= int(d) << (DIGIT_BITS * t)
            vals.append(v - top if v >> (DIGIT_BITS * self.n - 1) else v)
        if not self.shape:
            return vals[0]
        out = np.empty(len(vals), dtype=object)
        out[:] = vals
        return out.reshape(self.shape)


def _normalize(raw: np.ndarray) -> WideInt:
    """Propagate carries of digits that may exceed 32 bits (or be negative); result modulo ``2**(32 n)``."""
    out = np.empty_like(raw)
    carry = np.int64(0)
    for t in range(raw.shape[0]):
        s = raw[t] + carry
        out[t] = s & _MASK
        carry = s >> np.int64(DIGIT_BITS)
    return WideInt(out)


def _common(a: WideInt, b: WideInt) -> tuple[np.ndarray, np.ndarray]:
    n = max(a.n, b.n)
    return a.resize(n).digits, b.resize(n).digits


def add(a: WideInt, b: WideInt) -> WideInt:
    """``a + b`` (shapes broadcast; digits of the wider operand)."""
    da, db = _common(a, b)
    return _normalize(da + db)


def sum_int64(parts, n: int, base: WideInt | None = None) -> WideInt:
    """``base + sum_i x_i * 2**shift_i`` over ``n`` digits (modulo ``2**(32 n)``), in carry-save form.

    Parameters
    ----------
    parts : iterable of (x, shift) or (x, shift, bound)
        ``x`` an int64 array (shapes broadcast), ``shift >= 0``; ``bound`` (optional, a Python int) bounds
        ``|x|``: tighter bounds let a term go in with fewer operations.
    n : int
        Digits of the result.
    base : WideInt, optional
        Added as well (broadcast against the terms).

    Each term is added into *raw* digits: signed int64 arrays ``raw[t]`` with value ``sum_t raw[t] *
    2**(32 t)``. A term at ``shift = 32 q + r`` whose ``bound * 2**r`` stays below ``2**62`` goes into
    ``raw[q]`` whole (``x << r``); a larger one is split into its low ``32 - r`` bits (into ``raw[q]``) and the
    rest (``x >> (32 - r)``, into ``raw[q + 1]``). A bound per raw digit (Python ints) keeps every ``raw[t]``
    inside int64: before an addition could overflow, carries are propagated (:func:`_carry`), which brings
    every digit back into ``[0, 2**32)``. Carries are propagated once more at the end.
    """
    acc = _RawDigits(n)
    for part in parts:
        x, shift = np.asarray(part[0], dtype=np.int64), int(part[1])
        bound = int(part[2]) if len(part) > 2 and part[2] is not None else 1 << 63
        if shift < 0:
            raise ValueError(f"shift={shift} must be >= 0")
        q, r = divmod(shift, DIGIT_BITS)
        if (bound << r) < _RAW_LIMIT:
            acc.add(q, x, bound << r, (lambda o, x=x, r=r: np.left_shift(x, np.int64(r), out=o)) if r else None)
        else:
            keep = DIGIT_BITS - r  # low bits of x that stay in digit q
            mask = np.int64((1 << keep) - 1)
            acc.add(q, x, 1 << DIGIT_BITS,
                    lambda o, x=x, r=r, mask=mask: np.left_shift(np.bitwise_and(x, mask, out=o), np.int64(r), out=o))
            acc.add(q + 1, x, (bound >> keep) + 1, lambda o, x=x, keep=keep: np.right_shift(x, np.int64(keep), out=o))
    if base is not None:
        digits = base.resize(n).digits
        for t in range(n):
            acc.add(t, digits[t], 1 << DIGIT_BITS, None)
    if acc.raw is None:
        raise ValueError("sum_int64 needs at least one term")
    return WideInt(acc.finish())


class _RawDigits:
    """The raw digits of :func:`sum_int64`: signed int64 arrays ``raw[t]`` (value ``sum_t raw[t] * 2**(32 t)``),
    with a bound per digit; pieces are written in place (into an empty digit, or a scratch array then added)."""

    def __init__(self, n: int):
        self.n = n
        self.raw = None
        self.scratch = None
        self.bounds = [0] * n
        self.started = [False] * n

    def add(self, t: int, x: np.ndarray, bound: int, make) -> None:
        """Add a piece to digit ``t``: ``x`` itself (``make`` None) or what ``make(out)`` writes from ``x``."""
        self._fit(np.shape(x))
        if t >= self.n:
            return  # beyond the top digit: vanishes modulo 2**(32 n)
        if self.bounds[t] + bound >= _RAW_LIMIT:
            self._carry()
        dst = self.raw[t]
        if make is None:
            if self.started[t]:
                dst += x
            else:
                np.copyto(dst, x)
        elif self.started[t]:
            if self.scratch is None:
                self.scratch = np.empty(dst.shape, dtype=np.int64)
            make(self.scratch)
            dst += self.scratch
        else:
            make(dst)
        self.started[t] = True
        self.bounds[t] += bound

    def _fit(self, shape) -> None:
        """Allocate the digits, or grow them to a broadcast shape."""
        if self.raw is None:
            self.raw = np.empty((self.n,) + tuple(shape), dtype=np.int64)
            return
        full = np.broadcast_shapes(self.raw.shape[1:], tuple(shape))
        if full != self.raw.shape[1:]:
            self._zero_unstarted()
            self.raw = np.array(np.broadcast_to(self.raw, (self.n,) + full))
            self.scratch = None

    def _zero_unstarted(self) -> None:
        for t in range(self.n):
            if not self.started[t]:
                self.raw[t] = 0
                self.started[t] = True

    def _carry(self) -> None:
        self._zero_unstarted()
        _carry(self.raw)
        self.bounds = [1 << DIGIT_BITS] * self.n

    def finish(self) -> np.ndarray:
        self._carry()
        return self.raw


#: raw digits of :func:`sum_int64` stay below this in magnitude (so that adding a carry cannot overflow)
_RAW_LIMIT = 1 << 62


def _carry(raw: np.ndarray) -> None:
    """Propagate carries through signed raw digits in place: each digit ends in ``[0, 2**32)``, the value is
    kept modulo ``2**(32 n)``."""
    carry = np.empty(raw.shape[1:], dtype=np.int64)
    for t in range(raw.shape[0]):
        if t:
            raw[t] += carry
        if t + 1 < raw.shape[0]:
            np.right_shift(raw[t], DIGIT_BITS, out=carry)
        raw[t] &= _MASK


def negate(a: WideInt) -> WideInt:
    """``-a``."""
    raw = a.digits ^ _MASK
    raw = np.array(raw)
    raw[0] += 1
    return _normalize(raw)


def subtract(a: WideInt, b: WideInt) -> WideInt:
    """``a - b``."""
    return add(a, negate(b))


def is_negative(a: WideInt) -> np.ndarray:
    return a.digits[-1] >= _SIGN


def sign(a: WideInt) -> np.ndarray:
    """-1, 0 or 1 per element (int64)."""
    nonzero = (a.digits != 0).any(axis=0)
    return np.where(is_negative(a), np.int64(-1), nonzero.astype(np.int64))


def _lex_less(da: np.ndarray, db: np.ndarray) -> np.ndarray:
    """``a < b`` of two's complement digit arrays of equal length (broadcast)."""
    shape = np.broadcast_shapes(da.shape[1:], db.shape[1:])
    result = np.zeros(shape, dtype=bool)
    decided = np.zeros(shape, dtype=bool)
    for t in range(da.shape[0] - 1, -1, -1):
        x, y = da[t], db[t]
        if t == da.shape[0] - 1:  # flip the sign bit: unsigned order of the biased values
            x, y = x ^ _SIGN, y ^ _SIGN
        lt = x < y
        gt = x > y
        result |= lt & ~decided
        decided |= lt | gt
    return result


def _against(a: WideInt, c: int) -> tuple[WideInt, np.ndarray]:
    """``a`` (sign-extended if ``c`` needs more digits) and the digits of ``c`` shaped to broadcast."""
    a = a.resize(max(a.n, digits_for(int(c).bit_length() + 1)))
    return a, WideInt.from_python_int(c, a.n).digits.reshape((a.n,) + (1,) * a.ndim)


def less_than(a: WideInt, c: int) -> np.ndarray:
    """``a < c`` for a Python integer ``c``."""
    a, dc = _against(a, c)
    return _lex_less(a.digits, dc)


def greater_than(a: WideInt, c: int) -> np.ndarray:
    """``a > c`` for a Python integer ``c``."""
    a, dc = _against(a, c)
    return _lex_less(dc, a.digits)


def where(mask, a: WideInt, b: WideInt) -> WideInt:
    """Elementwise ``a if mask else b``."""
    da, db = _common(a, b)
    return WideInt(np.where(np.asarray(mask)[None], da, db))


def clamp(a: WideInt, lo: int, hi: int) -> tuple[WideInt, np.ndarray]:
    """Clamp to ``[lo, hi]`` (Python integers); also return the mask of clamped elements."""
    a = a.resize(max(a.n, digits_for(max(abs(int(lo)), abs(int(hi))).bit_length() + 1)))
    below = less_than(a, lo)
    above = greater_than(a, hi)
    d = a.digits
    if below.any():
        d = np.where(below[None], WideInt.from_python_int(lo, a.n).digits.reshape((a.n,) + (1,) * a.ndim), d)
    if above.any():
        d = np.where(above[None], WideInt.from_python_int(hi, a.n).digits.reshape((a.n,) + (1,) * a.ndim), d)
    return WideInt(np.asarray(d, dtype=np.int64)), below | above


def wrap(a: WideInt, bits: int, signed: bool = True) -> WideInt:
    """Two's complement wrap to ``bits`` bits: keep the low ``bits`` bits, then sign-extend (``signed``) or
    zero-extend. ``bits`` must be below ``32 n`` (signed) or ``32 n - 1`` (unsigned)."""
    full, r = divmod(int(bits), DIGIT_BITS)
    if full >= a.n:
        raise ValueError(f"wrap to {bits} bits needs more than {a.n} digits")
    d = np.array(a.digits)
    top_bit = bits_at(a, bits - 1, 1).astype(bool) if signed else np.zeros(a.shape, dtype=bool)
    fill = np.where(top_bit, _MASK, np.int64(0))
    if r:
        low_mask = np.int64((1 << r) - 1)
        d[full] = (d[full] & low_mask) | (fill & ~low_mask & _MASK)
        d[full + 1:] = fill
    else:
        d[full:] = fill
    return WideInt(d)


def _extended(a: WideInt, pad: int = 3) -> np.ndarray:
    """Digits with ``pad`` zero digits below and ``pad`` sign digits above (indices shifted by ``pad``)."""
    fill = np.broadcast_to(a._fill(), (pad,) + a.shape)
    zero = np.zeros((pad,) + a.shape, dtype=np.int64)
    return np.concatenate([zero, a.digits, fill], axis=0)


def bits_at(a: WideInt, start, width: int) -> np.ndarray:
    """Bits ``[start, start + width)`` of each element as a non-negative int64 (``1 <= width <= 62``).

    ``start`` is an int or an int array broadcast against the shape (``start >= -96``); bits below bit 0 are 0,
    bits above the top digit are sign bits.
    """
    if not 1 <= width <= 62:
        raise ValueError(f"width={width} must be in [1, 62]")
    pad = 3
    ext = _extended(a, pad)
    start = np.asarray(start, dtype=np.int64)
    q = start // DIGIT_BITS
    r = start - q * DIGIT_BITS
    idx = np.clip(q + pad, 0, ext.shape[0] - 3)
    if start.ndim == 0:
        e0, e1, e2 = ext[int(idx)], ext[int(idx) + 1], ext[int(idx) + 2]
    else:
        ix = np.broadcast_to(idx, a.shape)[None]
        e0, e1, e2 = (np.take_along_axis(ext, ix + j, axis=0)[0] for j in range(3))
    low = e0.astype(_U64) | (e1.astype(_U64) << _U64(32))
    rr = r.astype(_U64)
    v = low >> rr
    hi_part = e2.astype(_U64) << (_U64(64) - np.where(rr == 0, _U64(1), rr))  # masked off below when r == 0
    v = v | np.where(r == 0, _U64(0), hi_part)
    return (v & _U64((1 << width) - 1)).astype(np.int64)


def any_bits_below(a: WideInt, k) -> np.ndarray:
    """Whether any of bits ``[0, k)`` is set (``k >= 0``: an int, or an int array broadcast to the shape)."""
    k = np.asarray(k, dtype=np.int64)
    out = np.zeros(a.shape, dtype=bool)
    for t in range(a.n):
        c = np.clip(k - DIGIT_BITS * t, 0, DIGIT_BITS)  # bits of digit t below k
        if c.ndim == 0 and c == 0:
            break
        out |= (a.digits[t] & ((np.int64(1) << c) - 1)) != 0
    out |= (k > DIGIT_BITS * a.n) & is_negative(a)  # sign bits above the top digit
    return out


def sign_run_from(a: WideInt, b: int) -> np.ndarray:
    """Whether every bit of each element from bit ``b`` up (``b >= 0``) equals its sign bit, i.e. ``a >> b`` is
    0 or -1."""
    b = int(b)
    fill = np.where(is_negative(a), _MASK, np.int64(0))
    out = np.ones(a.shape, dtype=bool)
    for t in range(b // DIGIT_BITS, a.n):
        keep = np.int64(_MASK & ~((1 << max(b - DIGIT_BITS * t, 0)) - 1))  # bits of digit t at or above b
        out &= ((a.digits[t] ^ fill) & keep) == 0
    return out


def low_int64_at(a: WideInt, k: int) -> np.ndarray:
    """Bits ``[k, k + 64)`` of each element as int64 (``k >= 0``): ``floor(a / 2**k)`` modulo ``2**64``, the
    exact quotient wherever it fits int64."""
    q, r = divmod(int(k), DIGIT_BITS)
    fill = None

    def digit(t):
        nonlocal fill
        if t < a.n:
            return a.digits[t].view(_U64)
        if fill is None:
            fill = a._fill().view(_U64)
        return fill

    u = digit(q) >> _U64(r)
    u = u | (digit(q + 1) << _U64(DIGIT_BITS - r))
    if r:
        u = u | (digit(q + 2) << _U64(2 * DIGIT_BITS - r))
    return u.view(np.int64)


def floor_shift_clamped(a: WideInt, k: int, window_bits: int, clamp: int) -> np.ndarray:
    """``floor(a / 2**k)`` as int64 where it lies in ``[-2**window_bits, 2**window_bits)``; ``clamp`` (positive
    values) or ``-clamp`` (negative ones) elsewhere. ``k >= 0``, ``window_bits <= 62``, ``clamp < 2**63``.

    One pass over the few digits around bit ``k``: callers for whom every value beyond the window saturates
    anyway (``clamp`` beyond the window) get an exact int64 stand-in for the wide value.
    """
    inside = sign_run_from(a, int(k) + int(window_bits))
    low = low_int64_at(a, k)
    return np.where(inside, low, np.where(is_negative(a), np.int64(-clamp), np.int64(clamp)))


def shift_right_floor(a: WideInt, s: int) -> WideInt:
    """``floor(a / 2**s)`` (arithmetic shift right, ``s >= 0``)."""
    s = int(s)
    if s < 0:
        raise ValueError(f"s={s} must be >= 0")
    if s == 0:
        return a
    q, r = divmod(s, DIGIT_BITS)
    fill = a._fill()
    n = a.n

    def digit(t):
        return a.digits[t] if t < n else fill

    out = np.empty_like(a.digits)
    for t in range(n):
        lo = digit(t + q)
        if r:
            out[t] = ((lo >> np.int64(r)) | (digit(t + q + 1) << np.int64(DIGIT_BITS - r))) & _MASK
        else:
            out[t] = lo
    return WideInt(out)


def shift_left(a: WideInt, s: int) -> WideInt:
    """``a * 2**s`` (``s >= 0``), modulo ``2**(32 n)``."""
    s = int(s)
    if s < 0:
        raise ValueError(f"s={s} must be >= 0")
    if s == 0:
        return a
    q, r = divmod(s, DIGIT_BITS)
    out = np.zeros_like(a.digits)
    for t in range(q, a.n):
        v = a.digits[t - q] << np.int64(r)
        if r and t - q - 1 >= 0:
            v = v | (a.digits[t - q - 1] >> np.int64(DIGIT_BITS - r))
        out[t] = v & _MASK
    return WideInt(out)


def fits_int64(a: WideInt) -> np.ndarray:
    """Whether each value lies in int64's range."""
    if a.n <= 2:
        return np.ones(a.shape, dtype=bool)
    fill = np.where(a.digits[1] >= _SIGN, _MASK, np.int64(0))
    return (a.digits[2:] == fill[None]).all(axis=0)


def to_int64(a: WideInt) -> np.ndarray:
    """The low 64 bits as int64: the exact value where :func:`fits_int64`."""
    if a.n == 1:
        return np.where(a.digits[0] >= _SIGN, a.digits[0] - np.int64(1 << 32), a.digits[0])
    u = a.digits[0].astype(_U64) | (a.digits[1].astype(_U64) << _U64(32))
    return u.view(np.int64)


def bit_length(a: WideInt) -> np.ndarray:
    """Bit length of ``|a|`` per element (int64; 0 for 0). ``a`` must not be the most negative value."""
    return _magnitude_bit_length(where(is_negative(a), negate(a), a))


def _magnitude_bit_length(a: WideInt) -> np.ndarray:
    """:func:`bit_length` of non-negative values."""
    mag = a.digits
    out = np.zeros(a.shape, dtype=np.int64)
    for t in range(a.n):
        d = mag[t]
        nz = d != 0
        # frexp of a float64 holding d < 2**32 exactly gives its bit length
        bl = np.frexp(d.astype(np.float64))[1].astype(np.int64)
        out = np.where(nz, DIGIT_BITS * t + bl, out)
    return out


def to_float64(a: WideInt, odd: bool = False) -> np.ndarray:
    """The values as float64: correctly rounded to nearest (ties to even), or with ``odd`` truncated to 53
    significant bits and rounded to odd (the lowest bit set when inexact), so that one more rounding to a
    format of at most 51 significant bits is correctly rounded.

    ``a`` must not be the most negative value of its digits (guard bits).
    """
    neg = is_negative(a)
    mag = where(neg, negate(a), a)
    length = _magnitude_bit_length(mag)  # mag is non-negative: bit_length would negate it again
    p = 53 if odd else 62
    start = np.maximum(length - p, 0)
    top = bits_at(mag, start, p)  # the top p bits (exact value when length <= p)
    top = top | any_bits_below(mag, start).astype(np.int64)  # sticky bit
    v = np.ldexp(top.astype(np.float64), start)  # int64 -> float64 rounds to nearest even (62 bits) or is exact
    return np.where(neg, -v, v)


def concatenate(parts, axis: int = 0) -> WideInt:
    """Concatenate WideInts with the same number of digits along ``axis``."""
    parts = list(parts)
    n = max(p.n for p in parts)
    ndim = parts[0].ndim
    return WideInt(np.concatenate([p.resize(n).digits for p in parts], axis=axis % ndim + 1))


def product_int64(x: np.ndarray, y: np.ndarray, n: int) -> WideInt:
    """Exact elementwise ``x * y`` of int64 arrays (any values) over ``n`` digits (``n >= 5`` holds every
    product): 21-bit limbs, limb products below ``2**42``."""
    x = np.asarray(x, dtype=np.int64)
    y = np.asarray(y, dtype=np.int64)
    xs, ys = _limbs3(x), _limbs3(y)
    by_shift: dict[int, np.ndarray] = {}
    for i, xi in enumerate(xs):
        for j, yj in enumerate(ys):
            p = xi * yj
            sh = 21 * (i + j)
            by_shift[sh] = p if sh not in by_shift else by_shift[sh] + p  # <= 3 terms below 2**42 each
    return sum_int64(((p, sh) for sh, p in sorted(by_shift.items())), n)


def _limbs3(x: np.ndarray) -> list[np.ndarray]:
    """``x = l0 + l1 * 2**21 + l2 * 2**42``; l0, l1 in [0, 2**21), l2 signed in [-2**21, 2**21)."""
    m = np.int64((1 << 21) - 1)
    return [x & m, (x >> np.int64(21)) & m, x >> np.int64(42)]
