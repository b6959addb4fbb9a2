"""Requantization of accumulator codes to an output fixed-point format: a rounding shift, then saturation.

An accumulator code ``v`` with fraction ``f_acc`` becomes an output code with fraction ``f_out``: for ``s =
f_acc - f_out > 0`` the hardware shifts right by ``s`` and rounds with the layer's rounding mode (decided on
the integer quotient ``v >> s`` and remainder ``v & (2**s - 1)``, exactly, for any width); for ``s <= 0`` it
shifts left (exact). The result is clamped to the output range (``Overflow.SATURATE``) or wrapped
(``Overflow.WRAP``).

Stochastic rounding uses the formats' counter-based generator (``uniform_bits53``): element ``i`` of the
flattened array gets draw ``u_i``, and the value rounds up iff ``frac + u >= 1``, the same rule as
``round_to_integer`` (decided on the 53 bits below the point, which is exact since ``u`` has 53 bits).

Accumulator codes are int64, or :class:`~ristretto_sim.emulator.wide.WideInt` for accumulators wider than int64
(up to 128 bits): the same decisions are then taken on the wide value's bits (floor quotient, half bit, sticky
bits below it, parity, the 53 bits below the point), one pass per distinct shift (distinct values of the
per-channel vector), and the result is saturated (or wrapped) to the output format (at most 64 bits) exactly
as for int64 codes.

Fast path for WideInt codes (deterministic rounding, saturation, outputs inside ``+-2**58``: every layer's
usual case): per distinct shift ``s >= 1``, one pass over the digits around bit ``s - 1`` gives ``t =
floor(v / 2**(s - 1))`` in int64 (exact inside ``[-2**59, 2**59)``, clamped to ``+-2**61`` outside, where the
output saturates either way) and the sticky bit; the quotient ``t >> 1``, the half bit ``t & 1`` and the
rounding rule then run in int64, in cache-sized blocks. Stochastic rounding, wrapping and wider outputs take
the general path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ristretto_sim.emulator import wide as wd
from ristretto_sim.emulator.wide import WideInt, digits_for
from ristretto_sim.formats import FixedPoint, Overflow, Rounding
from ristretto_sim.formats.base import require
from ristretto_sim.formats.rounding import stochastic_key, uniform_bits53


def rounding_shift(codes, shift, rounding=Rounding.NEAREST_EVEN, rng=None) -> np.ndarray:
    """Divide integer codes by ``2**shift`` and round (``shift <= 0`` multiplies exactly), as int64.

    Parameters
    ----------
    codes : array of int
        Integer codes (int64 range).
    shift : int or array of int
        Right-shift amount in bits, broadcast against ``codes`` (may be negative: left shift).
    rounding : Rounding or str
        Rounding of the discarded bits.
    rng : optional
        Seed / ``StochasticKey`` / Generator for ``STOCHASTIC``.

    Returns
    -------
    ndarray of int64
        Rounded quotients. Left shifts must not overflow int64 (callers clamp first).
    """
    rounding = Rounding.coerce(rounding, "rounding")
    v = np.asarray(codes).astype(np.int64)
    s = np.asarray(shift, dtype=np.int64)
    fast = _ieee_shift(v, s, rounding)
    if fast is not None:
        return fast
    v, s = np.broadcast_arrays(v, s)
    right = np.clip(s, 0, 63)
    left = np.clip(-s, 0, 63)
    q = v >> right
    r = v - (q << right)  # in [0, 2**right)
    half = np.where(right > 0, np.int64(1) << np.maximum(right - 1, 0), 0)
    if rounding is Rounding.NEAREST_EVEN:
        up = (r > half) | ((r == half) & (right > 0) & ((q & 1) == 1))
    elif rounding is Rounding.NEAREST_AWAY:
        up = (r > half) | ((r == half) & (right > 0) & (q >= 0))
    elif rounding is Rounding.NEAREST_UP:
        up = (r >= half) & (right > 0)
    elif rounding is Rounding.FLOOR:
        up = np.zeros(v.shape, dtype=bool)
    elif rounding is Rounding.CEIL:
        up = r > 0
    elif rounding is Rounding.TOWARD_ZERO:
        up = (r > 0) & (q < 0)
    else:  # STOCHASTIC: up iff r / 2**right + u >= 1, u = k / 2**53
        k = uniform_bits53(stochastic_key(rng), v.shape).astype(np.int64)
        t = np.where(right <= 53, r << np.clip(53 - right, 0, 53), r >> np.clip(right - 53, 0, 63))
        up = (k >= (np.int64(1 << 53) - t)) & (r > 0)
    return (q + up) << left


#: IEEE float64 roundings that equal the integer rules above (exact operations on exactly scaled values)
_IEEE_ROUND = {
    Rounding.NEAREST_EVEN: np.rint,
    Rounding.FLOOR: np.floor,
    Rounding.CEIL: np.ceil,
    Rounding.TOWARD_ZERO: np.trunc,
}


def _ieee_shift(v: np.ndarray, s: np.ndarray, rounding: Rounding):
    """:func:`rounding_shift` in float64, or None when it may not be exact. With ``|v| * 2**max(-s, 0) < 2**53``
    and ``s <= 62``, ``v * 2**-s`` is the exact quotient (a power-of-two scaling of an integer below ``2**53``
    that stays a normal float64), and ``rint``/``floor``/``ceil``/``trunc`` are the exact IEEE roundings
    (half-even, down, up, toward zero): the same integers as the shift-and-remainder rules, in two passes
    instead of a dozen."""
    fn = _IEEE_ROUND.get(rounding)
    if fn is None or not v.size or not s.size:
        return None
    smin, smax = int(s.min()), int(s.max())
    top = max(int(v.max()), -int(v.min()))
    if smax > 62 or smin < -62 or top * 2.0 ** max(0, -smin) >= 2.0**53:
        return None
    t = v.astype(np.float64) * np.ldexp(1.0, -s)  # broadcast as the integer rules broadcast
    fn(t, out=t)
    return t.astype(np.int64)


@dataclass(frozen=True)
class Requantized:
    """Output codes after requantization.

    Attributes
    ----------
    codes : ndarray of int64
        Output codes.
    fmt : FixedPoint
        The output format.
    saturations : int
        Outputs clamped (SATURATE) or wrapped (WRAP) because they left the output range.
    """

    codes: np.ndarray
    fmt: FixedPoint
    saturations: int


def requantize(
    codes,
    frac_bits,
    out: FixedPoint,
    rounding=Rounding.NEAREST_EVEN,
    overflow=Overflow.SATURATE,
    rng=None,
    channel_axis: int = 1,
) -> Requantized:
    """Requantize accumulator codes to the output format: rounding shift, then saturate (or wrap).

    Parameters
    ----------
    codes : array of int64 or WideInt
        Accumulator codes.
    frac_bits : int or array of int
        Fraction of ``codes`` (per output channel allowed: a vector along ``channel_axis``).
    out : FixedPoint
        Output format (per-channel ``frac_bits`` along ``channel_axis`` allowed).
    rounding : Rounding or str
    overflow : Overflow or str
        ``SATURATE`` (default; ``NATURAL`` means the same) or ``WRAP``.
    rng : optional
        Stochastic rounding key.
    channel_axis : int
        Axis of ``codes`` holding output channels (for per-channel fractions).

    Returns
    -------
    Requantized
    """
    require(out, FixedPoint, "out")
    overflow = Overflow.coerce(overflow, "overflow")
    rounding = Rounding.coerce(rounding, "rounding")
    v = codes if isinstance(codes, WideInt) else np.asarray(codes, dtype=np.int64)

    def along(f):
        f = np.asarray(f, dtype=np.int64)
        if f.ndim == 0:
            return f
        shape = [1] * v.ndim
        shape[channel_axis] = f.size
        if v.shape[channel_axis] != f.size:
            raise ValueError(f"{f.size} per-channel fractions for axis {channel_axis} of shape {v.shape}")
        return f.reshape(shape)

    f_in = along(frac_bits)
    f_out = along(out.frac_bits)
    s = f_in - f_out
    if isinstance(v, WideInt):
        if _fast_wide(out, rounding, overflow):
            q, n_bad = _requantize_wide_fast(v, s, out, rounding, channel_axis)
            return Requantized(q, out, n_bad)
        return _requantize_wide(v, s, out, rounding, overflow, rng)
    lo, hi = out.min_code, out.max_code
    if np.any(s < 0):
        q, above, below = _left_shifted(v, s, lo, hi, rounding, rng)
    else:
        q = rounding_shift(v, s, rounding, rng)
        above, below = q > hi, q < lo
    n_bad = int((above | below).sum())
    if overflow is Overflow.WRAP:
        mask = np.int64((1 << out.bits) - 1) if out.bits < 64 else np.int64(-1)
        q = ((q - np.int64(lo)) & mask) + np.int64(lo)
    else:
        q = np.where(above, np.int64(hi), np.where(below, np.int64(lo), q))
    return Requantized(q.astype(np.int64), out, n_bad)


def _left_shifted(v: np.ndarray, s, lo: int, hi: int, rounding: Rounding, rng):
    """``rounding_shift`` where some shifts are left shifts (``s < 0``: an exact product ``v * 2**-s``), and the
    masks of the results above ``hi`` and below ``lo``. The range test is made on ``v`` against ``hi >> k`` and
    ``ceil(lo / 2**k)``, so no product that could overflow int64 is needed; the left-shifted codes wrap modulo
    ``2**64`` like a shifter, which is exact modulo ``2**bits`` for the WRAP readout."""
    v, s = np.broadcast_arrays(v, np.asarray(s, dtype=np.int64))
    left = s < 0
    k = np.where(left, np.minimum(-s, 63), 0)
    # thresholds in Python integers, one per distinct shift (lo may be -2**63, whose negation is not an int64)
    ks = np.unique(k)
    hi_t = np.zeros(k.shape, dtype=np.int64)
    lo_t = np.zeros(k.shape, dtype=np.int64)
    for kk in ks:
        at = k == kk
        hi_t[at] = hi >> int(kk)
        lo_t[at] = -((-lo) >> int(kk))
    q_right = rounding_shift(v, np.where(left, 0, s), rounding, rng)
    q_left = (np.ascontiguousarray(v, dtype=np.int64).view(np.uint64) << k.astype(np.uint64)).view(np.int64)
    q = np.where(left, q_left, q_right)
    above = np.where(left, v > hi_t, q_right > hi)
    below = np.where(left, v < lo_t, q_right < lo)
    return q, above, below


def _round_wide(v: WideInt, s: int, rounding: Rounding, draws) -> WideInt:
    """``v / 2**s`` rounded (``s > 0``), decided exactly on the bits of ``v``; ``draws`` as ``uniform_bits53``."""
    q = wd.shift_right_floor(v, s)
    if rounding is Rounding.FLOOR:
        return q
    half = wd.bits_at(v, s - 1, 1).astype(bool)
    sticky = wd.any_bits_below(v, s - 1)
    if rounding is Rounding.STOCHASTIC:
        # up iff r / 2**s + u >= 1 with u = k / 2**53, decided on t = the 53 bits below the point
        t = wd.bits_at(v, s - 53, 53) if s > 53 else wd.bits_at(v, 0, s) << np.int64(53 - s)
        up = (draws >= (np.int64(1 << 53) - t)) & (half | sticky)
    else:
        up = _round_up((q.digits[0] & 1).astype(bool), wd.is_negative(q), half, sticky, rounding)
    return wd.add(q, WideInt.from_int64(up.astype(np.int64), q.n))


def _fast_wide(out: FixedPoint, rounding: Rounding, overflow: Overflow) -> bool:
    """Whether WideInt codes can take :func:`_requantize_wide_fast`: deterministic rounding, saturation, and an
    output range strictly inside ``(-2**58, 2**58)``."""
    return (
        rounding is not Rounding.STOCHASTIC
        and overflow is not Overflow.WRAP
        and out.min_code > -_FAST_SAT
        and out.max_code < _FAST_SAT
    )


#: :func:`_shifted_int64`'s window: quotients exact in ``[-2**59, 2**59)``, else +-2**61
_FAST_WINDOW = 59
_FAST_CLAMP = 1 << 61
#: outputs strictly inside +-this saturate every quotient beyond the window (magnitude >= 2**58 once rounded)
_FAST_SAT = 1 << 58


def _round_up(q_odd, q_negative, half, sticky, rounding: Rounding):
    """Whether a floor quotient ``q`` rounds up, from its parity, its sign, the half bit (the first bit
    discarded) and the sticky bit (any bit below it): every deterministic rounding mode."""
    if rounding is Rounding.NEAREST_EVEN:
        return half & (sticky | q_odd)
    if rounding is Rounding.NEAREST_AWAY:
        return half & (sticky | ~q_negative)
    if rounding is Rounding.NEAREST_UP:
        return half
    if rounding is Rounding.FLOOR:
        return np.zeros(np.shape(half), dtype=bool)
    if rounding is Rounding.CEIL:
        return half | sticky
    if rounding is Rounding.TOWARD_ZERO:
        return (half | sticky) & q_negative
    raise ValueError(f"{rounding} is not a deterministic rounding mode")


def _shifted_int64(v: WideInt, sh: int, rounding: Rounding) -> np.ndarray:
    """``v`` shifted by ``sh`` and rounded, as int64, exact wherever the result can land in a :func:`_fast_wide`
    output range, and of magnitude at least ``2**58`` (saturating) elsewhere.

    ``sh >= 1``: one pass over the digits around bit ``sh - 1`` gives ``t = floor(v / 2**(sh - 1))`` clamped to
    an int64 window (:func:`~ristretto_sim.emulator.wide.floor_shift_clamped`) and the sticky bit; the quotient
    is ``t >> 1``, the half bit ``t & 1``, and the rounding rule runs in int64. Beyond the window (``|t| >=
    2**59``) the true quotient has magnitude at least ``2**58``, and so has the clamped one. ``sh <= 0``: ``v``
    (clamped the same way) shifted left, after clamping to ``+-2**(58 + sh)`` so that the shift cannot overflow.
    """
    if sh <= 0:
        e = min(-sh, 58)
        lim = np.int64(1 << (58 - e))
        t = wd.floor_shift_clamped(v, 0, _FAST_WINDOW, _FAST_CLAMP)
        return np.clip(t, -lim, lim) << np.int64(e)
    t = wd.floor_shift_clamped(v, sh - 1, _FAST_WINDOW, _FAST_CLAMP)
    sticky = wd.any_bits_below(v, sh - 1)
    q = t >> np.int64(1)
    half = (t & 1).astype(bool)
    return q + _round_up((q & 1).astype(bool), q < 0, half, sticky, rounding)


#: elements per block of :func:`_requantize_wide_fast` (its dozen temporaries stay in cache)
_FAST_BLOCK = 1 << 17


def _requantize_wide_fast(v: WideInt, s: np.ndarray, out: FixedPoint, rounding: Rounding,
                          channel_axis: int) -> tuple[np.ndarray, int]:
    """Output codes (int64, saturated) and the saturation count of WideInt codes ``v`` with shifts ``s`` (a
    scalar, or per channel along ``channel_axis``), under :func:`_fast_wide`, in blocks of about
    :data:`_FAST_BLOCK` elements along the first axis (unless it holds the channels)."""
    per_row = v.size // v.shape[0] if v.ndim and v.shape[0] else 0
    rows = max(1, _FAST_BLOCK // max(per_row, 1))
    if not per_row or v.shape[0] <= rows or (s.size > 1 and channel_axis % v.ndim == 0):
        return _requantize_wide_block(v, s, out, rounding, channel_axis)
    q = np.empty(v.shape, dtype=np.int64)
    n_bad = 0
    for r0 in range(0, v.shape[0], rows):
        q[r0:r0 + rows], bad = _requantize_wide_block(v[r0:r0 + rows], s, out, rounding, channel_axis)
        n_bad += bad
    return q, n_bad


def _requantize_wide_block(v: WideInt, s: np.ndarray, out: FixedPoint, rounding: Rounding,
                           channel_axis: int) -> tuple[np.ndarray, int]:
    """:func:`_requantize_wide_fast` of one block: one :func:`_shifted_int64` per distinct shift, on the channels
    that have it."""
    shifts = np.unique(s).tolist()
    if len(shifts) == 1:
        q = _shifted_int64(v, shifts[0], rounding)
    else:
        axis = channel_axis % v.ndim
        per_channel = s.reshape(-1)
        q = np.empty(v.shape, dtype=np.int64)
        for sh in shifts:
            idx = np.flatnonzero(per_channel == sh)
            np.moveaxis(q, axis, 0)[idx] = np.moveaxis(_shifted_int64(v.take(idx, axis), sh, rounding), axis, 0)
    lo, hi = out.min_code, out.max_code
    n_bad = int(np.count_nonzero(q < lo)) + int(np.count_nonzero(q > hi))
    return np.clip(q, lo, hi), n_bad


def _requantize_wide(v: WideInt, s: np.ndarray, out: FixedPoint, rounding: Rounding, overflow: Overflow,
                     rng) -> Requantized:
    """:func:`requantize` of WideInt codes in general (stochastic rounding, wrapping, outputs wider than 58 bits);
    ``s`` is the shift, broadcast against the codes (a scalar, or per channel)."""
    draws = None
    if rounding is Rounding.STOCHASTIC:
        draws = uniform_bits53(stochastic_key(rng), v.shape).astype(np.int64)
    shifts = np.unique(s)
    s = np.broadcast_to(s, v.shape)
    q = None
    for sh in shifts.tolist():
        if sh > 0:
            r = _round_wide(v, sh, rounding, draws)
        elif sh < 0:
            # beyond 66 bits every nonzero value saturates and wraps to 0 in <= 64-bit outputs: cap the shift
            left = min(-sh, 66)
            r = wd.shift_left(v.resize(digits_for(32 * v.n + left)), left)
        else:
            r = v
        q = r if q is None else wd.where(s == sh, r, q)
    if q is None:
        q = v
    lo, hi = out.min_code, out.max_code
    bad = wd.less_than(q, lo) | wd.greater_than(q, hi)
    if overflow is Overflow.WRAP:
        q = wd.wrap(q.resize(max(q.n, digits_for(out.bits + 1))), out.bits, out.signed)
    else:
        q, _ = wd.clamp(q, lo, hi)
    return Requantized(wd.to_int64(q), out, int(bad.sum()))
