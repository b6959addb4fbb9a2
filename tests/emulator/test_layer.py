import json
from fractions import Fraction

import numpy as np
import pytest

from ristretto_sim.emulator import (
    ConvGeometry,
    LayerFormats,
    Mode,
    emulate_conv2d,
    emulate_layer,
    emulate_linear,
)
from ristretto_sim.emulator.datapaths import Keys
from ristretto_sim.emulator.layer import emulate_conv_transpose2d
from ristretto_sim.formats import FixedPoint, Minifloat, PowerOfTwo, Rounding, ristretto_fixed_point
from ristretto_sim.formats.rounding import uniform_bits53
from tests.emulator.reference import (
    conv2d_ref,
    conv_transpose2d_ref,
    matmul_ref,
    requantize_ref,
    wide_layer_ref,
)


def _round_half_even(v):
    return np.rint(v).astype(np.int64)


def test_conv_layer_equals_integer_reference_with_per_channel_weights():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 6, 6)) * 2
    w = rng.normal(size=(4, 3, 3, 3)) * 0.4
    b = rng.normal(size=4)
    fin, fw, fb, fout = FixedPoint(8, 5), FixedPoint(8, (6, 6, 7, 5)), FixedPoint(10, 6), FixedPoint(8, 4)
    acc = FixedPoint(20, (11, 11, 12, 10))
    f = LayerFormats(fin, fw, fb, fout, acc, rounding="nearest_even", overflow="saturate")
    geom = ConvGeometry(stride=(1, 2), padding=1)
    r = emulate_conv2d(x, w, b, f, geom)
    xc, wc = fin.encode(x), fw.encode(w)
    accf = np.array(acc.frac_bits)
    bias = _round_half_even(np.ldexp(fb.quantize(b), accf))
    want, count = conv2d_ref(xc, wc, bias, acc.min_code, acc.max_code, "saturate", (1, 2), (1, 1, 1, 1))
    assert r.stats.accumulator_overflows == count
    expect = np.vectorize(lambda c, s: requantize_ref(c, s, "nearest_even", -128, 127), otypes=[object])(
        want, (accf - 4).reshape(1, 4, 1, 1)
    )
    assert np.array_equal(r.codes, expect.astype(np.int64))
    assert np.array_equal(r.values, np.ldexp(expect.astype(float), -4))
    assert r.stats.mode is Mode.EXACT and r.stats.datapath == "fixed" and r.stats.outputs == r.values.size
    assert r.stats.macs == r.values.size * 27
    json.dumps(r.stats.as_dict())


def test_linear_layer_with_narrow_accumulator_counts_overflows():
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, size=(5, 64))
    w = rng.uniform(-1, 1, size=(3, 64))
    fin, fw = FixedPoint(8, 7), FixedPoint(8, 7)
    for mode in ("saturate", "wrap"):
        f = LayerFormats(fin, fw, None, FixedPoint(8, 3), FixedPoint(16, 14), overflow=mode, rounding="floor")
        r = emulate_linear(x, w, None, f)
        want, count = matmul_ref(fin.encode(x, "floor"), fw.encode(w, "floor").T, None, -(2**15), 2**15 - 1, mode)
        expect = np.vectorize(lambda c: requantize_ref(c, 11, "floor", -128, 127), otypes=[object])(want)
        assert np.array_equal(r.codes, expect.astype(np.int64)) and r.stats.accumulator_overflows == count > 0


def test_no_output_format_gives_accumulator_values_and_default_accumulator():
    x = np.array([[0.5, -0.25, 0.75]])
    w = np.array([[0.5, 0.5, -1.0]])
    f = LayerFormats(FixedPoint(8, 2), FixedPoint(8, 1))
    r = emulate_linear(x, w, np.array([0.125]), f)
    # bias 0.125 rounds to the accumulator grid (frac 3): 1/8 exactly
    assert r.values.tolist() == [[0.25 - 0.125 - 0.75 + 0.125]]
    assert r.codes is None and r.stats.accumulator == "fixed19.3"  # 8 + 8 + ceil(log2 3) + 1


