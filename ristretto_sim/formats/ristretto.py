"""The original Ristretto's quantizers, reproduced bit for bit (reference: ``ristretto.md`` §1-3, §9-10).

These are *fake-quantizers* (float in, float out) used by the ``ristretto`` mode; they have no integer codes and the
encode/decode contract of the format classes does not apply to them. Ristretto worked on float32 Caffe blobs, so
every function casts its input to float32 first and returns float32 values (as float32 arrays).

GPU semantics are the default (CUDA ``rint``: ties to even); ``cpu_compat=True`` reproduces the CPU code: C
``round`` (ties away from zero) and, for the minifloat, the early ``return`` that leaves every element after the
first zero/underflow unquantized. Stochastic rounding uses this project's seeded generator (``rng``) instead of the
unseeded ``rand()``/curand of the original (which cannot be reproduced anyway).

Where the hardware twin ``Minifloat(e, m, subnormals=False, specials="none")`` differs from
``ristretto_minifloat(x, e, m)``:

* Ristretto's exponent field 0 is a normal binade (smallest magnitude ``2**-bias``) and zero has no code; the twin
  uses field 0 for zero, so its smallest magnitude is ``2**(1-bias)``: one binade less at the bottom.
* Ristretto flushes by truncation (anything below ``2**-bias`` becomes 0); the twin rounds to {0, min_normal}.
* Ristretto does not renormalise a mantissa carry at the top exponent: for e4m3, 500 -> 512 although its saturation
  value is 480 (and 1000 -> 480): the mapping is not monotone. The twin saturates 500 to 480.
* Ristretto rounds from float32 (double rounding for float64 inputs); the twin rounds the float64 input once.
"""

from __future__ import annotations

import numpy as np

from ristretto_sim.formats.fixed import FixedPoint
from ristretto_sim.formats.minifloat import Minifloat
from ristretto_sim.formats.pow2 import PowerOfTwo
from ristretto_sim.formats.rounding import Rounding, round_to_integer

#: Ristretto's hard-coded integer-power-of-two exponent range (reference §3: caffe.proto defaults exp_min/exp_max)
RISTRETTO_POW2_EXP_MIN = -8
RISTRETTO_POW2_EXP_MAX = -1


def _round(x: np.ndarray, rounding, cpu_compat: bool, rng) -> np.ndarray:
    rounding = Rounding.coerce(rounding, "rounding")
    if rounding not in (Rounding.NEAREST_EVEN, Rounding.NEAREST_AWAY, Rounding.STOCHASTIC):
        raise ValueError(f"Ristretto rounds 'nearest' or 'stochastic'; rounding={rounding.value!r} is not one of them")
    if rounding is Rounding.STOCHASTIC:
        return round_to_integer(x, rounding, rng)
    if cpu_compat or rounding is Rounding.NEAREST_AWAY:
        return round_to_integer(x, Rounding.NEAREST_AWAY)  # C round(): half away from zero
    return np.rint(x)  # CUDA rint(): half to even


def ristretto_fixed_point(x, bits: int, frac_bits: int, rounding="nearest_even", cpu_compat=False, rng=None):
    """Ristretto's ``Trim2FixedPoint``: clamp to the range, scale by ``2**fl``, round, scale back (reference §1.1).

    The bounds are computed in double and cast to float, as in the original: with 32 bits and fl=16 the bound is
    exactly +-32768.
    """
    if bits < 1:
        raise ValueError(f"bits={bits} must be >= 1")
    x = np.asarray(x, dtype=np.float32)
    max_data = np.float32(((1 << (bits - 1)) - 1) * 2.0 ** (-frac_bits))
    min_data = np.float32(-(1 << (bits - 1)) * 2.0 ** (-frac_bits))
    y = np.minimum(np.maximum(x, min_data), max_data).astype(np.float64)
    y = _round(np.ldexp(y, frac_bits), rounding, cpu_compat, rng)
    return np.ldexp(y, -frac_bits).astype(np.float32)


def fast_ristretto_fixed_point(x, bits: int, frac_bits: int, cpu_compat: bool = False) -> np.ndarray:
    """``ristretto_fixed_point`` with NEAREST rounding computed in float32: the same values, faster.

    Clamp, scale by ``2**fl``, ``rint`` and scale back all in float32: the scalings are exact powers of two and
    ``rint`` of a float32 is a float32, so the result equals the float64 reference bit for bit (the test suite
    checks it). ``cpu_compat`` (C ``round``), bounds that do not fit float32 and ``|fl| > 100`` (where a scaling
    could leave float32's exponent range) go to ``ristretto_fixed_point``.
    """
    x = np.asarray(x, dtype=np.float32)
    if bits < 1:
        raise ValueError(f"bits={bits} must be >= 1")
    hi = np.float32(((1 << (bits - 1)) - 1) * 2.0 ** (-frac_bits))
    lo = np.float32(-(1 << (bits - 1)) * 2.0 ** (-frac_bits))
    if cpu_compat or not (np.isfinite(hi) and np.isfinite(lo)) or abs(frac_bits) > 100:
        return ristretto_fixed_point(x, bits, frac_bits, cpu_compat=cpu_compat)
    y = np.rint(np.minimum(np.maximum(x, lo), hi) * np.float32(2.0**frac_bits))
    return (y * np.float32(2.0**-frac_bits)).astype(np.float32, copy=False)


