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
  then rounded once to the accumulator's grid on the integer bits of the float64 (round half to even at the
  format's quantum), which is correct for every target of at most 51 significand bits. Optionally each product is
  first rounded to a product format (same rounding); a product that overflows it sets the sticky flags instead of
  entering the sum, as in :mod:`~ristretto_sim.emulator.minifloat_mac`.
"""

from __future__ import annotations

import numpy as np

try:  # optional: numba compiles the loops; without it the callers use NumPy
    import numba
except ImportError:  # pragma: no cover - depends on the environment
    numba = None

#: natural-overflow behaviour of a minifloat format in :func:`float_walk`: to +-Inf, to NaN, saturate at +-max
OVERFLOW_INF, OVERFLOW_NAN, OVERFLOW_SATURATE = 0, 1, 2


def available() -> bool:
    """Whether the compiled loops can be used (numba is installed)."""
    return numba is not None


def _saturating_walk(a, w, s, lo, hi, rows, clipped):
    k_len = a.shape[1]
    n_len = w.shape[1]
    acc = np.empty(n_len, dtype=np.int64)
    flag = np.empty(n_len, dtype=np.bool_)
    for i in range(rows.shape[0]):
        m = rows[i]
        for n in range(n_len):
            acc[n] = s[m, n]
            flag[n] = clipped[m, n]
        for k in range(k_len):
            av = np.int64(a[m, k])  # integer codes (float arrays hold them exactly)
            if av == 0:
                continue
            for n in range(n_len):
                t = acc[n] + av * w[k, n]
                c = min(max(t, lo), hi)
                flag[n] |= c != t
                acc[n] = c
        for n in range(n_len):
            s[m, n] = acc[n]
            clipped[m, n] = flag[n]


def _round_bits(bits, man_bits, emin):
    """Round the float64 with IEEE bits ``bits`` (finite) to nearest even at the quantum of a format with
    ``man_bits`` fraction bits and smallest normal exponent ``emin`` (subnormals below it); returns the bits."""
    sign = bits & np.int64(-0x8000000000000000)
    mag = bits & np.int64(0x7FFFFFFFFFFFFFFF)
    exp = (mag >> np.int64(52)) - np.int64(1023)  # unbiased exponent (subnormal float64s: -1023, far below)
    e = max(exp, np.int64(emin))
    drop = np.int64(52 - man_bits) + (e - exp)  # float64 fraction bits below the format's quantum
    if drop > 62:  # below half the smallest subnormal of the format: rounds to zero
        return sign
    if drop <= 0:
        return bits
    one = np.int64(1) << drop
    half = one >> np.int64(1)
    low = mag & (one - np.int64(1))
    mag = mag - low
    if low > half or (low == half and (mag & one) != 0):
        mag = mag + one  # a carry into the exponent field is the next binade: still exact
    return sign | mag


def _round_value(x, man_bits, emin, max_value, overflow, buf, ibuf):
    if x != x:
        return x
    if x == np.inf or x == -np.inf:
        r = x
    else:
        buf[0] = x
        ibuf[0] = _round_bits(ibuf[0], man_bits, emin)
        r = buf[0]
        if abs(r) <= max_value:
            return r
    if overflow == OVERFLOW_SATURATE:
        return max_value if r > 0 else -max_value
    if overflow == OVERFLOW_NAN:
        return np.nan
    return np.inf if r > 0 else -np.inf


def _float_walk(a, w, acc, man_bits, emin, max_value, overflow, p_man, p_emin, p_max, p_overflow, rows,
                nan, pinf, ninf):
    k_len = a.shape[1]
    n_len = w.shape[1]
    buf = np.empty(1, dtype=np.float64)
    ibuf = buf.view(np.int64)
    for i in range(rows.shape[0]):
        m = rows[i]
        for k in range(k_len):
            av = a[m, k]
            for n in range(n_len):
                p = av * w[k, n]  # exact
                if p_man >= 0:
                    p = _round_value(p, p_man, p_emin, p_max, p_overflow, buf, ibuf)
                    if p != p or p == np.inf or p == -np.inf:
                        if p != p:
                            nan[m, n] = True
                        elif p > 0:
                            pinf[m, n] = True
                        else:
                            ninf[m, n] = True
                        p = 0.0
                x = acc[m, n]
                s = x + p
                if s - s == 0.0:  # finite: TwoSum's error term decides the round-to-odd bit
                    bb = s - x
                    err = (x - (s - bb)) + (p - bb)
                    if err != 0.0:
                        buf[0] = s
                        if (ibuf[0] & np.int64(1)) == 0:
                            s = np.nextafter(s, np.inf if err > 0 else -np.inf)
                acc[m, n] = _round_value(s, man_bits, emin, max_value, overflow, buf, ibuf)


if numba is not None:
    _round_bits = numba.njit(cache=True, nogil=True)(_round_bits)
    _round_value = numba.njit(cache=True, nogil=True)(_round_value)
    _saturating_walk = numba.njit(cache=True, nogil=True)(_saturating_walk)
    _float_walk = numba.njit(cache=True, nogil=True)(_float_walk)


def _int64_2d(x) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.int64)


def saturating_walk(a: np.ndarray, w: np.ndarray, s: np.ndarray, lo: int, hi: int, rows: np.ndarray,
                    clipped: np.ndarray) -> None:
    """Saturating accumulation over K of rows ``rows`` (module docstring), in place on ``s`` and ``clipped``.

    ``a`` (M, K) and ``w`` (K, N) integer codes (``a`` may be a float array holding them) (products and sums within int64, ``lo``/``hi`` inside it); ``s``
    (M, N) int64 running sums, inside ``[lo, hi]``; ``clipped`` (M, N) bool; ``rows`` int64 row indices. Raises
    ``RuntimeError`` when numba is not installed (check :func:`available`).
    """
    if numba is None:
        raise RuntimeError("the compiled loops need numba (pip install 'ristretto-sim[fast]')")
    if a.dtype.kind not in "iuf":
        raise TypeError(f"a must hold integer codes, got dtype {a.dtype}")
    _saturating_walk(np.ascontiguousarray(a), _int64_2d(w), s, np.int64(lo), np.int64(hi), _int64_2d(rows), clipped)


def float_walk(a: np.ndarray, w: np.ndarray, acc: np.ndarray, fmt: tuple, product: tuple | None, rows: np.ndarray,
               flags: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    """Float accumulation over K of rows ``rows`` (module docstring), in place on ``acc`` (M, N) float64.

    ``fmt`` and ``product`` are ``(man_bits, emin, max, overflow)`` of the accumulator and the product format
    (None: exact products; ``overflow`` one of ``OVERFLOW_INF``, ``OVERFLOW_NAN``, ``OVERFLOW_SATURATE``), for formats
    with subnormals; ``flags`` are the (nan, +inf, -inf) sticky flags, (M, N) bool, set in place.
    """
    if numba is None:
        raise RuntimeError("the compiled loops need numba (pip install 'ristretto-sim[fast]')")
    p = (-1, 0, 0.0, 0) if product is None else product
    _float_walk(np.ascontiguousarray(a, dtype=np.float64), np.ascontiguousarray(w, dtype=np.float64), acc,
                np.int64(fmt[0]), np.int64(fmt[1]), np.float64(fmt[2]), np.int64(fmt[3]),
                np.int64(p[0]), np.int64(p[1]), np.float64(p[2]), np.int64(p[3]), _int64_2d(rows), *flags)
