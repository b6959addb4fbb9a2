"""The fixed-point MAC datapath: fixed-point inputs times fixed-point weights, exact products, a declared
``FixedPoint`` accumulator with wrap or per-addition saturation, the bias preloaded, a rounding shift into the
output format (:mod:`~ristretto_sim.emulator.fixed_gemm`, :mod:`~ristretto_sim.emulator.conv`; the fast exact
path of :mod:`~ristretto_sim.emulator.fast_fixed` where its bounds prove it bit-identical)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ristretto_sim.emulator.accumulator import bias_to_accumulator, check_accumulator, default_accumulator
from ristretto_sim.emulator.conv import fixed_conv2d, fixed_conv_transpose2d
from ristretto_sim.emulator.datapaths.base import (
    AccumulatorContents,
    ArithmeticUnit,
    Datapath,
    Keys,
    Prepared,
)
from ristretto_sim.emulator.datapaths.layer_formats import LayerFormats, Mode
from ristretto_sim.emulator.datapaths.operation import LayerKind, LayerOp
from ristretto_sim.emulator.datapaths.readout import out_of_range
from ristretto_sim.emulator.datapaths.registry import register
from ristretto_sim.emulator.datapaths.results import LayerResult, LayerStats
from ristretto_sim.emulator.fast_fixed import prepare_fast_fixed
from ristretto_sim.emulator.fixed_gemm import fixed_matmul
from ristretto_sim.formats import FixedPoint, Overflow


def bias_preload(b, formats: LayerFormats, acc: FixedPoint, acc_frac: np.ndarray, key):
    """The bias quantized to ``formats.bias`` (if any), then rounded and clamped into the accumulator:
    ``(codes or None, saturations)``, the saturations counting values outside ``formats.bias`` and values
    clamped into the accumulator."""
    if b is None:
        return None, 0
    bq = b if formats.bias is None else formats.bias.quantize(b, formats.rounding, Overflow.SATURATE, key)
    codes, clamped = bias_to_accumulator(bq, acc, acc_frac, formats.rounding, key)
    return codes, out_of_range(b, formats.bias) + clamped


def fast_fixed_result(dp: Datapath, prepared: Prepared, fast, x, keys: Keys, codes: bool, float32_values: bool):
    """The layer on the fast exact path (:mod:`~ristretto_sim.emulator.fast_fixed`) as a ``LayerResult``, or None
    when it does not apply (no ``fast`` layer, stochastic keys, or bounds that fail for this batch). Shared by the
    datapaths whose integer products a fixed-point GEMM computes exactly (fixed-point MAC, lossless shift PE)."""
    if fast is None or not keys.deterministic:
        return None
    op = prepared.op
    xin = x.reshape(-1, x.shape[-1]) if op.linear else x
    res = fast.run(xin, codes and dp.formats.outputs is not None, float32_values)
    if res is None:
        return None
    values, out_codes, out_sat, in_sat, overflows = res
    if op.linear:
        values = values.reshape(x.shape[:-1] + (op.n_out,))
        out_codes = None if out_codes is None else out_codes.reshape(values.shape)
    stats = LayerStats(
        mode=Mode.EXACT,
        datapath=dp.name,
        accumulator=str(prepared.accumulator),
        outputs=int(values.size),
        macs=int(values.size) * op.k,
        accumulator_overflows=overflows,
        output_saturations=out_sat,
        input_saturations=in_sat,
        weight_saturations=prepared.weight_saturations,
        bias_saturations=prepared.bias_saturations,
    )
    return LayerResult(values, stats, out_codes)


@dataclass(frozen=True, eq=False)
class FixedWeights:
    """The fixed-point datapath's prepared weights: codes, the accumulator's per-channel fraction, the fast
    path (None where it cannot apply)."""

    codes: np.ndarray
    acc_frac: np.ndarray
    fast: object


@register
@dataclass(frozen=True)
class FixedMac(Datapath):
    """Fixed-point multiply-accumulate (module docstring)."""

    name = "fixed"

    @classmethod
    def matches(cls, formats: LayerFormats) -> bool:
        return isinstance(formats.inputs, FixedPoint) and isinstance(formats.weights, FixedPoint)

    def accumulator_for(self, k: int, n_out: int = 1) -> FixedPoint:
        acc = self.formats.accumulator
        if acc is None:
            return default_accumulator(self.inputs, self.weights, k, n_out)
        if not isinstance(acc, FixedPoint):
            raise TypeError(f"accumulator={acc} must be a FixedPoint for fixed-point inputs and weights")
        return acc

    def product_bits(self) -> int:
        return self.input_bits + self.weight_bits

    def validate(self) -> None:
        """A declared per-tensor accumulator must have the fraction of the products (``in + w``)."""
        i, w, a = self.inputs, self.weights, self.formats.accumulator
        if a is None or not isinstance(a, FixedPoint) or i.per_channel or w.per_channel or a.per_channel:
            return
        if a.frac_bits != i.frac_bits + w.frac_bits:
            raise ValueError(
                f"accumulator {a} must have inputs + weights fractional bits ({i.frac_bits} + {w.frac_bits} = "
                f"{i.frac_bits + w.frac_bits}), e.g. fixed{a.bits}.{i.frac_bits + w.frac_bits}"
            )

    def units(self, k: int, n_out: int = 1) -> tuple[ArithmeticUnit, ...]:
        acc = self.accumulator_for(k, n_out)
        return (
            ArithmeticUnit("int_mul", (self.input_bits, self.weight_bits), (self.inputs, self.weights)),
            ArithmeticUnit("int_add", (acc.bits,), (acc,)),
        )

    def resolve(self, op: LayerOp):
        """``(accumulator, its per-channel fraction)`` for ``op``, checked against the contract."""
        fin, fw = self.inputs, self.weights
        acc = self.accumulator_for(op.k, op.n_out)
        if op.kind is LayerKind.CONV_TRANSPOSE2D and fw.per_channel:
            raise ValueError(f"weights={fw}: per-channel weight formats are not supported for transposed convolutions")
        return acc, check_accumulator(acc, fin, fw, op.n_out)

    def prepare_weights(self, op: LayerOp, w, b, keys: Keys) -> Prepared:
        f = self.formats
        acc, acc_frac = self.resolve(op)
        wc = f.weights.encode(w, f.rounding, Overflow.SATURATE, keys.weights)
        bias_codes, bias_sat = bias_preload(b, f, acc, acc_frac, keys.bias)
        fast = None
        if op.kind is not LayerKind.CONV_TRANSPOSE2D:
            fast = prepare_fast_fixed(op.kind.value, wc, bias_codes, f, acc, acc_frac, op.geometry)
        return Prepared(op, FixedWeights(wc, acc_frac, fast), bias_codes, out_of_range(w, f.weights), bias_sat, acc)

    def fast_run(self, prepared: Prepared, x, keys: Keys, codes: bool, float32_values: bool):
        return fast_fixed_result(self, prepared, prepared.weights.fast, x, keys, codes, float32_values)

    def accumulate(self, prepared: Prepared, x: np.ndarray, keys: Keys) -> AccumulatorContents:
        f, op, acc = self.formats, prepared.op, prepared.accumulator
        xc = self.encode_inputs(x, keys)
        wc, bias_codes = prepared.weights.codes, prepared.bias
        if op.linear:
            lead = xc.shape[:-1]
            r = fixed_matmul(xc.reshape(-1, xc.shape[-1]), wc.T, f.inputs, f.weights, accumulator=acc,
                             overflow=f.overflow, bias_codes=bias_codes)
            acc_codes = r.codes.reshape(lead + (op.n_out,))
        else:
            conv = fixed_conv2d if op.kind is LayerKind.CONV2D else fixed_conv_transpose2d
            r = conv(xc, wc, f.inputs, f.weights, op.geometry, accumulator=acc, overflow=f.overflow,
                     bias_codes=bias_codes)
            acc_codes = r.codes
        return AccumulatorContents(acc_codes, prepared.weights.acc_frac, op.output_axis(acc_codes.ndim), str(acc),
                                   overflows=r.overflow_count)
