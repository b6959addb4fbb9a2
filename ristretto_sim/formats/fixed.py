"""Two's complement (or unsigned) fixed point: ``FixedPoint(bits, frac_bits, signed=True)``.

A code ``q`` is an integer in [``min_code``, ``max_code``]; its value is ``q * 2**-frac_bits``. ``frac_bits`` may be
negative (a step coarser than 1) or larger than ``bits`` (all values below 1), as Ristretto's dynamic fixed point
allows. ``frac_bits`` may also be a tuple, one entry per slice along axis 0 of the tensor (per-output-channel dynamic
fixed point for OIHW weights); such a format quantizes only tensors whose first dimension matches.

Quantization scales by ``2**frac_bits`` (exact), rounds with the chosen ``Rounding`` (exact, see ``rounding``), then
handles overflow: ``SATURATE`` (default; ``NATURAL`` means the same) clamps to the range, ``WRAP`` keeps the low
``bits`` bits of the two's complement integer. Infinities saturate under ``SATURATE`` and raise ``ValueError`` under
``WRAP`` (there is no integer to wrap); NaN always raises ``ValueError``.

Codes are ``int64`` (``uint64`` for a 64-bit unsigned format). Formats up to 128 bits may be declared (accumulators);
``encode``/``decode`` handle up to 64 bits. For more than 53 bits the grid is finer than float64 near the range ends,
so ``quantize`` and ``decode`` return the nearest float64 of the grid value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ristretto_sim.formats.base import NumberFormat, check_int
from ristretto_sim.formats.rounding import Overflow, Rounding, round_to_integer

MAX_BITS = 128
MAX_CODE_BITS = 64


@dataclass(frozen=True)
class FixedPoint(NumberFormat):
    """Fixed-point format with ``bits`` total bits and ``frac_bits`` fractional bits.

    Parameters
    ----------
    bits : int
        Word width, 1..128 (sign bit included when ``signed``).
    frac_bits : int or tuple of int
        Fractional length: the step is ``2**-frac_bits``. A tuple gives one fractional length per slice along axis 0
        (per-channel).
    signed : bool
        Two's complement (default) or unsigned.
    """

    bits: int
    frac_bits: int | tuple[int, ...]
    signed: bool = True

    def __post_init__(self):
        check_int(self.bits, "bits", minimum=1, maximum=MAX_BITS)
        object.__setattr__(self, "bits", int(self.bits))
        fb = self.frac_bits
        if isinstance(fb, (list, tuple, np.ndarray)):
            fb = tuple(check_int(f, "frac_bits[]", minimum=-1000, maximum=1000) for f in np.asarray(fb).ravel())
            if not fb:
                raise ValueError("frac_bits=() must list at least one fractional length")
        else:
            fb = check_int(fb, "frac_bits", minimum=-1000, maximum=1000)
        object.__setattr__(self, "frac_bits", fb)
        if not isinstance(self.signed, (bool, np.bool_)):
            raise TypeError(f"signed={self.signed!r} must be True or False")
        object.__setattr__(self, "signed", bool(self.signed))

    # ------------------------------------------------------------------ properties
    @property
    def per_channel(self) -> bool:
        """True when ``frac_bits`` is a per-channel tuple."""
        return isinstance(self.frac_bits, tuple)

    @property
    def min_code(self) -> int:
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def max_code(self) -> int:
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    def _frac_array(self) -> np.ndarray | int:
        return np.asarray(self.frac_bits, dtype=np.int64) if self.per_channel else self.frac_bits

    @property
    def lsb(self):
        """Value of one LSB, ``2**-frac_bits`` (an array for per-channel formats)."""
        return np.ldexp(1.0, -self._frac_array())

    @property
    def max(self):
        """Largest representable value (an array for per-channel formats)."""
        return np.ldexp(float(self.max_code), -self._frac_array())

    @property
    def min(self):
        """Smallest (most negative) representable value (an array for per-channel formats)."""
        return np.ldexp(float(self.min_code), -self._frac_array())

    def describe(self) -> dict:
        if self.per_channel:
            return {"format": str(self), "kind": type(self).__name__, "bits": self.bits,
                    "min": [float(v) for v in self.min], "max": [float(v) for v in self.max]}
        return {**super().describe(), "lsb": float(self.lsb)}

    def channel(self, index: int) -> FixedPoint:
        """The per-tensor format of channel ``index`` of a per-channel format (itself if not per-channel)."""
        if not self.per_channel:
            return self
        return FixedPoint(self.bits, self.frac_bits[index], signed=self.signed)

    def with_bits(self, bits: int) -> FixedPoint:
        """Same fractional length and signedness, another width."""
        return FixedPoint(bits, self.frac_bits, signed=self.signed)

    # ------------------------------------------------------------------ conversions
    def _frac_for(self, x: np.ndarray) -> np.ndarray | int:
        if not self.per_channel:
            return self.frac_bits
        n = len(self.frac_bits)
        if x.ndim == 0 or x.shape[0] != n:
            raise ValueError(
                f"per-channel format {self} has {n} channels but the tensor has shape {x.shape} "
                f"(axis 0 must have length {n})"
            )
        return np.asarray(self.frac_bits, dtype=np.int64).reshape((n,) + (1,) * (x.ndim - 1))

    def _round(self, x, rounding, overflow, rng):
        """Round ``x`` to integer-valued float64 codes (before overflow handling)."""
        rounding, overflow = self._modes(rounding, overflow)
        x = self._as_float_array(x)
        self._reject_nan(x)
        if overflow is Overflow.WRAP and np.isinf(x).any():
            raise ValueError(f"infinite input cannot wrap in {self}; use overflow='saturate'")
        f = self._frac_for(x)
        r = round_to_integer(np.ldexp(x, f), rounding, rng)
        return r, f, overflow

    def quantize(self, x, rounding=Rounding.NEAREST_EVEN, overflow=None, rng=None) -> np.ndarray:
        """Nearest representable values (float64) under ``rounding`` and ``overflow``."""
        r, f, overflow = self._round(x, rounding, overflow, rng)
        if overflow is Overflow.WRAP:
            return np.ldexp(self._wrap(r).astype(np.float64), -f)
        r = np.clip(r, float(self.min_code), float(self.max_code))
        return np.ldexp(r, -f) + 0.0  # + 0.0 turns -0.0 into +0.0: a fixed-point zero has no sign

    def encode(self, x, rounding=Rounding.NEAREST_EVEN, overflow=None, rng=None) -> np.ndarray:
        """Integer codes (``int64``; ``uint64`` for 64-bit unsigned) of the quantized values."""
        if self.bits > MAX_CODE_BITS:
            raise ValueError(f"encode handles formats up to {MAX_CODE_BITS} bits; {self} has {self.bits}")
        r, _, overflow = self._round(x, rounding, overflow, rng)
        if overflow is Overflow.WRAP:
            return self._wrap(r)
        dtype = np.uint64 if (not self.signed and self.bits == 64) else np.int64
        hi = np.ldexp(1.0, self.bits - 1 if self.signed else self.bits)  # exact power of two: first code above range
        lo = -hi if self.signed else 0.0
        over = r >= hi
        under = r < lo
        codes = np.where(over | under, 0.0, r).astype(dtype)
        codes[over] = self.max_code
        codes[under] = self.min_code
        return codes

    def _wrap(self, r: np.ndarray) -> np.ndarray:
        """Integer-valued float64 -> the low ``bits`` bits as a signed/unsigned code (exact for any magnitude)."""
        r = np.fmod(r, 2.0**64)  # exact; |r| < 2**64
        hi = np.floor(np.ldexp(r, -32))  # in [-2**32, 2**32)
        lo = r - np.ldexp(hi, 32)  # in [0, 2**32), exact
        with np.errstate(over="ignore"):
            u = (hi.astype(np.int64).astype(np.uint64) << np.uint64(32)) + lo.astype(np.uint64)
        if self.bits < 64:
            u &= np.uint64((1 << self.bits) - 1)
        if not self.signed:
            return u if self.bits == 64 else u.astype(np.int64)
        shift = np.uint64(64 - self.bits)  # sign-extend: move the sign bit to bit 63, shift back arithmetically
        return (u << shift).view(np.int64) >> shift.astype(np.int64)

    def decode(self, codes) -> np.ndarray:
        """Values (float64) of integer codes; codes outside [``min_code``, ``max_code``] raise ``ValueError``."""
        c = np.asarray(codes)
        if c.dtype.kind not in "iu":
            raise TypeError(f"codes must be integers, got dtype {c.dtype}")
        if c.size and (int(c.min()) < self.min_code or int(c.max()) > self.max_code):
            raise ValueError(
                f"codes out of range for {self}: [{int(c.min())}, {int(c.max())}] "
                f"not within [{self.min_code}, {self.max_code}]"
            )
        return np.ldexp(c.astype(np.float64), -self._frac_for(c))

    def _all_values(self) -> np.ndarray:
        if self.per_channel:
            raise ValueError(f"values() of a per-channel format {self}: take .channel(i) first")
        return self.decode(np.arange(self.min_code, self.max_code + 1, dtype=np.int64))

    def __str__(self) -> str:
        from ristretto_sim.formats.text import format_to_string

        return format_to_string(self)
