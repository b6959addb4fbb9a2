"""``MinifloatMacPE``: the hardware of the ``minifloat-kulisch`` datapath
(:class:`~ristretto_sim.emulator.datapaths.minifloat.MinifloatKulisch`).

Both operand ports carry minifloat bit patterns. Each is decoded into sign, an integer significand in units of
the format's quantum ``2**q`` (``q = emin - man_bits``: ``(1.m) << (field - 1)`` for a normal field, ``m`` for
a subnormal, 0 when the format flushes them) and its class (zero, NaN, Inf per the format's ``specials``). The
product of the significands is exact and is in units of ``2**(q_in + q_w)``: the LSB of the Kulisch register
(:func:`~ristretto_sim.emulator.minifloat_mac.kulisch_format`, as wide as the emulator's for the spec's K): the
shift of each significand by its exponent field is the alignment, and the product enters the register
unshifted.

NaN and Inf operands add nothing to the register (as ``kulisch_contents``) and set the sticky flags ``nan``
(a NaN operand, or Inf x 0), ``pinf`` and ``ninf`` (an infinite product of either sign); the readout rule is the
emulator's (``_apply_flags`` of :mod:`~ristretto_sim.emulator.minifloat_mac`): NaN if ``nan`` or both
infinities, else the infinity flagged, else the register rounded once to the output format. The register is
wide enough that its sum is exact for K products (plus a bias of at most one product), so it needs no
saturation logic: the adder keeps its low bits (the overflow flag then only reports a trace longer than the
register is sized for).
"""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value

from ristretto_sim.emulator.minifloat_mac import kulisch_contents, minifloat_matmul
from ristretto_sim.formats import Overflow
from ristretto_sim.formats.minifloat import Specials
from ristretto_sim.rtl.pe import ProcessingElement, Product
from ristretto_sim.rtl.registry import register_pe


def specials(code: Value, fmt) -> tuple[Value, Value]:
    """``(nan, inf)``: whether a minifloat bit pattern is a NaN / an infinity of ``fmt`` (per its ``specials``)."""
    man, top = fmt.man_bits, fmt.top_field
    mant = code[:man]
    field = code[man : man + fmt.exp_bits]
    if fmt.specials is Specials.IEEE:
        return (field == top) & (mant != 0), (field == top) & (mant == 0)
    if fmt.specials is Specials.FN:
        return (field == top) & (mant == (1 << man) - 1), Const(0, 1)
    return Const(0, 1), Const(0, 1)


def product_flags(a: tuple, w: tuple) -> dict:
    """The sticky flags of one product from the operands' ``(sign, zero, nan, inf)``: ``nan`` (a NaN operand or
    Inf x 0), ``pinf`` / ``ninf`` (an infinite product of that sign), as the emulator's ``_special_flags``."""
    sa, za, na, fa = a
    sw, zw, nw, fw = w
    neg = sa ^ sw
    nz_a, nz_w = ~za & ~na, ~zw & ~nw  # nonzero and not NaN (Inf included)
    infinite = (fa & nz_w) | (fw & nz_a)
    return {"nan": na | nw | (fa & zw) | (za & fw), "pinf": infinite & ~neg, "ninf": infinite & neg}


def decode(m: Module, code: Value, fmt, name: str):
    """``(sign, significand, zero, nan, inf)`` of a minifloat bit pattern (module docstring)."""
    man = fmt.man_bits
    mant = code[:man]
    field = code[man : man + fmt.exp_bits]
    sign = code[fmt.bits - 1]
    nan, inf = specials(code, fmt)
    normal = field != 0
    hidden = Cat(mant, Const(1, 1))
    sub = mant if fmt.subnormals else Const(0, max(man, 1))
    sig = Signal(man + 1 + max(fmt.max_field - 1, 0), name=f"{name}_significand")
    m.d.comb += sig.eq(Mux(nan | inf, 0, Mux(normal, hidden << (field - 1)[: fmt.exp_bits], sub)))
    zero = Signal(name=f"{name}_zero")
    m.d.comb += zero.eq(~nan & ~inf & (sig == 0))
    return sign, sig, zero, nan, inf


