"""TensorFlow Lite's int8 operators between the MAC layers, on affine codes: the activation clamp, ADD, AVERAGE_POOL_2D
and SOFTMAX, computing the integers the reference kernels compute.

* ``activation_range`` (``CalculateActivationRangeQuantized``, ``kernels/kernel_util.cc``): a fused ReLU / ReLU6 /
  ReLU_N1_TO_1 is a clamp of the output codes to ``z + round(lo / s)`` .. ``z + round(hi / s)`` (the quotient in
  float32, rounded half away from zero), within the format's codes.
* ``affine_add`` (``reference_integer_ops/add.h`` with ``add.cc``'s ``Prepare``): both inputs minus their zero
  points, shifted left by 20, scaled by ``s_i / (2 max(s_1, s_2))`` (Q31 multipliers below one), added, scaled by
  ``2 max(s_1, s_2) / (2**20 s_y)``, plus the output zero point, clamped.
* ``affine_avg_pool`` (``reference_integer_ops/pooling.h``): the sum of the window's codes inside the input (padding
  is not counted), divided by their count rounding half away from zero (C's truncating division of
  ``sum +- count / 2``), clamped; input and output share scale and zero point.
* ``affine_softmax`` (``reference_ops/softmax.h``, int8 in, int8 out with scale 1/256 and zero point -128, which the
  kernel requires): ``x - max`` scaled into Q5.26 by ``beta * s_x`` (``PreprocessSoftmaxScaling``), gemmlowp's
  fixed-point exp, the sum in Q12.19, ``GetReciprocal``, the rounding shift into the output code; entries below
  ``diff_min`` read -128.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ristretto_sim.emulator import gemmlowp as gl
from ristretto_sim.emulator.pooling import PoolGeometry
from ristretto_sim.formats import Affine

#: ADD's input left shift for 8-bit operands (add.cc: ``left_shift = 20`` unless the output is int16)
ADD_LEFT_SHIFT = 20
#: softmax's input integer bits (Q5.26) and accumulator integer bits (Q12.19) (reference_ops/softmax.h)
SOFTMAX_DIFF_INTEGER_BITS = 5
SOFTMAX_ACCUM_INTEGER_BITS = 12


@dataclass(frozen=True)
class AffineResult:
    """Output codes (int64) of an affine operator and how many of them were clamped."""

    codes: np.ndarray
    saturations: int


def _round_half_away_f32(x) -> int:
    x = np.float32(x)
    return int(np.copysign(np.floor(np.abs(x) + np.float32(0.5)), x))


def activation_range(fmt: Affine, low: float | None, high: float | None) -> tuple[int, int]:
    """``(act_min, act_max)`` codes of a clamp of values to [``low``, ``high``] (None: unbounded) in ``fmt``."""
    lo, hi = fmt.min_code, fmt.max_code
    scale = np.float32(fmt.scale)
    if low is not None:
        lo = max(lo, fmt.zero_point + _round_half_away_f32(np.float32(low) / scale))
    if high is not None:
        hi = min(hi, fmt.zero_point + _round_half_away_f32(np.float32(high) / scale))
    return lo, hi


def clamp(codes, lo: int, hi: int) -> AffineResult:
    """``codes`` clamped to [``lo``, ``hi``]."""
    codes = np.asarray(codes, dtype=np.int64)
    out = np.clip(codes, lo, hi)
    return AffineResult(out, int(np.count_nonzero(out != codes)))


@dataclass(frozen=True)
class AddParams:
    """ADD's integer parameters (add.cc ``Prepare``)."""

    input1_multiplier: int
    input1_shift: int
    input2_multiplier: int
    input2_shift: int
    output_multiplier: int
    output_shift: int

    @classmethod
    def of(cls, f1: Affine, f2: Affine, out: Affine) -> AddParams:
        twice_max = 2.0 * float(max(np.float32(f1.scale), np.float32(f2.scale)))
        m1 = gl.quantize_multiplier_smaller_than_one_exp(f1.scale / twice_max)
        m2 = gl.quantize_multiplier_smaller_than_one_exp(f2.scale / twice_max)
        mo = gl.quantize_multiplier_smaller_than_one_exp(twice_max / float(np.float32((1 << ADD_LEFT_SHIFT)
                                                                                      * np.float32(out.scale))))
        return cls(*m1, *m2, *mo)


