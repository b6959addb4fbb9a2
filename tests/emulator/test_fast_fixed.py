"""The fast exact fixed-point path (``emulator.fast_fixed``) against the general path of ``emulate_layer``.

The general path (int64 codes, data bounds, saturation walk, integer rounding shift) is itself checked against
the slow references in ``test_layer.py``; here every output of the fast path must equal it bit for bit: values,
codes and statistics, for both layer kinds, every deterministic rounding mode, per-channel formats, padding,
stride, dilation, groups, saturating inputs and outputs, left shifts, wide operands (float64 GEMM) and no output
format; and the same on every integer-kernel backend (the GEMM of 8-bit codes on onnxruntime or torch, the codes
offset into the kernel's range, the offset's correction folded into the bias), which must equal it too.
"""

import numpy as np
import pytest

from ristretto_sim.emulator import ConvGeometry, LayerFormats, PreparedLayer, emulate_layer, fast_fixed
from ristretto_sim.emulator.datapaths import fixed as layer_mod
from ristretto_sim.formats import FixedPoint

ROUNDINGS = ("nearest_even", "nearest_away", "nearest_up", "floor", "ceil", "toward_zero")


def _general(monkeypatch, *args, **kwargs):
    with monkeypatch.context() as m:
        m.setattr(layer_mod, "prepare_fast_fixed", lambda *a, **k: None)
        return emulate_layer(*args, **kwargs)


def _taken(monkeypatch):
    """Count the batches the fast path answered."""
    calls = []
    original = fast_fixed.FastFixed.run

    def run(self, *a, **k):
        r = original(self, *a, **k)
        calls.append(r is not None)
        return r

    monkeypatch.setattr(fast_fixed.FastFixed, "run", run)
    return calls


def _same(a, b):
    assert a.values.dtype == b.values.dtype == np.float64
    assert np.array_equal(a.values, b.values)
    assert not np.signbit(a.values[a.values == 0]).any()
    if b.codes is None:
        assert a.codes is None
    else:
        assert a.codes.dtype == np.int64 and np.array_equal(a.codes, b.codes)
    assert a.stats == b.stats


@pytest.mark.parametrize("rounding", ROUNDINGS)
@pytest.mark.parametrize(
    "geom",
    [
        ConvGeometry(),
        ConvGeometry(stride=2, padding=1),
        ConvGeometry(stride=(1, 2), padding=(2, 0, 1, 1), dilation=(2, 1)),
        ConvGeometry(padding=1, groups=2),
    ],
)
def test_conv_fast_path_equals_general_path(monkeypatch, rounding, geom):
    rng = np.random.default_rng([ROUNDINGS.index(rounding), *geom.stride, *geom.padding, geom.groups])
    x = rng.normal(size=(3, 4, 9, 8)) * 3  # beyond fixed8.5's range: input saturations
    w = rng.normal(size=(6, 4 // geom.groups, 3, 3)) * 0.3
    b = rng.normal(size=6)
    f = LayerFormats(FixedPoint(8, 5), FixedPoint(8, 7), FixedPoint(16, 10), FixedPoint(6, 3), FixedPoint(32, 12),
                     rounding=rounding)
    calls = _taken(monkeypatch)
    fast = emulate_layer("conv2d", x, w, b, f, geom)
    assert calls == [True]
    slow = _general(monkeypatch, "conv2d", x, w, b, f, geom)
    _same(fast, slow)
    assert fast.stats.input_saturations > 0 and fast.stats.output_saturations > 0


@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_linear_fast_path_equals_general_path_per_channel(monkeypatch, rounding):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(2, 5, 40))  # leading dimensions
    w = rng.normal(size=(7, 40)) * np.array([0.1, 0.2, 0.5, 1, 2, 4, 0.05])[:, None]
    b = rng.normal(size=7)
    fw = FixedPoint(8, (9, 8, 7, 6, 5, 4, 10))
    fin = FixedPoint(8, 5)
    fout = FixedPoint(6, (2, 3, 2, 1, 0, -1, 3))
    acc = FixedPoint(24, tuple(5 + f for f in fw.frac_bits))
    f = LayerFormats(fin, fw, None, fout, acc, rounding=rounding)
    calls = _taken(monkeypatch)
    fast = emulate_layer("linear", x, w, b, f)
    assert calls == [True]
    _same(fast, _general(monkeypatch, "linear", x, w, b, f))


def test_left_shift_no_output_format_and_wide_operands(monkeypatch):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 3, 6, 6))
    w = rng.normal(size=(5, 3, 3, 3))
    b = rng.normal(size=5)
    cases = [
        LayerFormats(FixedPoint(8, 2), FixedPoint(8, 1), None, FixedPoint(16, 6), FixedPoint(32, 3)),  # left shift
        LayerFormats(FixedPoint(8, 6), FixedPoint(8, 6), FixedPoint(12, 8), None, FixedPoint(32, 12)),  # no output
        # 16-bit x 16-bit codes into 48 bits: partial sums beyond 2**24, float64 GEMM
        LayerFormats(FixedPoint(16, 12), FixedPoint(16, 14), None, FixedPoint(16, 8), FixedPoint(48, 26)),
        LayerFormats(FixedPoint(16, 12), FixedPoint(16, 14), None, None, FixedPoint(48, 26)),
    ]
    for f in cases:
        calls = _taken(monkeypatch)
        fast = emulate_layer("conv2d", x, w, b, f, ConvGeometry(padding=1))
        assert calls == [True], f
        _same(fast, _general(monkeypatch, "conv2d", x, w, b, f, ConvGeometry(padding=1)))
        monkeypatch.undo()


