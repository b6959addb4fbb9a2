"""Bit-accurate tensor arithmetic given formats: what fixed-point, minifloat and shift-and-add hardware
computes.

Layer level (what the network executor calls)
-------------------------------------------
``emulate_layer(kind, x, weights, bias, formats, geometry=None, *, mode="exact", rng=None, cpu_compat=False,
shift_pe=None)`` and its shorthands ``emulate_linear``, ``emulate_conv2d``, ``emulate_conv_transpose2d`` take
**float** tensors (input NCHW or ``(N, features)``, weights OIHW / ``(out, in)`` / ``(C_in, C_out/groups, kh,
kw)``, bias one value per output channel) and a :class:`LayerFormats`::

    from ristretto_sim.emulator import ConvGeometry, LayerFormats, emulate_conv2d
    from ristretto_sim.formats import FixedPoint

    fmts = LayerFormats(inputs=FixedPoint(8, 5), weights=FixedPoint(8, 7), bias=FixedPoint(16, 12),
                        outputs=FixedPoint(8, 4), accumulator=FixedPoint(24, 12),
                        rounding="nearest_even", overflow="saturate")
    res = emulate_conv2d(x, w, b, fmts, ConvGeometry(stride=1, padding=1))
    res.values            # float64, NCHW, every value on the fixed8.4 grid
    res.codes             # the int64 output codes
    res.stats.as_dict()   # {'mode': 'exact', 'datapath': 'fixed', 'accumulator': 'fixed24.12',
                          #  'accumulator_overflows': 0, 'output_saturations': 3, ...}

All parameter objects are frozen dataclasses; modes are enums that accept their string names.

* :class:`LayerFormats` ``(inputs, weights, bias=None, outputs=None, accumulator=None, *, rounding, overflow,
  product=None)``: the formats the quantization plan owns for one layer. The datapath follows from the
  formats: fixed x fixed -> fixed-point MAC array; fixed x ``PowerOfTwo`` -> shift-and-add PE; minifloat x
  minifloat -> minifloat MAC with an exact Kulisch accumulator (``accumulator`` None) or a float accumulator
  (``accumulator`` a ``Minifloat``; ``product`` optionally rounds each product first).
* :class:`ConvGeometry` ``(stride, padding, dilation, groups, output_padding)``; padding in ONNX order ``(top,
  left, bottom, right)`` or symmetric.
* :class:`Mode`: ``EXACT`` (the hardware's integers) or ``RISTRETTO`` (the original tool: operands
  fake-quantized with ``ristretto_*``, float32 GEMM, bias in the weights' format, output quantized; reference
  §1.3). In-place quantization of shared blobs is the executor's job (``runtime.executor``).
* :class:`LayerResult` ``(values, stats, codes)`` and :class:`LayerStats` (mode, datapath, accumulator,
  outputs, macs, accumulator_overflows, output/input/weight/bias saturations, nan/inf outputs; ``as_dict()``
  is JSON-able).

The exact fixed-point pipeline of a layer: inputs and weights are encoded (rounding, saturation) to codes; the
bias is quantized to ``formats.bias`` then rounded to the accumulator's fraction and preloaded; products are
added over K in (ky, kx, c) order into the accumulator (``acc.frac_bits == in.frac_bits + w.frac_bits``, else
``ValueError``) with wrap or per-addition saturation; the accumulator is requantized to the output format
(rounding shift, saturation).

Code level (integer codes in, accumulator codes out)
----------------------------------------------------
``fixed_matmul``, ``fixed_dot``, ``fixed_conv2d``, ``fixed_conv_transpose2d`` -> :class:`AccumulatorResult`;
``default_accumulator``, ``bias_to_accumulator``, ``requantize``, ``rounding_shift``; ``exact_matmul`` (exact
integer GEMM on float BLAS); :class:`WideInt` (accumulator codes wider than int64; ``to_python()`` gives Python
integers). Minifloat MAC: ``minifloat_matmul``, ``kulisch_bits``. Shift-and-add PE:
``shift_matmul``, :class:`ShiftPE`. Other layers: ``max_pool2d``, ``avg_pool2d``, ``relu``, ``add_fixed``,
``concat_fixed``, ``ristretto_lrn`` (pooling windows are :class:`PoolGeometry`).

Fast and exact
--------------
Integer GEMMs run as float32 (or float64) BLAS GEMMs on chunks of K whose partial sums provably fit the
mantissa (``2**24`` / ``2**53``; the bound ``sum_k max_m|a| * |w|`` is computed from the data), chunk sums are
added in int64, and wider operands are split into limbs; no NumPy integer matmul, no per-element Python loops.

Limits: accumulators up to 128 bits (signed; 127 unsigned: ``MAX_ACCUMULATOR_BITS``, FixedPoint's own maximum),
operand codes up to 64 bits (int64), K below ``2**31``. Exact sums below ``2**62`` run in int64; wider ones (e.g.
32-bit inputs x 32-bit weights, whose default accumulator has 70+ bits) take the limb path
(:mod:`~ristretto_sim.emulator.wide_accumulator`): limb-pair BLAS GEMMs added into
:class:`~ristretto_sim.emulator.wide.WideInt` numbers (32-bit digits), the same wrap and per-addition saturation
(outputs near the rails walked product by product), the rounding shift decided on the wide bits; bit-exact.
Accumulator codes (``AccumulatorResult.codes``) are a ``WideInt`` when the accumulator's range does not fit
int64 (signed above 64 bits, unsigned above 63), int64 otherwise. The shift-and-add PE keeps int64 sums (62-bit
accumulators).

Layers take a faster exact path (:mod:`~ristretto_sim.emulator.fast_fixed`) when cheap bounds (the input
format's maxima, else the batch's extreme codes, times the weights' column sums) prove the accumulator cannot
overflow and the GEMM fits the mantissa: one im2col per chunk of images straight in float32, the bias preload
and the requantization shift folded into a power-of-two-scaled weight matrix, IEEE rounding of the exact
quotients; bit-identical to the general path, which runs otherwise. :class:`PreparedLayer` encodes a layer's
weights once for many batches (the network executor uses it).
"""

