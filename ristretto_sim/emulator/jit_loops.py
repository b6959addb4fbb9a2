"""The compiled loops of :mod:`~ristretto_sim.emulator.jit` (numba, the ``fast`` extra): imported only when a
compiled path runs, so that importing the emulator does not import numba (about a second). The functions are the
loops themselves, compiled lazily by numba on first call and cached on disk (``cache=True``)."""

from __future__ import annotations

import math

import numba
import numpy as np

from ristretto_sim.emulator.jit import OVERFLOW_NAN, OVERFLOW_SATURATE

_njit = numba.njit(cache=True, nogil=True)


@_njit
def saturating_walk(a, w, s, lo, hi, rows, clipped):
    k_len = a.shape[1]
    n_len = w.shape[1]
    acc = np.empty(n_len, dtype=np.int64)
    lost = np.empty(n_len, dtype=np.int64)  # |what the clamps removed|, summed: > 0 iff a clamp changed the sum
    for i in range(rows.shape[0]):
        m = rows[i]
        for n in range(n_len):
            acc[n] = s[m, n]
            lost[n] = 0
        for k in range(k_len):
            av = np.int64(a[m, k])  # integer codes (float arrays hold them exactly)
            if av == 0:
                continue
            wk = w[k]
            for n in range(n_len):  # int64 lanes, no branches: vector code
                t = acc[n] + av * wk[n]
                c = min(max(t, lo), hi)
                lost[n] += t - c if t > c else c - t
                acc[n] = c
        for n in range(n_len):
            s[m, n] = acc[n]
            clipped[m, n] = clipped[m, n] or lost[n] != 0


@_njit
def round_scaled(x, exp, man_bits, emin):
    """``x`` (finite, binade exponent ``exp``) rounded to nearest even at the quantum ``2**(max(exp, emin) -
    man_bits)`` of a format with subnormals below ``emin``: ``rint(x * 2**-q) * 2**q``, both scalings exact (the
    reference's formula, :meth:`~ristretto_sim.formats.Minifloat.quantize`)."""
    q = max(exp, emin) - man_bits
    return np.rint(math.ldexp(x, -q)) * math.ldexp(1.0, q)


@_njit
def round_value(x, man_bits, emin, max_value, overflow, buf, ibuf):
    if x != x:
        return np.nan  # the quantizer's NaN (positive, whatever the sign of the NaN it was given)
    if x == np.inf or x == -np.inf:
        r = x
    else:
        buf[0] = x
        exp = ((ibuf[0] >> np.int64(52)) & np.int64(0x7FF)) - np.int64(1023)  # binade of x (0 for x = 0: any)
        r = round_scaled(x, exp, man_bits, emin)
        if abs(r) <= max_value:
            return r
    if overflow == OVERFLOW_SATURATE:
        return max_value if r > 0 else -max_value
    if overflow == OVERFLOW_NAN:
        return np.nan
    return np.inf if r > 0 else -np.inf


@_njit
def float_walk(a, w, acc, man_bits, emin, max_value, overflow, p_man, p_emin, p_max, p_overflow, rows,
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
                    p = round_value(p, p_man, p_emin, p_max, p_overflow, buf, ibuf)
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
                acc[m, n] = round_value(s, man_bits, emin, max_value, overflow, buf, ibuf)


@_njit
def float_walk_exact(a, w, acc, max_value, over_pos, over_neg, rows, tinv, tpow):
    k_len = a.shape[1]
    n_len = w.shape[1]
    row = np.empty(n_len, dtype=np.float64)
    sbuf = np.empty(n_len, dtype=np.float64)
    sbits = sbuf.view(np.int64)
    for i in range(rows.shape[0]):
        m = rows[i]
        for n in range(n_len):
            row[n] = acc[m, n]
        for k in range(k_len):
            av = a[m, k]
            wk = w[k]
            for n in range(n_len):
                sbuf[n] = row[n] + av * wk[n]  # exact (the caller's bound)
            for n in range(n_len):
                j = (sbits[n] >> np.int64(52)) & np.int64(0x7FF)  # the float64's exponent field
                r = np.rint(sbuf[n] * tinv[j]) * tpow[j]
                # overflow to the format's special value (a positive NaN for fn formats, as the quantizer's; NaN is
                # never > max and stays the NaN it is, positive: nothing else makes one from finite products)
                row[n] = r if abs(r) <= max_value else (over_pos if r > 0 else over_neg)
        for n in range(n_len):
            acc[m, n] = row[n]
