"""``ShiftPE``: the hardware of the ``shift`` datapath (:class:`~ristretto_sim.emulator.datapaths.shift.ShiftAdd`),
fixed-point activations times power-of-two weights.

The weight port carries a ``PowerOfTwo`` code (sign bit on top, magnitude code below: 0 is zero when the format
has one, else exponent ``exp_min + code - has_zero``). Per product, as :mod:`~ristretto_sim.emulator.shift_pe`
models it:

1. the barrel shifter shifts the activation by ``t = e + acc.frac - in.frac`` (one constant shift per magnitude
   code, selected by the code: left for ``t > 0``, arithmetic right for ``t < 0``, the low bits falling off the
   bottom) into a ``shifter_bits``-wide output (the datapath's declared width, else the width that loses
   nothing: ``in.bits + max(t_max, 0)``), whose high bits fall off the top (two's complement wrap);
2. a negative weight adds the one's complement of the shifter output with the adder's carry-in set
   (``acc + ~v + 1 = acc - v``): the sign folds into the carry-in instead of a separate negate; a zero weight
   adds nothing;
3. the accumulator's overflow rule (the base class).
"""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, signed, unsigned

from ristretto_sim.emulator.accumulator import accumulate
from ristretto_sim.emulator.shift_pe import shift_products, weight_shift_codes
from ristretto_sim.rtl.pe import ProcessingElement, Product
from ristretto_sim.rtl.registry import register_pe


def hardware_shifter_bits(spec) -> int:
    """The barrel shifter's output width: the declared one, else the width at which nothing falls off."""
    f, acc = spec.formats, spec.accumulator
    t_max = f.weights.exp_max + acc.frac_bits - f.inputs.frac_bits
    need = f.inputs.bits + max(t_max, 0)
    return need if f.shifter_bits is None else f.shifter_bits


def shift_amounts(spec) -> dict[int, int]:
    """Magnitude code -> shift ``t`` of every non-zero magnitude code of the weight format."""
    f, acc = spec.formats, spec.accumulator
    fw = f.weights
    t_min = fw.exp_min + acc.frac_bits - f.inputs.frac_bits
    z = int(fw.has_zero)
    return {c: t_min + c - z for c in range(z, fw.n_magnitudes)}


@register_pe("shift")
class ShiftPE(ProcessingElement):
    """Shift-and-add PE (module docstring; ports and timing: :class:`ProcessingElement`)."""

    # z3 did not finish the base case of a 3-bit x pow2[-2,0] PE in 15 minutes on this project's machine; cvc5
    # proves it in 1 s and a 6-bit PE with a 7-bit shifter in 18 s (``rtl.formal``)
    formal_solver = "cvc5"

    def product(self, m: Module, a: Value, w: Value) -> Product:
        spec = self.spec
        fw, fin = spec.formats.weights, spec.formats.inputs
        bits = hardware_shifter_bits(spec)
        sign = w[fw.bits - 1]
        mag = w[: fw.bits - 1]
        shifted = Signal(signed(bits) if fin.signed else unsigned(bits), name="shifter")
        zero = Signal(name="zero_weight")
        m.d.comb += zero.eq(1 if not fw.has_zero else mag == 0)
        with m.Switch(mag):
            for code, t in shift_amounts(spec).items():
                with m.Case(code):  # the assignment keeps the low ``bits`` bits: what falls off the top
                    m.d.comb += shifted.eq(a.shift_left(t) if t >= 0 else a.shift_right(-t))
            with m.Default():
                m.d.comb += shifted.eq(0)
        if not fw.has_zero:
            m.d.comb += zero.eq(0)
        v = shifted if fin.signed else Cat(shifted, Const(0, 1)).as_signed()  # one sign bit for ~v
        v = Mux(zero, 0, v)
        neg = Signal(name="negative_weight")
        m.d.comb += neg.eq(sign & ~zero)
        return Product(Mux(neg, ~v, v), carry=neg)

    @classmethod
    def operand_codes(cls, spec):
        fin, fw = spec.formats.inputs, spec.formats.weights
        mags = np.arange(fw.n_magnitudes, dtype=np.int64)
        w = np.concatenate([mags, mags | (1 << (fw.bits - 1))])
        return np.arange(fin.min_code, fin.max_code + 1, dtype=np.int64), np.sort(w)

    @classmethod
    def golden_add(cls, spec, base, a, w):
        """The emulator's shifter (``shift_products`` with the datapath's ``ShiftPE``) and accumulator (K = 1)."""
        dp, acc, f = spec.datapath, spec.accumulator, spec.formats
        n = a.shape[0]
        values = f.weights.decode(np.asarray(w, dtype=np.int64)).reshape(n, 1, 1)
        wcode, t_min = weight_shift_codes(values, f.weights, f.inputs, acc)
        src = shift_products(np.asarray(a, dtype=np.int64).reshape(n, 1, 1), wcode, t_min, dp.shifter, f.inputs,
                             f.weights, acc)
        b64 = np.asarray(base, dtype=np.int64)
        r = accumulate(src, b64.reshape(n, 1, 1), acc, f.overflow)
        new = np.asarray(r.codes, dtype=np.int64).reshape(n)
        return new, new != b64 + src.products_dense(0).reshape(n), {}
