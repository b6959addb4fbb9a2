"""The affine datapath against slow transcriptions of TFLite's reference integer kernels (``reference_integer_ops``
conv, depthwise conv, fully connected: scalar Python-integer loops), on generated layers with per-channel scales,
zero points, padding, strides and depth multipliers."""

import numpy as np
import pytest

from ristretto_sim.emulator import ConvGeometry, LayerFormats, emulate_layer
from ristretto_sim.emulator.datapaths import select
from ristretto_sim.formats import Affine
from tests.emulator.test_gemmlowp import ref_mbqm, ref_quantize_multiplier


def ref_single(acc: int, m: int, shift: int) -> int:
    total = 31 - shift
    return (acc * m + (1 << (total - 1))) >> total


def f32(x) -> float:
    return float(np.float32(x))


def _formats(rng, n_out, per_channel=True, in_zp=-7, out_zp=5):
    s_in, s_out = f32(rng.uniform(0.01, 0.1)), f32(rng.uniform(0.02, 0.2))
    sw = tuple(f32(v) for v in rng.uniform(0.002, 0.02, n_out)) if per_channel else f32(rng.uniform(0.002, 0.02))
    w_fmt = Affine(8, sw, 0)
    b_fmt = Affine(32, tuple(f32(s_in * v) for v in np.atleast_1d(sw)) if per_channel else f32(s_in * sw))
    return LayerFormats(Affine(8, s_in, in_zp), w_fmt, bias=b_fmt, outputs=Affine(8, s_out, out_zp),
                        accumulator="fixed32.0", rounding="nearest_away")  # TFLite's requantization


def ref_conv(xq, wq, bq, f: LayerFormats, stride, pads, groups):
    """TFLite's ConvPerChannel / DepthwiseConvPerChannel loop, NCHW, Python integers."""
    n, c, h, w = xq.shape
    o, cg, kh, kw = wq.shape
    top, left, bottom, right = pads
    ho = (h + top + bottom - kh) // stride[0] + 1
    wo = (w + left + right - kw) // stride[1] + 1
    zx, zy = f.inputs.zero_point, f.outputs.zero_point
    sw = f.weights.scale_array()
    out = np.zeros((n, o, ho, wo), dtype=np.int64)
    for oc in range(o):
        g = oc // (o // groups)
        m, s = ref_quantize_multiplier(f.inputs.scale * float(sw[oc if sw.size > 1 else 0]) / f.outputs.scale)
        for b in range(n):
            for y in range(ho):
                for x in range(wo):
                    acc = 0
                    for ky in range(kh):
                        for kx in range(kw):
                            iy, ix = y * stride[0] - top + ky, x * stride[1] - left + kx
                            if 0 <= iy < h and 0 <= ix < w:
                                for ci in range(cg):
                                    acc += int(wq[oc, ci, ky, kx]) * (int(xq[b, g * cg + ci, iy, ix]) - zx)
                    acc += int(bq[oc])
                    out[b, oc, y, x] = min(max(ref_mbqm(acc, m, s) + zy, -128), 127)
    return out


def ref_fc(xq, wq, bq, f: LayerFormats):
    zx, zy = f.inputs.zero_point, f.outputs.zero_point
    real = float(np.float32(f.inputs.scale) * np.float32(f.weights.scale)) / f.outputs.scale
    m, s = ref_quantize_multiplier(real)
    out = np.zeros((xq.shape[0], wq.shape[0]), dtype=np.int64)
    for b in range(xq.shape[0]):
        for o in range(wq.shape[0]):
            acc = sum(int(wq[o, k]) * (int(xq[b, k]) - zx) for k in range(wq.shape[1])) + int(bq[o])
            out[b, o] = min(max(ref_single(acc, m, s) + zy, -128), 127)
    return out


