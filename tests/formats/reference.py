"""Slow, obvious reference quantizers built on ``fractions.Fraction`` and explicit grids (tests only).

A value is rounded on an explicit, sorted grid of exact fractions: the neighbours ``lo <= x <= hi`` are found by
bisection and the rounding mode picks one. Ties under NEAREST_EVEN go to the neighbour that is an even multiple of
the gap ``hi - lo``. Minifloat overflow is decided on the grid extended by one binade above ``max`` (IEEE 754's
"unbounded exponent" rounding).
"""

from __future__ import annotations

import bisect
import functools
import math
from fractions import Fraction

from ristretto_sim.formats import FixedPoint, Minifloat, PowerOfTwo, Rounding


def pick(x: Fraction, lo: Fraction, hi: Fraction, rounding: Rounding) -> Fraction:
    """Round ``x`` (lo <= x <= hi) to ``lo`` or ``hi``."""
    if x == lo or x == hi:
        return x
    if rounding is Rounding.FLOOR:
        return lo
    if rounding is Rounding.CEIL:
        return hi
    if rounding is Rounding.TOWARD_ZERO:
        return lo if x > 0 else hi
    mid = (lo + hi) / 2
    if x < mid:
        return lo
    if x > mid:
        return hi
    if rounding is Rounding.NEAREST_UP:
        return hi
    if rounding is Rounding.NEAREST_AWAY:
        return hi if x > 0 else lo
    gap = hi - lo
    return lo if (lo / gap).numerator % 2 == 0 else hi


def round_on_grid(x: Fraction, grid: list[Fraction], rounding: Rounding) -> Fraction:
    i = bisect.bisect_left(grid, x)
    if i < len(grid) and grid[i] == x:
        return x
    if i == 0 or i == len(grid):
        raise ValueError("x outside the reference grid")
    return pick(x, grid[i - 1], grid[i], rounding)


# ---------------------------------------------------------------- fixed point
def fixed_reference(fmt: FixedPoint, x: float, rounding: Rounding, overflow: str) -> Fraction:
    xf = Fraction(x) * Fraction(2) ** fmt.frac_bits
    lo, hi = math.floor(xf), math.ceil(xf)
    code = pick(xf, Fraction(lo), Fraction(hi), rounding)
    code = int(code)
    if overflow == "saturate":
        code = min(max(code, fmt.min_code), fmt.max_code)
    else:
        span = 1 << fmt.bits
        code = (code - fmt.min_code) % span + fmt.min_code
    return Fraction(code) / Fraction(2) ** fmt.frac_bits


# ---------------------------------------------------------------- minifloat
@functools.lru_cache(maxsize=64)
def minifloat_grid(fmt: Minifloat, extra_binades: int = 1) -> list[Fraction]:
    """Non-negative grid of ``fmt`` with ``extra_binades`` full binades above its largest one."""
    m = fmt.man_bits
    vals = {Fraction(0)}
    if fmt.subnormals:
        for j in range(1, 1 << m):
            vals.add(Fraction(j) * Fraction(2) ** (fmt.emin - m))
    for k in range(fmt.emin, fmt.emax + 1 + extra_binades):
        for j in range(1 << m):
            vals.add(Fraction((1 << m) + j) * Fraction(2) ** (k - m))
    grid = sorted(vals)
    return sorted({-v for v in grid} | set(grid))


def minifloat_reference(fmt: Minifloat, x: float, rounding: Rounding, overflow: str) -> float:
    """Reference quantization of a finite ``x`` with |x| below the extended grid's top."""
    grid = minifloat_grid(fmt)
    r = round_on_grid(Fraction(x), grid, rounding)
    mx = Fraction(fmt.max)
    neg = x < 0 or (x == 0 and math.copysign(1, x) < 0)
    if abs(r) > mx:
        if overflow == "saturate" or fmt.specials.value == "none":
            return -fmt.max if neg else fmt.max
        toward_zero = rounding is Rounding.TOWARD_ZERO or (rounding is Rounding.FLOOR and not neg) or (
            rounding is Rounding.CEIL and neg)
        if toward_zero:
            return -fmt.max if neg else fmt.max
        big = math.inf if fmt.specials.value == "ieee" else math.nan
        return -big if neg else big
    v = float(r)
    return math.copysign(v, -1.0) if (v == 0 and neg) else v


# ---------------------------------------------------------------- power of two
def pow2_reference(fmt: PowerOfTwo, x: float, rounding: Rounding) -> float:
    """Reference: choose between the neighbouring representable magnitudes by the domain's midpoint."""
    a = abs(Fraction(x))
    neg = x < 0
    powers = [Fraction(2) ** e for e in range(fmt.exp_min, fmt.exp_max + 1)]
    if a >= powers[-1]:
        mag = powers[-1]
    elif a < powers[0] and not fmt.has_zero:
        mag = powers[0]
    else:
        cands = ([Fraction(0)] if fmt.has_zero else []) + powers
        i = bisect.bisect_right(cands, a) - 1
        lo, hi = cands[i], cands[i + 1] if i + 1 < len(cands) else cands[i]
        if a == lo:
            mag = lo
        elif rounding is Rounding.TOWARD_ZERO:
            mag = lo
        elif rounding is Rounding.FLOOR:
            mag = hi if neg else lo
        elif rounding is Rounding.CEIL:
            mag = lo if neg else hi
        else:  # nearest modes
            if fmt.domain.value == "log" and lo > 0:
                up = a * a >= lo * hi  # geometric midpoint: a >= sqrt(lo*hi)
            elif fmt.domain.value == "log":  # between 0 and 2**exp_min: threshold 2**(exp_min - 1/2)
                up = a * a >= hi * hi / 2
            else:
                mid = (lo + hi) / 2
                up = a > mid or (a == mid and not (rounding is Rounding.NEAREST_UP and neg))
            mag = hi if up else lo
    if mag == 0:
        return 0.0
    return -float(mag) if neg else float(mag)