def test_conv_transpose_layer():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(1, 2, 3, 3))
    w = rng.normal(size=(2, 3, 3, 3)) * 0.5
    fin, fw = FixedPoint(8, 4), FixedPoint(8, 6)
    f = LayerFormats(fin, fw, outputs=FixedPoint(16, 10))
    geom = ConvGeometry(stride=2, padding=1, output_padding=1)
    r = emulate_conv_transpose2d(x, w, None, f, geom)
    exact = conv_transpose2d_ref(fin.encode(x), fw.encode(w), (2, 2), (1, 1, 1, 1), (1, 1), 1, (1, 1))
    assert r.values.shape == (1, 3, 6, 6)
    assert r.stats.macs == x.size * 3 * 9  # every input pixel times every tap of every output channel
    assert np.array_equal(r.codes, exact.astype(np.int64))  # 10 fractional bits: no rounding needed


def test_stochastic_rounding_is_reproducible_and_needs_a_seed():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 16))
    w = rng.normal(size=(2, 16))
    f = LayerFormats(FixedPoint(6, 3), FixedPoint(6, 4), outputs=FixedPoint(6, 2), rounding="stochastic")
    a = emulate_linear(x, w, None, f, rng=7)
    b = emulate_linear(x, w, None, f, rng=7)
    c = emulate_linear(x, w, None, f, rng=8)
    assert np.array_equal(a.values, b.values) and not np.array_equal(a.values, c.values)
    with pytest.raises(ValueError, match="rng="):
        emulate_linear(x, w, None, f)


def test_ristretto_mode_reproduces_reference_rules():
    """Reference §1.3: fake-quantized operands, float32 GEMM, the bias in the WEIGHTS' format."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3, 20)).astype(np.float32)
    w = (rng.normal(size=(5, 20)) * 0.3).astype(np.float32)
    b = np.array([3.0, -0.2, 0.1, 0.0, -5.0])  # 3.0 and -5.0 exceed fixed8.7's range: they saturate
    f = LayerFormats(FixedPoint(8, 4), FixedPoint(8, 7), FixedPoint(16, 10), FixedPoint(8, 3))
    r = emulate_linear(x, w, b, f, mode="ristretto")
    xq = ristretto_fixed_point(x, 8, 4)
    wq = ristretto_fixed_point(w, 8, 7)
    bq = ristretto_fixed_point(b, 8, 7)
    assert bq[0] == np.float32(127 / 128)
    want = ristretto_fixed_point((xq @ wq.T + bq).astype(np.float32), 8, 3)
    assert np.array_equal(r.values, want.astype(np.float64))
    assert r.stats.mode is Mode.RISTRETTO and r.stats.bias_saturations == 2 and r.codes is None


def test_ristretto_mode_conv_pow2_bias_stays_float():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(1, 2, 5, 5)).astype(np.float32)
    w = rng.normal(size=(3, 2, 3, 3)).astype(np.float32) * 0.2
    b = np.array([0.3, -0.7, 0.01])
    f = LayerFormats(FixedPoint(8, 4), PowerOfTwo(-8, -1, has_zero=False))
    r = emulate_conv2d(x, w, b, f, ConvGeometry(padding=1), mode="ristretto")
    from ristretto_sim.formats import ristretto_power_of_two

    wq = ristretto_power_of_two(w).astype(np.float64)
    xq = ristretto_fixed_point(x, 8, 4).astype(np.float64)
    # float64 direct convolution of the fake-quantized operands, then bias in float
    xp = np.pad(xq, ((0, 0), (0, 0), (1, 1), (1, 1)))
    ref = np.zeros((1, 3, 5, 5))
    for o in range(3):
        for yy in range(5):
            for xx in range(5):
                ref[0, o, yy, xx] = (xp[0, :, yy : yy + 3, xx : xx + 3] * wq[o]).sum() + np.float32(b[o])
    assert np.allclose(r.values, ref, rtol=0, atol=1e-5)  # float32 GEMM vs float64 reference
    assert r.stats.datapath == "ristretto-float32"


def test_bad_inputs_name_the_parameter():
    f = LayerFormats(FixedPoint(8, 4), FixedPoint(8, 4))
    x = np.zeros((2, 3))
    w = np.zeros((4, 3))
    with pytest.raises(ValueError, match="bias has shape"):
        emulate_linear(x, w, np.zeros(3), f)
    with pytest.raises(ValueError, match="shape mismatch"):
        emulate_linear(x, np.zeros((4, 5)), None, f)
    with pytest.raises(ValueError, match="kind="):
        emulate_layer("pool", x, w, None, f)
    with pytest.raises(ValueError, match="mode="):
        emulate_linear(x, w, None, f, mode="fast")
    with pytest.raises(TypeError, match="inputs="):
        LayerFormats(8, FixedPoint(8, 4))
    assert LayerFormats("int8", "fixed8.4") == LayerFormats(FixedPoint(8, 0), FixedPoint(8, 4))  # text is parsed
    with pytest.raises(ValueError, match="rounding="):
        LayerFormats(FixedPoint(8, 4), FixedPoint(8, 4), rounding="up-ish")
    with pytest.raises(ValueError, match="frac_bits must equal"):
        emulate_linear(x, w, None, LayerFormats(FixedPoint(8, 4), FixedPoint(8, 4), accumulator=FixedPoint(32, 4)))
    with pytest.raises(ValueError, match="no datapath"):
        emulate_linear(x, w, None, LayerFormats(FixedPoint(8, 4), Minifloat(4, 3)))
    with pytest.raises(TypeError, match="geometry="):
        emulate_conv2d(np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 1, 1)), None, f, geometry=(1, 1))
    with pytest.raises(TypeError):
        LayerFormats(FixedPoint(8, 4), FixedPoint(8, 4), None, None, None, "floor")  # rounding is keyword-only


def test_saturation_statistics():
    x = np.array([[100.0, -0.5]])
    w = np.array([[1.0, 1.0], [-1.0, 0.5], [0.25, 0.25]])  # fixed8.7 holds [-1, 127/128]: two 1.0 saturate
    f = LayerFormats(FixedPoint(8, 4), FixedPoint(8, 7), outputs=FixedPoint(3, 0))
    r = emulate_linear(x, w, None, f)
    assert r.stats.input_saturations == 1 and r.stats.weight_saturations == 2
    # 127/16 * 127/128 - 127/256 = 7.38 -> 3; -127/16 - 1/4 = -8.19 -> -4; (127/16 - 1/2) / 4 = 1.86 -> 2
    assert r.stats.output_saturations == 2 and r.values.tolist() == [[3.0, -4.0, 2.0]]


def test_ristretto_mode_minifloat_and_cpu_compat():
    """Minifloat layers in Ristretto mode use Ristretto's own minifloat (no subnormals, truncating flush)."""
    from ristretto_sim.formats import ristretto_minifloat

    rng = np.random.default_rng(6)
    x = rng.normal(size=(2, 12)).astype(np.float32)
    x[0, 0] = 0.0  # the CPU code stops quantizing at the first zero
    w = (rng.normal(size=(3, 12)) * 0.1).astype(np.float32)
    f = LayerFormats(Minifloat(4, 3), Minifloat(4, 3), outputs=Minifloat(5, 2))
    for cpu in (False, True):
        r = emulate_linear(x, w, None, f, mode="ristretto", cpu_compat=cpu)
        xq = ristretto_minifloat(x, 4, 3, cpu_compat=cpu)
        wq = ristretto_minifloat(w, 4, 3, cpu_compat=cpu)
        want = ristretto_minifloat((xq @ wq.T).astype(np.float32), 5, 2, cpu_compat=cpu)
        assert np.array_equal(r.values, want.astype(np.float64))
    gpu = emulate_linear(x, w, None, f, mode="ristretto")
    cpu = emulate_linear(x, w, None, f, mode="ristretto", cpu_compat=True)
    assert not np.array_equal(gpu.values, cpu.values)


