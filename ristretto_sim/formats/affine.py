"""Affine (asymmetric, scaled) integers: ``Affine(bits, scale, zero_point=0, signed=True, axis=0)``, the number
format of TensorFlow Lite, ONNX (QuantizeLinear) and PyTorch int8 models.

A code ``q`` is an integer in [``min_code``, ``max_code``]; its value is ``scale * (q - zero_point)``. ``scale`` is
any positive finite float (TFLite stores float32 scales; they are held as the exact float64 of that float32);
``scale`` and ``zero_point`` may be tuples, one entry per slice along ``axis`` of the tensor (per-channel
quantization: TFLite's ``quantized_dimension``, ONNX's ``axis``). A per-channel format quantizes only tensors whose
``axis`` has that many entries.

Quantization divides by the scale in float64, rounds with the chosen ``Rounding`` (TFLite's converter and kernels
round half away from zero, ``NEAREST_AWAY``; ONNX QuantizeLinear rounds half to even, the default), adds the zero
point and saturates to the code range (``WRAP`` keeps the low ``bits`` bits). ``decode`` returns
``scale * (q - z)`` in float64, exact for a float32 scale (24 significant bits times a 9-bit integer) and the
nearest float64 otherwise. A value on the grid, computed in float64 or in float32 (within 2**-24 relative), always
encodes back to ``q``: for 8-bit codes the quotient is within ``2**-16`` of an integer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ristretto_sim.formats.base import NumberFormat, check_int
from ristretto_sim.formats.rounding import Overflow, Rounding, round_to_integer

MAX_BITS = 32


def _scales(value) -> float | tuple[float, ...]:
    if isinstance(value, (list, tuple, np.ndarray)):
        vals = tuple(float(v) for v in np.asarray(value, dtype=np.float64).ravel())
        if not vals:
            raise ValueError("scale=() must list at least one scale")
        for v in vals:
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"scale={v!r} must be positive and finite (every per-channel scale)")
        return vals
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"scale={value!r} must be a positive number or a tuple of them")
    v = float(value)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"scale={v!r} must be positive and finite")
    return v


def _zero_points(value):
    if isinstance(value, (list, tuple, np.ndarray)):
        vals = tuple(check_int(v, "zero_point[]") for v in np.asarray(value).ravel().tolist())
        if not vals:
            raise ValueError("zero_point=() must list at least one zero point")
        return vals
    return check_int(value, "zero_point")


@dataclass(frozen=True)
class Affine(NumberFormat):
    """Affine integer format: value = ``scale * (code - zero_point)``.

    Parameters
    ----------
    bits : int
        Code width, 1..32 (sign bit included when ``signed``).
    scale : float or tuple of float
        Step between codes (one per slice along ``axis`` for a per-channel format).
    zero_point : int or tuple of int
        The code of the value 0 (a tuple: one per channel; a single value with tuple scales applies to every
        channel). It must be a code of the format.
    signed : bool
        Two's complement codes (int8) or unsigned ones (uint8).
    axis : int
        Per-channel formats: the tensor axis the scales run along (``>= 0``; ignored by per-tensor formats).
    """

    bits: int
    scale: float | tuple[float, ...]
    zero_point: int | tuple[int, ...] = 0
    signed: bool = True
    axis: int = 0

    def __post_init__(self):
        object.__setattr__(self, "bits", check_int(self.bits, "bits", minimum=1, maximum=MAX_BITS))
        if not isinstance(self.signed, (bool, np.bool_)):
            raise TypeError(f"signed={self.signed!r} must be True or False")
        object.__setattr__(self, "signed", bool(self.signed))
        object.__setattr__(self, "scale", _scales(self.scale))
        zp = _zero_points(self.zero_point)
        if isinstance(zp, tuple):
            n = len(self.scale) if isinstance(self.scale, tuple) else None
            if n is None:
                if len(set(zp)) != 1:
                    raise ValueError(f"zero_point={zp}: per-channel zero points need per-channel scales")
                zp = zp[0]
            elif len(zp) == 1:
                zp = zp[0]
            elif len(zp) != n:
                raise ValueError(f"zero_point has {len(zp)} entries but scale has {n}")
            elif len(set(zp)) == 1:
                zp = zp[0]
        object.__setattr__(self, "zero_point", zp)
        object.__setattr__(self, "axis", check_int(self.axis, "axis", minimum=0, maximum=7))
        for z in np.atleast_1d(np.asarray(self.zero_point)).tolist():
            if not self.min_code <= z <= self.max_code:
                raise ValueError(f"zero_point={z} is not a code of a {self.bits}-bit "
                                 f"{'signed' if self.signed else 'unsigned'} format "
                                 f"[{self.min_code}, {self.max_code}]")
        if not self.per_channel:
            object.__setattr__(self, "axis", 0)

    # ------------------------------------------------------------------ properties
    @property
    def per_channel(self) -> bool:
        """True when ``scale`` is a per-channel tuple."""
        return isinstance(self.scale, tuple)

    @property
    def channels(self) -> int:
        """Number of per-channel scales (1 for a per-tensor format)."""
        return len(self.scale) if self.per_channel else 1

    @property
    def min_code(self) -> int:
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def max_code(self) -> int:
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    def scale_array(self) -> np.ndarray:
        """The scales as a float64 array (one entry per channel; shape ``(1,)`` per tensor)."""
        return np.atleast_1d(np.asarray(self.scale, dtype=np.float64))

    def zero_point_array(self) -> np.ndarray:
        """The zero points as an int64 array broadcast to one per channel."""
        return np.broadcast_to(np.asarray(self.zero_point, dtype=np.int64), (self.channels,)).copy()

    @property
    def lsb(self):
        return np.asarray(self.scale, dtype=np.float64) if self.per_channel else self.scale

    @property
    def max(self):
        """Largest representable value (an array for per-channel formats)."""
        v = self.scale_array() * (self.max_code - self.zero_point_array())
        return v if self.per_channel else float(v[0])

    @property
    def min(self):
        """Smallest representable value (an array for per-channel formats)."""
        v = self.scale_array() * (self.min_code - self.zero_point_array())
        return v if self.per_channel else float(v[0])

    def describe(self) -> dict:
        d = {"format": str(self), "kind": type(self).__name__, "bits": self.bits, "signed": self.signed}
        if self.per_channel:
            d.update(channels=self.channels, axis=self.axis, scale=list(self.scale),
                     zero_point=self.zero_point_array().tolist())
        else:
            d.update(scale=self.scale, zero_point=self.zero_point, min=self.min, max=self.max)
        return d

    def channel(self, index: int) -> Affine:
        """The per-tensor format of channel ``index`` (itself if not per-channel)."""
        if not self.per_channel:
            return self
        return Affine(self.bits, self.scale[index], int(self.zero_point_array()[index]), signed=self.signed)

    def with_bits(self, bits: int) -> Affine:
        return Affine(bits, self.scale, self.zero_point, signed=self.signed, axis=self.axis)

    # ------------------------------------------------------------------ conversions
    def _broadcast(self, arr: np.ndarray):
        """``(scale, zero_point)`` shaped to broadcast against ``arr`` (per-channel along ``axis``)."""
        if not self.per_channel:
            return self.scale, self.zero_point
        n = self.channels
        if arr.ndim <= self.axis or arr.shape[self.axis] != n:
            raise ValueError(f"per-channel format {self.short()} has {n} scales along axis {self.axis} but the "
                             f"tensor has shape {arr.shape}")
        shape = [1] * arr.ndim
        shape[self.axis] = n
        return self.scale_array().reshape(shape), self.zero_point_array().reshape(shape)

    def _round(self, x, rounding, overflow, rng):
        rounding, overflow = self._modes(rounding, overflow)
        x = self._as_float_array(x)
        self._reject_nan(x)
        if overflow is Overflow.WRAP and np.isinf(x).any():
            raise ValueError(f"infinite input cannot wrap in {self.short()}; use overflow='saturate'")
        s, z = self._broadcast(x)
        with np.errstate(over="ignore"):
            r = round_to_integer(x / s, rounding, rng) + z
        return r, overflow

    def _codes(self, r: np.ndarray, overflow: Overflow) -> np.ndarray:
        if overflow is Overflow.WRAP:
            span = 1 << self.bits
            u = np.mod(r, float(span))
            if self.signed:
                u = np.where(u >= span // 2, u - span, u)
            return u.astype(np.int64)
        return np.clip(r, float(self.min_code), float(self.max_code)).astype(np.int64)

    def encode(self, x, rounding=Rounding.NEAREST_EVEN, overflow=None, rng=None) -> np.ndarray:
        """Integer codes (``int64``): ``clamp(round(x / scale) + zero_point)``."""
        r, overflow = self._round(x, rounding, overflow, rng)
        return self._codes(r, overflow)

    def quantize(self, x, rounding=Rounding.NEAREST_EVEN, overflow=None, rng=None) -> np.ndarray:
        """Nearest representable values (float64) under ``rounding`` and ``overflow``."""
        return self.decode(self.encode(x, rounding, overflow, rng))

    def decode(self, codes) -> np.ndarray:
        """Values (float64) ``scale * (code - zero_point)``; codes outside the range raise ``ValueError``."""
        c = np.asarray(codes)
        if c.dtype.kind not in "iu":
            raise TypeError(f"codes must be integers, got dtype {c.dtype}")
        if c.size and (int(c.min()) < self.min_code or int(c.max()) > self.max_code):
            raise ValueError(f"codes out of range for {self.short()}: [{int(c.min())}, {int(c.max())}] not within "
                             f"[{self.min_code}, {self.max_code}]")
        s, z = self._broadcast(c)
        return (c.astype(np.int64) - z) * s + 0.0

    def _all_values(self) -> np.ndarray:
        if self.per_channel:
            raise ValueError(f"values() of a per-channel format {self.short()}: take .channel(i) first")
        return self.decode(np.arange(self.min_code, self.max_code + 1, dtype=np.int64))

    def short(self) -> str:
        """A short text for messages (per-channel scales summarised)."""
        if not self.per_channel:
            return str(self)
        prefix = "affine" if self.signed else "uaffine"
        return f"{prefix}{self.bits}[{self.channels} scales on axis {self.axis}]"

    def __str__(self) -> str:
        from ristretto_sim.formats.text import format_to_string

        return format_to_string(self)
