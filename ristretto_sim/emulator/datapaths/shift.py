"""The shift-and-add datapath: fixed-point inputs times power-of-two weights through a barrel shifter of a
declared width (``LayerFormats.shifter_bits``) into a ``FixedPoint`` accumulator
(:mod:`~ristretto_sim.emulator.shift_pe` has the arithmetic and what falls off both ends of the shifter)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ristretto_sim.emulator.accumulator import accumulate as accumulate_products
from ristretto_sim.emulator.conv import conv_accumulate
from ristretto_sim.emulator.datapaths.base import AccumulatorContents, ArithmeticUnit, Datapath, Keys, Prepared
from ristretto_sim.emulator.datapaths.fixed import bias_preload, fast_fixed_result
from ristretto_sim.emulator.datapaths.layer_formats import LayerFormats
from ristretto_sim.emulator.datapaths.operation import LayerKind, LayerOp
from ristretto_sim.emulator.datapaths.readout import out_of_range
from ristretto_sim.emulator.datapaths.registry import register
from ristretto_sim.emulator.fast_fixed import prepare_fast_fixed
from ristretto_sim.emulator.im2col import weight_matrix
from ristretto_sim.emulator.shift_pe import (
    ShiftPE,
    check_shift_accumulator,
    default_shift_accumulator,
    resolve_shifter,
    shift_products,
    weight_shift_codes,
)
from ristretto_sim.formats import FixedPoint, PowerOfTwo


@register
@dataclass(frozen=True)
class ShiftAdd(Datapath):
    """Shift-and-add PE (module docstring)."""

    name = "shift"

    @classmethod
    def matches(cls, formats: LayerFormats) -> bool:
        return isinstance(formats.inputs, FixedPoint) and isinstance(formats.weights, PowerOfTwo)

    @property
    def shifter(self) -> ShiftPE:
        return ShiftPE(self.formats.shifter_bits)

    @property
    def shifter_bits(self) -> int:
        """The barrel shifter's output width (the lossless width when none is declared)."""
        fw = self.weights
        lossless = self.input_bits + fw.exp_max - fw.exp_min
        return lossless if self.formats.shifter_bits is None else self.formats.shifter_bits

    def accumulator_for(self, k: int, n_out: int = 1) -> FixedPoint:
        acc = self.formats.accumulator
        acc = default_shift_accumulator(self.inputs, self.weights, k) if acc is None else acc
        return check_shift_accumulator(acc, self.inputs, self.weights)

    def product_bits(self) -> int:
        return self.shifter_bits

    def units(self, k: int, n_out: int = 1) -> tuple[ArithmeticUnit, ...]:
        acc = self.accumulator_for(k, n_out)
        return (
            ArithmeticUnit("shift", (self.input_bits, self.weights.shift_range), (self.inputs, self.weights)),
            ArithmeticUnit("int_add", (acc.bits,), (acc,)),
        )

    def accepts(self, layer: Datapath, k: int, n_out: int = 1) -> str | None:
        reason = super().accepts(layer, k, n_out)
        if reason is None and layer.shifter_bits > self.shifter_bits:
            return f"its {layer.shifter_bits}-bit shifter does not fit the PE's {self.shifter_bits}-bit shifter"
        return reason

    def prepare_weights(self, op: LayerOp, w, b, keys: Keys) -> Prepared:
        f = self.formats
        if f.inputs.per_channel:
            raise ValueError(f"inputs={f.inputs} cannot be per-channel")
        acc = self.accumulator_for(op.k, op.n_out)
        acc_frac = np.full(op.n_out, acc.frac_bits, dtype=np.int64)
        bias_codes, bias_sat = bias_preload(b, f, acc, acc_frac, keys.bias)
        if op.linear:
            wcode, t_min = weight_shift_codes(w, f.weights, f.inputs, acc, f.rounding, keys.weights)
            held = (wcode.T, t_min)
        else:
            held = f.weights.quantize(w, f.rounding, rng=keys.weights)  # round once; the direct form reorders
            wcode, t_min = weight_shift_codes(held, f.weights, f.inputs, acc)
        fast = None
        _, lossless = resolve_shifter(self.shifter, f.inputs, f.weights, acc)
        if lossless and op.kind is not LayerKind.CONV_TRANSPOSE2D:
            # nothing falls off the shifter: every product is a * (+-2**t), an integer GEMM with those weights, so
            # the fixed-point fast path computes it (with its own no-overflow bounds)
            w_int = np.where(wcode == 0, 0, np.sign(wcode) * (np.int64(1) << np.clip(np.abs(wcode) + t_min - 1, 0, 62)))
            fast = prepare_fast_fixed(op.kind.value, w_int, bias_codes, f, acc, acc_frac, op.geometry)
        return Prepared(op, held, bias_codes, out_of_range(w, f.weights), bias_sat, acc, (acc_frac, fast))

    def fast_run(self, prepared: Prepared, x, keys: Keys, codes: bool, float32_values: bool):
        return fast_fixed_result(self, prepared, prepared.extra[1], x, keys, codes, float32_values)

    def accumulate(self, prepared: Prepared, x: np.ndarray, keys: Keys) -> AccumulatorContents:
        f, op, acc, pe = self.formats, prepared.op, prepared.accumulator, self.shifter
        fin, fw = f.inputs, f.weights
        xc = self.encode_inputs(x, keys)
        if op.linear:
            wcode_t, t_min = prepared.weights
            lead = xc.shape[:-1]
            prods = shift_products(xc.reshape(-1, xc.shape[-1]), wcode_t, t_min, pe, fin, fw, acc)
            r = accumulate_products(prods, prepared.bias, acc, f.overflow)
            acc_codes = r.codes.reshape(lead + (op.n_out,))
        else:
            xd, wd, pad, gd = op.direct_operands(xc, prepared.weights)
            wcode, t_min = weight_shift_codes(wd, fw, fin, acc)
            r = conv_accumulate(
                xd,
                wd,
                pad,
                gd,
                acc,
                f.overflow,
                prepared.bias,
                products_cls=lambda p, m: shift_products(p, m, t_min, pe, fin, fw, acc),
                w_matrix=weight_matrix(wcode, gd.groups),
            )
            acc_codes = r.codes
        return AccumulatorContents(acc_codes, prepared.extra[0], op.output_axis(acc_codes.ndim), str(acc),
                                   overflows=r.overflow_count)