def test_ristretto_mode_conv_transpose_matches_float_reference():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(1, 2, 3, 3)).astype(np.float32)
    w = rng.normal(size=(2, 2, 3, 3)).astype(np.float32)
    f = LayerFormats(FixedPoint(8, 5), FixedPoint(8, 6))
    r = emulate_conv_transpose2d(x, w, None, f, ConvGeometry(stride=2), mode="ristretto")
    xq = np.ldexp(ristretto_fixed_point(x, 8, 5).astype(float), 5).astype(np.int64)
    wq = np.ldexp(ristretto_fixed_point(w, 8, 6).astype(float), 6).astype(np.int64)
    exact = conv_transpose2d_ref(xq, wq, (2, 2))
    assert np.array_equal(r.values, np.ldexp(exact.astype(float), -11))  # small sums: float32 is exact here


def test_62_bit_accumulator_read_out_to_a_minifloat_rounds_once():
    """2**57 + 2**33 + 1 lies just above an fp32 midpoint; its nearest float64 IS the midpoint, so reading the
    accumulator through float64 would round to even (2**57), while one rounding gives 2**57 + 2**34."""
    from ristretto_sim.formats import CATALOG

    fin = fw = FixedPoint(30, 0)
    x = np.array([[2.0**28, 2.0**28, 2.0**28, 1.0]])
    w = np.array([[2.0**28, 2.0**28, 2.0**5, 1.0]])
    r = emulate_linear(x, w, None, LayerFormats(fin, fw, outputs=CATALOG["fp32"], accumulator=FixedPoint(62, 0)))
    assert r.values[0, 0] == 2.0**57 + 2.0**34
    r = emulate_linear(x, w, None, LayerFormats(fin, fw, accumulator=FixedPoint(62, 0)))
    assert r.values[0, 0] == float(2**57 + 2**33 + 1)  # the nearest float64


