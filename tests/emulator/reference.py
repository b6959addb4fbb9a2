"""Slow, obvious exact references for the emulator tests: Python integers and fractions.Fraction, one element
at a time."""

from __future__ import annotations

from fractions import Fraction

import numpy as np


def clamp_walk(bias: int, products, lo: int, hi: int, mode: str):
    """Add products one by one to ``bias``; return (final, overflowed) under 'wrap' or 'saturate'."""
    s = int(bias)
    clipped = False
    for p in products:
        s += int(p)
        if mode == "saturate":
            if s > hi:
                s, clipped = hi, True
            elif s < lo:
                s, clipped = lo, True
    if mode == "wrap":
        clipped = not (lo <= s <= hi)
        span = hi - lo + 1
        s = (s - lo) % span + lo
    return s, clipped


def matmul_ref(a, w, bias, lo, hi, mode):
    """a (M, K), w (K, N) integer arrays; bias list of N ints or None -> (codes (M, N), count)."""
    M, K = a.shape
    N = w.shape[1]
    out = np.zeros((M, N), dtype=object)
    count = 0
    for m in range(M):
        for n in range(N):
            prods = [int(a[m, k]) * int(w[k, n]) for k in range(K)]
            s, c = clamp_walk(0 if bias is None else int(bias[n]), prods, lo, hi, mode)
            out[m, n] = s
            count += c
    return out, count


def conv2d_ref(x, w, bias, lo, hi, mode, stride=(1, 1), pad=(0, 0, 0, 0), dilation=(1, 1), groups=1):
    """Direct convolution in (ky, kx, c) order with per-addition clamping; x NCHW, w OIHW; Python ints."""
    N, C, H, W = x.shape
    O, Cg, KH, KW = w.shape
    top, left, bottom, right = pad
    Ho = (H + top + bottom - dilation[0] * (KH - 1) - 1) // stride[0] + 1
    Wo = (W + left + right - dilation[1] * (KW - 1) - 1) // stride[1] + 1
    Og = O // groups
    out = np.zeros((N, O, Ho, Wo), dtype=object)
    count = 0
    for n in range(N):
        for o in range(O):
            g = o // Og
            for yo in range(Ho):
                for xo in range(Wo):
                    prods = []
                    for ky in range(KH):
                        for kx in range(KW):
                            for c in range(Cg):
                                yi = yo * stride[0] - top + ky * dilation[0]
                                xi = xo * stride[1] - left + kx * dilation[1]
                                v = int(x[n, g * Cg + c, yi, xi]) if (0 <= yi < H and 0 <= xi < W) else 0
                                prods.append(v * int(w[o, c, ky, kx]))
                    s, c_ = clamp_walk(0 if bias is None else int(bias[o]), prods, lo, hi, mode)
                    out[n, o, yo, xo] = s
                    count += c_
    return out, count


def conv_transpose2d_ref(x, w, stride=(1, 1), pad=(0, 0, 0, 0), dilation=(1, 1), groups=1, output_padding=(0, 0)):
    """Transposed convolution by scattering (exact sums only, no clamping): x NCHW, w (C_in, C_out/g, kh,
    kw)."""
    N, Cin, H, W = x.shape
    _, Cog, KH, KW = w.shape
    top, left, bottom, right = pad
    Ho = (H - 1) * stride[0] - top - bottom + dilation[0] * (KH - 1) + output_padding[0] + 1
    Wo = (W - 1) * stride[1] - left - right + dilation[1] * (KW - 1) + output_padding[1] + 1
    Cig = Cin // groups
    out = np.zeros((N, Cog * groups, Ho, Wo), dtype=object)
    for n in range(N):
        for ci in range(Cin):
            g = ci // Cig
            for y in range(H):
                for xx in range(W):
                    for co in range(Cog):
                        for ky in range(KH):
                            for kx in range(KW):
                                yo = y * stride[0] - top + ky * dilation[0]
                                xo = xx * stride[1] - left + kx * dilation[1]
                                if 0 <= yo < Ho and 0 <= xo < Wo:
                                    out[n, g * Cog + co, yo, xo] += int(x[n, ci, y, xx]) * int(w[ci, co, ky, kx])
    return out


