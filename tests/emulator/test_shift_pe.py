import numpy as np
import pytest

from ristretto_sim.emulator import ConvGeometry, LayerFormats, emulate_conv2d, emulate_linear
from ristretto_sim.emulator.shift_pe import ShiftPE, default_shift_accumulator, shift_matmul
from ristretto_sim.formats import FixedPoint, PowerOfTwo
from tests.emulator.reference import shift_matmul_ref

POW2 = PowerOfTwo(-6, -1)


def _check(a, w, fin, wf, acc, bits, mode, bias=None):
    r = shift_matmul(a, w, fin, wf, pe=ShiftPE(bits), accumulator=acc, overflow=mode, bias_codes=bias)
    sign, e, zero = wf.exponents(w)
    t_max = wf.exp_max + acc.frac_bits - fin.frac_bits
    modelled = bits if bits is not None and bits < fin.bits + max(t_max, 0) else None
    want, count = shift_matmul_ref(a, sign, e, zero, fin.frac_bits, acc, modelled, fin.signed, mode, bias)
    assert (r.codes.astype(object) == want).all()
    assert r.overflow_count == count
    return r, count


@pytest.mark.parametrize("mode", ["saturate", "wrap"])
@pytest.mark.parametrize(
    "acc,bits",
    [
        (FixedPoint(20, 10), None),  # lossless: one integer GEMM
        (FixedPoint(20, 7), None),  # right shifts: low bits fall off the bottom
        (FixedPoint(12, 10), None),  # narrow accumulator: overflows
        (FixedPoint(20, 10), 9),  # narrow shifter: high bits fall off the top
        (FixedPoint(14, 8), 10),
    ],
    ids=str,
)
def test_against_one_product_at_a_time(acc, bits, mode):
    rng = np.random.default_rng(acc.bits + acc.frac_bits)
    fin = FixedPoint(8, 4)
    a = rng.integers(-128, 128, size=(5, 60))
    a[0] = -128
    w = rng.normal(size=(60, 4)) * 0.2
    w[:, 0] = 0.5  # largest weight everywhere
    w[:5, 1] = 0.0  # zero weights
    bias = rng.integers(acc.min_code // 4, acc.max_code // 4, size=4)
    _check(a, w, fin, POW2, acc, bits, mode, bias)


def test_unsigned_activations_and_ristretto_exponents():
    rng = np.random.default_rng(1)
    fin = FixedPoint(8, 4, signed=False)
    wf = PowerOfTwo(-8, -1, has_zero=False)  # Ristretto: 0 becomes +2**-8
    a = rng.integers(0, 256, size=(4, 50))
    w = rng.normal(size=(50, 3)) * 0.1
    w[0, 0] = 0.0
    for acc, bits in ((FixedPoint(24, 12), None), (FixedPoint(16, 9), 9), (FixedPoint(13, 9), None)):
        for mode in ("saturate", "wrap"):
            _check(a, w, fin, wf, acc, bits, mode)


def test_default_accumulator_is_lossless_and_cannot_overflow():
    fin = FixedPoint(8, 4)
    k = 300
    acc = default_shift_accumulator(fin, POW2, k)
    assert acc.frac_bits == 4 + 6 and acc.bits == 8 + 5 + 9 + 2
    a = np.full((1, k), -128)
    w = np.full((k, 1), -0.5)
    r = shift_matmul(a, w, fin, POW2)
    assert r.overflow_count == 0 and int(r.codes[0, 0]) == k * 128 * 2**5


def test_layer_lossless_shift_equals_fixed_point_datapath():
    """Power-of-two weights are exact in fixed point: the shift PE and a fixed MAC give the same integers."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 3, 6, 6))
    w = rng.normal(size=(4, 3, 3, 3)) * 0.2
    b = rng.normal(size=4)
    fin, fout, fb = FixedPoint(8, 4), FixedPoint(8, 3), FixedPoint(12, 8)
    acc = FixedPoint(24, 10)
    shift = emulate_conv2d(x, w, b, LayerFormats(fin, POW2, fb, fout, acc), ConvGeometry(padding=1, stride=2))
    wq = POW2.quantize(w)
    fixed = emulate_conv2d(
        x, wq, b, LayerFormats(fin, FixedPoint(8, 6), fb, fout, acc), ConvGeometry(padding=1, stride=2)
    )
    assert np.array_equal(shift.codes, fixed.codes)
    assert shift.stats.datapath == "shift" and fixed.stats.datapath == "fixed"


def test_layer_linear_narrow_shifter_counts():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 20))
    w = rng.normal(size=(2, 20))
    f = LayerFormats(FixedPoint(8, 4), POW2, accumulator=FixedPoint(10, 8), overflow="wrap")
    r = emulate_linear(x, w, None, f, shift_pe=ShiftPE(6))
    fin = f.inputs
    sign, e, zero = POW2.exponents(w.T)
    want, count = shift_matmul_ref(fin.encode(x), sign, e, zero, 4, f.accumulator, 6, True, "wrap")
    assert np.array_equal(r.values, np.ldexp(want.astype(float), -8)) and r.stats.accumulator_overflows == count


def test_bad_parameters():
    with pytest.raises(ValueError, match="shifter_bits"):
        ShiftPE(0)
    with pytest.raises(TypeError, match="w_fmt"):
        shift_matmul(np.zeros((1, 1), np.int64), np.zeros((1, 1)), FixedPoint(8, 0), FixedPoint(8, 0))
    with pytest.raises(ValueError, match="shape mismatch"):
        shift_matmul(np.zeros((1, 2), np.int64), np.zeros((3, 1)), FixedPoint(8, 0), POW2)
    with pytest.raises(TypeError, match="shift_pe"):
        emulate_linear(np.zeros((1, 2)), np.zeros((1, 2)), None, LayerFormats(FixedPoint(8, 0), POW2), shift_pe=5)


@pytest.mark.parametrize(
    "acc,bits", [(FixedPoint(20, 12), None), (FixedPoint(20, 8), None), (FixedPoint(16, 12), 9)], ids=str
)
def test_every_activation_code_times_every_weight_code(acc, bits):
    """Exhaustive K = 1: all 256 int8 codes x all 16 nonzero codes of pow2[-8,-1] (+ zero), one shift each."""
    fin = FixedPoint(8, 4)
    wf = PowerOfTwo(-8, -1)
    a = np.arange(-128, 128)[:, None]
    w = wf.values()[None, :]
    _check(a, w, fin, wf, acc, bits, "wrap")
    _check(a, w, fin, wf, acc, bits, "saturate")


def test_dense_rewalk_of_a_lossy_shifter(monkeypatch):
    from ristretto_sim.emulator import accumulator as acc_mod

    monkeypatch.setattr(acc_mod, "DENSE_WALK_FRACTION", 0.0)
    rng = np.random.default_rng(4)
    a = rng.integers(-128, 128, size=(6, 80))
    w = rng.normal(size=(80, 3)) * 0.3
    w[:4, 0] = 0.0
    _check(a, w, FixedPoint(8, 4), POW2, FixedPoint(11, 8), 9, "saturate")