# ------------------------------------------------------------------ 32-bit operands: the limb path
F32_IN, F32_W = FixedPoint(32, 16), FixedPoint(32, 24)


def _bias_ref(b, fb, acc_frac):
    """Bias quantized to ``fb``, then rounded (nearest even) to the accumulator grid, in Python integers."""
    bq = b if fb is None else fb.quantize(b)
    return [round(Fraction(float(v)) * 2 ** int(f)) for v, f in zip(bq, np.broadcast_to(acc_frac, bq.shape),
                                                                    strict=True)]


def test_linear_32_bit_operands_with_the_default_accumulator():
    """K = 800: the default accumulator has 32 + 32 + 10 + 1 = 75 bits (the int64 path raised before)."""
    rng = np.random.default_rng(11)
    x = rng.normal(size=(3, 800)) * 2000
    w = rng.normal(size=(4, 800)) * 40
    b = rng.normal(size=4) * 100
    fb, fout = FixedPoint(32, 16), FixedPoint(32, 4)
    f = LayerFormats(F32_IN, F32_W, fb, fout)
    r = emulate_linear(x, w, b, f)
    assert r.stats.accumulator == "fixed75.40" and r.stats.accumulator_overflows == 0
    acc = FixedPoint(75, 40)
    want, count = wide_layer_ref(F32_IN.encode(x), F32_W.encode(w), _bias_ref(b, fb, 40), acc, fout, 40, 4)
    assert count == 0 and r.codes.tolist() == want.tolist()
    assert r.stats.output_saturations == 0 and np.array_equal(r.values, np.ldexp(r.codes.astype(float), -4))
    # no output format: the accumulator's values, correctly rounded to float64
    r = emulate_linear(x, w, b, LayerFormats(F32_IN, F32_W, fb))
    sums, _ = wide_layer_ref(F32_IN.encode(x), F32_W.encode(w), _bias_ref(b, fb, 40), acc, acc, 40, 40)
    assert r.values.tolist() == [[float(Fraction(int(v), 2**40)) for v in row] for row in sums]


def test_linear_32_bit_operands_saturating_narrow_accumulator_and_stochastic():
    rng = np.random.default_rng(12)
    x = rng.normal(size=(4, 60)) * 20000
    w = rng.normal(size=(3, 60)) * 100
    acc, fout = FixedPoint(64, 40), FixedPoint(16, 20)
    f = LayerFormats(F32_IN, F32_W, None, fout, acc)
    r = emulate_linear(x, w, np.array([1e6, -1e6, 0.0]), f)
    want, count = wide_layer_ref(F32_IN.encode(x), F32_W.encode(w), _bias_ref(np.array([1e6, -1e6, 0.0]), None, 40),
                                 acc, fout, 40, 20)
    assert count > 0 and r.stats.accumulator_overflows == count and r.codes.tolist() == want.tolist()
    # stochastic rounding everywhere: the output's 53-bit rule on the wide accumulator, same seed, same codes
    fout = FixedPoint(48, 8)
    f = LayerFormats(F32_IN, F32_W, None, fout, rounding="stochastic")
    r1, r2 = emulate_linear(x, w, None, f, rng=5), emulate_linear(x, w, None, f, rng=5)
    assert np.array_equal(r1.codes, r2.codes) and r1.stats.accumulator == "fixed71.40"
    keys = Keys.of(5, Rounding.STOCHASTIC)
    kin, kw, kout = keys.inputs, keys.weights, keys.outputs
    xc, wc = F32_IN.encode(x, "stochastic", rng=kin), F32_W.encode(w, "stochastic", rng=kw)
    sums, _ = matmul_ref(xc, wc.T, None, -(2**70), 2**70 - 1, "saturate")
    draws = uniform_bits53(kout, sums.shape)
    expect = [[requantize_ref(int(sums[m, n]), 32, "stochastic", fout.min_code, fout.max_code,
                              Fraction(int(draws[m, n]), 2**53)) for n in range(3)] for m in range(4)]
    assert r1.codes.tolist() == expect