@register_pe("minifloat-kulisch")
class MinifloatMacPE(ProcessingElement):
    """Minifloat MAC PE with an exact Kulisch accumulator (module docstring)."""

    flags = ("nan", "pinf", "ninf")
    accumulator_rule = "exact Kulisch register"

    def product(self, m: Module, a: Value, w: Value) -> Product:
        f = self.spec.formats
        sa, ia, za, na, fa = decode(m, a, f.inputs, "a")
        sw, iw, zw, nw, fw = decode(m, w, f.weights, "w")
        mag = Signal(len(ia) + len(iw), name="product_magnitude")
        m.d.comb += mag.eq(ia * iw)
        neg = sa ^ sw
        flags = product_flags((sa, za, na, fa), (sw, zw, nw, fw))
        signed_mag = Cat(mag, Const(0, 1)).as_signed()
        return Product(Mux(neg, -signed_mag, signed_mag), flags=flags)

    @classmethod
    def overflow_rule(cls, spec) -> Overflow:
        return Overflow.WRAP  # the register is sized for K products: no saturation logic (module docstring)

    @classmethod
    def operand_codes(cls, spec):
        f = spec.formats
        return tuple(np.arange(1 << fmt.bits, dtype=np.int64) for fmt in (f.inputs, f.weights))

    @classmethod
    def corner_codes(cls, spec):
        """Largest and smallest magnitudes of both signs, both zeros, and the format's Inf and NaN."""
        out = []
        for fmt in (spec.formats.inputs, spec.formats.weights):
            v = [fmt.max, -fmt.max, fmt.min_subnormal, -fmt.min_subnormal, 0.0, -0.0]
            codes = [int(c) for c in fmt.encode(np.array(v))]
            if fmt.has_inf:
                codes += [int(c) for c in fmt.encode(np.array([np.inf, -np.inf]))]
            if fmt.has_nan:
                codes.append(int(fmt.nan_code))
            out.append(np.array(codes, dtype=np.int64))
        return tuple(out)

    @classmethod
    def bias_codes(cls, spec):
        """Register codes of at most one product's magnitude (the register is sized for K products)."""
        f = spec.formats
        top = int(kulisch_contents(np.array([[f.inputs.max]]), np.array([[f.weights.max]]), f.inputs,
                                   f.weights).to_python()[0, 0])
        picks = sorted({0, 1, -1, top, -top, top // 2, -(top // 3), top // 1000, -(top // 77)})
        out = np.empty(len(picks), dtype=object)
        out[:] = picks
        return out

    @classmethod
    def max_products(cls, spec):
        return spec.k - 1  # with a bias of one product: the K the register is sized for

    @classmethod
    def golden_zeros(cls, spec, n: int):
        out = np.empty(n, dtype=object)
        out[:] = [0] * n
        return out

    @classmethod
    def golden_add(cls, spec, base, a, w):
        """The product's Kulisch codes from the emulator's ``kulisch_contents`` (K = 1), the flags from
        ``minifloat_matmul``'s readout of that one product; the register adds exactly (Python integers)."""
        f, acc = spec.formats, spec.accumulator
        n = a.shape[0]
        av = f.inputs.decode(np.asarray(a, dtype=np.int64)).reshape(n, 1, 1)
        wv = f.weights.decode(np.asarray(w, dtype=np.int64)).reshape(n, 1, 1)
        p = kulisch_contents(av, wv, f.inputs, f.weights).to_python().reshape(n)
        with np.errstate(invalid="ignore"):  # NaN operands are the point here
            one = minifloat_matmul(av, wv, f.inputs, f.weights, check_operands=False).values.reshape(n)
        flags = {"nan": np.isnan(one), "pinf": one == np.inf, "ninf": one == -np.inf}
        exact = np.asarray(base, dtype=object) + p
        lo, hi, span = acc.min_code, acc.max_code, 1 << acc.bits
        wrapped = np.array([(int(v) - lo) % span + lo for v in exact], dtype=object)
        return wrapped, np.array([not (lo <= int(v) <= hi) for v in exact], dtype=bool), flags