def round_fraction(q: Fraction, mode: str, u: Fraction | None = None) -> int:
    """Round a Fraction to an integer with the named mode (u: stochastic draw in [0, 1))."""
    f = q.numerator // q.denominator
    d = q - f
    if mode == "floor":
        return f
    if mode == "ceil":
        return f + (d > 0)
    if mode == "toward_zero":
        return f + (d > 0 and q < 0)
    if mode == "nearest_even":
        return f + (d > Fraction(1, 2) or (d == Fraction(1, 2) and f % 2 == 1))
    if mode == "nearest_away":
        return f + (d > Fraction(1, 2) or (d == Fraction(1, 2) and q > 0))
    if mode == "nearest_up":
        return f + (d >= Fraction(1, 2))
    if mode == "stochastic":
        return f + (d + u >= 1)
    raise ValueError(mode)


def requantize_ref(code: int, shift: int, mode: str, lo: int, hi: int, u: Fraction | None = None) -> int:
    """Rounding shift of one integer code by ``shift`` bits, then saturation to [lo, hi]."""
    q = round_fraction(Fraction(int(code), 2**shift) if shift >= 0 else Fraction(int(code) * 2**-shift), mode, u)
    return min(max(q, lo), hi)


def minifloat_round_ref(q: Fraction, fmt, mode: str = "nearest_even"):
    """Round an exact Fraction to a Minifloat (with subnormals) the obvious way; a float (may be inf/nan)."""
    if q == 0:
        return 0.0
    sign = -1 if q < 0 else 1
    mag = abs(q)
    e = mag.numerator.bit_length() - mag.denominator.bit_length()
    while Fraction(2) ** e > mag:
        e -= 1
    while Fraction(2) ** (e + 1) <= mag:
        e += 1
    e = max(e, fmt.emin)
    quantum = Fraction(2) ** (e - fmt.man_bits)
    r = round_fraction(mag / quantum, mode) * quantum
    if r > Fraction(fmt.max):
        kind = fmt.specials.value
        if kind == "none":
            return sign * fmt.max
        return sign * float("inf") if kind == "ieee" else float("nan")
    return float(sign * r)


def shift_matmul_ref(a, sign, exp, zero, in_frac, acc, shifter_bits, signed, mode, bias=None):
    """Shift-and-add PE, one product at a time: shift (floor on the right), wrap to the shifter, add."""
    M, K = a.shape
    N = exp.shape[1]
    lo, hi = acc.min_code, acc.max_code
    out = np.zeros((M, N), dtype=object)
    count = 0
    for m in range(M):
        for n in range(N):
            prods = []
            for k in range(K):
                if zero[k, n]:
                    continue
                t = int(exp[k, n]) + acc.frac_bits - in_frac
                v = int(a[m, k])
                v = v << t if t >= 0 else v >> (-t)
                if shifter_bits is not None:
                    span = 2**shifter_bits
                    v = ((v + span // 2) % span) - span // 2 if signed else v % span
                prods.append(-v if sign[k, n] else v)
            s, c = clamp_walk(0 if bias is None else int(bias[n]), prods, lo, hi, mode)
            out[m, n] = s
            count += c
    return out, count


def float_round_to_odd(v: int) -> float:
    """An integer as float64 rounded to odd at 53 significant bits: truncated, the lowest bit set if inexact."""
    mag = abs(int(v))
    drop = max(mag.bit_length() - 53, 0)
    top = mag >> drop
    if top << drop != mag:
        top |= 1
    r = float(top) * 2.0**drop
    return -r if v < 0 else r


def wide_layer_ref(xc, wc, bias_codes, acc, out, acc_frac, out_frac, mode="nearest_even"):
    """A linear layer on codes, one output at a time in Python integers: bias preload, products added in order
    with per-addition saturation to ``acc``, rounding shift by ``acc_frac - out_frac`` (per output channel
    allowed), saturation to ``out``. xc (M, K), wc (N, K) -> (codes (M, N), accumulator overflows)."""
    M, K = xc.shape
    N = wc.shape[0]
    af = np.broadcast_to(np.asarray(acc_frac), (N,))
    of = np.broadcast_to(np.asarray(out_frac), (N,))
    codes = np.zeros((M, N), dtype=object)
    count = 0
    for m in range(M):
        for n in range(N):
            s, c = clamp_walk(0 if bias_codes is None else int(bias_codes[n]),
                              [int(xc[m, k]) * int(wc[n, k]) for k in range(K)], acc.min_code, acc.max_code,
                              "saturate")
            count += c
            codes[m, n] = requantize_ref(s, int(af[n]) - int(of[n]), mode, out.min_code, out.max_code)
    return codes, count
