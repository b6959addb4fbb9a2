"""Minifloats: ``Minifloat(exp_bits, man_bits, bias=None, subnormals=True, specials="ieee")``.

A code is ``sign | exponent field (exp_bits) | mantissa (man_bits)``, sign in the MSB. The bias defaults to
``2**(exp_bits-1) - 1``. A field ``E >= 1`` is normal, ``(1 + m/2**man_bits) * 2**(E - bias)``; field 0 holds zero and,
with ``subnormals=True``, the subnormals ``m * 2**(1 - bias - man_bits)``.

``specials`` says what the top exponent field means:

* ``"ieee"``: reserved for Inf (mantissa 0) and NaN (any other mantissa), as IEEE 754 half/single (and OCP E5M2);
* ``"fn"``: only the all-ones code (each sign) is NaN, every other code is finite; there is no Inf
  (OCP E4M3, ``ml_dtypes.float8_e4m3fn``);
* ``"none"``: every code is a finite number (OCP FP6/FP4, ``float6_e3m2fn`` etc.); NaN input is a ``ValueError``.

**Rounding** is done once, from the float64 input (never through float32): the value is scaled by the quantum of its
binade (or of the subnormal range), rounded to an integer with the chosen ``Rounding``, and scaled back. A mantissa
carry moves the value into the next binade, as IEEE 754 does. Negative values that round to zero give ``-0.0``.

**Without subnormals** (``subnormals=False``) field 0 encodes only zero (any mantissa decodes as zero), and a value
below the smallest normal ``min_normal`` is rounded on the grid {0, min_normal} with the chosen rounding: under the
nearest modes it flushes to zero below ``min_normal/2`` and becomes ``min_normal`` above; the exact midpoint goes to 0
under ``NEAREST_EVEN`` (0 is the even multiple) and to ``min_normal`` under ``NEAREST_AWAY``.

**Overflow** (a rounded magnitude above ``max``), with ``Overflow.NATURAL`` (the default), follows IEEE 754 §7.4:
``ieee`` formats give ±Inf under the nearest and stochastic modes, ±max when the rounding goes toward zero
(``TOWARD_ZERO``, ``FLOOR`` for positive and ``CEIL`` for negative values) and ±Inf when it goes away from zero
(``CEIL`` positive, ``FLOOR`` negative); ``fn`` formats give NaN where ``ieee`` would give Inf (ml_dtypes / OCP
non-saturating conversion); ``none`` formats give ±max. ``Overflow.SATURATE`` gives ±max for every kind, infinite
inputs included. ``Overflow.WRAP`` is a ``ValueError``. Infinite inputs under ``NATURAL``: ±Inf (``ieee``),
NaN (``fn``), ±max (``none``). NaN input gives the canonical NaN (positive, quiet) where there is one.

Formats must be subsets of float64 (``man_bits <= 52`` and the exponent range inside float64's), so every value is
exact in float64; ``bits <= 64``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from ristretto_sim.enums import NamedEnum
from ristretto_sim.formats.base import NumberFormat, check_int, code_dtype
from ristretto_sim.formats.rounding import Overflow, Rounding, round_to_integer

#: elements quantized per block (deterministic rounding): 256 KiB of float64, so that the passes of one block
#: stay in the core's L2 cache
QUANTIZE_BLOCK = 32768


class Specials(NamedEnum):
    """What a minifloat's top exponent field encodes (see the module docstring)."""

    IEEE = "ieee"
    FN = "fn"
    NONE = "none"