def ristretto_minifloat(x, exp_bits: int, man_bits: int, rounding="nearest_even", cpu_compat=False, rng=None):
    """Ristretto's ``Trim2MiniFloat`` (reference §2): float32 fields, no subnormals, no specials, flush-to-zero by
    truncation, saturation only when the exponent overflows, no renormalisation after a mantissa carry."""
    if exp_bits < 1 or man_bits < 0:
        raise ValueError(f"exp_bits={exp_bits} must be >= 1 and man_bits={man_bits} >= 0")
    x32 = np.array(x, dtype=np.float32, copy=True)
    flat = x32.reshape(-1)
    u = flat.view(np.uint32)
    sign = (u >> np.uint32(31)).astype(bool)
    e_field = ((u >> np.uint32(23)) & np.uint32(0xFF)).astype(np.int64)
    mant = (u & np.uint32(0x7FFFFF)).astype(np.float64)
    bias = (1 << (exp_bits - 1)) - 1
    e_new = e_field - 127 + bias
    zero = (e_field == 0) | (e_new < 0)
    max_exp = (1 << exp_bits) - 1
    sat = e_new > max_exp
    if man_bits >= 23:
        m_new = mant * 2.0 ** (man_bits - 23)
    else:
        m_new = _round(np.ldexp(mant, man_bits - 23), rounding, cpu_compat, rng)
    e_used = np.minimum(e_new, max_exp)
    m_new = np.where(sat, (1 << man_bits) - 1, m_new)
    mag = (1.0 + np.ldexp(m_new, -man_bits)) * np.ldexp(1.0, e_used - bias)
    if exp_bits >= 8:  # Inf/NaN inputs keep e' = 255 = max_exp with e=8: they come out as Inf (reference §2)
        special = e_field == 255
        mag = np.where(special & (e_new <= max_exp), np.inf, mag)
    out = np.where(zero, 0.0, np.where(sign, -mag, mag)).astype(np.float32)
    if cpu_compat and zero.any():
        first = int(np.argmax(zero))
        out[first + 1:] = flat[first + 1:]  # the CPU loop returns at the first zero/underflow element
    return out.reshape(x32.shape)


def ristretto_power_of_two(x, exp_min: int = RISTRETTO_POW2_EXP_MIN, exp_max: int = RISTRETTO_POW2_EXP_MAX,
                           rounding="nearest_even", cpu_compat=False, rng=None):
    """Ristretto's ``Trim2IntegerPowerOf2`` (reference §3): round ``log2f|w|``, clamp to [exp_min, exp_max],
    ``sign * 2**e`` with sign +1 for ``w >= 0`` (so 0 and -0 become ``+2**exp_min``)."""
    if exp_min > exp_max:
        raise ValueError(f"exp_min={exp_min} > exp_max={exp_max}: the exponent range is empty")
    x32 = np.asarray(x, dtype=np.float32)
    with np.errstate(divide="ignore"):
        lg = np.log2(np.abs(x32)).astype(np.float64)
    lg = np.where(np.isneginf(lg), -np.inf, lg)
    r = _round(np.where(np.isfinite(lg), lg, 0.0), rounding, cpu_compat, rng)
    r = np.where(np.isfinite(lg), r, lg)
    e = np.clip(r, exp_min, exp_max)
    sign = np.where(x32 >= 0, 1.0, -1.0)
    return (sign * np.ldexp(1.0, e.astype(np.int64))).astype(np.float32)


def ristretto_quantize(x, fmt, rounding="nearest_even", cpu_compat: bool = False, rng=None) -> np.ndarray:
    """Fake-quantize ``x`` the way Ristretto does for ``fmt`` (float32 values out).

    Parameters
    ----------
    x : array_like of float
    fmt : FixedPoint, Minifloat or PowerOfTwo
        ``FixedPoint`` -> dynamic fixed point ``(bits, frac_bits)`` (per-channel fractions along axis 0 are
        applied slice by slice; Ristretto itself had none); ``Minifloat`` -> ``(exp_bits, man_bits)`` with
        Ristretto's bias, no subnormals and no specials (the format's other fields are ignored);
        ``PowerOfTwo`` -> ``[exp_min, exp_max]`` (zero becomes ``+2**exp_min``).
    rounding : Rounding or str
        ``nearest_even`` (GPU ``rint``), ``nearest_away`` (CPU ``round``) or ``stochastic``.
    cpu_compat : bool
        Reproduce Ristretto's CPU code paths.
    rng : optional
        Seed for stochastic rounding.
    """
    if fmt is None:
        return np.asarray(x, dtype=np.float32)
    if isinstance(fmt, FixedPoint):
        if not fmt.signed:
            raise ValueError(f"Ristretto's dynamic fixed point is signed; format {fmt} is unsigned")
        if fmt.per_channel:
            x = np.asarray(x)
            if x.shape[:1] != (len(fmt.frac_bits),):
                raise ValueError(f"per-channel format {fmt} does not match a tensor of shape {x.shape}")
            return np.stack(
                [
                    ristretto_fixed_point(x[i], fmt.bits, f, rounding=rounding, cpu_compat=cpu_compat, rng=rng)
                    for i, f in enumerate(fmt.frac_bits)
                ]
            ).astype(np.float32)
        if Rounding.coerce(rounding, "rounding") is Rounding.NEAREST_EVEN:
            return fast_ristretto_fixed_point(x, fmt.bits, fmt.frac_bits, cpu_compat)
        return ristretto_fixed_point(x, fmt.bits, fmt.frac_bits, rounding=rounding, cpu_compat=cpu_compat, rng=rng)
    if isinstance(fmt, Minifloat):
        return ristretto_minifloat(x, fmt.exp_bits, fmt.man_bits, rounding=rounding, cpu_compat=cpu_compat, rng=rng)
    if isinstance(fmt, PowerOfTwo):
        return ristretto_power_of_two(x, fmt.exp_min, fmt.exp_max, rounding=rounding, cpu_compat=cpu_compat, rng=rng)
    raise TypeError(f"format {fmt!r} is not a FixedPoint, Minifloat or PowerOfTwo")