@pytest.mark.parametrize("groups", [1, 2])
def test_conv2d_32_bit_operands_with_per_channel_weights(groups):
    rng = np.random.default_rng(13 + groups)
    x = rng.normal(size=(2, 4, 5, 5)) * 3000
    w = rng.normal(size=(4, 4 // groups, 3, 3)) * 30
    b = rng.normal(size=4) * 50
    fw = FixedPoint(32, (24, 22, 25, 20))
    fout = FixedPoint(32, 2)
    f = LayerFormats(F32_IN, fw, None, fout)
    geom = ConvGeometry(stride=(1, 2), padding=1, groups=groups)
    r = emulate_conv2d(x, w, b, f, geom)
    k = 9 * 4 // groups
    acc = FixedPoint(32 + 32 + int(np.ceil(np.log2(k))) + 1, (40, 38, 41, 36))
    assert r.stats.accumulator == str(acc)
    accf = np.array(acc.frac_bits)
    xc, wc = F32_IN.encode(x), fw.encode(w)
    sums, count = conv2d_ref(xc, wc, _bias_ref(b, None, accf), acc.min_code, acc.max_code, "saturate", (1, 2),
                             (1, 1, 1, 1), groups=groups)
    expect = np.vectorize(lambda c, s: requantize_ref(c, s, "nearest_even", fout.min_code, fout.max_code),
                          otypes=[object])(sums, (accf - 2).reshape(1, 4, 1, 1))
    assert count == 0 and r.codes.tolist() == expect.tolist()


def test_conv_transpose2d_32_bit_operands():
    rng = np.random.default_rng(14)
    x = rng.normal(size=(1, 2, 3, 3)) * 10000
    w = rng.normal(size=(2, 3, 3, 3)) * 40
    fout = FixedPoint(40, 8)
    f = LayerFormats(F32_IN, F32_W, outputs=fout)
    geom = ConvGeometry(stride=2, padding=1, output_padding=1)
    r = emulate_conv_transpose2d(x, w, None, f, geom)
    assert r.stats.accumulator == "fixed70.40"  # K = 2 * 3 * 3 = 18: 32 + 32 + 5 + 1
    exact = conv_transpose2d_ref(F32_IN.encode(x), F32_W.encode(w), (2, 2), (1, 1, 1, 1), (1, 1), 1, (1, 1))
    expect = np.vectorize(lambda c: requantize_ref(c, 32, "nearest_even", fout.min_code, fout.max_code),
                          otypes=[object])(exact)
    assert r.codes.tolist() == expect.tolist()


def test_wide_accumulator_read_out_to_a_minifloat_rounds_once():
    """The same trap beyond int64: 2**91 + 2**67 + 1 is just above an fp32 midpoint (the nearest float64 is the
    midpoint, which rounds to even: 2**91); the rounded-to-odd read-out gives 2**91 + 2**68."""
    from ristretto_sim.formats import CATALOG

    fin = fw = FixedPoint(48, 0)
    x = np.array([[2.0**45, 2.0**45, 2.0**45, 1.0]])
    w = np.array([[2.0**45, 2.0**45, 2.0**22, 1.0]])
    acc = FixedPoint(96, 0)
    r = emulate_linear(x, w, None, LayerFormats(fin, fw, outputs=CATALOG["fp32"], accumulator=acc))
    assert r.values[0, 0] == 2.0**91 + 2.0**68
    r = emulate_linear(x, w, None, LayerFormats(fin, fw, accumulator=acc))
    assert r.values[0, 0] == float(2**91 + 2**67 + 1)


@pytest.mark.parametrize(
    "formats, mode",
    [
        (LayerFormats(FixedPoint(8, 4), FixedPoint(8, 4)), "exact"),
        (LayerFormats(FixedPoint(8, 4), FixedPoint(8, 4)), "ristretto"),
        (LayerFormats(Minifloat(4, 3), Minifloat(4, 3)), "exact"),
    ],
)
@pytest.mark.parametrize("kernel", [3, 4])
def test_a_kernel_larger_than_the_padded_input_is_a_value_error(formats, mode, kernel):
    with pytest.raises(ValueError, match="does not fit the padded 2x2 input"):
        emulate_conv2d(np.ones((1, 1, 2, 2)), np.ones((1, 1, kernel, kernel)), None, formats, mode=mode)