@dataclass(frozen=True)
class Minifloat(NumberFormat):
    """Floating-point format with ``exp_bits`` exponent and ``man_bits`` mantissa bits (plus a sign bit).

    Parameters
    ----------
    exp_bits : int
        Exponent field width, >= 1.
    man_bits : int
        Stored mantissa width (no hidden bit), 0..52.
    bias : int, optional
        Exponent bias; default ``2**(exp_bits-1) - 1``.
    subnormals : bool
        Whether exponent field 0 holds subnormals (default) or only zero.
    specials : {"ieee", "fn", "none"} or Specials
        Meaning of the top exponent field (module docstring).
    """

    exp_bits: int
    man_bits: int
    bias: int | None = None
    subnormals: bool = True
    specials: Specials = Specials.IEEE

    default_overflow = Overflow.NATURAL

    def __post_init__(self):
        check_int(self.exp_bits, "exp_bits", minimum=1, maximum=11)
        check_int(self.man_bits, "man_bits", minimum=0, maximum=52)
        object.__setattr__(self, "exp_bits", int(self.exp_bits))
        object.__setattr__(self, "man_bits", int(self.man_bits))
        if self.bias is None:
            object.__setattr__(self, "bias", (1 << (self.exp_bits - 1)) - 1)
        else:
            object.__setattr__(self, "bias", check_int(self.bias, "bias", minimum=-1100, maximum=1100))
        if not isinstance(self.subnormals, (bool, np.bool_)):
            raise TypeError(f"subnormals={self.subnormals!r} must be True or False")
        object.__setattr__(self, "subnormals", bool(self.subnormals))
        if isinstance(self.specials, enum.Enum) and not isinstance(self.specials, Specials):
            raise TypeError(f"specials={self.specials!r} must be 'ieee', 'fn' or 'none'")
        object.__setattr__(self, "specials", Specials.coerce(self.specials, "specials"))
        if self.specials is Specials.IEEE and self.man_bits == 0:
            raise ValueError(
                f"man_bits=0 with specials='ieee' leaves no NaN code (e{self.exp_bits}m0); use specials='fn' or 'none'"
            )
        if self.max_field < 1:
            raise ValueError(
                f"exp_bits={self.exp_bits} with specials={self.specials.value!r} leaves no normal exponent: "
                "the exponent range is empty; use more exponent bits or specials='none'"
            )
        if self.emax > 1023 or self.emin - (self.man_bits if self.subnormals else 0) < -1074:
            raise ValueError(
                f"exponent range [{self.emin}, {self.emax}] (bias={self.bias}) is outside float64's; "
                "values must be exact in float64"
            )

    # ------------------------------------------------------------------ derived parameters
    @property
    def bits(self) -> int:
        return 1 + self.exp_bits + self.man_bits

    @property
    def top_field(self) -> int:
        return (1 << self.exp_bits) - 1

    @property
    def max_field(self) -> int:
        """Largest exponent field holding finite values."""
        if self.specials is Specials.IEEE or (self.specials is Specials.FN and self.man_bits == 0):
            return self.top_field - 1
        return self.top_field

    @property
    def max_mantissa(self) -> int:
        """Largest mantissa field at ``max_field``."""
        if self.specials is Specials.FN and self.man_bits > 0:
            return (1 << self.man_bits) - 2
        return (1 << self.man_bits) - 1

    @property
    def emax(self) -> int:
        """Unbiased exponent of the largest binade."""
        return self.max_field - self.bias

    @property
    def emin(self) -> int:
        """Unbiased exponent of the smallest normal binade (field 1)."""
        return 1 - self.bias

    @property
    def max(self) -> float:
        """Largest finite value."""
        return float(np.ldexp(float((1 << self.man_bits) + self.max_mantissa), self.emax - self.man_bits))

    @property
    def min(self) -> float:
        """Most negative finite value (``-max``)."""
        return -self.max

    @property
    def min_normal(self) -> float:
        return float(np.ldexp(1.0, self.emin))

    @property
    def min_subnormal(self) -> float:
        """Smallest positive value (the smallest normal when there are no subnormals)."""
        return float(np.ldexp(1.0, self.emin - self.man_bits)) if self.subnormals else self.min_normal

    def describe(self) -> dict:
        return {**super().describe(), "min_normal": self.min_normal, "min_subnormal": self.min_subnormal,
                "specials": self.specials.value, "bias": self.bias}

    @property
    def has_inf(self) -> bool:
        return self.specials is Specials.IEEE

    @property
    def has_nan(self) -> bool:
        return self.specials is not Specials.NONE

    @property
    def nan_code(self) -> int | None:
        """The canonical NaN code (positive; quiet for ``ieee``), or None."""
        if self.specials is Specials.IEEE:
            return (self.top_field << self.man_bits) | (1 << (self.man_bits - 1))
        if self.specials is Specials.FN:
            return (self.top_field << self.man_bits) | ((1 << self.man_bits) - 1)
        return None

    # ------------------------------------------------------------------ quantize / encode / decode
    def quantize(self, x, rounding=Rounding.NEAREST_EVEN, overflow=None, rng=None) -> np.ndarray:
        """Nearest representable values (float64) under ``rounding`` and ``overflow`` (module docstring)."""
        rounding, overflow = self._modes(rounding, overflow)
        if overflow is Overflow.WRAP:
            raise ValueError(f"overflow='wrap' is meaningless for the minifloat {self}; use 'natural' or 'saturate'")
        x = self._as_float_array(x)
        if rounding is not Rounding.STOCHASTIC and x.size > QUANTIZE_BLOCK:
            # deterministic rounding is elementwise: blocks that stay in cache across the dozen passes below
            flat = np.ascontiguousarray(x).reshape(-1)
            out = np.empty(flat.shape)
            for i in range(0, flat.size, QUANTIZE_BLOCK):
                out[i:i + QUANTIZE_BLOCK] = self._quantize(flat[i:i + QUANTIZE_BLOCK], rounding, overflow, None)
            return out.reshape(x.shape)
        return self._quantize(x, rounding, overflow, rng)

    def _quantize(self, x: np.ndarray, rounding: Rounding, overflow: Overflow, rng) -> np.ndarray:
        nan = np.isnan(x)
        if self.specials is Specials.NONE and nan.any():
            raise ValueError(f"NaN input cannot be represented in {self} (specials='none' has no NaN code)")
        m = self.man_bits
        a = np.abs(x)
        finite = np.isfinite(x)
        if rounding is Rounding.NEAREST_EVEN and self._bitwise_nearest_even:
            val = self._nearest_even(x, a)
        else:
            _, e = np.frexp(a)
            k = e.astype(np.int64) - 1  # a in [2**k, 2**(k+1)) for finite a > 0
            if self.subnormals:
                q = np.maximum(k, self.emin) - m
            else:
                q = np.where(a < self.min_normal, self.emin, k - m)
            q = np.where(finite, q, 0)
            with np.errstate(invalid="ignore"):
                val = np.ldexp(round_to_integer(np.ldexp(x, -q), rounding, rng), q)
        mx = self.max
        over = finite & (np.abs(val) > mx)
        inf = np.isinf(x)
        if over.any() or inf.any():
            val = self._overflow(x, val, over, inf, rounding, overflow, mx)
        if nan.any():
            val = np.where(nan, np.nan, val)
        return val

    @property
    def _bitwise_nearest_even(self) -> bool:
        """Whether :meth:`_nearest_even` applies: a significand narrower than float64's and a smallest quantum
        ``2**(emin - man_bits)`` whose magic constant ``2**(emin - man_bits + 52)`` is a normal float64."""
        low = self.emin - self.man_bits + (0 if self.subnormals else self.man_bits)
        return self.man_bits <= 51 and -1022 <= low + 52 <= 1023 and self.emin >= -1022

    def _nearest_even(self, x: np.ndarray, a: np.ndarray) -> np.ndarray:
        """Round to nearest, ties to even, on the float64 bits (the same values as the frexp/ldexp path, in
        fewer passes): at or above the smallest normal the significand is cut to ``man_bits`` bits by adding
        half an ulp minus one plus the kept last bit and clearing the dropped bits (a carry moves the exponent
        up, as it should); below it, where the quantum is fixed, ``(a + C) - C`` with ``C = 2**52 * quantum``
        rounds to a multiple of the quantum by the FPU's own round-half-even. Signs are copied back (a negative
        value that rounds to zero gives ``-0.0``, as ``rint`` does); non-finite entries are left to the caller."""
        drop = np.uint64(52 - self.man_bits)
        bits = a.view(np.uint64)
        if drop:
            half = np.uint64((1 << (int(drop) - 1)) - 1)
            # the kept last bit; with no mantissa bits the integer significand is 1, odd: a tie rounds up
            last = (bits >> drop) & np.uint64(1) if self.man_bits else np.uint64(1)
            bits = (bits + half + last) & ~np.uint64((1 << int(drop)) - 1)
        normal = bits.view(np.float64)
        quantum = self.emin - (self.man_bits if self.subnormals else 0)
        c = np.float64(2.0 ** (quantum + 52))
        small = (a + c) - c
        with np.errstate(invalid="ignore"):
            return np.copysign(np.where(a >= self.min_normal, normal, small), x)

    def _overflow(self, x, val, over, inf, rounding, overflow, mx):
        neg = np.signbit(x)
        sat = np.where(neg, -mx, mx)
        if overflow is Overflow.SATURATE or self.specials is Specials.NONE:
            return np.where(over | inf, sat, val)
        special = np.inf if self.specials is Specials.IEEE else np.nan
        toward_zero = {
            Rounding.TOWARD_ZERO: np.ones_like(neg),
            Rounding.FLOOR: ~neg,
            Rounding.CEIL: neg,
        }.get(rounding, np.zeros_like(neg))
        big = np.where(neg, -special, special)
        val = np.where(over, np.where(toward_zero, sat, big), val)
        return np.where(inf, big, val)

    def encode(self, x, rounding=Rounding.NEAREST_EVEN, overflow=None, rng=None) -> np.ndarray:
        """Bit patterns (unsigned integers of the narrowest dtype) of the quantized values."""
        return self._encode_values(self.quantize(x, rounding=rounding, overflow=overflow, rng=rng))

    def _encode_values(self, val: np.ndarray) -> np.ndarray:
        """Bit patterns of values that are already representable."""
        m = self.man_bits
        dt = np.uint64
        a = np.abs(val)
        nan = np.isnan(val)
        inf = np.isinf(val)
        fin = ~(nan | inf)
        safe = np.where(fin, a, 0.0)
        _, e = np.frexp(safe)
        k = e.astype(np.int64) - 1
        normal = fin & (safe >= self.min_normal)
        field = np.where(normal, k + self.bias, 0)
        qexp = np.where(normal, k - m, self.emin - m)
        man = np.ldexp(safe, -qexp)
        man = np.where(normal, man - (1 << m), man)
        if not self.subnormals:
            man = np.where(normal, man, 0.0)
        code = (field.astype(dt) << dt(m)) | man.astype(dt)
        code = np.where(inf, dt(self.top_field << m), code)
        if self.has_nan:
            code = np.where(nan, dt(self.nan_code), code)
        sign = np.signbit(val) & ~nan
        code = code | (sign.astype(dt) << dt(self.bits - 1))
        return code.astype(code_dtype(self.bits, signed=False))

    def decode(self, codes) -> np.ndarray:
        """Values (float64) of bit patterns; codes of ``bits`` or more bits raise ``ValueError``."""
        c = np.asarray(codes)
        if c.dtype.kind not in "iu":
            raise TypeError(f"codes must be integers, got dtype {c.dtype}")
        if c.size and (int(c.min()) < 0 or int(c.max()) >= (1 << self.bits)):
            raise ValueError(f"codes out of range for {self}: must lie in [0, {(1 << self.bits) - 1}]")
        c = c.astype(np.uint64)
        m = self.man_bits
        man = (c & np.uint64((1 << m) - 1)).astype(np.float64)
        field = ((c >> np.uint64(m)) & np.uint64(self.top_field)).astype(np.int64)
        sign = (c >> np.uint64(self.bits - 1)).astype(bool)
        normal = field > 0
        mag = np.where(normal, (man + (1 << m)), man if self.subnormals else 0.0)
        mag = np.ldexp(mag, np.where(normal, field - self.bias - m, self.emin - m))
        if self.specials is Specials.IEEE:
            top = field == self.top_field
            mag = np.where(top, np.where(man == 0, np.inf, np.nan), mag)
        elif self.specials is Specials.FN:
            mag = np.where((field == self.top_field) & (man == (1 << m) - 1), np.nan, mag)
        return np.where(sign, -mag, mag)

    def _all_values(self) -> np.ndarray:
        v = self.decode(np.arange(1 << self.bits, dtype=np.uint64))
        return v[np.isfinite(v)]

    def __str__(self) -> str:
        from ristretto_sim.formats.text import format_to_string

        return format_to_string(self)