@pytest.mark.parametrize("case", [
    dict(c=3, o=4, k=3, stride=(1, 1), pads=(1, 1, 1, 1), groups=1),
    dict(c=2, o=5, k=3, stride=(2, 2), pads=(0, 0, 1, 1), groups=1),     # SAME with stride 2: the odd pixel at the end
    dict(c=4, o=4, k=3, stride=(1, 1), pads=(1, 1, 1, 1), groups=4),     # depthwise
    dict(c=3, o=6, k=3, stride=(2, 1), pads=(1, 0, 1, 0), groups=3),     # depth multiplier 2
    dict(c=2, o=3, k=1, stride=(1, 1), pads=(0, 0, 0, 0), groups=1),     # pointwise, VALID
])
def test_convolutions_equal_the_reference_kernel(case):
    rng = np.random.default_rng(sum(case["pads"]) + case["o"])
    f = _formats(rng, case["o"])
    xq = rng.integers(-128, 128, (2, case["c"], 6, 5))
    wq = rng.integers(-127, 128, (case["o"], case["c"] // case["groups"], case["k"], case["k"]))
    bq = rng.integers(-3000, 3000, case["o"])
    geom = ConvGeometry(stride=case["stride"], padding=case["pads"], groups=case["groups"])
    res = emulate_layer("conv2d", f.inputs.decode(xq), f.weights.decode(wq), f.bias.decode(bq), f, geom)
    want = ref_conv(xq, wq, bq, f, case["stride"], case["pads"], case["groups"])
    assert res.stats.datapath == "affine"
    assert np.array_equal(res.codes, want)
    assert np.array_equal(res.values, f.outputs.decode(want))
    assert res.stats.output_saturations == int(np.count_nonzero((want == -128) | (want == 127)))


def test_fully_connected_equals_the_reference_kernel():
    rng = np.random.default_rng(3)
    f = _formats(rng, 7, per_channel=False, in_zp=89, out_zp=-128)
    xq, wq, bq = rng.integers(-128, 128, (5, 40)), rng.integers(-127, 128, (7, 40)), rng.integers(-9000, 9000, 7)
    res = emulate_layer("linear", f.inputs.decode(xq), f.weights.decode(wq), f.bias.decode(bq), f)
    assert np.array_equal(res.codes, ref_fc(xq, wq, bq, f))


def test_bias_of_thirty_bits_stays_exact():
    rng = np.random.default_rng(4)
    f = _formats(rng, 3)
    bq = np.array([2**30 + 128, -(2**30) + 7, 123456789])
    xq, wq = rng.integers(-128, 128, (1, 2, 3, 3)), rng.integers(-127, 128, (3, 2, 1, 1))
    b = bq * f.bias.scale_array()  # float64: exact
    res = emulate_layer("conv2d", f.inputs.decode(xq), f.weights.decode(wq), b, f)
    assert np.array_equal(res.codes, ref_conv(xq, wq, bq, f, (1, 1), (0, 0, 0, 0), 1))


def test_accumulator_overflow_wraps_and_is_counted():
    f = LayerFormats(Affine(8, 1.0, -128), Affine(8, 1.0), bias=Affine(32, 1.0), outputs=Affine(8, 2.0**20),
                     accumulator="fixed32.0", rounding="nearest_away")
    x = f.inputs.decode(np.full((1, 600), 127))
    w = f.weights.decode(np.full((2, 600), 127))
    b = np.array([2.0**31 - 1 - 600 * 255 * 127 + 1, 0.0])  # the first sum ends one past INT32_MAX
    res = emulate_layer("linear", x, w, b, f)
    assert res.stats.accumulator_overflows == 1 and res.stats.accumulator == "fixed32.0"


def test_the_datapath_describes_its_arithmetic_and_refuses_what_tflite_would_not_run():
    f = _formats(np.random.default_rng(5), 4)
    dp = select(f)
    assert dp.name == "affine" and dp.accumulator_for(100).bits == 32
    assert [u.bits for u in dp.units(100)] == [(9, 8), (32,)]  # (x - z_x) is 9 bits, symmetric int8 weights
    with pytest.raises(ValueError, match="per-tensor affine output"):
        select(LayerFormats(f.inputs, f.weights)).validate()
    with pytest.raises(ValueError, match="output channels"):
        select(LayerFormats(f.inputs, Affine(8, (0.1, 0.2), axis=1), outputs=f.outputs)).validate()
    with pytest.raises(ValueError, match="TFLite .nearest_away. or as ONNX"):
        select(LayerFormats(f.inputs, f.weights, outputs=f.outputs, rounding="floor")).validate()
    with pytest.raises(ValueError, match="int32"):
        select(LayerFormats(f.inputs, f.weights, outputs=f.outputs, accumulator="fixed24.0")).validate()
