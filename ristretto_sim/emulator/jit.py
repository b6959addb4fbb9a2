"""Compiled loops for the accumulations that are sequential by definition: per-addition saturation of a narrow
fixed-point accumulator, and a float accumulator rounded after every addition.

Both walk K in order for every output, exactly as the slow references of the tests do, one product at a time; they
are compiled with numba (an optional extra, ``pip install 'ristretto-sim[fast]'``) so that the inner loop over the
output columns runs as vector code. When numba is not installed, :func:`available` is False and the callers keep
their NumPy paths (the reference and the fallback); the results are identical either way (the tests run both).

* :func:`saturating_walk`: ``s = clamp(s + a[m, k] * w[k, n], lo, hi)`` over k, int64, for the rows ``rows`` of
  ``s``; sets ``clipped[m, n]`` when a clamp changed the sum. A zero activation adds nothing and cannot clip (the
  running sum is always inside the range), so it is skipped: ReLU outputs and padding cost nothing.
* :func:`float_walk`: ``acc = round(acc + a[m, k] * w[k, n])`` over k, float64 holding values of the
  accumulator format, round to nearest even, the format's natural overflow. The product of two minifloats is
  exact in float64; the sum is formed exactly with TwoSum and rounded to odd (Boldo and Melquiond, "Emulation of
  FMA and correctly rounded sums: proved algorithms using rounding to odd", IEEE Trans. Computers 57(4), 2008),
  then rounded once to the accumulator's grid (``rint`` of the exactly scaled value at the format's quantum, the
  binade read from the float64's exponent bits), which is correct for every target of at most 51 significand
  bits. Optionally each product is first rounded to a product format (same rounding); a product that overflows
  it sets the sticky flags instead of entering the sum, as in :mod:`~ristretto_sim.emulator.minifloat_mac`.
"""

from __future__ import annotations

import importlib.util

import numpy as np

#: natural-overflow behaviour of a minifloat format in :func:`float_walk`: to +-Inf, to NaN, saturate at +-max
OVERFLOW_INF, OVERFLOW_NAN, OVERFLOW_SATURATE = 0, 1, 2


def available() -> bool:
    """Whether the compiled loops can be used (numba is installed; it is imported only when a loop runs)."""
    return importlib.util.find_spec("numba") is not None


def _loops():
    if not available():
        raise RuntimeError("the compiled loops need numba (pip install 'ristretto-sim[fast]')")
    from ristretto_sim.emulator import jit_loops  # numba is imported here, on first use only

    return jit_loops


def _int64_2d(x) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.int64)


def saturating_walk(a: np.ndarray, w: np.ndarray, s: np.ndarray, lo: int, hi: int, rows: np.ndarray,
                    clipped: np.ndarray) -> None:
    """Saturating accumulation over K of rows ``rows`` (module docstring), in place on ``s`` and ``clipped``.

    ``a`` (M, K) and ``w`` (K, N) integer codes (``a`` may be a float array holding them; products and sums
    within int64, ``lo``/``hi`` inside it); ``s`` (M, N) int64 running sums, inside ``[lo, hi]``; ``clipped``
    (M, N) bool; ``rows`` int64 row indices. Raises ``RuntimeError`` when numba is not installed (check
    :func:`available`).
    """
    loops = _loops()
    if a.dtype.kind not in "iuf":
        raise TypeError(f"a must hold integer codes, got dtype {a.dtype}")
    loops.saturating_walk(np.ascontiguousarray(a), _int64_2d(w), s, np.int64(lo), np.int64(hi), _int64_2d(rows),
                          clipped)


def _scale_tables(man_bits: int, emin: int) -> tuple[np.ndarray, np.ndarray]:
    """``(2**-q, 2**q)`` per float64 exponent field ``j`` (0..2047), ``q = max(j - 1023, emin) - man_bits``: the
    quantum of a value of that binade in a format with subnormals below ``emin`` (fields 0 and 2047, zero and
    subnormal float64s and Inf/NaN, get the smallest quantum: zero and Inf/NaN are unchanged by the scaling)."""
    q = np.maximum(np.arange(2048) - 1023, emin) - man_bits
    q[0] = q[2047] = emin - man_bits
    return np.ldexp(1.0, -q), np.ldexp(1.0, q)


def float_walk_exact_sums(a: np.ndarray, w: np.ndarray, acc: np.ndarray, fmt: tuple, rows: np.ndarray) -> None:
    """:func:`float_walk` without product rounding when every ``acc + a*w`` is exact in float64 (the caller proves
    it from the formats: every term a multiple of ``2**qmin`` and ``max|acc| + max|a*w| <= 2**(53 + qmin)``), so
    no TwoSum is needed and the rounding (``rint`` of the scaled sum, the scale from a table indexed by the
    float64's exponent bits) runs as vector code over the output columns."""
    loops = _loops()
    man_bits, emin, max_value, overflow = fmt
    if not 0 <= man_bits <= 51 or emin - man_bits < -1000:
        raise ValueError(f"format parameters {fmt} are outside the exact range of the compiled rounding")
    tinv, tpow = _scale_tables(man_bits, emin)
    over_pos, over_neg = {OVERFLOW_INF: (np.inf, -np.inf), OVERFLOW_NAN: (np.nan, np.nan)}.get(
        overflow, (float(max_value), -float(max_value)))
    loops.float_walk_exact(np.ascontiguousarray(a, dtype=np.float64), np.ascontiguousarray(w, dtype=np.float64), acc,
                      np.float64(max_value), np.float64(over_pos), np.float64(over_neg), _int64_2d(rows), tinv, tpow)


def float_walk(a: np.ndarray, w: np.ndarray, acc: np.ndarray, fmt: tuple, product: tuple | None, rows: np.ndarray,
               flags: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    """Float accumulation over K of rows ``rows`` (module docstring), in place on ``acc`` (M, N) float64.

    ``fmt`` and ``product`` are ``(man_bits, emin, max, overflow)`` of the accumulator and the product format
    (None: exact products; ``overflow`` one of ``OVERFLOW_INF``, ``OVERFLOW_NAN``, ``OVERFLOW_SATURATE``), for formats
    with subnormals; ``flags`` are the (nan, +inf, -inf) sticky flags, (M, N) bool, set in place.
    """
    loops = _loops()
    p = (-1, 0, 0.0, 0) if product is None else product
    loops.float_walk(np.ascontiguousarray(a, dtype=np.float64), np.ascontiguousarray(w, dtype=np.float64), acc,
                np.int64(fmt[0]), np.int64(fmt[1]), np.float64(fmt[2]), np.int64(fmt[3]),
                np.int64(p[0]), np.int64(p[1]), np.float64(p[2]), np.int64(p[3]), _int64_2d(rows), *flags)