def test_data_bound_and_fallback_when_the_accumulator_may_overflow(monkeypatch):
    rng = np.random.default_rng(5)
    w = rng.normal(size=(4, 200)) * 0.5
    fin, fw = FixedPoint(8, 4), FixedPoint(8, 7)
    f = LayerFormats(fin, fw, None, FixedPoint(8, 2), FixedPoint(18, 11), rounding="nearest_even")
    # small inputs: the format's maxima do not prove 18 bits safe, the data's extreme codes do
    x_small = rng.uniform(-0.05, 0.05, size=(6, 200))
    calls = _taken(monkeypatch)
    fast = emulate_layer("linear", x_small, w, None, f)
    assert calls == [True]
    _same(fast, _general(monkeypatch, "linear", x_small, w, None, f))
    # large inputs: the accumulator may overflow, the general path walks K (and counts the clipping)
    x_big = rng.uniform(-8, 8, size=(6, 200))
    calls.clear()
    big = emulate_layer("linear", x_big, w, None, f)
    assert calls == [False]
    _same(big, _general(monkeypatch, "linear", x_big, w, None, f))


def test_nan_and_infinite_inputs(monkeypatch):
    w = np.ones((2, 3))
    f = LayerFormats(FixedPoint(8, 4), FixedPoint(8, 4), None, FixedPoint(8, 2), FixedPoint(32, 8))
    x = np.array([[np.inf, -np.inf, 1.0], [0.5, 2.0, -3.0]])
    _same(emulate_layer("linear", x, w, None, f), _general(monkeypatch, "linear", x, w, None, f))
    with pytest.raises(ValueError, match="NaN"):
        emulate_layer("linear", np.array([[np.nan, 0.0, 1.0]]), w, None, f)


def test_prepared_layer_float32_values_and_no_codes():
    rng = np.random.default_rng(11)
    x = (rng.normal(size=(5, 2, 7, 7)) * 2).astype(np.float32)
    w = rng.normal(size=(3, 2, 3, 3)) * 0.3
    b = rng.normal(size=3)
    f = LayerFormats(FixedPoint(8, 5), FixedPoint(8, 7), None, FixedPoint(8, 3), FixedPoint(32, 12))
    geom = ConvGeometry(stride=2, padding=1)
    ref = emulate_layer("conv2d", x, w, b, f, geom)
    prep = PreparedLayer("conv2d", w, b, f, geom)
    for chunk in (x[:2], x[2:]):
        r = prep(chunk, codes=False, float32_values=True)
        assert r.codes is None and r.values.dtype == np.float32
    r = prep(x, codes=False, float32_values=True)
    assert np.array_equal(r.values.astype(np.float64), ref.values) and r.stats == ref.stats
    r64 = prep(x)
    _same(r64, ref)


