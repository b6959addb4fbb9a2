"""``MinifloatFloatPE``: the hardware of the ``minifloat-float`` datapath
(:class:`~ristretto_sim.emulator.datapaths.minifloat.MinifloatFloat`): exact products of two minifloats, optionally
rounded to the layer's ``product`` format, added to a float accumulator with one rounding per addition, as
:func:`~ristretto_sim.emulator.minifloat_mac.minifloat_matmul` with ``accumulator=`` (the register holds the
accumulator format's bit pattern).

Each cycle:

* **product**: both operands are unpacked into sign, integer significand (the hidden bit set for a normal
  field; the mantissa for a subnormal, 0 when the format flushes them) and the exponent of its LSB; the
  significands multiply exactly and the exponents add. A NaN or infinite operand enters as +0 (the emulator
  replaces it by +0.0 before its products, so the product keeps the other operand's sign) and sets the sticky
  flags ``nan``, ``pinf``, ``ninf`` as the Kulisch PE does (:func:`~ristretto_sim.rtl.minifloat_pe.product_flags`);
* optionally the product is **rounded** to ``product`` (the rounder below); one that overflows it to Inf or
  NaN sets the flags and enters as +0;
* the **adder** forms the exact sum of the register and the product: both significands normalised (leading-zero
  count), the smaller in magnitude aligned to the larger with ``man_bits + 3`` guard bits and a sticky bit
  (the OR of every bit shifted further), added or subtracted, then **rounded once** to the accumulator format.
  The sticky bit keeps every rounding boundary (a multiple of 2 frame units) on the right side: with the guard
  bits, the result is the correctly rounded exact sum, as the emulator's round-to-odd-then-round.
* the **rounder** (shared by the product and the sum): leading-zero count, the target quantum
  ``max(e_lead, emin) - man_bits`` (``emin`` itself below the smallest normal of a format without
  subnormals: the grid {0, min_normal}), a right shift with guard and sticky, the increment of the rounding mode
  (every deterministic :class:`~ristretto_sim.formats.Rounding`), the mantissa carry, then the natural overflow
  of :meth:`~ristretto_sim.formats.Minifloat.quantize`: ``ieee`` formats to +-Inf, ``fn`` formats to the
  (positive) NaN, ``none`` formats to +-max, and +-max whenever the rounding goes toward zero.

Signed zeros follow float64 arithmetic, as the emulator's: an exact zero sum is -0 only when both terms are -0,
a nonzero sum that rounds to zero keeps its sign. An infinite register (an ``ieee`` accumulator that
overflowed) stays that infinity, a NaN register (an ``fn`` one) the canonical NaN.

The bias preload (:meth:`load_bias`) is the emulator's ``0 + quantize(bias)``: a -0 bias starts from +0, a NaN or
infinite bias sets the flags and starts from +0. ``overflow`` is sticky: an addition whose sum, rounded without an
exponent limit, exceeded the accumulator's largest finite value (it became Inf, NaN or +-max).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, signed

from ristretto_sim.emulator.minifloat_mac import float_accumulate_step, minifloat_matmul, quantum_exp
from ristretto_sim.formats import Minifloat, Rounding
from ristretto_sim.formats.minifloat import Specials
from ristretto_sim.rtl.minifloat_pe import MinifloatMacPE, product_flags, specials
from ristretto_sim.rtl.pe import ProcessingElement, Product
from ristretto_sim.rtl.registry import register_pe


def leading_zeros(m: Module, x: Value, name: str) -> Signal:
    """The number of leading zeros of ``x`` (``len(x)`` for zero): a priority encoder."""
    n = len(x)
    out = Signal(range(n + 1), name=f"{name}_lz")
    m.d.comb += out.eq(n)
    for i in range(n):  # the highest set bit wins (the last assignment)
        with m.If(x[i]):
            m.d.comb += out.eq(n - 1 - i)
    return out


def _signed(v: Value) -> Value:
    """``v`` as a signed value of the same number (zero-extended when unsigned)."""
    return v if v.shape().signed else Cat(v, Const(0, 1)).as_signed()


@dataclass(frozen=True, eq=False)
class Unpacked:
    """A minifloat value as ``sign``, integer significand ``sig`` and the exponent of its LSB ``exp`` (value
    ``(-1)**sign * sig * 2**exp``), with its class."""

    sign: Value
    sig: Value
    exp: Value
    zero: Value
    nan: Value
    inf: Value


def unpack(m: Module, code: Value, fmt: Minifloat, ew: int, name: str) -> Unpacked:
    """The float form of a bit pattern of ``fmt`` (a NaN or an infinity has significand 0: see ``mask``)."""
    man = fmt.man_bits
    mant = code[:man]
    field = code[man : man + fmt.exp_bits]
    nan, inf = specials(code, fmt)
    normal = field != 0
    sig = Signal(man + 1, name=f"{name}_sig")
    sub = mant if fmt.subnormals else Const(0, 1)
    m.d.comb += sig.eq(Mux(nan | inf, 0, Mux(normal, Cat(mant, Const(1, 1)), sub)))
    exp = Signal(signed(ew), name=f"{name}_exp")
    m.d.comb += exp.eq(_signed(Mux(normal, field, 1)) - (fmt.bias + man))
    zero = Signal(name=f"{name}_zero")
    m.d.comb += zero.eq(~nan & ~inf & (sig == 0))
    return Unpacked(code[fmt.bits - 1], sig, exp, zero, nan, inf)


def round_to_format(m: Module, sign: Value, mag: Value, lsb_exp: Value, fmt: Minifloat, rounding: Rounding,
                    ew: int, name: str) -> tuple[Signal, Signal]:
    """``(-1)**sign * mag * 2**lsb_exp`` (``mag`` unsigned, exact or with a sticky LSB) rounded once to ``fmt``
    with ``rounding`` and the format's natural overflow (module docstring): ``(code, overflow)``."""
    man, w = fmt.man_bits, len(mag)
    lz = leading_zeros(m, mag, name)
    lead = Signal(signed(ew), name=f"{name}_lead")  # exponent of the leading one
    m.d.comb += lead.eq(lsb_exp + (w - 1) - lz)
    q = Signal(signed(ew), name=f"{name}_quantum")  # exponent of the result's LSB
    small = lead < fmt.emin
    m.d.comb += q.eq(Mux(small, fmt.emin - (man if fmt.subnormals else 0), lead - man))
    r = Signal(signed(ew), name=f"{name}_shift")
    m.d.comb += r.eq(q - lsb_exp)
    right = Signal(range(w + 2), name=f"{name}_right")
    m.d.comb += right.eq(Mux(r > w + 1, w + 1, Mux(r > 0, r, 0)))
    left = Signal(range(man + 2), name=f"{name}_left")  # only when mag has fewer bits than the grid: exact
    m.d.comb += left.eq(Mux(r < 0, -r, 0))
    ext = Cat(Const(0, w + 1), mag) >> right
    kept = Signal(man + 1, name=f"{name}_kept")
    m.d.comb += kept.eq(Mux(r > 0, ext[w + 1 :], mag << left))
    guard = Signal(name=f"{name}_guard")
    sticky = Signal(name=f"{name}_sticky")
    m.d.comb += [guard.eq((r > 0) & ext[w]), sticky.eq((r > 0) & (ext[:w] != 0))]
    lsb, inexact = kept[0], guard | sticky
    inc = {
        Rounding.NEAREST_EVEN: guard & (sticky | lsb),
        Rounding.NEAREST_AWAY: guard,
        Rounding.NEAREST_UP: guard & (sticky | ~sign),
        Rounding.TOWARD_ZERO: Const(0, 1),
        Rounding.FLOOR: sign & inexact,
        Rounding.CEIL: ~sign & inexact,
    }[rounding]
    rounded = Signal(man + 2, name=f"{name}_rounded")
    m.d.comb += rounded.eq(kept + inc)
    carry = rounded[man + 1]
    sig = Signal(man + 1, name=f"{name}_result")  # the significand, the hidden bit at man when normal
    m.d.comb += sig.eq(Mux(carry, rounded[1:], rounded[: man + 1]))
    e = Signal(signed(ew), name=f"{name}_e")  # the unbiased exponent of a normal result
    m.d.comb += e.eq(q + man + carry)
    normal = sig[man]
    mant = sig[:man]
    field = Signal(fmt.exp_bits, name=f"{name}_field")
    m.d.comb += field.eq(Mux(normal, e + fmt.bias, 0))
    if not fmt.subnormals:  # below min_normal the grid is {0, min_normal}: a kept 1 is min_normal
        tiny = small & (sig != 0)
        mant = Mux(small, 0, mant)
        field = Mux(tiny, 1, field)
    over = Signal(name=f"{name}_overflow")
    m.d.comb += over.eq(normal & ((e > fmt.emax) | ((e == fmt.emax) & (sig[:man] > fmt.max_mantissa))))
    toward_zero = {Rounding.TOWARD_ZERO: Const(1, 1), Rounding.FLOOR: ~sign, Rounding.CEIL: sign}.get(
        rounding, Const(0, 1))
    sat = Cat(Const(fmt.max_mantissa, man), Const(fmt.max_field, fmt.exp_bits), sign)
    if fmt.specials is Specials.IEEE:
        special = Cat(Const(0, man), Const(fmt.top_field, fmt.exp_bits), sign)
    elif fmt.specials is Specials.FN:
        special = Const(fmt.nan_code, fmt.bits)
    else:
        special = sat
    code = Signal(fmt.bits, name=f"{name}_code")
    m.d.comb += code.eq(Mux(over, Mux(toward_zero, sat, special), Cat(mant, field, sign)))
    return code, over


