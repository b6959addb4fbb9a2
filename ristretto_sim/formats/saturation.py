"""What counts as an output saturation, one rule for every arithmetic: an output is saturated when the output
format's clamp changed it (fixed point: its value rounded to the grid lies outside the range; other formats: a
finite value beyond the range, which they saturate or overflow to Inf/NaN)."""

from __future__ import annotations

import numpy as np

from ristretto_sim.formats.fixed import FixedPoint


def clamped_outputs(values: np.ndarray, fmt, rounded, *, elementwise: bool = True) -> int:
    """Output saturations as every datapath counts them: for a fixed-point output, the values whose rounding to the
    format's grid lands outside its range, so the clamp changed them (``rounded(values, wide)`` rounds with the
    layer's rounding and keys into ``wide``, the format with 32 more integer bits: nothing clamps there); for other
    formats the finite values beyond the format's range. The same count whichever arithmetic produced the values
    (an exact accumulator's readout, Ristretto's float32, a minifloat MAC's sum). ``elementwise`` says the rounding
    of a value does not depend on its position (every mode but stochastic), so only the values beyond the range are
    rounded."""
    if fmt is None:
        return 0
    finite = np.isfinite(values)
    with np.errstate(invalid="ignore"):
        beyond = finite & ((values > fmt.max) | (values < fmt.min))
    if not beyond.any():  # a value on the range rounds onto it (the ends are on the grid): nothing can clamp
        return 0
    if isinstance(fmt, FixedPoint) and not fmt.per_channel:
        wide = FixedPoint(min(fmt.bits + 32, 127), fmt.frac_bits, signed=fmt.signed)
        if elementwise:
            r = np.asarray(rounded(np.asarray(values)[beyond], wide), dtype=np.float64)
            return int(((r > float(fmt.max)) | (r < float(fmt.min))).sum())
        r = np.asarray(rounded(np.where(finite, values, 0.0), wide), dtype=np.float64)
        with np.errstate(invalid="ignore"):
            return int((finite & ((r > float(fmt.max)) | (r < float(fmt.min)))).sum())
    return int(beyond.sum())
