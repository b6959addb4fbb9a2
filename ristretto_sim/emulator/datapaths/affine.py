"""The affine integer MAC datapath: TensorFlow Lite's int8 arithmetic (the reference kernels, TFLite Micro's).

Operands are affine codes (``formats.Affine``): a product is ``(x - z_x) * (w - z_w)`` of the codes minus their zero
points (a 9-bit by 8-bit multiplier for int8 activations and symmetric int8 weights), summed over K into an int32
accumulator with the int32 bias codes added (TFLite adds the bias after the sum; integer addition makes the order
immaterial); the accumulator wraps as a 32-bit register does (``accumulator_overflows`` counts the outputs whose
exact sum left int32). Requantization is TFLite's, per output channel (``reference_integer_ops/conv.h``,
``fully_connected.h``, ``depthwise_conv.h``): the real multiplier ``s_x * s_w[c] / s_y`` becomes a Q31 significand
``M0`` and a shift (``gemmlowp.quantize_multiplier``), the accumulator is multiplied by
``MultiplyByQuantizedMultiplier``, the output zero point is added and the result clamped to the output codes.
Convolutions (and depthwise ones) round twice, gemmlowp's doubling high multiply then a rounding right shift;
fully connected layers round once, ``(acc * M0 + 2**(30 - shift)) >> (31 - shift)``, the ``TFLITE_SINGLE_ROUNDING``
form. That split is measured, not documented: against ``ai-edge-litert`` 2.3's reference kernels, the double
rounding differs on 378 of 50,160 fully connected outputs of the MLPerf Tiny autoencoder and the single rounding on
none; on the 694,656 convolution outputs of three VWW inputs the double rounding differs on none and the single on
1,399. A fused ReLU / ReLU6 of the model is the clamp of the next layer
(``emulator.affine_ops.activation_range``), so this readout clamps to the output format's range only.

The real multiplier is formed as TFLite forms it: convolutions multiply the float32 scales in double precision
(``PopulateConvolutionQuantizationParams``); a fully connected layer with one weight scale multiplies
``s_x * s_w`` in float32 first (``GetQuantizedConvolutionMultipler``), then divides in double (on the autoencoder
the double product gives the same outputs: the two ``M0`` differ by a few parts in 10**8).

The layer's ``rounding`` names the requantizer: ``nearest_away`` is TFLite's fixed-point one above (gemmlowp rounds
ties away from zero; the plan of an imported TFLite model says so), ``nearest_even`` ONNX's (``QLinearConv``,
``QLinearMatMul`` as ``onnx.reference`` computes them): the real multiplier ``s_x * s_w / s_y`` evaluated in
float32, the int32 sum times it in float64, plus the zero point, clamped, rounded half to even (``rint``).

The sums are formed in float64 GEMMs of the integer operands, exact because ``K * 255 * 255 < 2**53`` for every
K below 2**37 (checked per layer).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ristretto_sim.emulator.datapaths.base import NO_KEYS, AccumulatorContents, ArithmeticUnit, Datapath, Keys, Prepared
from ristretto_sim.emulator.datapaths.layer_formats import LayerFormats
from ristretto_sim.emulator.datapaths.operation import LayerKind, LayerOp
from ristretto_sim.emulator.datapaths.readout import out_of_range
from ristretto_sim.emulator.datapaths.registry import register
from ristretto_sim.emulator.gemmlowp import (
    multiply_by_quantized_multiplier,
    multiply_by_quantized_multiplier_single_round,
    quantize_multiplier,
    wrap_int32,
)
from ristretto_sim.emulator.im2col import im2col_conv_nchw, pad_nchw
from ristretto_sim.enums import NamedEnum
from ristretto_sim.formats import Affine, FixedPoint, Overflow, Rounding

#: TFLite's accumulator: a 32-bit register
INT32 = FixedPoint(32, 0)
#: largest |sum| a float64 GEMM of integers holds exactly
EXACT_FLOAT64 = 2**53


class ZeroPoint(NamedEnum):
    """How an affine PE handles the input zero point: ``subtract`` it in every PE (a ``(bits + 1)``-wide multiplier
    operand, TFLite's reference kernels; the zero points constants of the PE), ``register``: subtract the zero points
    held in two configuration registers loaded per layer (one PE serves every layer), or ``fold`` ``z_a * sum_k w_k``
    into the bias offline (gemmlowp's offsets, CMSIS-NN's ``arm_vector_sum_s8``: the PE multiplies the raw codes).
    The results are the same."""

    SUBTRACT = "subtract"
    FOLD = "fold"
    REGISTER = "register"


def requantization(in_fmt: Affine, w_fmt: Affine, out_fmt: Affine, n_out: int, float32_product: bool):
    """``(M0, shift)`` int64 arrays, one per output channel, of TFLite's multiplier ``s_x * s_w[c] / s_y``."""
    s_w = np.broadcast_to(w_fmt.scale_array(), (n_out,))
    ms, shifts = [], []
    for sw in s_w:
        if float32_product:
            real = float(np.float32(in_fmt.scale) * np.float32(sw)) / out_fmt.scale
        else:
            real = in_fmt.scale * float(sw) / out_fmt.scale
        m, s = quantize_multiplier(real)
        ms.append(m)
        shifts.append(s)
    return np.asarray(ms, dtype=np.int64), np.asarray(shifts, dtype=np.int64)


@dataclass(frozen=True, eq=False)
class AffineWeights:
    """Prepared weights: ``(w - z_w)`` as float64 integers, the per-channel multipliers and shifts."""

    centred: np.ndarray
    multiplier: np.ndarray
    shift: np.ndarray


@register
@dataclass(frozen=True)
class AffineMac(Datapath):
    """Affine integer multiply-accumulate with TFLite's requantization (module docstring)."""

    name = "affine"

    @classmethod
    def matches(cls, formats: LayerFormats) -> bool:
        return isinstance(formats.inputs, Affine) and isinstance(formats.weights, Affine)

    def validate(self) -> None:
        f = self.formats
        if f.inputs.per_channel:
            raise ValueError(f"inputs {f.inputs.short()}: affine activations take one scale per tensor")
        if not isinstance(f.outputs, Affine) or f.outputs.per_channel:
            raise ValueError(f"outputs={f.outputs}: an affine layer needs a per-tensor affine output format "
                             "(e.g. affine8[s=0.05,z=-128])")
        if f.weights.per_channel and f.weights.axis != 0:
            raise ValueError(f"weights {f.weights.short()}: per-channel weight scales must run along the output "
                             "channels (axis 0 of OIHW / (out, in) weights)")
        if f.bias is not None and not isinstance(f.bias, Affine):
            raise ValueError(f"bias={f.bias}: an affine layer's bias is an affine int32 format")
        if f.rounding not in (Rounding.NEAREST_AWAY, Rounding.NEAREST_EVEN):
            raise ValueError(f"rounding={f.rounding.value}: an affine layer requantizes as TFLite (nearest_away) or "
                             "as ONNX (nearest_even)")
        acc = f.accumulator
        if acc is not None and acc != INT32:
            raise ValueError(f"accumulator={acc}: TFLite's integer kernels accumulate in int32 (fixed32.0)")

    def accumulator_for(self, k: int, n_out: int = 1) -> FixedPoint:
        return INT32

    def product_bits(self) -> int:
        return self.input_bits + 1 + self.weight_bits + (0 if self._symmetric_weights() else 1)

    def _symmetric_weights(self) -> bool:
        return not np.any(self.weights.zero_point_array())

    def units(self, k: int, n_out: int = 1) -> tuple[ArithmeticUnit, ...]:
        # (x - z_x) needs one bit more than x; symmetric weights (z_w = 0, TFLite's int8 rule) enter as they are
        wb = self.weight_bits + (0 if self._symmetric_weights() else 1)
        return (
            ArithmeticUnit("int_mul", (self.input_bits + 1, wb), (self.inputs, self.weights)),
            ArithmeticUnit("int_add", (32,), (INT32,)),
        )

    def folded_units(self, k: int, n_out: int = 1) -> tuple[ArithmeticUnit, ...]:
        """``units`` of the PE with the zero points folded (``folded_bias``): a multiplier of the raw codes and the
        int32 adder; asymmetric weights (z_w != 0) add the row-sum adder, one int32 add of the input code per MAC
        (gemmlowp's per-output sum of activations, priced per PE: no sharing across output channels)."""
        units = (
            ArithmeticUnit("int_mul", (self.input_bits, self.weight_bits), (self.inputs, self.weights)),
            ArithmeticUnit("int_add", (32,), (INT32,)),
        )
        return units if self._symmetric_weights() else units + (ArithmeticUnit("int_add", (32,), (INT32,)),)

    def folded_readout_units(self) -> tuple[ArithmeticUnit, ...]:
        """``readout_units`` with the zero points folded: the requantizer, and for asymmetric weights the row-sum
        correction once per output (``z_w * sum_k a_k``: a 32 x weight-bits multiply and a 32-bit subtract)."""
        units = self.readout_units()
        if self._symmetric_weights():
            return units
        return (ArithmeticUnit("int_mul", (32, self.weight_bits), (INT32, self.weights)),
                ArithmeticUnit("int_add", (32,), (INT32,))) + units

    def readout_units(self) -> tuple[ArithmeticUnit, ...]:
        # the requantizer, once per output element: a 32x32 high multiply by M0 (SaturatingRoundingDoublingHighMul),
        # its rounding nudge add, the rounding right shift (RoundingDivideByPOT: a 32-bit barrel shifter over 32
        # positions and its rounding add), the output zero-point add, and the clamp (two comparators: adders)
        out = self.formats.outputs.bits
        return (
            ArithmeticUnit("int_mul", (32, 32), (INT32, INT32)),
            ArithmeticUnit("int_add", (32,), (INT32,)),
            ArithmeticUnit("shift", (32, 32), (INT32,)),
            ArithmeticUnit("int_add", (32,), (INT32,)),
            ArithmeticUnit("int_add", (32,), (INT32,)),
            ArithmeticUnit("int_add", (out,), (self.formats.outputs,)),
            ArithmeticUnit("int_add", (out,), (self.formats.outputs,)),
        )

    def prepare_weights(self, op: LayerOp, w, b, keys: Keys) -> Prepared:
        self.validate()
        f = self.formats
        if op.kind is LayerKind.CONV_TRANSPOSE2D:
            raise ValueError("the affine datapath computes convolutions and fully connected layers, not transposed "
                             "convolutions")
        if f.weights.per_channel and f.weights.channels != op.n_out:
            raise ValueError(f"weights {f.weights.short()} has {f.weights.channels} scales for {op.n_out} output "
                             "channels")
        if op.k * (f.inputs.max_code - f.inputs.min_code) * max(abs(f.weights.min_code), f.weights.max_code) * 2 \
                >= EXACT_FLOAT64:
            raise ValueError(f"reduction length {op.k} is too long for an exact float64 sum")
        codes = f.weights.encode(w, Rounding.NEAREST_EVEN, Overflow.SATURATE)
        zw = f.weights.zero_point_array().reshape((-1,) + (1,) * (codes.ndim - 1))
        centred = (codes - zw).astype(np.float64)
        bias_codes = None
        if b is not None:
            scales = tuple(f.inputs.scale * s for s in f.weights.scale_array())  # TFLite's bias scale
            bfmt = f.bias or Affine(32, scales if f.weights.per_channel else scales[0])
            bias_codes = bfmt.encode(b, Rounding.NEAREST_EVEN, Overflow.SATURATE)
        float32_product = op.linear and not f.weights.per_channel
        m, s = requantization(f.inputs, f.weights, f.outputs, op.n_out, float32_product)
        return Prepared(op, AffineWeights(centred, m, s), bias_codes, out_of_range(w, f.weights),
                        out_of_range(b, f.bias) if b is not None else 0, INT32)

    def encode_inputs(self, x: np.ndarray, keys: Keys):
        return self.formats.inputs.encode(x, Rounding.NEAREST_AWAY, Overflow.SATURATE)

    def accumulate(self, prepared: Prepared, x: np.ndarray, keys: Keys) -> AccumulatorContents:
        op, wts = prepared.op, prepared.weights
        xc = (self.encode_inputs(x, keys) - self.formats.inputs.zero_point).astype(np.float64)
        if op.linear:
            lead = xc.shape[:-1]
            acc = (xc.reshape(-1, xc.shape[-1]) @ wts.centred.T).reshape(lead + (op.n_out,))
        else:
            acc = im2col_conv_nchw(xc, wts.centred, op.geometry.padding, op.geometry, np.float64)
        axis = op.output_axis(acc.ndim)
        acc = acc.astype(np.int64)
        if prepared.bias is not None:
            shape = [1] * acc.ndim
            shape[axis] = op.n_out
            acc = acc + prepared.bias.reshape(shape)
        wrapped = wrap_int32(acc)
        overflows = int(np.count_nonzero(wrapped != acc))
        return AccumulatorContents(wrapped, np.zeros(op.n_out, dtype=np.int64), axis, str(INT32),
                                   overflows=overflows)

    def folded_bias(self, prepared: Prepared) -> np.ndarray:
        """The int32 bias of the folded datapath (``folded_units``), one per output channel: ``b - z_x * sum_k w_k
        + K * z_x * z_w`` of the weight codes, wrapped to int32 as the register holds it. The PE then sums the raw
        code products ``x * w`` onto it, and with asymmetric weights ``- z_w * sum_k x_k`` (``row_sums``). The
        identity ``sum (x - z_x)(w - z_w) = sum x w - z_w sum x - z_x sum w + K z_x z_w`` is exact in the integers,
        so modulo 2**32 the folded sum equals ``accumulate``'s wrapped one whatever the intermediate values."""
        op, wts = prepared.op, prepared.weights
        zw = self.weights.zero_point_array().astype(np.int64)
        codes = wts.centred.astype(np.int64) + zw.reshape((-1,) + (1,) * (wts.centred.ndim - 1))
        w_sums = codes.reshape(op.n_out, -1).sum(axis=1)
        za = int(self.inputs.zero_point)
        k = codes[0].size
        bias = np.zeros(op.n_out, np.int64) if prepared.bias is None else prepared.bias.astype(np.int64)
        return wrap_int32(bias - za * w_sums + k * za * np.broadcast_to(zw, (op.n_out,)))

    def raw_products(self, prepared: Prepared, x: np.ndarray, keys: Keys) -> tuple[np.ndarray, np.ndarray, int]:
        """``(sum_k x_k w_k, sum_k x_k, axis)`` of the raw codes (padding holds the input zero point, the code of
        0.0, as TFLite pads), int64: what the folded PE sums and its row-sum unit."""
        op, wts = prepared.op, prepared.weights
        za = int(self.inputs.zero_point)
        zw = self.weights.zero_point_array().reshape((-1,) + (1,) * (wts.centred.ndim - 1))
        w = wts.centred + zw
        xc = (self.encode_inputs(x, keys) - za).astype(np.float64)
        if op.linear:
            lead = xc.shape[:-1]
            raw = xc.reshape(-1, xc.shape[-1]) + za
            acc = (raw @ w.T).reshape(lead + (op.n_out,))
            sums = np.broadcast_to(raw.sum(axis=1).reshape(lead + (1,)), acc.shape)
        else:
            raw = pad_nchw(xc, op.geometry.padding, np.float64) + za
            nopad = (0, 0, 0, 0)
            acc = im2col_conv_nchw(raw, w, nopad, op.geometry, np.float64)
            sums = im2col_conv_nchw(raw, np.ones_like(w), nopad, op.geometry, np.float64)
        return acc.astype(np.int64), np.asarray(sums).astype(np.int64), op.output_axis(acc.ndim)

    def accumulate_folded(self, prepared: Prepared, x: np.ndarray, keys: Keys = NO_KEYS) -> AccumulatorContents:
        """``accumulate`` as the folded datapath computes it: ``folded_bias`` plus the raw code products, minus
        ``z_w`` times the row sums for asymmetric weights, wrapped to int32 (bit for bit ``accumulate``'s codes)."""
        op = prepared.op
        acc, sums, axis = self.raw_products(prepared, x, keys)
        shape = [1] * acc.ndim
        shape[axis] = op.n_out
        zw = np.broadcast_to(self.weights.zero_point_array().astype(np.int64), (op.n_out,)).reshape(shape)
        wrapped = wrap_int32(acc - zw * sums + self.folded_bias(prepared).reshape(shape))
        return AccumulatorContents(wrapped, np.zeros(op.n_out, dtype=np.int64), axis, str(INT32))

    def readout(self, prepared: Prepared, acc: AccumulatorContents, keys: Keys):
        f, wts = self.formats, prepared.weights
        out = f.outputs
        shape = [1] * acc.codes.ndim
        shape[acc.axis] = -1
        if f.rounding is Rounding.NEAREST_EVEN:  # ONNX: a float32 multiplier, float64 product, rint
            m32 = (np.float32(f.inputs.scale) * f.weights.scale_array().astype(np.float32)) / np.float32(out.scale)
            r = acc.codes.astype(np.float64) * m32.astype(np.float64).reshape(shape) + float(out.zero_point)
            codes = np.rint(np.clip(r, out.min_code, out.max_code)).astype(np.int64)
            saturations = int(np.count_nonzero((r < out.min_code - 0.5) | (r > out.max_code + 0.5)))
            return out.decode(codes), codes, saturations
        scale = multiply_by_quantized_multiplier_single_round if prepared.op.linear else \
            multiply_by_quantized_multiplier
        y = scale(acc.codes, wts.multiplier.reshape(shape), wts.shift.reshape(shape))
        y = y + out.zero_point
        codes = np.clip(y, out.min_code, out.max_code)
        saturations = int(np.count_nonzero(codes != y))
        return out.decode(codes), codes, saturations
