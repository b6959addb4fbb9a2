"""``TfliteRequantize``: TensorFlow Lite's int8 readout in hardware, an int32 accumulator times a per-channel
quantized multiplier ``(M0, shift)``, plus the output zero point, clamped; exactly the emulator's
:func:`~ristretto_sim.emulator.gemmlowp.multiply_by_quantized_multiplier` (the affine datapath's readout of
convolutions) or, with ``form="single"``, :func:`~ristretto_sim.emulator.gemmlowp.
multiply_by_quantized_multiplier_single_round` (its readout of fully connected layers).

``form="double"`` (gemmlowp ``fixedpoint.h`` and TFLite ``common.h``, ``MultiplyByQuantizedMultiplier``):

1. ``x = acc << max(shift, 0)`` kept to 32 bits (the int32 left shift of a multiplier above one);
2. ``SaturatingRoundingDoublingHighMul(x, M0)``: the 64-bit product ``p = x * M0``, the nudge ``2**30`` (``1 -
   2**30`` for ``p < 0``) added, divided by ``2**31`` rounding toward zero (C's ``/``), ``INT32_MAX`` when
   ``x == M0 == INT32_MIN`` (the one product that does not fit);
3. ``RoundingDivideByPOT(., max(-shift, 0))``: arithmetic right shift, plus one when the bits shifted out exceed
   ``mask >> 1`` (``+ 1`` for a negative value: ties away from zero).

``form="single"`` (``TFLITE_SINGLE_ROUNDING``): ``(acc * M0 + 2**(30 - shift)) >> (31 - shift)``.

Then ``+ z_out`` and the clamp to ``[act_min, act_max]`` (default: the output format's codes; a fused ReLU /
ReLU6 narrows it). ``saturated`` is set when the clamp changed the value.

Ports: ``acc`` (int32), ``multiplier`` (int32, ``M0``; TFLite's are in ``[2**30, 2**31)``), ``shift`` (signed
6 bits: ``-31..31`` double, ``-31..30`` single; the left shift for a positive one), ``out`` (the output codes),
``saturated``. Pipelined: the shifted accumulator times ``M0`` is registered (a 64-bit product register, with the
right-shift amount and the saturation case beside it); the rounding, zero point and clamp after it are
combinational, so ``out`` shows the result of the inputs of a cycle after that cycle's clock edge (latency
one clock, one result per clock).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from amaranth.hdl import Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ristretto_sim.emulator.gemmlowp import (
    INT32_MAX,
    INT32_MIN,
    multiply_by_quantized_multiplier,
    multiply_by_quantized_multiplier_single_round,
)
from ristretto_sim.formats import Affine, Rounding
from ristretto_sim.formats.base import check_int
from ristretto_sim.rtl.spec import port_shape

#: the readout forms and the shifts they take (``gemmlowp.rounding_divide_by_pot``: right shifts 0..31;
#: ``multiply_by_quantized_multiplier_single_round``: 31 - shift in 1..62)
FORMS = {"double": (-31, 31), "single": (-31, 30)}
#: width of the ``shift`` port
SHIFT_BITS = 6


@dataclass(frozen=True)
class TfliteRequantSpec:
    """A TFLite requantizer: the output format (its zero point and codes), the activation clamp, the form.

    Parameters
    ----------
    outputs : Affine
        Per-tensor affine output format (int8: ``affine8[s=...,z=...]``).
    act_min, act_max : int or None
        The clamp (None: the output format's ``min_code`` / ``max_code``).
    form : str
        ``double`` (convolutions) or ``single`` (fully connected layers), as the affine datapath reads out.
    """

    outputs: Affine
    act_min: int | None = None
    act_max: int | None = None
    form: str = "double"

    def __post_init__(self):
        out = self.outputs
        if not isinstance(out, Affine) or out.per_channel:
            raise ValueError(f"outputs={out}: the TFLite requantizer writes a per-tensor affine format "
                             "(e.g. affine8[s=0.05,z=-128])")
        if out.bits > 32:
            raise ValueError(f"outputs={out}: at most 32-bit outputs")
        lo = out.min_code if self.act_min is None else check_int(self.act_min, "act_min")
        hi = out.max_code if self.act_max is None else check_int(self.act_max, "act_max")
        if not out.min_code <= lo <= hi <= out.max_code:
            raise ValueError(f"act_min={lo}, act_max={hi}: the clamp must lie within the output codes "
                             f"[{out.min_code}, {out.max_code}] with act_min <= act_max")
        object.__setattr__(self, "act_min", lo)
        object.__setattr__(self, "act_max", hi)
        if self.form not in FORMS:
            raise ValueError(f"form={self.form!r}: choose one of {', '.join(FORMS)}")

    @classmethod
    def of(cls, formats, linear: bool) -> TfliteRequantSpec:
        """The requantizer of an affine layer's formats, as the affine datapath reads it out (``linear``: a fully
        connected layer, the single rounding); ``ValueError`` unless the layer rounds as TFLite (``nearest_away``:
        ``nearest_even`` is ONNX's float readout, which this fixed-point unit does not compute)."""
        if formats.rounding is not Rounding.NEAREST_AWAY:
            raise ValueError(f"rounding={formats.rounding.value}: the TFLite requantizer is the readout of "
                             "rounding=nearest_away (ONNX's nearest_even readout multiplies in floating point)")
        return cls(formats.outputs, form="single" if linear else "double")

    @property
    def shift_range(self) -> tuple[int, int]:
        """The shifts this form computes (inclusive)."""
        return FORMS[self.form]

    def module_name(self) -> str:
        out = self.outputs
        text = f"tflite_requantize_{self.form}_{'int' if out.signed else 'uint'}{out.bits}_z{out.zero_point}_" \
               f"{self.act_min}_{self.act_max}"
        return "".join(c if c.isalnum() or c == "_" else "_" for c in text.replace("-", "m"))

    def golden(self, acc, multiplier, shift) -> tuple[np.ndarray, np.ndarray]:
        """``(output codes, saturated)`` of int32 accumulator codes and per-element ``(M0, shift)``, from the
        emulator's gemmlowp functions."""
        acc, m, s = (np.asarray(x, dtype=np.int64) for x in (acc, multiplier, shift))
        lo, hi = self.shift_range
        if np.any(s < lo) or np.any(s > hi):
            raise ValueError(f"shift must be in {lo}..{hi} for the {self.form} form")
        scale = multiply_by_quantized_multiplier if self.form == "double" else \
            multiply_by_quantized_multiplier_single_round
        y = scale(acc, m, s) + self.outputs.zero_point
        codes = np.clip(y, self.act_min, self.act_max)
        return codes, codes != y


class TfliteRequantize(wiring.Component):
    """TFLite's requantization, pipelined (module docstring).

    Parameters
    ----------
    spec : TfliteRequantSpec
    """

    #: clock edges from the inputs to ``out``
    latency = 1

    def __init__(self, spec: TfliteRequantSpec):
        if not isinstance(spec, TfliteRequantSpec):
            raise TypeError(f"spec={spec!r} must be a TfliteRequantSpec")
        self.spec = spec
        super().__init__({"acc": In(signed(32)), "multiplier": In(signed(32)), "shift": In(signed(SHIFT_BITS)),
                          "out": Out(port_shape(spec.outputs)), "saturated": Out(1)})

    def verilog_name(self) -> str:
        return self.spec.module_name()

    def vectors(self, n: int, seed=0) -> tuple[dict, dict]:
        """``(stimulus, expected)`` of a testbench: ``n`` cycles of :func:`requant_vectors` and the golden
        outputs, each checked after its own cycle's edge (the latency is one)."""
        acc, mult, shift = requant_vectors(self.spec, n, seed)
        out, sat = self.spec.golden(acc, mult, shift)
        return {"acc": acc, "multiplier": mult, "shift": shift}, {"out": out, "saturated": sat}

    def elaborate(self, platform):
        m = Module()
        sp = self.spec
        y = self._double(m) if sp.form == "double" else self._single(m)
        total = Signal(signed(len(y) + 1), name="with_zero_point")
        m.d.comb += total.eq(y + sp.outputs.zero_point)
        lo, hi = sp.act_min, sp.act_max
        m.d.comb += [
            self.out.eq(Mux(total > hi, Const(hi), Mux(total < lo, Const(lo), total))),
            self.saturated.eq((total > hi) | (total < lo)),
        ]
        return m

    def _double(self, m: Module):
        # stage 1: the left shift (int32 wrap) and the 64-bit product, registered with the right shift amount
        left = Signal(unsigned(SHIFT_BITS - 1), name="left_shift")
        m.d.comb += left.eq(Mux(self.shift > 0, self.shift, 0))
        x = Signal(signed(32), name="shifted")
        m.d.comb += x.eq((self.acc << left)[:32])
        product = Signal(signed(64), name="product")
        right = Signal(unsigned(SHIFT_BITS), name="right_shift")
        both_min = Signal(name="both_int32_min")
        m.d.sync += [
            product.eq(x * self.multiplier),
            right.eq(Mux(self.shift < 0, -self.shift, 0)),
            both_min.eq((x == INT32_MIN) & (self.multiplier == INT32_MIN)),
        ]
        # stage 2: SaturatingRoundingDoublingHighMul: nudge, then C's truncating division by 2**31
        nudged = Signal(signed(65), name="nudged")
        m.d.comb += nudged.eq(product + Mux(product >= 0, 1 << 30, 1 - (1 << 30)))
        toward_zero = Signal(signed(65), name="toward_zero")
        m.d.comb += toward_zero.eq(nudged + Mux(nudged < 0, (1 << 31) - 1, 0))
        high = Signal(signed(32), name="high_mul")
        m.d.comb += high.eq(Mux(both_min, INT32_MAX, (toward_zero >> 31)[:32].as_signed()))
        # RoundingDivideByPOT(high, right)
        mask = Signal(unsigned(32), name="mask")
        m.d.comb += mask.eq(((Const(1, 33) << right) - 1)[:32])
        remainder = Signal(unsigned(32), name="remainder")
        m.d.comb += remainder.eq(high.as_unsigned() & mask)
        threshold = Signal(unsigned(32), name="threshold")
        m.d.comb += threshold.eq((mask >> 1) + (high < 0))
        quotient = Signal(signed(32), name="quotient")
        m.d.comb += quotient.eq(high >> right)
        y = Signal(signed(33), name="scaled")
        m.d.comb += y.eq(quotient + (remainder > threshold))
        return y

    def _single(self, m: Module):
        # stage 1: the exact 64-bit product and the total shift 31 - shift, registered
        product = Signal(signed(64), name="product")
        total = Signal(unsigned(SHIFT_BITS), name="total_shift")
        half = Signal(unsigned(SHIFT_BITS), name="nudge_shift")
        m.d.sync += [product.eq(self.acc * self.multiplier), total.eq(31 - self.shift), half.eq(30 - self.shift)]
        # stage 2: one rounding, half up
        nudge = Signal(unsigned(63), name="nudge")
        m.d.comb += nudge.eq((Const(1, 63) << half)[:63])
        rounded = Signal(signed(65), name="rounded")
        m.d.comb += rounded.eq(product + nudge)
        y = Signal(signed(64), name="scaled")  # beyond int32 for a multiplier above one (clamped after)
        m.d.comb += y.eq(rounded >> total)
        return y


def requant_vectors(spec: TfliteRequantSpec, n: int, seed=0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(acc, multiplier, shift)`` test vectors (``n`` each, at least 64): every shift of the form, the int32
    extremes, TFLite's multiplier range ``[2**30, 2**31)`` with both ends, ``INT32_MIN`` and 0, and accumulators
    on rounding ties of the high multiply (odd ``acc`` times ``2**30``) and of the right shift."""
    n = check_int(n, "n", minimum=64)
    rng = np.random.default_rng(seed)
    lo, hi = spec.shift_range
    shift = rng.integers(lo, hi + 1, n)
    shift[: hi - lo + 1] = np.arange(lo, hi + 1)
    shift = np.where(rng.random(n) < 0.5, np.minimum(shift, 0), shift)  # right shifts dominate in TFLite
    mult = rng.integers(1 << 30, 1 << 31, n)
    pick = rng.random(n)
    corners = np.array([1 << 30, INT32_MAX, INT32_MIN, 0, 1, -1, (1 << 30) + 1], dtype=np.int64)
    mult = np.where(pick < 0.3, corners[rng.integers(0, len(corners), n)], mult)
    acc = rng.integers(INT32_MIN, INT32_MAX + 1, n)
    small = rng.integers(-(1 << 16), 1 << 16, n)
    acc = np.where(rng.random(n) < 0.4, small, acc)
    extremes = np.array([INT32_MIN, INT32_MIN + 1, INT32_MAX, INT32_MAX - 1, 0, 1, -1], dtype=np.int64)
    pick = rng.random(n)
    acc = np.where(pick < 0.15, extremes[rng.integers(0, len(extremes), n)], acc)
    # ties: with M0 = 2**30 the high multiply halves acc (an odd acc is its tie) and the right shift by s then
    # sees a tie at acc = +-(2k + 1) * 2**s
    right = np.maximum(-shift, 0)
    k = rng.integers(0, 1 << 8, n)
    tie = (2 * k + 1) << right
    tie = np.where(rng.random(n) < 0.5, tie, -tie)
    tied = (pick > 0.7) & (tie >= INT32_MIN) & (tie <= INT32_MAX)
    acc = np.where(tied, tie, acc)
    mult = np.where(tied | (pick > 0.95), 1 << 30, mult)
    acc[:2], mult[:2], shift[:2] = INT32_MIN, INT32_MIN, 0  # the one saturating high multiply
    return acc.astype(np.int64), mult.astype(np.int64), shift.astype(np.int64)
