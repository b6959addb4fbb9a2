"""Rounding and overflow modes, and exact rounding of float64 arrays to integers.

Every format reduces quantization to "scale by a power of two, round to an integer, handle overflow". The rounding
here is exact for every finite float64: it never forms ``x + 0.5`` (which rounds in float64), it splits ``x`` into
``floor(x)`` and the exact remainder ``x - floor(x)`` and decides from those.

Stochastic rounding draws ``u`` in [0, 1) from a counter-based generator keyed by a seed and the element's flat index
(SplitMix64 of ``seed`` and ``offset + index``), so the same seed gives the same bits however the work is split into
chunks or spread over processes: pass ``StochasticKey(seed, offset)`` for a chunk starting at flat index ``offset``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ristretto_sim.enums import NamedEnum


class Rounding(NamedEnum):
    """How a value between two grid points is rounded.

    ``NEAREST_EVEN`` (default; IEEE 754, CUDA ``rint``), ``NEAREST_AWAY`` (ties away from zero, C ``round``),
    ``NEAREST_UP`` (ties toward +inf: hls4ml's ``AP_RND``, the cheapest hardware rounding: add half an LSB, truncate),
    ``TOWARD_ZERO`` (truncation of the magnitude), ``FLOOR`` (toward -inf: two's complement truncation),
    ``CEIL`` (toward +inf), ``STOCHASTIC`` (``floor(x + u)``, ``u`` uniform in [0, 1), see the module docstring).
    """

    NEAREST_EVEN = "nearest_even"
    NEAREST_AWAY = "nearest_away"
    NEAREST_UP = "nearest_up"
    TOWARD_ZERO = "toward_zero"
    FLOOR = "floor"
    CEIL = "ceil"
    STOCHASTIC = "stochastic"

    @property
    def is_nearest(self) -> bool:
        """True for the round-to-nearest modes (which differ only on ties)."""
        return self in (Rounding.NEAREST_EVEN, Rounding.NEAREST_AWAY, Rounding.NEAREST_UP)


class Overflow(NamedEnum):
    """What happens to a value beyond a format's range.

    ``SATURATE`` clamps to the largest/smallest finite value (the fixed-point default). ``WRAP`` keeps the low bits of
    the two's complement integer (fixed point only). ``NATURAL`` is the minifloat default: what the format itself does
    (IEEE-style formats overflow to infinity, ``fn`` formats to NaN, formats without specials saturate); for fixed point
    and power-of-two formats ``NATURAL`` means ``SATURATE``.
    """

    NATURAL = "natural"
    SATURATE = "saturate"
    WRAP = "wrap"


@dataclass(frozen=True)
class StochasticKey:
    """Seed and flat-index offset of the counter-based generator used by ``Rounding.STOCHASTIC``.

    ``offset`` is the flat index of the first element of the array being rounded, so rounding an array in chunks
    with the right offsets gives the same bits as rounding it whole.
    """

    seed: int
    offset: int = 0

    def __post_init__(self):
        if not isinstance(self.seed, (int, np.integer)) or isinstance(self.seed, bool):
            raise TypeError(f"seed={self.seed!r} must be an integer")
        if not isinstance(self.offset, (int, np.integer)) or self.offset < 0:
            raise ValueError(f"offset={self.offset!r} must be a non-negative integer")


def stochastic_key(rng) -> StochasticKey:
    """Turn the ``rng`` argument of the quantizers into a ``StochasticKey``.

    Accepts a ``StochasticKey``, an integer seed, or a ``numpy.random.Generator`` (one 63-bit seed is drawn from it).
    """
    if isinstance(rng, StochasticKey):
        return rng
    if isinstance(rng, np.random.Generator):
        return StochasticKey(int(rng.integers(0, 2**63)))
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return StochasticKey(int(rng))
    if rng is None:
        raise ValueError("rounding='stochastic' needs rng= (an integer seed, a StochasticKey or a numpy Generator)")
    raise TypeError(f"rng={rng!r} must be an integer seed, a StochasticKey or a numpy.random.Generator")


_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _splitmix64(z: np.ndarray) -> np.ndarray:
    z = z.copy()
    z ^= z >> np.uint64(30)
    z *= _M1
    z ^= z >> np.uint64(27)
    z *= _M2
    z ^= z >> np.uint64(31)
    return z


def uniform_bits53(key: StochasticKey, shape) -> np.ndarray:
    """Return integers ``k`` in [0, 2**53) (as uint64), one per element; ``u = k / 2**53`` is the uniform draw.

    Element ``i`` (flat, C order) gets the hash of ``(seed, offset + i)``, independent of how the array is chunked.
    """
    n = int(np.prod(shape, dtype=np.int64))
    seed_word = _splitmix64(np.array([key.seed & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64))[0]
    idx = np.arange(key.offset, key.offset + n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = _splitmix64(idx * _GOLDEN + seed_word)
    return (z >> np.uint64(11)).reshape(shape)


def round_to_integer(x: np.ndarray, rounding: Rounding, rng=None) -> np.ndarray:
    """Round a float64 array to integers (still float64), exactly, with the given mode.

    The decision uses ``|x| = floor(|x|) + d`` with the fractional part ``d`` exact (``x - floor(x)`` is not exact
    for small negative ``x``).

    Infinities pass through unchanged; NaN stays NaN. Callers scale by a power of two before calling.
    """
    x = np.asarray(x, dtype=np.float64)
    if rounding is Rounding.NEAREST_EVEN:
        return np.rint(x)
    if rounding is Rounding.FLOOR:
        return np.floor(x)
    if rounding is Rounding.CEIL:
        return np.ceil(x)
    if rounding is Rounding.TOWARD_ZERO:
        return np.trunc(x)
    neg = np.signbit(x)
    with np.errstate(invalid="ignore"):
        a = np.abs(x)
        f = np.floor(a)
        d = a - f  # the fractional part of |x|: exact for every finite float64, in [0, 1)
    if rounding is Rounding.NEAREST_AWAY:
        away = d >= 0.5
    elif rounding is Rounding.NEAREST_UP:
        away = (d > 0.5) | ((d == 0.5) & ~neg)
    elif rounding is Rounding.STOCHASTIC:
        key = stochastic_key(rng)
        k = uniform_bits53(key, x.shape).astype(np.float64)  # exact: k < 2**53, u = k / 2**53
        with np.errstate(invalid="ignore"):
            dd = np.ldexp(np.where(np.isfinite(d), d, 0.0), 53)
        # floor(x + u): for x >= 0 up iff u >= 1 - d  <=>  k >= 2**53 - floor(d * 2**53);
        #               for x < 0 away from zero iff u < d  <=>  k < ceil(d * 2**53)      (all exact integers)
        away = np.where(neg, k < np.ceil(dd), k >= 2.0**53 - np.floor(dd))
    else:  # pragma: no cover - enum is closed
        raise AssertionError(rounding)
    out = np.copysign(f + away, x)  # a negative value that rounds to zero gives -0.0, as IEEE 754 does
    return np.where(np.isfinite(x), out, x)