def affine_add(q1, f1: Affine, q2, f2: Affine, out: Affine, act: tuple[int, int] | None = None) -> AffineResult:
    """TFLite's int8 ADD of codes ``q1`` (format ``f1``) and ``q2`` (``f2``, broadcasting) into ``out``; ``act``:
    the fused activation's code range (default the format's)."""
    for f, what in ((f1, "input 1"), (f2, "input 2"), (out, "output")):
        if f.per_channel:
            raise ValueError(f"ADD {what} {f.short()}: per-channel scales are not supported")
    p = AddParams.of(f1, f2, out)
    a = (np.asarray(q1, dtype=np.int64) - f1.zero_point) << ADD_LEFT_SHIFT
    b = (np.asarray(q2, dtype=np.int64) - f2.zero_point) << ADD_LEFT_SHIFT
    sa = gl.multiply_by_quantized_multiplier_smaller_than_one_exp(a, p.input1_multiplier, p.input1_shift)
    sb = gl.multiply_by_quantized_multiplier_smaller_than_one_exp(b, p.input2_multiplier, p.input2_shift)
    raw = gl.multiply_by_quantized_multiplier_smaller_than_one_exp(sa + sb, p.output_multiplier, p.output_shift)
    lo, hi = act if act is not None else (out.min_code, out.max_code)
    return clamp(raw + out.zero_point, lo, hi)


def affine_avg_pool(q, geometry: PoolGeometry, act: tuple[int, int]) -> AffineResult:
    """TFLite's int8 AVERAGE_POOL_2D of NCHW codes ``q`` (padding excluded from the count)."""
    q = np.asarray(q, dtype=np.int64)
    n, c, h, w = q.shape
    (kh, kw), (sh, sw) = geometry.kernel, geometry.stride
    top, left, bottom, right = geometry.padding
    ho, wo = geometry.output_size(h, w)
    padded = np.zeros((n, c, h + top + bottom, w + left + right), dtype=np.int64)
    padded[:, :, top:top + h, left:left + w] = q
    inside = np.zeros((h + top + bottom, w + left + right), dtype=np.int64)
    inside[top:top + h, left:left + w] = 1
    acc = np.zeros((n, c, ho, wo), dtype=np.int64)
    count = np.zeros((ho, wo), dtype=np.int64)
    for ky in range(kh):
        for kx in range(kw):
            ys, xs = slice(ky, ky + sh * (ho - 1) + 1, sh), slice(kx, kx + sw * (wo - 1) + 1, sw)
            acc += padded[:, :, ys, xs]
            count += inside[ys, xs]
    if np.any(count == 0):
        raise ValueError("average pooling window entirely in the padding")
    half = count // 2
    t = np.where(acc > 0, acc + half, acc - half)
    avg = np.where(t >= 0, t // count, -((-t) // count))  # C's division truncates toward zero
    return clamp(avg, *act)


@dataclass(frozen=True)
class SoftmaxParams:
    """Softmax's integer parameters (activations.cc ``SoftmaxPrepare``, reference kernel)."""

    input_multiplier: int
    input_left_shift: int
    diff_min: int

    @classmethod
    def of(cls, input_scale: float, beta: float) -> SoftmaxParams:
        bits = SOFTMAX_DIFF_INTEGER_BITS
        real = min(float(beta) * float(input_scale) * (1 << (31 - bits)), (1 << 31) - 1.0)
        m, shift = gl.quantize_multiplier_greater_than_one(real)
        radius = int(np.floor(1.0 * ((1 << bits) - 1) * (1 << (31 - bits)) / (1 << shift)))
        return cls(m, shift, -radius)


def affine_softmax(q, in_fmt: Affine, beta: float = 1.0) -> AffineResult:
    """TFLite's int8 reference softmax over the last axis of codes ``q``; output codes of scale 1/256, zero point
    -128."""
    q = np.asarray(q, dtype=np.int64)
    p = SoftmaxParams.of(in_fmt.scale, beta)
    diff = q - q.max(axis=-1, keepdims=True)
    live = diff >= p.diff_min
    rescaled = gl.multiply_by_quantized_multiplier_greater_than_one(diff, p.input_multiplier, p.input_left_shift)
    exps = gl.exp_on_negative_values(np.where(live, rescaled, 0), SOFTMAX_DIFF_INTEGER_BITS)
    contrib = gl.saturating_rounding_multiply_by_pot(exps, -SOFTMAX_ACCUM_INTEGER_BITS)
    total = np.where(live, contrib, 0).sum(axis=-1, keepdims=True)
    scale, bits_over_unit = gl.get_reciprocal(total, SOFTMAX_ACCUM_INTEGER_BITS)
    unsat = gl.rounding_divide_by_pot(gl.saturating_rounding_doubling_high_mul(scale, exps),
                                      bits_over_unit + 31 - 8)
    shifted = unsat - 128
    out = np.where(live, np.clip(shifted, -128, 127), -128)
    return AffineResult(out, int(np.count_nonzero(live & (shifted > 127))))
