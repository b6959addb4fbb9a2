"""The readout of an integer accumulator: its codes (int64 or ``WideInt``) with a per-channel fraction, rounded
once into the layer's output format (a rounding shift and saturation for fixed point; one correct rounding, via a
round-to-odd float64, for a minifloat), or read as they are when the layer has no output format."""

from __future__ import annotations

import numpy as np

from ristretto_sim.emulator import wide as wd
from ristretto_sim.emulator.minifloat_mac import round_to_odd_sum
from ristretto_sim.emulator.requantize import requantize
from ristretto_sim.emulator.wide import WideInt
from ristretto_sim.formats import FixedPoint, Overflow


def out_of_range(x: np.ndarray, fmt) -> int:
    """Values of ``x`` outside ``fmt``'s range (per channel along axis 0 for per-channel formats); 0 without
    a format."""
    if fmt is None:
        return 0
    hi, lo = np.asarray(fmt.max), np.asarray(fmt.min)
    if hi.ndim:  # per-channel along axis 0
        hi = hi.reshape((-1,) + (1,) * (x.ndim - 1))
        lo = lo.reshape(hi.shape)
    elif x.size and x.max() <= hi and x.min() >= lo:  # two reductions, no temporaries: the common case
        return 0
    with np.errstate(invalid="ignore"):
        return int(np.count_nonzero(x > hi) + np.count_nonzero(x < lo))


def integer_readout(acc_codes, acc_frac: np.ndarray, formats, channel_axis: int, key):
    """Accumulator codes (int64 or WideInt) -> ``(values, output codes or None, output saturations)`` per
    ``formats.outputs``."""
    out = formats.outputs
    if isinstance(out, FixedPoint):
        rq = requantize(acc_codes, acc_frac, out, formats.rounding, Overflow.SATURATE, key, channel_axis)
        f = np.asarray(out.frac_bits, dtype=np.int64)
        if f.ndim:
            shape = [1] * rq.codes.ndim
            shape[channel_axis] = f.size
            f = f.reshape(shape)
        return np.ldexp(rq.codes.astype(np.float64), -f), rq.codes, rq.saturations
    shape = [1] * acc_codes.ndim
    shape[channel_axis] = acc_frac.size
    scale = -acc_frac.reshape(shape)
    if isinstance(acc_codes, WideInt):  # correctly rounded, or rounded to odd for one more correct rounding
        if out is None:
            return np.ldexp(wd.to_float64(acc_codes), scale), None, 0
        values = np.ldexp(wd.to_float64(acc_codes, odd=True), scale)
        return out.quantize(values, formats.rounding, rng=key), None, out_of_range(values, out)
    codes = np.asarray(acc_codes, dtype=np.int64)
    hi = np.ldexp((codes >> np.int64(32)).astype(np.float64), 32)  # codes = hi + lo, both exact in float64
    lo = (codes & np.int64(0xFFFFFFFF)).astype(np.float64)
    if out is None:  # the nearest float64 (exact for accumulators of at most 53 bits)
        return np.ldexp(hi + lo, scale), None, 0
    values = np.ldexp(round_to_odd_sum(hi, lo), scale)  # exact, or rounded to odd: one more rounding is correct
    sat = out_of_range(values, out)
    return out.quantize(values, formats.rounding, rng=key), None, sat
