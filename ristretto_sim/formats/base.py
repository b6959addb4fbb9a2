"""The protocol every number format follows, and the argument handling they share.

A format is a frozen, validated dataclass. It maps float64 values to integer codes (``encode``), codes back to float64
(``decode``) and values to the nearest representable values (``quantize``), with
``decode(encode(x)) == quantize(x)`` exactly. ``bits`` is the width of one code; ``str(fmt)`` is the canonical text
form, and ``parse_format(str(fmt)) == fmt``.
"""

from __future__ import annotations

import numpy as np

from ristretto_sim.formats.rounding import Overflow, Rounding


class NumberFormat:
    """Base class of ``FixedPoint``, ``Minifloat`` and ``PowerOfTwo`` (shared argument handling only)."""

    # Each format has ``bits`` (a field or a property; not declared here, or dataclasses would see a default).

    #: the overflow mode used when none is given
    default_overflow = Overflow.SATURATE
    #: one scale per output channel (fixed point may have them; other formats never)
    per_channel = False
    #: whether the format has a NaN code (minifloats with specials)
    has_nan = False

    def describe(self) -> dict:
        """What the format is, as a JSON-able dict: text, kind, bits, range; variants add their own fields."""
        return {"format": str(self), "kind": type(self).__name__, "bits": self.bits, "min": float(self.min),
                "max": float(self.max)}

    def _modes(self, rounding, overflow) -> tuple[Rounding, Overflow]:
        rounding = Rounding.coerce(rounding, "rounding")
        overflow = self.default_overflow if overflow is None else Overflow.coerce(overflow, "overflow")
        return rounding, overflow

    @staticmethod
    def _as_float_array(x) -> np.ndarray:
        arr = np.asarray(x)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"expected real numbers, got an array of dtype {arr.dtype}")
        return arr.astype(np.float64, copy=False)

    def _reject_nan(self, x: np.ndarray) -> None:
        if np.isnan(x).any():
            raise ValueError(f"NaN input cannot be represented in {self} (it has no NaN code)")

    def values(self) -> np.ndarray:
        """All distinct finite values of the format, ascending (``-0.0`` and ``+0.0`` count once).

        Only for formats of at most 16 bits.
        """
        if self.bits > 16:
            raise ValueError(f"values() lists formats of at most 16 bits; {self} has {self.bits}")
        return np.unique(self._all_values())

    def _all_values(self) -> np.ndarray:  # pragma: no cover - each format defines it
        raise NotImplementedError

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def code_dtype(bits: int, signed: bool) -> np.dtype:
    """The narrowest NumPy integer dtype holding ``bits``-bit codes (signed or unsigned)."""
    for width in (8, 16, 32, 64):
        if bits <= width:
            return np.dtype(f"{'int' if signed else 'uint'}{width}")
    raise ValueError(f"codes of {bits} bits do not fit a 64-bit integer")


def check_int(value, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Validate an integer parameter and return it as ``int``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}={value!r} must be an integer")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name}={value} must be >= {minimum}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name}={value} must be <= {maximum}")
    return value


def require(value, cls, name: str, what: str | None = None):
    """``value`` if it is an instance of the format class ``cls``, else ``TypeError`` naming the parameter (the
    argument check of kernels and files that take one kind of format); ``what`` words the expectation (default:
    "a <class name>")."""
    if not isinstance(value, cls):
        raise TypeError(f"{name}={value} must be {what or 'a ' + cls.__name__}")
    return value