from ristretto_sim.emulator.accumulator import (
    MAX_ACCUMULATOR_BITS,
    AccumulatorResult,
    bias_to_accumulator,
    default_accumulator,
)
from ristretto_sim.emulator.conv import fixed_conv2d, fixed_conv_transpose2d
from ristretto_sim.emulator.elementwise import add_fixed, concat_fixed, relu
from ristretto_sim.emulator.exact_sum import exact_matmul
from ristretto_sim.emulator.fixed_gemm import fixed_dot, fixed_matmul
from ristretto_sim.emulator.im2col import ConvGeometry
from ristretto_sim.emulator.layer import (
    LayerFormats,
    LayerKind,
    LayerResult,
    LayerStats,
    Mode,
    PreparedLayer,
    emulate_conv2d,
    emulate_conv_transpose2d,
    emulate_layer,
    emulate_linear,
)
from ristretto_sim.emulator.lrn import ristretto_lrn
from ristretto_sim.emulator.minifloat_mac import (
    MAX_KULISCH_BITS,
    MinifloatMacResult,
    kulisch_bits,
    minifloat_matmul,
)
from ristretto_sim.emulator.pooling import PoolGeometry, avg_pool2d, max_pool2d
from ristretto_sim.emulator.requantize import Requantized, requantize, rounding_shift
from ristretto_sim.emulator.ristretto_mode import ristretto_quantize
from ristretto_sim.emulator.shift_pe import ShiftPE, default_shift_accumulator, shift_matmul
from ristretto_sim.emulator.wide import WideInt

__all__ = [
    "MAX_ACCUMULATOR_BITS",
    "MAX_KULISCH_BITS",
    "MinifloatMacResult",
    "PoolGeometry",
    "ShiftPE",
    "WideInt",
    "add_fixed",
    "avg_pool2d",
    "concat_fixed",
    "default_shift_accumulator",
    "kulisch_bits",
    "max_pool2d",
    "minifloat_matmul",
    "relu",
    "ristretto_lrn",
    "shift_matmul",
    "AccumulatorResult",
    "ConvGeometry",
    "LayerFormats",
    "LayerKind",
    "LayerResult",
    "LayerStats",
    "Mode",
    "PreparedLayer",
    "Requantized",
    "bias_to_accumulator",
    "default_accumulator",
    "emulate_conv2d",
    "emulate_conv_transpose2d",
    "emulate_layer",
    "emulate_linear",
    "exact_matmul",
    "fixed_conv2d",
    "fixed_conv_transpose2d",
    "fixed_dot",
    "fixed_matmul",
    "requantize",
    "ristretto_quantize",
    "rounding_shift",
]
