"""Signed powers of two: ``PowerOfTwo(exp_min, exp_max, has_zero=True, domain="log")``.

The weights of a shift-and-add PE. A code is ``sign | magnitude``, sign in the MSB, with
``bits = 1 + ceil(log2(n_exp + has_zero))`` where ``n_exp = exp_max - exp_min + 1``. Magnitude code 0 is zero (when
``has_zero``); magnitude code ``k`` is ``2**(exp_min + k - has_zero)``. Zero always decodes to ``+0.0`` (the code
``-0`` too). Unused magnitude codes (above the largest exponent) are invalid and ``decode`` rejects them.
Ristretto's [-8, -1] is 4 bits without zero and 5 with.

**Rounding** of a magnitude ``a`` between ``2**k`` and ``2**(k+1)`` (both in range):

* ``domain="log"`` rounds ``log2(a)`` to the nearest integer: up iff ``a**2 >= 2**(2k+1)``, decided exactly on the
  float64 significand (a tie is impossible: ``sqrt(2)`` is irrational, so all nearest modes agree);
* ``domain="linear"`` rounds at ``1.5 * 2**k``; a tie goes to the larger magnitude (``NEAREST_UP``: toward +inf);
* ``TOWARD_ZERO``, ``FLOOR`` and ``CEIL`` pick the neighbour toward zero / -inf / +inf in either domain;
* ``STOCHASTIC`` is ``floor(log2(a) + u)`` in the log domain (Ristretto's rule: unbiased in the exponent, not in the
  value; ``log2`` in float64) and unbiased in the value in the linear domain (P(up) = ``a/2**k - 1``).

**Below the range** (``a < 2**exp_min``), with ``has_zero`` the choice is between 0 and ``2**exp_min``: the nearest
modes flush to zero below ``2**(exp_min - 1/2)`` (log) or ``2**(exp_min - 1)`` (linear; the midpoint goes to
``2**exp_min``, or with ``NEAREST_UP`` toward +inf),
directed modes go toward their side, stochastic rounds up with probability ``a / 2**exp_min``. With
``has_zero=False`` (Ristretto) nothing flushes: 0, -0 and tiny values become ``2**exp_min`` with their sign (0 and -0
become ``+2**exp_min``). **Above the range** every value saturates to ``±2**exp_max`` (infinities too); ``NATURAL``
and ``SATURATE`` mean the same, ``WRAP`` is a ``ValueError``, NaN input is a ``ValueError``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ristretto_sim.enums import NamedEnum
from ristretto_sim.formats.base import NumberFormat, check_int, code_dtype
from ristretto_sim.formats.rounding import Overflow, Rounding, round_to_integer

#: smallest 53-bit significand M with M**2 >= 2**105, i.e. M >= 2**52.5 (sqrt(2) is irrational, so never equal)
_SQRT2_SIGNIFICAND = math.isqrt(1 << 105) + 1


class Domain(NamedEnum):
    """Where a power-of-two format rounds: on ``log2|x|`` (geometric midpoints) or on ``|x|`` (arithmetic)."""

    LOG = "log"
    LINEAR = "linear"


@dataclass(frozen=True)
class PowerOfTwo(NumberFormat):
    """Sign and power-of-two magnitude ``2**e``, ``exp_min <= e <= exp_max``, optionally zero.

    Parameters
    ----------
    exp_min, exp_max : int
        Smallest and largest exponent (``exp_min <= exp_max``).
    has_zero : bool
        Whether magnitude code 0 is zero (default) or the first power (Ristretto's encoding has no zero).
    domain : {"log", "linear"} or Domain
        Where rounding decides (module docstring).
    """

    exp_min: int
    exp_max: int
    has_zero: bool = True
    domain: Domain = Domain.LOG

    default_overflow = Overflow.SATURATE

    def __post_init__(self):
        check_int(self.exp_min, "exp_min", minimum=-1022, maximum=1023)
        check_int(self.exp_max, "exp_max", minimum=-1022, maximum=1023)
        object.__setattr__(self, "exp_min", int(self.exp_min))
        object.__setattr__(self, "exp_max", int(self.exp_max))
        if self.exp_min > self.exp_max:
            raise ValueError(
                f"exp_min={self.exp_min} > exp_max={self.exp_max}: the exponent range is empty; swap them"
            )
        if not isinstance(self.has_zero, (bool, np.bool_)):
            raise TypeError(f"has_zero={self.has_zero!r} must be True or False")
        object.__setattr__(self, "has_zero", bool(self.has_zero))
        object.__setattr__(self, "domain", Domain.coerce(self.domain, "domain"))

    @property
    def n_exp(self) -> int:
        return self.exp_max - self.exp_min + 1

    @property
    def n_magnitudes(self) -> int:
        """Number of magnitude codes in use (exponents plus zero)."""
        return self.n_exp + int(self.has_zero)

    @property
    def bits(self) -> int:
        return 1 + max(0, (self.n_magnitudes - 1).bit_length())

    @property
    def max(self) -> float:
        return float(np.ldexp(1.0, self.exp_max))

    @property
    def min(self) -> float:
        return -self.max

    @property
    def shift_range(self) -> int:
        """Number of distinct shift amounts a barrel shifter needs (``exp_max - exp_min + 1``)."""
        return self.n_exp

    # ------------------------------------------------------------------ conversion
    def exponents(self, x, rounding=Rounding.NEAREST_EVEN, overflow=None, rng=None):
        """Round ``x`` and return ``(sign, exponent, is_zero)`` arrays: value = ``(-1)**sign * 2**exponent``.

        ``exponent`` is meaningless where ``is_zero``. This is what a shift-and-add PE consumes.
        """
        rounding, overflow = self._modes(rounding, overflow)
        if overflow is Overflow.WRAP:
            raise ValueError(f"overflow='wrap' is meaningless for the power-of-two format {self}; use 'saturate'")
        x = self._as_float_array(x)
        self._reject_nan(x)
        neg = x < 0
        a = np.abs(x)
        finite_pos = np.isfinite(a) & (a > 0)
        fr, e = np.frexp(np.where(finite_pos, a, 1.0))
        k = e.astype(np.int64) - 1
        exact = fr == 0.5
        # toward +inf for positive values means larger magnitude
        if rounding.is_nearest:
            if self.domain is Domain.LOG:
                up = np.ldexp(fr, 53) >= _SQRT2_SIGNIFICAND
            else:
                up = fr > 0.75
                tie = fr == 0.75
                up |= tie & (~neg if rounding is Rounding.NEAREST_UP else True)
        elif rounding is Rounding.TOWARD_ZERO:
            up = np.zeros_like(exact)
        elif rounding is Rounding.FLOOR:
            up = neg & ~exact
        elif rounding is Rounding.CEIL:
            up = ~neg & ~exact
        else:  # STOCHASTIC
            if self.domain is Domain.LOG:
                t = np.log2(np.where(finite_pos, a, 1.0)) - k
            else:
                t = np.ldexp(np.where(finite_pos, a, 1.0), -k) - 1.0
            up = round_to_integer(t, rounding, rng) >= 1.0
        n = k + up
        # below the smallest power
        below = ~(a >= np.ldexp(1.0, self.exp_min))
        if rounding.is_nearest:
            half = np.ldexp(1.0, self.exp_min - 1)
            if self.domain is Domain.LOG:
                low_up = np.ldexp(fr, 53) >= _SQRT2_SIGNIFICAND
                low_up = (k == self.exp_min - 1) & low_up
            else:
                low_up = (a > half) | ((a == half) & ~(neg & (rounding is Rounding.NEAREST_UP)))
        elif rounding is Rounding.TOWARD_ZERO:
            low_up = np.zeros_like(exact)
        elif rounding is Rounding.FLOOR:
            low_up = neg & (a > 0)
        elif rounding is Rounding.CEIL:
            low_up = ~neg & (a > 0)
        else:
            t = np.ldexp(np.where(np.isfinite(a), a, 0.0), -self.exp_min)
            low_up = round_to_integer(np.where(below, t, 0.0), rounding, rng) >= 1.0
        if self.has_zero:
            zero = below & ~low_up
        else:
            zero = np.zeros_like(below)
        n = np.where(below, self.exp_min, np.minimum(n, self.exp_max))
        n = np.where(np.isinf(a), self.exp_max, n)
        sign = neg & ~zero
        if not self.has_zero:
            sign = neg  # -0.0 is not < 0, so it becomes +2**exp_min
        return sign, n, zero

    def quantize(self, x, rounding=Rounding.NEAREST_EVEN, overflow=None, rng=None) -> np.ndarray:
        """Nearest representable values (float64) under ``rounding`` (module docstring)."""
        sign, n, zero = self.exponents(x, rounding=rounding, overflow=overflow, rng=rng)
        mag = np.where(zero, 0.0, np.ldexp(1.0, n))
        return np.where(sign, -mag, mag)

    def encode(self, x, rounding=Rounding.NEAREST_EVEN, overflow=None, rng=None) -> np.ndarray:
        """Codes ``sign << (bits-1) | magnitude code`` (unsigned integers of the narrowest dtype)."""
        sign, n, zero = self.exponents(x, rounding=rounding, overflow=overflow, rng=rng)
        mag = np.where(zero, 0, n - self.exp_min + int(self.has_zero)).astype(np.uint64)
        code = mag | (sign.astype(np.uint64) << np.uint64(self.bits - 1))
        return code.astype(code_dtype(self.bits, signed=False))

    def decode(self, codes) -> np.ndarray:
        """Values (float64) of codes; unused magnitude codes raise ``ValueError``."""
        c = np.asarray(codes)
        if c.dtype.kind not in "iu":
            raise TypeError(f"codes must be integers, got dtype {c.dtype}")
        c = c.astype(np.int64)
        mask = (1 << (self.bits - 1)) - 1
        mag = c & mask
        if c.size and (c.min() < 0 or c.max() >= (1 << self.bits) or mag.max() >= self.n_magnitudes):
            raise ValueError(
                f"invalid codes for {self}: magnitude codes must lie in [0, {self.n_magnitudes - 1}] "
                f"and codes in [0, {(1 << self.bits) - 1}]"
            )
        sign = (c >> (self.bits - 1)).astype(bool)
        zero = (mag == 0) if self.has_zero else np.zeros(c.shape, bool)
        v = np.where(zero, 0.0, np.ldexp(1.0, self.exp_min + mag - int(self.has_zero)))
        return np.where(sign & ~zero, -v, v)

    def _all_values(self) -> np.ndarray:
        mags = np.arange(self.n_magnitudes, dtype=np.int64)
        codes = np.concatenate([mags, mags | (1 << (self.bits - 1))])
        return self.decode(codes)

    def __str__(self) -> str:
        from ristretto_sim.formats.text import format_to_string

        return format_to_string(self)