def test_prepared_layer_raises_description_errors_when_prepared_and_runs_other_datapaths():
    w = np.ones((2, 3))
    bad = LayerFormats(FixedPoint(8, 4), FixedPoint(8, 4), None, FixedPoint(8, 2), FixedPoint(32, 3))
    with pytest.raises(ValueError, match="frac_bits"):  # a preparation error is not swallowed
        PreparedLayer("linear", w, None, bad)
    with pytest.raises(ValueError, match="frac_bits"):
        emulate_layer("linear", np.zeros((1, 3)), w, None, bad)
    stoch = LayerFormats(FixedPoint(8, 4), FixedPoint(8, 4), None, FixedPoint(8, 2), FixedPoint(32, 8),
                         rounding="stochastic")
    x = np.random.default_rng(0).normal(size=(4, 3))
    r = PreparedLayer("linear", w, None, stoch)(x, rng=3)
    assert np.array_equal(r.values, emulate_layer("linear", x, w, None, stoch, rng=3).values)


# ---------------------------------------------------------------------------------------- integer kernels


def _backends():
    from ristretto_sim.emulator.kernels import KERNELS, select_backends, self_test

    names = ["blas"] + [n for n, cls in KERNELS.items() if self_test(cls(1)) is None]
    return {n: select_backends(n, threads=1) for n in names}


BACKENDS = _backends()


def _on(monkeypatch, backends):
    """Run the fast path on ``backends``; return the kernel's product calls (K of each)."""
    monkeypatch.setattr(fast_fixed, "default_backends", lambda: backends)
    calls = []
    kernel = backends.kernel
    if kernel is not None:
        original = kernel.product
        monkeypatch.setattr(kernel, "product", lambda a, w: calls.append(a.shape[1]) or original(a, w))
    return calls


INTEGER_CASES = [
    # signed 8-bit codes, padding (the padded code 0 is the kernel's offset), stride and dilation, input and
    # output saturation
    (FixedPoint(8, 5), FixedPoint(8, 7), FixedPoint(6, 3), ConvGeometry(stride=(1, 2), padding=(2, 0, 1, 1),
                                                                         dilation=(2, 1))),
    # unsigned 8-bit codes (0..255: no offset for a uint8 kernel, -128 for an int8 one), no output format
    (FixedPoint(8, 5, signed=False), FixedPoint(8, 7), None, ConvGeometry(padding=1)),
    # 4-bit codes and per-channel weights and outputs
    (FixedPoint(4, 2), FixedPoint(8, (7, 6, 7, 5, 6, 7)), FixedPoint(8, (3, 2, 3, 1, 2, 3)), ConvGeometry(stride=2)),
]


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("rounding", ROUNDINGS)
@pytest.mark.parametrize("case", range(len(INTEGER_CASES)))
def test_conv_on_the_integer_kernels_equals_the_general_path(monkeypatch, backend, rounding, case):
    fin, fw, fout, geom = INTEGER_CASES[case]
    rng = np.random.default_rng([case, ROUNDINGS.index(rounding)])
    x = rng.normal(size=(3, 9, 8, 7)) * 3  # 9 input channels: row patches
    if not fin.signed:
        x = np.abs(x)
    w = rng.normal(size=(6, 9, 3, 3)) * 0.4
    b = rng.normal(size=6)
    acc = FixedPoint(32, tuple(fin.frac_bits + f for f in np.broadcast_to(fw.frac_bits, 6)) if fw.per_channel
                     else fin.frac_bits + fw.frac_bits)
    f = LayerFormats(fin, fw, FixedPoint(16, 10), fout, acc, rounding=rounding)
    slow = _general(monkeypatch, "conv2d", x, w, b, f, geom)
    calls = _on(monkeypatch, BACKENDS[backend])
    taken = _taken(monkeypatch)
    fast = emulate_layer("conv2d", x, w, b, f, geom)
    assert taken == [True]
    assert calls == ([] if backend == "blas" else [9 * 3 * 3])
    _same(fast, slow)
    if fin.bits == 8 and fin.signed:
        assert fast.stats.input_saturations > 0 and fast.stats.output_saturations > 0


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_linear_on_the_integer_kernels_equals_the_general_path(monkeypatch, backend, rounding):
    rng = np.random.default_rng(ROUNDINGS.index(rounding))
    x = rng.normal(size=(2, 5, 300)) * 2
    w = rng.normal(size=(7, 300)) * np.array([0.1, 0.2, 0.5, 1, 2, 4, 0.05])[:, None]
    fw = FixedPoint(8, (9, 8, 7, 6, 5, 4, 10))
    fin = FixedPoint(8, 5)
    f = LayerFormats(fin, fw, None, FixedPoint(6, (2, 3, 2, 1, 0, -1, 3)),
                     FixedPoint(32, tuple(5 + q for q in fw.frac_bits)), rounding=rounding)
    for b in (rng.normal(size=7), None):
        slow = _general(monkeypatch, "linear", x, w, b, f)
        calls = _on(monkeypatch, BACKENDS[backend])
        fast = emulate_layer("linear", x, w, b, f)
        assert calls == ([] if backend == "blas" else [300])
        _same(fast, slow)
        monkeypatch.undo()


