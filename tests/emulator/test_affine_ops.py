"""TFLite's int8 ADD, AVERAGE_POOL_2D, SOFTMAX and activation clamp against slow scalar transcriptions of the
reference kernels (Python integers; the softmax also against float softmax within gemmlowp's accuracy)."""

import math

import numpy as np
import pytest

from ristretto_sim.emulator.affine_ops import (
    AddParams,
    SoftmaxParams,
    activation_range,
    affine_add,
    affine_avg_pool,
    affine_softmax,
)
from ristretto_sim.emulator.pooling import PoolGeometry
from ristretto_sim.formats import Affine
from tests.emulator.test_gemmlowp import (
    I32_MAX,
    ref_exp_on_negative_values,
    ref_quantize_multiplier,
    ref_rdbpot,
    ref_sat_shift_left,
    ref_srdhm,
)


def f32(x) -> float:
    return float(np.float32(x))


def ref_add(a: int, b: int, f1: Affine, f2: Affine, out: Affine) -> int:
    twice = 2.0 * max(f1.scale, f2.scale)
    m1, s1 = ref_quantize_multiplier(f1.scale / twice)
    m2, s2 = ref_quantize_multiplier(f2.scale / twice)
    mo, so = ref_quantize_multiplier(twice / ((1 << 20) * out.scale))
    x = ref_rdbpot(ref_srdhm((a - f1.zero_point) * (1 << 20), m1), -s1)
    y = ref_rdbpot(ref_srdhm((b - f2.zero_point) * (1 << 20), m2), -s2)
    return min(max(ref_rdbpot(ref_srdhm(x + y, mo), -so) + out.zero_point, -128), 127)


def test_add_equals_the_reference_kernel():
    rng = np.random.default_rng(0)
    for _ in range(5):
        f1, f2, out = (Affine(8, f32(rng.uniform(0.01, 0.3)), int(rng.integers(-128, 128))) for _ in range(3))
        a, b = rng.integers(-128, 128, 300), rng.integers(-128, 128, 300)
        got = affine_add(a, f1, b, f2, out)
        assert got.codes.tolist() == [ref_add(int(x), int(y), f1, f2, out) for x, y in zip(a, b, strict=True)]
    p = AddParams.of(Affine(8, 0.5), Affine(8, 0.25), Affine(8, 1.0))
    assert (p.input1_multiplier, p.input1_shift) == (2**30, 0)  # 0.5 = 2**30 * 2**(0 - 31)


def ref_avg(x, kh, kw, sh, sw, pads, lo, hi):
    n, c, h, w = x.shape
    top, left, bottom, right = pads
    ho, wo = (h + top + bottom - kh) // sh + 1, (w + left + right - kw) // sw + 1
    out = np.zeros((n, c, ho, wo), dtype=np.int64)
    for idx in np.ndindex(n, c, ho, wo):
        b, ch, y, xx = idx
        acc = cnt = 0
        for ky in range(kh):
            for kx in range(kw):
                iy, ix = y * sh - top + ky, xx * sw - left + kx
                if 0 <= iy < h and 0 <= ix < w:
                    acc += int(x[b, ch, iy, ix])
                    cnt += 1
        t = acc + cnt // 2 if acc > 0 else acc - cnt // 2
        q = abs(t) // cnt * (1 if t >= 0 else -1)  # C's truncating division
        out[idx] = min(max(q, lo), hi)
    return out


@pytest.mark.parametrize("k,s,pads", [((3, 3), (1, 1), (1, 1, 1, 1)), ((25, 5), (1, 1), (0, 0, 0, 0)),
                                      ((2, 3), (2, 2), (0, 1, 1, 1))])
def test_average_pool_equals_the_reference_kernel(k, s, pads):
    rng = np.random.default_rng(1)
    h, w = (25, 5) if k == (25, 5) else (6, 7)
    x = rng.integers(-128, 128, (2, 3, h, w))
    got = affine_avg_pool(x, PoolGeometry(k, s, pads), (-128, 127))
    assert np.array_equal(got.codes, ref_avg(x, *k, *s, pads, -128, 127))


def test_activation_range_is_tflites():
    f = Affine(8, 0.0235, -128)
    assert activation_range(f, 0.0, 6.0) == (-128, -128 + round(6 / np.float32(0.0235)))
    assert activation_range(f, 0.0, None) == (-128, 127)
    g = Affine(8, 0.01, 10)
    assert activation_range(g, -1.0, 1.0) == (-90, 110)


def ref_softmax_row(row, in_scale):
    p = SoftmaxParams.of(in_scale, 1.0)
    mx = max(row)
    total = 0
    exps = []
    for v in row:
        d = v - mx
        if d >= p.diff_min:
            e = ref_exp_on_negative_values(ref_srdhm(d * (1 << p.input_left_shift), p.input_multiplier))
            total += ref_rdbpot(e, 12)
            exps.append(e)
        else:
            exps.append(None)
    headroom = 32 - int(total).bit_length()
    bits_over = 12 - headroom
    shifted = ((total << headroom) & 0xFFFFFFFF) - (1 << 31)
    # one_over_one_plus_x_for_x_in_0_1, scalar
    half = (shifted + I32_MAX + 1) // 2  # RoundingHalfSum of two non-negative values
    x = 1515870810 + ref_srdhm(half, -1010580540)
    for _ in range(3):
        x = x + ref_sat_shift_left(ref_srdhm(x, (1 << 29) - ref_srdhm(half, x)), 2)
    scale = ref_sat_shift_left(x, 1)
    out = []
    for e in exps:
        if e is None:
            out.append(-128)
        else:
            out.append(min(max(ref_rdbpot(ref_srdhm(scale, e), bits_over + 31 - 8) - 128, -128), 127))
    return out


def test_softmax_equals_the_reference_kernel_and_is_close_to_softmax():
    rng = np.random.default_rng(2)
    for scale in (f32(0.0971), f32(0.25), f32(0.0156), f32(1.7)):
        q = rng.integers(-128, 128, (40, 12))
        q[0] = -128
        q[1] = 127
        got = affine_softmax(q, Affine(8, scale, 3)).codes
        assert got.tolist() == [ref_softmax_row([int(v) for v in row], scale) for row in q]
        z = (q - q.max(axis=1, keepdims=True)) * scale
        real = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        assert np.max(np.abs((got + 128) / 256 - real)) <= 1 / 256 + 1e-9
        assert math.isclose(float(((got[0] + 128) / 256).sum()), 12 * (21 / 256), abs_tol=1e-9)  # 1/12 -> 21/256
