"""The fixed-point primitives of gemmlowp and TensorFlow Lite's integer kernels, vectorised over NumPy int64 arrays
that hold int32 values: the requantization of affine int8 layers and the integer softmax.

Sources (the functions are named after them and compute the same integers):

* gemmlowp ``fixedpoint/fixedpoint.h`` (github.com/google/gemmlowp): ``SaturatingRoundingDoublingHighMul``,
  ``RoundingDivideByPOT``, ``SaturatingRoundingMultiplyByPOT``, ``RoundingHalfSum``,
  ``exp_on_interval_between_negative_one_quarter_and_0_excl``, ``exp_on_negative_values``,
  ``one_over_one_plus_x_for_x_in_0_1``;
* TensorFlow Lite ``kernels/internal/quantization_util.cc``: ``QuantizeMultiplier`` (a real multiplier as a Q31
  significand ``M0`` in [2**30, 2**31) and a power-of-two exponent, ``frexp`` then ``round`` half away from zero),
  ``QuantizeMultiplierSmallerThanOneExp``, ``QuantizeMultiplierGreaterThanOne``, ``PreprocessSoftmaxScaling``,
  ``CalculateInputRadius``;
* TensorFlow Lite ``kernels/internal/common.h``: ``MultiplyByQuantizedMultiplier`` (the double-rounding form, TFLite's
  default build without ``TFLITE_SINGLE_ROUNDING``), ``GetReciprocal``; ``reference/softmax.h``: the int8 softmax.

Every array argument holds int32 values in int64 (products of two int32 fit int64 exactly); results are int32
values in int64. C's truncating integer division is written out where it differs from NumPy's floor division.
"""

from __future__ import annotations

import math

