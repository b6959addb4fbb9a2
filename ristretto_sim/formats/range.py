"""Range analysis: pick a format's free parameters from observed values and a bit budget.

* Dynamic fixed point, Ristretto's rules (reference ``ristretto.md`` §1.4): integer length ``il = ceil(log2 max)`` for
  activations and ``ceil(log2 max + 1)`` for weights, then ``frac_bits = bits - il``. Activations in
  (2**(il-1), 2**il] saturate under this rule (the original's documented-vs-actual discrepancy, kept on purpose).
* Dynamic fixed point, no-saturation rule: the largest ``frac_bits`` whose range still holds ``max|x|``.
* Minifloat exponent bits, Ristretto's rule (reference §2): start at 4, take
  ``ceil(log2(log2(max) - 1) + 1)`` over every observed maximum (NaN results, from max <= 2, are ignored).
* Minifloat exponent bits, no-overflow rule: the fewest exponent bits whose format reaches ``max|x|``.
"""

from __future__ import annotations

import math

import numpy as np

from ristretto_sim.enums import NamedEnum
from ristretto_sim.formats.fixed import FixedPoint
from ristretto_sim.formats.minifloat import Minifloat


class RangeRule(NamedEnum):
    """How ``fixed_point_for_range`` chooses the fractional length."""

    RISTRETTO_WEIGHTS = "ristretto_weights"
    RISTRETTO_ACTIVATIONS = "ristretto_activations"
    NO_SATURATION = "no_saturation"


def max_abs(values) -> float:
    """Largest magnitude of an array (float64); NaN is rejected."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        raise ValueError("cannot analyse the range of an empty array")
    m = float(np.max(np.abs(v)))
    if math.isnan(m):
        raise ValueError("cannot analyse the range of values containing NaN")
    return m


def ristretto_integer_length(max_value: float, *, weights: bool) -> int:
    """Ristretto's integer length: ``ceil(log2 max)`` (activations) or ``ceil(log2 max + 1)`` (weights).

    Computed as C does, in double. ``max_value`` must be positive and finite: the original produced garbage for 0.
    """
    if not (max_value > 0 and math.isfinite(max_value)):
        raise ValueError(
            f"max_value={max_value!r}: Ristretto's integer length needs a positive, finite maximum "
            "(an all-zero tensor has no range; give its format by hand)"
        )
    lg = math.log2(max_value)
    return int(math.ceil(lg + 1)) if weights else int(math.ceil(lg))


def fixed_point_for_range(values_or_max, bits: int, rule=RangeRule.NO_SATURATION, *, signed: bool = True,
                          per_channel: bool = False) -> FixedPoint:
    """Choose ``frac_bits`` for ``bits``-bit fixed point from observed values (or their max magnitude).

    Parameters
    ----------
    values_or_max : array_like or float
        The observed values, or their maximum magnitude. With ``per_channel`` an array whose axis 0 is the channel.
    bits : int
        Word width.
    rule : RangeRule or str
        ``ristretto_weights``, ``ristretto_activations`` (reference §1.4) or ``no_saturation``.
    signed : bool
        Signed (default) or unsigned format.
    per_channel : bool
        One fractional length per slice along axis 0.
    """
    rule = RangeRule.coerce(rule, "rule")
    if per_channel:
        arr = np.asarray(values_or_max, dtype=np.float64)
        if arr.ndim == 0:
            raise ValueError("per_channel=True needs an array with the channel on axis 0")
        fracs = tuple(
            fixed_point_for_range(arr[i], bits, rule, signed=signed).frac_bits for i in range(arr.shape[0])
        )
        return FixedPoint(bits, fracs, signed=signed)
    m = max_abs(values_or_max)
    if rule is RangeRule.NO_SATURATION:
        probe = FixedPoint(bits, 0, signed=signed)
        if m == 0:
            return FixedPoint(bits, bits - 1 if signed else bits, signed=signed)
        if not math.isfinite(m):
            raise ValueError("cannot fit an infinite value in fixed point")
        # largest f with max_code * 2**-f >= m
        f = int(math.floor(math.log2(probe.max_code / m)))
        while probe.max_code * 2.0 ** (-(f + 1)) >= m:
            f += 1
        while probe.max_code * 2.0 ** (-f) < m:
            f -= 1
        return FixedPoint(bits, f, signed=signed)
    il = ristretto_integer_length(m, weights=rule is RangeRule.RISTRETTO_WEIGHTS)
    return FixedPoint(bits, bits - il, signed=signed)


def ristretto_minifloat_exp_bits(maxima) -> int:
    """Ristretto's exponent-bit choice (reference §2): 4, or more for activations above 512 (5 up to 2**17, ...)."""
    exp_bits = 4
    for m in np.atleast_1d(np.asarray(maxima, dtype=np.float64)):
        with np.errstate(divide="ignore", invalid="ignore"):
            v = np.ceil(np.log2(np.log2(m) - 1) + 1)
        if np.isfinite(v):
            exp_bits = max(exp_bits, int(v))
    return exp_bits


def minifloat_for_range(values_or_max, bits: int, *, specials="none", subnormals: bool = True) -> Minifloat:
    """The ``bits``-bit minifloat with the fewest exponent bits (most mantissa) whose max reaches ``max|x|``."""
    m = max_abs(values_or_max)
    if bits < 3:
        raise ValueError(f"bits={bits}: a minifloat needs at least 3 bits (sign, exponent, mantissa)")
    last_error = None
    for e in range(1, bits - 1 if specials != "none" else bits):
        try:
            fmt = Minifloat(e, bits - 1 - e, specials=specials, subnormals=subnormals)
        except ValueError as exc:  # e.g. no normal exponent left
            last_error = exc
            continue
        if fmt.max >= m:
            return fmt
    raise ValueError(f"no {bits}-bit minifloat reaches {m}" + (f" ({last_error})" if last_error else ""))


__all__ = [
    "RangeRule",
    "fixed_point_for_range",
    "max_abs",
    "minifloat_for_range",
    "ristretto_integer_length",
    "ristretto_minifloat_exp_bits",
]