def exponent_width(*fmts: Minifloat, frame: int) -> int:
    """Bits of the signed exponent arithmetic: every LSB exponent of the operands, their products and the
    adder's frame, with room to spare."""
    span = sum(max(abs(quantum_exp(f)), abs(f.emax)) + f.man_bits + 2 for f in fmts)
    return (span + 2 * frame + 8).bit_length() + 2


@register_pe("minifloat-float")
class MinifloatFloatPE(ProcessingElement):
    """Minifloat MAC PE with a float accumulator (module docstring)."""

    flags = ("nan", "pinf", "ninf")
    accumulator_rule = "float adder, one rounding per addition"
    formal_reference = ("the formal check's reference adds tabulated products in an integer register; a float "
                        "adder has no such reference (its simulations hold it to the emulator)")

    def __init__(self, spec):
        rounding = spec.formats.rounding
        if rounding is Rounding.STOCHASTIC:
            self._MustUse__silence = True  # never elaborated: no "created but never used" warning
            raise ValueError(
                "rounding=stochastic: the float adder needs random bits the emulator reproduces bit for bit, and "
                "no such LFSR is declared; use a deterministic rounding (nearest_even, toward_zero, ...)"
            )
        super().__init__(spec)
        f = spec.formats
        acc = spec.accumulator
        self._lp = (f.product.man_bits + 1) if f.product is not None else (f.inputs.man_bits + f.weights.man_bits + 2)
        self._l = max(acc.man_bits + 1, self._lp)
        self._guard = acc.man_bits + 3
        fmts = [f.inputs, f.weights, acc] + ([f.product] if f.product is not None else [])
        self._ew = exponent_width(*fmts, frame=self._l + self._guard + 2)

    # ------------------------------------------------------------------ hardware
    def product(self, m: Module, a: Value, w: Value) -> Product:
        f, ew = self.spec.formats, self._ew
        ua = unpack(m, a, f.inputs, ew, "a")
        uw = unpack(m, w, f.weights, ew, "w")
        flags = product_flags((ua.sign, ua.zero, ua.nan, ua.inf), (uw.sign, uw.zero, uw.nan, uw.inf))
        # a NaN or infinite operand enters as +0 (its significand is already 0)
        sign = (ua.sign & ~ua.nan & ~ua.inf) ^ (uw.sign & ~uw.nan & ~uw.inf)
        mag = Signal(len(ua.sig) + len(uw.sig), name="product_sig")
        exp = Signal(signed(ew), name="product_exp")
        m.d.comb += [mag.eq(ua.sig * uw.sig), exp.eq(ua.exp + uw.exp)]
        if f.product is not None:
            code, _ = round_to_format(m, sign, mag, exp, f.product, f.rounding, ew, "prod")
            up = unpack(m, code, f.product, ew, "prod_rounded")
            flags = {"nan": flags["nan"] | up.nan, "pinf": flags["pinf"] | (up.inf & ~up.sign),
                     "ninf": flags["ninf"] | (up.inf & up.sign)}
            sign, mag, exp = up.sign & ~up.nan & ~up.inf, up.sig, up.exp
        value = Cat(mag, exp, sign)  # handed to ``add`` in one value; it splits them again
        return Product(value, flags=flags)

    def _split_product(self, value: Value):
        lp, ew = self._lp, self._ew
        return value[lp + ew], value[:lp], value[lp : lp + ew].as_signed()

    def sum_rounding(self) -> Rounding:
        """The rounding of the adder (the layer's)."""
        return self.spec.formats.rounding

    def load_bias(self, m: Module, bias: Value):
        acc = self.spec.accumulator
        ub = unpack(m, bias, acc, self._ew, "bias")
        start = Signal(acc.bits, name="bias_start")
        m.d.comb += start.eq(Mux(ub.zero | ub.nan | ub.inf, 0, bias))
        return start, {"nan": ub.nan, "pinf": ub.inf & ~ub.sign, "ninf": ub.inf & ub.sign}

    def _normalised(self, m: Module, u_sig: Value, u_exp: Value, name: str):
        """The significand shifted up to ``L`` bits with its leading one at the top, and that bit's exponent."""
        big = self._l
        x = Signal(big, name=f"{name}_norm")
        padded = Cat(Const(0, big - len(u_sig)), u_sig)  # the significand at the top of L bits
        lz = leading_zeros(m, padded, name)
        m.d.comb += x.eq(padded << lz)
        top = Signal(signed(self._ew), name=f"{name}_top")
        m.d.comb += top.eq(u_exp + (len(u_sig) - 1) - lz)
        return x, top

    def add(self, m: Module, base: Value, product: Product):
        acc, ew, big, g = self.spec.accumulator, self._ew, self._l, self._guard
        uc = unpack(m, base, acc, ew, "acc")
        sp, sigp, ep = self._split_product(product.value)
        zp = Signal(name="p_zero")
        m.d.comb += zp.eq(sigp == 0)
        xc, tc = self._normalised(m, uc.sig, uc.exp, "acc")
        xp, tp = self._normalised(m, sigp, ep, "p")
        # the larger magnitude (the product when the register is zero)
        p_big = Signal(name="p_bigger")
        m.d.comb += p_big.eq(uc.zero | (~zp & ((tp > tc) | ((tp == tc) & (xp >= xc)))))
        bx, sx = Mux(p_big, xp, xc), Mux(p_big, xc, xp)
        bt, st = Mux(p_big, tp, tc), Mux(p_big, tc, tp)
        bs, ss = Mux(p_big, sp, uc.sign), Mux(p_big, uc.sign, sp)
        width = big + g + 1  # the value at the top, g guard bits, a sticky bit at the bottom
        d = Signal(signed(ew), name="align_diff")
        m.d.comb += d.eq(bt - st)
        dd = Signal(range(width + 1), name="align")
        m.d.comb += dd.eq(Mux(d > width, width, Mux(d > 0, d, 0)))
        small_ext = Cat(Const(0, g + 1), sx)
        shifted = Signal(width, name="aligned")
        m.d.comb += shifted.eq(small_ext >> dd)
        lost = Signal(name="align_sticky")
        m.d.comb += lost.eq((shifted << dd) != small_ext)  # a bit was shifted out
        small_f = Cat(shifted[0] | lost, shifted[1:])
        big_f = Cat(Const(0, g + 1), bx)
        total = Signal(width + 1, name="exact_sum")
        m.d.comb += total.eq(Mux(bs == ss, big_f + small_f, big_f - small_f))
        exact_zero = total == 0
        sign = Signal(name="sum_sign")
        m.d.comb += sign.eq(Mux(exact_zero, uc.sign & sp, bs))
        lsb = Signal(signed(ew), name="sum_lsb")
        m.d.comb += lsb.eq(bt - (width - 1))
        code, over = round_to_format(m, sign, total, lsb, acc, self.sum_rounding(), ew, "sum")
        inf_code = Cat(Const(0, acc.man_bits), Const(acc.top_field, acc.exp_bits), uc.sign)
        nan_code = Const(acc.nan_code if acc.nan_code is not None else 0, acc.bits)
        new = Mux(uc.nan, nan_code, Mux(uc.inf, inf_code, code))
        return new, over & ~uc.nan & ~uc.inf

    @classmethod
    def module_stem(cls, spec):
        """``minifloat_float_<inputs>_<weights>_<accumulator>``, then ``_p<product>`` and the rounding when it is
        not nearest-even (the hardware differs by both)."""
        f = spec.formats
        parts = ["minifloat_float", str(f.inputs), str(f.weights), str(spec.accumulator)]
        if f.product is not None:
            parts.append(f"p{f.product}")
        if f.rounding is not Rounding.NEAREST_EVEN:
            parts.append(f.rounding.value)
        return "".join(c if c.isalnum() or c == "_" else "_" for c in "_".join(parts))

    # ------------------------------------------------------------------ testbench side
    @classmethod
    def operand_codes(cls, spec):
        return MinifloatMacPE.operand_codes(spec)

    @classmethod
    def corner_codes(cls, spec):
        return MinifloatMacPE.corner_codes(spec)

    @classmethod
    def bias_codes(cls, spec):
        """Accumulator codes: both extremes, the smallest subnormals, both zeros, Inf and NaN, a spread."""
        acc = spec.accumulator
        v = [acc.max, -acc.max, acc.min_subnormal, -acc.min_subnormal, acc.min_normal, 0.0, -0.0, 1.0, -1.5]
        codes = [int(c) for c in acc.encode(np.array(v))]
        if acc.has_inf:
            codes += [int(c) for c in acc.encode(np.array([np.inf, -np.inf]))]
        if acc.has_nan:
            codes.append(int(acc.nan_code))
        spread = np.linspace(0, (1 << acc.bits) - 1, 61).astype(np.int64)
        return np.unique(np.concatenate([np.array(codes, dtype=np.int64), spread]))

    @classmethod
    def golden_load_bias(cls, spec, bias):
        """The emulator's preload: ``0 + quantize(bias)`` (the bias is on the grid), a NaN or infinite bias
        raising the flags (``minifloat_matmul``) and starting from +0."""
        acc = spec.accumulator
        v = acc.decode(np.asarray(bias, dtype=np.int64))
        fin = np.isfinite(v)
        start = acc.encode(0.0 + np.where(fin, v, 0.0)).astype(np.int64)
        return start, {"nan": np.isnan(v), "pinf": v == np.inf, "ninf": v == -np.inf}

    @classmethod
    def golden_add(cls, spec, base, a, w):
        """One step of the emulator's float accumulation (``float_accumulate_step``) on the register's values;
        the flags of the product from ``minifloat_matmul``'s readout of that one product (Kulisch, K = 1), the
        non-finite operands then replaced by +0 as ``minifloat_matmul`` does. ``overflow``: the sum rounded
        in the accumulator format with one more exponent bit (same grid, no special values) beyond its max."""
        f, acc = spec.formats, spec.accumulator
        n = a.shape[0]
        av = f.inputs.decode(np.asarray(a, dtype=np.int64))
        wv = f.weights.decode(np.asarray(w, dtype=np.int64))
        with np.errstate(invalid="ignore"):
            one = minifloat_matmul(av.reshape(n, 1, 1), wv.reshape(n, 1, 1), f.inputs, f.weights,
                                   check_operands=False).values.reshape(n)
        flags = {"nan": np.isnan(one), "pinf": one == np.inf, "ninf": one == -np.inf}
        av, wv = np.where(np.isfinite(av), av, 0.0), np.where(np.isfinite(wv), wv, 0.0)
        x = acc.decode(np.asarray(base, dtype=np.int64))
        with np.errstate(invalid="ignore", over="ignore"):
            new, fl, s = float_accumulate_step(x, av * wv, acc, f.product, f.rounding)
            wide = Minifloat(acc.exp_bits + 1, acc.man_bits, bias=acc.bias, subnormals=acc.subnormals,
                             specials="none")
            ovf = np.isfinite(s) & (np.abs(wide.quantize(np.where(np.isfinite(s), s, 0.0), f.rounding)) > acc.max)
        flags = {k: flags[k] | fl[i] for i, k in enumerate(("nan", "pinf", "ninf"))}
        return acc.encode(new).astype(np.int64), ovf, flags