import numpy as np

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def wrap_int32(x) -> np.ndarray:
    """Two's complement wrap of int64 values to int32 (what a 32-bit register holds)."""
    x = np.asarray(x, dtype=np.int64)
    return ((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def _trunc_div_pow2(x: np.ndarray, n: int) -> np.ndarray:
    """C's ``x / 2**n`` (rounded toward zero) of int64 values."""
    return np.where(x >= 0, x >> n, -((-x) >> n))


def saturating_rounding_doubling_high_mul(a, b) -> np.ndarray:
    """``SaturatingRoundingDoublingHighMul(a, b)``: ``round(a * b / 2**31)`` with gemmlowp's nudge (ties away from
    zero), ``INT32_MAX`` for the one overflowing case ``a == b == INT32_MIN``."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    ab = a * b
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    out = _trunc_div_pow2(ab + nudge, 31)
    return np.where((a == INT32_MIN) & (b == INT32_MIN), INT32_MAX, out)


def rounding_divide_by_pot(x, exponent) -> np.ndarray:
    """``RoundingDivideByPOT(x, exponent)``: ``x / 2**exponent`` rounded to nearest, ties away from zero
    (``exponent`` in 0..31, a scalar or an array broadcasting against ``x``)."""
    x = np.asarray(x, dtype=np.int64)
    e = np.asarray(exponent, dtype=np.int64)
    if np.any(e < 0) or np.any(e > 31):
        raise ValueError(f"rounding_divide_by_pot: exponent must be in 0..31, got {e.min()}..{e.max()}")
    mask = (np.int64(1) << e) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> e) + (remainder > threshold)


def saturating_rounding_multiply_by_pot(x, exponent: int) -> np.ndarray:
    """``SaturatingRoundingMultiplyByPOT<exponent>(x)``: a saturating left shift for ``exponent > 0``, a rounding
    right shift (``rounding_divide_by_pot``) for ``exponent < 0``."""
    x = np.asarray(x, dtype=np.int64)
    if exponent <= 0:
        return rounding_divide_by_pot(x, -exponent) if exponent else x
    threshold = (1 << (31 - exponent)) - 1
    out = x << exponent
    out = np.where(x > threshold, INT32_MAX, out)
    return np.where(x < -threshold, INT32_MIN, out)


def rounding_half_sum(a, b) -> np.ndarray:
    """``RoundingHalfSum(a, b)`` (int32): ``(a + b + sign) / 2`` with C's truncating division."""
    s = np.asarray(a, dtype=np.int64) + np.asarray(b, dtype=np.int64)
    t = s + np.where(s >= 0, 1, -1)
    return np.where(t >= 0, t // 2, -((-t) // 2))


# ---------------------------------------------------------------------- multipliers


def _tflite_round(x: float) -> int:
    """``TfLiteRound`` / ``std::round`` of a double: half away from zero."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x)) if abs(x) < 2**52 else int(x)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """``QuantizeMultiplier``: ``real ~= M0 * 2**(shift - 31)`` with the Q31 significand ``M0`` in [2**30, 2**31)
    (0 for 0 or a multiplier below 2**-32); returns ``(M0, shift)``."""
    real = float(real)
    if real < 0 or not math.isfinite(real):
        raise ValueError(f"quantize_multiplier: the multiplier must be finite and >= 0, got {real!r}")
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    q_fixed = _tflite_round(q * (1 << 31))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return q_fixed, shift


def quantize_multiplier_smaller_than_one_exp(real: float) -> tuple[int, int]:
    """``QuantizeMultiplierSmallerThanOneExp``: ``quantize_multiplier`` of a multiplier in (0, 1); the shift is
    <= 0."""
    if not 0.0 < real < 1.0:
        raise ValueError(f"multiplier {real!r} must be in (0, 1)")
    m, shift = quantize_multiplier(real)
    if shift > 0:
        raise ValueError(f"multiplier {real!r} rounds to a shift of {shift} > 0")
    return m, shift


def quantize_multiplier_greater_than_one(real: float) -> tuple[int, int]:
    """``QuantizeMultiplierGreaterThanOne``: ``quantize_multiplier`` of a multiplier > 1; the shift is >= 0."""
    if not real > 1.0:
        raise ValueError(f"multiplier {real!r} must be > 1")
    m, shift = quantize_multiplier(real)
    if shift < 0:
        raise ValueError(f"multiplier {real!r} rounds to a shift of {shift} < 0")
    return m, shift


def multiply_by_quantized_multiplier(x, multiplier, shift) -> np.ndarray:
    """``MultiplyByQuantizedMultiplier(x, M0, shift)``: ``x * 2**max(shift, 0)`` (int32), the doubling high
    multiply by ``M0``, then a rounding right shift by ``max(-shift, 0)``; per channel when ``multiplier`` and
    ``shift`` are arrays broadcasting against ``x``."""
    shift = np.asarray(shift, dtype=np.int64)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    xs = wrap_int32(np.asarray(x, dtype=np.int64) << left)
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(xs, multiplier), right)


def multiply_by_quantized_multiplier_single_round(x, multiplier, shift) -> np.ndarray:
    """``x * M0 * 2**(shift - 31)`` rounded once, half up: ``(x * M0 + 2**(30 - shift)) >> (31 - shift)`` (TFLite's
    ``TFLITE_SINGLE_ROUNDING`` form of ``MultiplyByQuantizedMultiplier``; the LiteRT reference fully connected
    kernel computes this, measured against ``ai-edge-litert`` 2.3: 0 of 50,160 outputs differ, 378 with the double
    rounding)."""
    shift = np.asarray(shift, dtype=np.int64)
    total = 31 - shift
    if np.any(total < 1) or np.any(total > 62):
        raise ValueError("multiply_by_quantized_multiplier_single_round: shift must be in -31..30")
    x = np.asarray(x, dtype=np.int64)
    return (x * np.asarray(multiplier, dtype=np.int64) + (np.int64(1) << (total - 1))) >> total


def multiply_by_quantized_multiplier_smaller_than_one_exp(x, multiplier, left_shift) -> np.ndarray:
    """``MultiplyByQuantizedMultiplierSmallerThanOneExp``: ``RoundingDivideByPOT(SRDHM(x, M0), -left_shift)``."""
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(x, multiplier),
                                  -np.asarray(left_shift, dtype=np.int64))


def multiply_by_quantized_multiplier_greater_than_one(x, multiplier, left_shift: int) -> np.ndarray:
    """``MultiplyByQuantizedMultiplierGreaterThanOne``: ``SRDHM(x * 2**left_shift, M0)``."""
    return saturating_rounding_doubling_high_mul(wrap_int32(np.asarray(x, dtype=np.int64) << left_shift),
                                                 multiplier)


# ---------------------------------------------------------------------- fixed-point exp and reciprocal


def _mul(a, b) -> np.ndarray:
    """gemmlowp ``FixedPoint * FixedPoint`` on raw values (the integer bits add up)."""
    return saturating_rounding_doubling_high_mul(a, b)


def exp_on_interval_between_negative_one_quarter_and_0_excl(a) -> np.ndarray:
    """exp(a) for Q0.31 ``a`` in [-1/4, 0): gemmlowp's Taylor expansion around -1/8 (raw Q0.31 in and out)."""
    constant_term = 1895147668  # exp(-1/8) in Q0.31
    constant_1_over_3 = 715827883  # 1/3 in Q0.31
    x = np.asarray(a, dtype=np.int64) + (1 << 28)  # a + 1/8
    x2 = _mul(x, x)
    x3 = _mul(x2, x)
    x4 = _mul(x2, x2)
    x4_over_4 = saturating_rounding_multiply_by_pot(x4, -2)
    poly = saturating_rounding_multiply_by_pot(_mul(x4_over_4 + x3, constant_1_over_3) + x2, -1)
    return constant_term + _mul(constant_term, x + poly)


#: exp(-2**e) in Q0.31 for the barrel shifter of exp_on_negative_values, e = -2..4 (gemmlowp's constants)
_EXP_BARREL = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308), (2, 39332535), (3, 720401),
               (4, 242))


def exp_on_negative_values(a, integer_bits: int = 5) -> np.ndarray:
    """exp(a) for ``a <= 0`` given as raw Q``integer_bits``.(31 - ``integer_bits``); Q0.31 out (gemmlowp)."""
    a = np.asarray(a, dtype=np.int64)
    frac_bits = 31 - integer_bits
    one_quarter = 1 << (frac_bits - 2)
    mask = one_quarter - 1
    a_mod_quarter_minus_one_quarter = (a & mask) - one_quarter
    result = exp_on_interval_between_negative_one_quarter_and_0_excl(
        saturating_rounding_multiply_by_pot(a_mod_quarter_minus_one_quarter, integer_bits))
    remainder = a_mod_quarter_minus_one_quarter - a
    for exponent, multiplier in _EXP_BARREL:
        if integer_bits > exponent:
            bit = np.int64(1) << (frac_bits + exponent)
            result = np.where((remainder & bit) != 0, _mul(result, multiplier), result)
    if integer_bits > 5:
        clamp = -(1 << (36 - integer_bits))  # -32.0
        result = np.where(a < clamp, 0, result)
    return np.where(a == 0, INT32_MAX, result)


def one_over_one_plus_x_for_x_in_0_1(a) -> np.ndarray:
    """1 / (1 + a) for Q0.31 ``a`` in [0, 1): gemmlowp's Newton-Raphson division, Q0.31 out."""
    half_denominator = rounding_half_sum(a, INT32_MAX)
    constant_48_over_17 = 1515870810  # Q2.29
    constant_neg_32_over_17 = -1010580540  # Q2.29
    x = constant_48_over_17 + _mul(half_denominator, constant_neg_32_over_17)
    one_q2 = 1 << 29
    for _ in range(3):
        half_denominator_times_x = _mul(half_denominator, x)
        one_minus = one_q2 - half_denominator_times_x
        x = x + saturating_rounding_multiply_by_pot(_mul(x, one_minus), 2)
    return saturating_rounding_multiply_by_pot(x, 1)  # ExactMulByPot<-1> (a relabel), then Rescale<0>


def count_leading_zeros32(x) -> np.ndarray:
    """Leading zero bits of ``x`` as a uint32 (32 for 0)."""
    u = (np.asarray(x, dtype=np.int64) & 0xFFFFFFFF).astype(np.float64)  # exact: below 2**32
    _, bit_length = np.frexp(u)  # u = m * 2**e with m in [0.5, 1): e is the bit length (0 for 0)
    return 32 - bit_length.astype(np.int64)


def get_reciprocal(x, x_integer_digits: int) -> tuple[np.ndarray, np.ndarray]:
    """``GetReciprocal``: ``(Q0.31 scale, num_bits_over_unit)`` with ``1 / x = scale * 2**-num_bits_over_unit`` for a
    positive Q``x_integer_digits`` ``x``."""
    x = np.asarray(x, dtype=np.int64)
    headroom_plus_one = count_leading_zeros32(x)
    num_bits_over_unit = x_integer_digits - headroom_plus_one
    shifted = ((x << headroom_plus_one) & 0xFFFFFFFF) - (1 << 31)
    return one_over_one_plus_x_for_x_in_0_1(wrap_int32(shifted)), num_bits_over_unit
