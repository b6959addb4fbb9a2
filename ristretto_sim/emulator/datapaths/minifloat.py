"""The minifloat MAC datapaths: exact products of two minifloats, accumulated exactly in a Kulisch register
(``minifloat-kulisch``: no accumulator, or a ``FixedPoint`` register at least as wide as the exact sum needs) or
in a declared float accumulator with one rounding per addition (``minifloat-float``, optionally rounding each
product to ``product`` first). NaN and Inf set sticky flags; the readout rounds once to the output format
(:mod:`~ristretto_sim.emulator.minifloat_mac` has the arithmetic)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ristretto_sim.emulator.datapaths.base import (
    NO_KEYS,
    AccumulatorContents,
    ArithmeticUnit,
    Datapath,
    Keys,
    Prepared,
)
from ristretto_sim.emulator.datapaths.layer_formats import LayerFormats
from ristretto_sim.emulator.datapaths.operation import LayerOp
from ristretto_sim.emulator.datapaths.readout import out_of_range
from ristretto_sim.emulator.datapaths.registry import register
from ristretto_sim.emulator.datapaths.results import LayerResult
from ristretto_sim.emulator.im2col import im2col_conv, pad_nhwc, patch_chunks, weight_matrix
from ristretto_sim.emulator.minifloat_mac import (
    MAX_KULISCH_BITS,
    kulisch_bits,
    kulisch_contents,
    kulisch_format,
    minifloat_matmul,
)
from ristretto_sim.emulator.wide import WideInt, digits_for
from ristretto_sim.formats import FixedPoint, Minifloat, fits_in
from ristretto_sim.formats.rounding import StochasticKey


@dataclass(frozen=True)
class _MinifloatMac(Datapath):
    """What both minifloat datapaths share: operands rounded to their formats (natural overflow), the MAC array
    run over im2col chunks, the readout inside the kernel."""

    def product_bits(self) -> int:
        """Sign, exponent and significand of an exact product (significand bits add, exponent range widens by
        one bit)."""
        fi, fw = self.inputs, self.weights
        return 1 + max(fi.exp_bits, fw.exp_bits) + 1 + (fi.man_bits + 1) + (fw.man_bits + 1)

    def encode_inputs(self, x: np.ndarray, keys: Keys):
        return self.inputs.quantize(x, self.formats.rounding, rng=keys.inputs)

    def kernel_accumulator(self, k: int):
        """What ``minifloat_matmul`` takes as ``accumulator`` (None: Kulisch)."""
        return None

    def prepare_weights(self, op: LayerOp, w, b, keys: Keys) -> Prepared:
        f = self.formats
        acc = self.accumulator_for(op.k, op.n_out)
        wq = f.weights.quantize(w, f.rounding, rng=keys.weights)
        bq = None
        if b is not None:
            bq = b if f.bias is None else f.bias.quantize(b, f.rounding, rng=keys.bias)
        bias_sat = 0 if b is None else out_of_range(b, f.bias)
        return Prepared(op, wq, bq, out_of_range(w, f.weights), bias_sat, acc)

    def accumulate(self, prepared: Prepared, x: np.ndarray, keys: Keys) -> AccumulatorContents:
        f, op = self.formats, prepared.op
        fin, fw, k = f.inputs, f.weights, op.k
        xq = self.encode_inputs(x, keys)
        wq, bq, kout = prepared.weights, prepared.bias, keys.outputs

        def mac(a_mat, w_mat, bias, offset=0):
            key = None if kout is None else StochasticKey(kout.seed, kout.offset + offset)
            return minifloat_matmul(a_mat, w_mat, fin, fw, accumulator=self.kernel_accumulator(k),
                                    product_format=f.product, bias=bias, readout=f.outputs, rounding=f.rounding,
                                    rng=key, check_operands=False)

        if op.linear:
            lead = xq.shape[:-1]
            res = mac(xq.reshape(-1, xq.shape[-1]), wq.T, bq)
            values = res.values.reshape(lead + (op.n_out,))
            nan, inf, name, sat = res.nan_count, res.inf_count, res.accumulator, res.saturations
        else:
            xd, wd, pad, gd = op.direct_operands(xq, wq)
            g = gd.groups
            bias = None if bq is None else bq.reshape(g, 1, wd.shape[0] // g)
            nan = inf = sat = offset = 0
            name = self.accumulator_name(k)

            def chunk(patches, wm):
                nonlocal nan, inf, sat, offset
                res = mac(patches, wm, bias, offset)
                offset += res.values.size * (2 * k + 4)  # stochastic draws of different chunks never overlap
                nan += res.nan_count
                inf += res.inf_count
                sat += res.saturations
                return res.values

            values = im2col_conv(xd, wd, pad, gd, np.float64, chunk)
        return AccumulatorContents(values, None, op.output_axis(values.ndim), self.accumulator_name(k, name),
                                   read_out=True, saturations=sat, nan=nan, inf=inf)

    def accumulator_name(self, k: int, kernel_name: str | None = None) -> str:
        return kernel_name if kernel_name is not None else str(self.accumulator_for(k))

    def kind_mismatch(self, layer: Datapath) -> str | None:
        """Why a layer of the other minifloat datapath does not run on this PE, with the fix (None if it is of
        this one)."""
        if layer.name == self.name:
            return None
        if isinstance(layer, MinifloatFloat) and isinstance(self, MinifloatKulisch):
            return (f"its {layer.formats.accumulator} accumulator rounds every addition; the PE accumulates exactly "
                    "in a Kulisch register: leave the layer's accumulator out to run it exactly")
        if isinstance(layer, MinifloatKulisch) and isinstance(self, MinifloatFloat):
            return (f"it accumulates exactly (no accumulator: a Kulisch register); the PE rounds every addition to "
                    f"{self.formats.accumulator}: declare accumulator: {self.formats.accumulator} for the layer to "
                    "run it on this PE, or describe the PE with a Kulisch register")
        return super().kind_mismatch(layer)

    def output_codes(self, values: np.ndarray):
        out = self.formats.outputs
        if isinstance(out, Minifloat) or (out is not None and not np.isnan(values).any()):
            return out.encode(values)  # values are on the grid: encoding is exact
        return None


@register
@dataclass(frozen=True)
class MinifloatKulisch(_MinifloatMac):
    """Minifloat MAC with an exact Kulisch accumulator (module docstring)."""

    name = "minifloat-kulisch"

    @classmethod
    def matches(cls, formats: LayerFormats) -> bool:
        return (
            isinstance(formats.inputs, Minifloat)
            and isinstance(formats.weights, Minifloat)
            and not isinstance(formats.accumulator, Minifloat)
        )

    def accumulator_for(self, k: int, n_out: int = 1) -> FixedPoint:
        width = kulisch_bits(self.inputs, self.weights, max(k, 1))
        if width > MAX_KULISCH_BITS:
            raise ValueError(
                f"a Kulisch accumulator for {self.inputs} x {self.weights} with K={k} needs {width} bits; at most "
                f"{MAX_KULISCH_BITS} are supported: declare a float accumulator (e.g. accumulator=fp32)"
            )
        need = kulisch_format(self.inputs, self.weights, max(k, 1))
        acc = self.formats.accumulator
        if acc is None:
            return need
        if acc.per_channel or acc.frac_bits != need.frac_bits or acc.bits < need.bits:
            raise ValueError(
                f"accumulator={acc}: a minifloat MAC's fixed-point accumulator is a Kulisch register and must hold "
                f"every sum exactly: for {self.inputs} x {self.weights} with K={k} that is {need} (at least "
                f"{need.bits} bits, fraction {need.frac_bits}); leave it out for that default, or declare a float "
                "accumulator (a Minifloat)"
            )
        return acc

    def accumulator_name(self, k: int, kernel_name: str | None = None) -> str:
        acc = self.formats.accumulator
        if acc is not None:
            self.accumulator_for(k)  # validated before the kernel runs
            return f"kulisch{acc.bits}"
        return f"kulisch{self.accumulator_for(k).bits}"

    def units(self, k: int, n_out: int = 1) -> tuple[ArithmeticUnit, ...]:
        acc = self.accumulator_for(k, n_out)
        return (
            ArithmeticUnit("float_mul", (self.input_bits, self.weight_bits), (self.inputs, self.weights)),
            ArithmeticUnit("int_add", (acc.bits,), (acc,)),
        )

    def run(self, prepared: Prepared, x, keys: Keys = NO_KEYS, *, codes: bool = True, float32_values: bool = False,
            accumulator: bool = False) -> LayerResult:
        """As ``Datapath.run``; with ``accumulator=True`` the Kulisch register's integer contents (codes of
        ``accumulator_for(K)``, a ``WideInt``) come back in ``LayerResult.accumulator`` (a second, exact pass)."""
        res = super().run(prepared, x, keys, codes=codes, float32_values=float32_values)
        if not accumulator:
            return res
        return replace(res, accumulator=self.contents(prepared, x.astype(np.float64, copy=False), keys))

    def contents(self, prepared: Prepared, x: np.ndarray, keys: Keys) -> AccumulatorContents:
        """The Kulisch register after the last product, per output (NCHW / (..., N)), as integer codes."""
        f, op = self.formats, prepared.op
        k = op.k
        reg = self.accumulator_for(k, op.n_out)
        xq = self.encode_inputs(x, keys)
        wq, bq, kout = prepared.weights, prepared.bias, keys.outputs

        def regs(a_mat, w_mat, bias, offset=0):
            key = None if kout is None else StochasticKey(kout.seed, kout.offset + offset)
            return kulisch_contents(a_mat, w_mat, f.inputs, f.weights, bias=bias, rounding=f.rounding, rng=key)

        if op.linear:
            lead = xq.shape[:-1]
            codes = regs(xq.reshape(-1, xq.shape[-1]), wq.T, bq).resize(digits_for(reg.bits))
            codes = codes.reshape(lead + (op.n_out,))
        else:
            xd, wd, pad, gd = op.direct_operands(xq, wq)
            g = gd.groups
            bias = None if bq is None else bq.reshape(g, 1, wd.shape[0] // g)
            n, _, h, wdt = xd.shape
            o, _, kh, kw = wd.shape
            ho, wo = gd.output_size(h, wdt, kh, kw, pad)
            wm = weight_matrix(wd, g)
            out = WideInt.zeros(digits_for(reg.bits), (n, ho, wo, o))
            offset = 0
            for bs, ys, patches in patch_chunks(pad_nhwc(xd, pad), kh, kw, gd, (ho, wo), np.float64):
                r = regs(patches, wm, bias, offset).resize(out.n)  # (g, P, O/g)
                offset += r.size * (2 * k + 4)  # the keys minifloat_matmul's chunks used
                nb, yb = bs.stop - bs.start, ys.stop - ys.start
                out.digits[:, bs, ys] = r.digits.transpose(0, 2, 1, 3).reshape(-1, nb, yb, wo, o)
            codes = out.transpose(0, 3, 1, 2)
        frac = np.full(op.n_out, reg.frac_bits, dtype=np.int64)
        return AccumulatorContents(codes, frac, op.output_axis(codes.ndim), f"kulisch{reg.bits}")

    def accumulator_mismatch(self, layer: Datapath, k: int, n_out: int = 1) -> str | None:
        """A Kulisch register is positioned: the layer's register must fit in the PE's on both ends (as many
        integer bits, a fraction no finer)."""
        mine, theirs = self.formats.accumulator or self.accumulator_for(k, n_out), layer.accumulator_for(k, n_out)
        if theirs.bits - theirs.frac_bits > mine.bits - mine.frac_bits or theirs.frac_bits > mine.frac_bits:
            return f"its Kulisch accumulator {theirs} does not fit the PE's Kulisch register {mine}"
        return None

    def widest_accumulator(self, accumulators, inputs, weights) -> FixedPoint:
        """The Kulisch register of the widest formats, with as many integer bits as the widest layer register."""
        frac = kulisch_format(inputs, weights, 1).frac_bits
        int_bits = max(a.bits - a.frac_bits for a in accumulators)
        return FixedPoint(int_bits + frac, frac)


@register
@dataclass(frozen=True)
class MinifloatFloat(_MinifloatMac):
    """Minifloat MAC with a float accumulator (module docstring)."""

    name = "minifloat-float"

    @classmethod
    def matches(cls, formats: LayerFormats) -> bool:
        return (
            isinstance(formats.inputs, Minifloat)
            and isinstance(formats.weights, Minifloat)
            and isinstance(formats.accumulator, Minifloat)
        )

    def accumulator_for(self, k: int, n_out: int = 1) -> Minifloat:
        return self.formats.accumulator

    def kernel_accumulator(self, k: int):
        return self.formats.accumulator

    def product_bits(self) -> int:
        p = self.formats.product
        return super().product_bits() if p is None else p.bits

    def accumulator_mismatch(self, layer: Datapath, k: int, n_out: int = 1) -> str | None:
        """The accumulator fits (base rule), and the layer's rounded products fit the PE's: a PE with exact
        products serves every layer; a PE rounding to ``product`` serves layers rounding to a format that fits it."""
        reason = super().accumulator_mismatch(layer, k, n_out)
        if reason is not None or self.formats.product is None:
            return reason
        if layer.formats.product is None:
            return (f"the layer's products are exact; the {self.name} PE rounds them to {self.formats.product} "
                    "(describe the PE with exact products: no pe.product)")
        if not fits_in(layer.formats.product, self.formats.product):
            return (f"product format {layer.formats.product} does not fit the {self.name} PE's product datapath "
                    f"{self.formats.product}")
        return None

    def units(self, k: int, n_out: int = 1) -> tuple[ArithmeticUnit, ...]:
        acc = self.formats.accumulator
        return (
            ArithmeticUnit("float_mul", (self.input_bits, self.weight_bits), (self.inputs, self.weights)),
            ArithmeticUnit("float_add", (acc.bits,), (acc,)),
        )
