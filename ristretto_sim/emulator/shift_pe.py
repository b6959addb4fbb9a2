"""Shift-and-add PE: fixed-point activations times power-of-two weights, as shifts into the accumulator.

A weight ``(-1)**s * 2**e`` (a ``PowerOfTwo`` code) multiplies an activation code ``a`` (fraction ``f_in``) by
shifting it: in accumulator units (fraction ``f_acc``) the product is ``a * 2**t`` with ``t = e + f_acc -
f_in``. The datapath modelled, per product:

1. the **barrel shifter** shifts the activation by ``t``: left for ``t > 0``; right for ``t < 0``, where the
   low bits fall off the bottom (an arithmetic shift: floor, as two's complement truncation);
2. its output is ``shifter_bits`` wide: high bits shifted beyond that fall off the top (two's complement wrap,
   unsigned for unsigned activations);
3. the adder adds the shifter output to the accumulator, or subtracts it for a negative weight; a zero weight
   adds nothing. The accumulator then follows the common contract (bias preloaded, K in (ky, kx, c) order,
   WRAP or per-addition SATURATE, :mod:`~ristretto_sim.emulator.accumulator`).

Defaults are lossless: ``f_acc = f_in - exp_min`` (every shift is a left shift) and a shifter of ``in.bits +
exp_max - exp_min`` bits; the default accumulator has ``in.bits + (exp_max - exp_min) + ceil(log2 K) + 2``
bits. When nothing can fall off, the sum is one exact GEMM with integer weights ``+-2**t``; otherwise it is
one exact GEMM per distinct shift amount (activations pre-shifted, weights in {-1, 0, 1}).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ristretto_sim.emulator.accumulator import (
    AccumulatorResult,
    IntegerProducts,
    ProductSource,
    accumulate,
    check_fixed,
)
from ristretto_sim.emulator.exact_sum import check_chain, column_max, exact_matmul
from ristretto_sim.emulator.fixed_gemm import check_codes
from ristretto_sim.formats import FixedPoint, Overflow, PowerOfTwo, Rounding
from ristretto_sim.formats.base import check_int, require


@dataclass(frozen=True)
class ShiftPE:
    """The shift-and-add datapath's parameters.

    Parameters
    ----------
    shifter_bits : int, optional
        Width of the barrel shifter's output in bits; None: wide enough that nothing falls off the top
        (``in.bits + max shift``).
    """

    shifter_bits: int | None = None

    def __post_init__(self):
        if self.shifter_bits is not None:
            object.__setattr__(
                self, "shifter_bits", check_int(self.shifter_bits, "shifter_bits", minimum=1, maximum=62)
            )


def shift_accumulator_frac_bits(in_fmt: FixedPoint, w_fmt: PowerOfTwo) -> int:
    """Lossless accumulator fraction ``in.frac_bits - exp_min`` (every product an integer)."""
    return in_fmt.frac_bits - w_fmt.exp_min


def default_shift_accumulator(in_fmt: FixedPoint, w_fmt: PowerOfTwo, k: int) -> FixedPoint:
    """Accumulator that cannot overflow: ``in.bits + (exp_max - exp_min) + ceil(log2 K) + 2`` bits, lossless
    fraction."""
    bits = in_fmt.bits + (w_fmt.exp_max - w_fmt.exp_min) + math.ceil(math.log2(max(k, 1))) + 2
    return FixedPoint(bits, shift_accumulator_frac_bits(in_fmt, w_fmt))


def _shifter(a: np.ndarray, t, bits: int | None, signed: bool) -> np.ndarray:
    """Barrel shifter: ``a`` shifted by ``t`` (left if > 0, arithmetic right if < 0), wrapped to ``bits``."""
    a = a.astype(np.int64)
    t = np.asarray(t, dtype=np.int64)
    v = np.where(t >= 0, a << np.clip(t, 0, 62), a >> np.clip(-t, 0, 63))
    if bits is None:
        return v
    mask = np.int64((1 << bits) - 1)
    if signed:
        half = np.int64(1 << (bits - 1))
        return ((v + half) & mask) - half
    return v & mask


class ShiftProducts(ProductSource):
    """Products of a shift-and-add PE: ``sign[k,n] * shifter(a[m,k], t[k,n])`` (0 for a zero weight).

    ``wcode`` encodes each weight as an integer: 0 for a zero weight, else ``+-(t - t_min + 1)``.
    """

    def __init__(self, a, wcode, t_min: int, shifter_bits: int | None, signed: bool):
        self.a = a
        self.wcode = np.asarray(wcode, dtype=np.int64)
        self.t_min = t_min
        self.bits = shifter_bits
        self.signed = signed
        self.K = a.shape[-1]
        self.out_shape = np.broadcast_shapes(a.shape[:-2], self.wcode.shape[:-2]) + (
            a.shape[-2],
            self.wcode.shape[-1],
        )
        self.shifts = sorted({int(v) for v in np.unique(np.abs(self.wcode)) if v != 0})
        self._shifted = {}

    def _t(self, code):
        return code + self.t_min - 1

    def _a_shifted(self, code):
        if code not in self._shifted:
            self._shifted[code] = _shifter(self.a, self._t(code), self.bits, self.signed)
        return self._shifted[code]

    def _w(self, cols):
        return self.wcode if cols is None else self.wcode[..., cols]

    def partial(self, k0, k1, cols=None):
        wc = self._w(cols)[..., k0:k1, :]
        out = np.zeros(self.out_shape[:-1] + (wc.shape[-1],), dtype=np.int64)
        sign, mag = np.sign(wc), np.abs(wc)
        for code in self.shifts:
            sel = sign * (mag == code)
            if sel.any():
                out += exact_matmul(self._a_shifted(code)[..., k0:k1], sel)
        return out

    def abs_partial(self, k0, k1, cols=None):
        wc = self._w(cols)[..., k0:k1, :]
        out = np.zeros(self.out_shape[:-1] + (wc.shape[-1],), dtype=np.int64)
        mag = np.abs(wc)
        for code in self.shifts:
            sel = (mag == code).astype(np.int64)
            if sel.any():
                out += exact_matmul(np.abs(self._a_shifted(code)[..., k0:k1]), sel)
        return out

    def column_bound(self):
        amax = column_max(self.a)[..., :, None]  # (..., K, 1)
        t = self._t(np.abs(self.wcode)).astype(np.float64)
        bound = np.where(self.wcode == 0, 0.0, np.ldexp(amax, t.astype(np.int64)) + 1.0)
        if self.bits is not None:
            bound = np.minimum(bound, 2.0**self.bits)
        return bound.sum(axis=-2)

    def products_dense(self, k, cols=None):
        code = self._w(cols)[..., None, k, :]  # (..., 1, N)
        v = _shifter(self.a[..., :, k, None], self._t(np.abs(code)), self.bits, self.signed)
        return np.sign(code) * v  # zero weights have code 0

    def products(self, idx, k, cols=None):
        *lead, m, n = idx
        wc = self._w(cols)
        a_lead = tuple(ix if self.a.shape[i] != 1 else 0 for i, ix in enumerate(lead))
        w_lead = tuple(ix if wc.shape[i] != 1 else 0 for i, ix in enumerate(lead))
        av = self.a[a_lead + (m, k)]
        code = wc[w_lead + (k, n)]
        v = _shifter(av, self._t(np.abs(code)), self.bits, self.signed)
        return np.sign(code) * v


def weight_shift_codes(
    w, w_fmt: PowerOfTwo, in_fmt: FixedPoint, acc: FixedPoint, rounding=Rounding.NEAREST_EVEN, rng=None
):
    """Round weights to ``w_fmt`` and encode them for :class:`ShiftProducts`: ``(wcode, t_min)``.

    ``wcode`` is 0 for zero weights, else ``+-(t - t_min + 1)`` with shift ``t = e + acc.frac_bits -
    in.frac_bits``.
    """
    sign, e, zero = w_fmt.exponents(w, rounding=rounding, rng=rng)
    t_min = w_fmt.exp_min + acc.frac_bits - in_fmt.frac_bits
    code = (e - w_fmt.exp_min + 1) * np.where(sign, -1, 1)
    return np.where(zero, 0, code).astype(np.int64), t_min


def resolve_shifter(pe: ShiftPE, in_fmt: FixedPoint, w_fmt: PowerOfTwo, acc: FixedPoint):
    """Shifter width to model (None when no bit can fall off the top) and whether products are lossless."""
    t_max = w_fmt.exp_max + acc.frac_bits - in_fmt.frac_bits
    t_min = w_fmt.exp_min + acc.frac_bits - in_fmt.frac_bits
    need = in_fmt.bits + max(t_max, 0)
    bits = None if pe.shifter_bits is None or pe.shifter_bits >= need else pe.shifter_bits
    return bits, (bits is None and t_min >= 0)


def check_shift_accumulator(acc, in_fmt: FixedPoint, w_fmt: PowerOfTwo) -> FixedPoint:
    """Validate a shift-PE accumulator (per-tensor ``FixedPoint``, at most 62 bits)."""
    check_fixed(acc, "accumulator")
    if acc.per_channel:
        raise ValueError(f"accumulator={acc}: a shift-and-add PE has one accumulator fraction")
    if acc.bits > 62:
        raise ValueError(f"accumulator={acc} has {acc.bits} bits; at most 62 are supported for shift PEs")
    return acc


def shift_matmul(
    a,
    w,
    in_fmt: FixedPoint,
    w_fmt: PowerOfTwo,
    *,
    pe: ShiftPE = ShiftPE(),
    accumulator: FixedPoint | None = None,
    overflow=Overflow.SATURATE,
    bias_codes=None,
    rounding=Rounding.NEAREST_EVEN,
    rng=None,
) -> AccumulatorResult:
    """Shift-and-add MAC array: ``a @ w`` with power-of-two weights (module docstring).

    Parameters
    ----------
    a : array of int, shape (..., M, K)
        Activation codes in ``in_fmt`` (per-tensor fraction).
    w : array of float, shape (..., K, N)
        Weights; rounded to ``w_fmt`` with ``rounding`` (values already on its grid stay unchanged).
    in_fmt : FixedPoint
    w_fmt : PowerOfTwo
    pe : ShiftPE
        Barrel shifter width.
    accumulator : FixedPoint, optional
        Its fraction sets the shift amounts (``t = e + acc.frac_bits - in.frac_bits``). Default:
        :func:`default_shift_accumulator`.
    overflow : Overflow or str
        Accumulator overflow, ``"saturate"`` or ``"wrap"``.
    bias_codes : array of int, shape (N,), optional
        Accumulator codes preloaded before the products.
    rounding, rng
        Rounding of the weights to ``w_fmt``.

    Returns
    -------
    AccumulatorResult
    """
    check_fixed(in_fmt, "in_fmt")
    require(w_fmt, PowerOfTwo, "w_fmt")
    if not isinstance(pe, ShiftPE):
        raise TypeError(f"pe={pe!r} must be a ShiftPE")
    if in_fmt.per_channel:
        raise ValueError(f"in_fmt={in_fmt} cannot be per-channel")
    a = check_codes(a, in_fmt, "a")
    w = np.asarray(w, dtype=np.float64)
    check_chain(a, w)
    acc = accumulator if accumulator is not None else default_shift_accumulator(in_fmt, w_fmt, a.shape[-1])
    check_shift_accumulator(acc, in_fmt, w_fmt)
    if bias_codes is not None:
        bias_codes = check_codes(bias_codes, acc, "bias_codes")
    wcode, t_min = weight_shift_codes(w, w_fmt, in_fmt, acc, rounding, rng)
    return accumulate(shift_products(a, wcode, t_min, pe, in_fmt, w_fmt, acc), bias_codes, acc, overflow)


def shift_products(a, wcode, t_min, pe, in_fmt, w_fmt, acc):
    """The ProductSource of a shift PE: one integer GEMM when lossless, else one GEMM per shift amount."""
    bits, lossless = resolve_shifter(pe, in_fmt, w_fmt, acc)
    if lossless:
        t = np.abs(wcode) + t_min - 1
        w_int = np.where(wcode == 0, 0, np.sign(wcode) * (np.int64(1) << np.clip(t, 0, 62)))
        return IntegerProducts(a, w_int)
    return ShiftProducts(a, wcode, t_min, bits, in_fmt.signed)