@pytest.mark.parametrize("backend", [n for n in BACKENDS if n != "blas"])
def test_the_integer_kernels_are_not_used_beyond_their_operands(monkeypatch, backend):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 9, 6, 6))
    w = rng.normal(size=(4, 9, 3, 3)) * 0.3
    b = rng.normal(size=4)
    cases = [
        LayerFormats(FixedPoint(10, 6), FixedPoint(8, 7), None, FixedPoint(8, 3), FixedPoint(32, 13)),  # 10-bit in
        LayerFormats(FixedPoint(8, 5), FixedPoint(10, 9), None, FixedPoint(8, 3), FixedPoint(32, 14)),  # 10-bit w
    ]
    for f in cases:
        slow = _general(monkeypatch, "conv2d", x, w, b, f, ConvGeometry())
        calls = _on(monkeypatch, BACKENDS[backend])
        taken = _taken(monkeypatch)
        fast = emulate_layer("conv2d", x, w, b, f, ConvGeometry())
        assert taken == [True] and calls == []  # the float32 GEMM
        _same(fast, slow)
        monkeypatch.undo()
    # fewer than ROW_PATCH_CHANNELS input channels: the float32 columns
    f = LayerFormats(FixedPoint(8, 5), FixedPoint(8, 7), None, FixedPoint(8, 3), FixedPoint(32, 12))
    calls = _on(monkeypatch, BACKENDS[backend])
    emulate_layer("conv2d", x[:, :3], w[:, :3], b, f, ConvGeometry())
    assert calls == []


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("channels", [3, 9])  # float32 columns; row patches on an integer kernel
@pytest.mark.parametrize("bits", [10, 14])
def test_wrapping_accumulators_on_the_fast_path(monkeypatch, backend, channels, bits):
    rng = np.random.default_rng([channels, bits])
    x = rng.normal(size=(4, channels, 7, 7)) * 3
    w = rng.normal(size=(5, channels, 3, 3))
    b = rng.normal(size=5)
    f = LayerFormats(FixedPoint(8, 4), FixedPoint(8, 5), FixedPoint(16, 9), FixedPoint(8, 2), FixedPoint(bits, 9),
                     rounding="nearest_even", overflow="wrap")
    geom = ConvGeometry(padding=1)
    slow = _general(monkeypatch, "conv2d", x, w, b, f, geom)
    _on(monkeypatch, BACKENDS[backend])
    taken = _taken(monkeypatch)
    fast = emulate_layer("conv2d", x, w, b, f, geom)
    assert taken == [True]
    _same(fast, slow)
    assert fast.stats.accumulator_overflows > 0  # the sums did wrap
    # a dense layer, with and without an output format
    xl = rng.normal(size=(6, 64)) * 3
    wl = rng.normal(size=(4, 64))
    for fl in (f, LayerFormats(f.inputs, f.weights, None, None, f.accumulator, overflow="wrap")):
        slow = _general(monkeypatch, "linear", xl, wl, None, fl)
        _on(monkeypatch, BACKENDS[backend])
        fast = emulate_layer("linear", xl, wl, None, fl)
        _same(fast, slow)
        assert fast.stats.accumulator_overflows == slow.stats.accumulator_overflows > 0
