import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ristretto_sim.emulator import ConvGeometry, fixed_conv2d, fixed_conv_transpose2d
from ristretto_sim.emulator import im2col as im2col_mod
from ristretto_sim.emulator.wide import WideInt
from ristretto_sim.formats import FixedPoint
from tests.emulator.reference import conv2d_ref, conv_transpose2d_ref

I8 = FixedPoint(8, 0)

CASES = [  # (C, O, H, W, kh, kw, stride, pad(top, left, bottom, right), dilation, groups)
    (3, 4, 7, 6, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), 1),
    (4, 6, 8, 7, 3, 2, (2, 1), (1, 0, 2, 1), (1, 2), 2),
    (4, 4, 6, 6, 3, 3, (1, 2), (2, 2, 2, 2), (2, 1), 4),  # depthwise
    (2, 3, 5, 5, 1, 1, (1, 1), (0, 0, 0, 0), (1, 1), 1),  # K = 2
    (1, 1, 4, 4, 1, 1, (1, 1), (0, 0, 0, 0), (1, 1), 1),  # K = 1
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("mode", ["saturate", "wrap"])
def test_conv2d_against_python_integers(case, mode):
    c, o, h, w_, kh, kw, stride, pad, dil, g = case
    rng = np.random.default_rng(sum(case[:6]))
    x = rng.integers(-128, 128, size=(2, c, h, w_))
    w = rng.integers(-128, 128, size=(o, c // g, kh, kw))
    x[0, :, 0, :] = -128  # extreme rows
    acc = FixedPoint(16, 0)
    bias = rng.integers(-20000, 20000, size=o)
    geom = ConvGeometry(stride=stride, padding=pad, dilation=dil, groups=g)
    r = fixed_conv2d(x, w, I8, I8, geom, accumulator=acc, overflow=mode, bias_codes=bias)
    want, count = conv2d_ref(x, w, bias, acc.min_code, acc.max_code, mode, stride, pad, dil, g)
    assert r.codes.shape == want.shape
    assert (r.codes.astype(object) == want).all()
    assert r.overflow_count == count


def test_saturation_count_nonzero_case():
    x = np.full((1, 8, 3, 3), 127)
    w = np.full((2, 8, 3, 3), 127)
    w[1] = -128
    r = fixed_conv2d(x, w, I8, I8, ConvGeometry(padding=1), accumulator=FixedPoint(18, 0))
    want, count = conv2d_ref(x, w, None, -(2**17), 2**17 - 1, "saturate", pad=(1, 1, 1, 1))
    assert (r.codes.astype(object) == want).all() and r.overflow_count == count > 0


@pytest.mark.parametrize(
    "stride,pad,dil,g,outpad",
    [
        ((1, 1), (0, 0, 0, 0), (1, 1), 1, (0, 0)),
        ((2, 2), (1, 1, 1, 1), (1, 1), 1, (1, 1)),
        ((2, 1), (0, 1, 2, 0), (1, 2), 2, (1, 0)),
        ((3, 2), (2, 2, 2, 2), (2, 1), 1, (0, 1)),
    ],
)
def test_conv_transpose_against_scatter_reference(stride, pad, dil, g, outpad):
    rng = np.random.default_rng(11)
    x = rng.integers(-128, 128, size=(2, 4, 4, 5))
    w = rng.integers(-128, 128, size=(4, 6 // g, 3, 3))
    geom = ConvGeometry(stride=stride, padding=pad, dilation=dil, groups=g, output_padding=outpad)
    r = fixed_conv_transpose2d(x, w, I8, I8, geom)
    want = conv_transpose2d_ref(x, w, stride, pad, dil, g, outpad)
    assert r.codes.shape == want.shape
    assert (r.codes.astype(object) == want).all()


def test_chunking_does_not_change_results(monkeypatch):
    rng = np.random.default_rng(12)
    x = rng.integers(-128, 128, size=(3, 5, 9, 9))
    w = rng.integers(-128, 128, size=(4, 5, 3, 3))
    geom = ConvGeometry(padding=1, stride=1)
    whole = fixed_conv2d(x, w, I8, I8, geom, accumulator=FixedPoint(17, 0))
    monkeypatch.setattr(im2col_mod, "CHUNK_BYTES", 200)  # one output row per chunk
    chunks = list(im2col_mod.patch_chunks(np.zeros((3, 11, 11, 5), np.float32), 3, 3, geom, (9, 9), np.float32))
    assert len(chunks) == 27
    parts = fixed_conv2d(x, w, I8, I8, geom, accumulator=FixedPoint(17, 0))
    assert np.array_equal(whole.codes, parts.codes) and whole.overflow_count == parts.overflow_count > 0


def test_im2col_order_is_ky_kx_c():
    x = np.arange(2 * 3 * 3).reshape(1, 2, 3, 3)  # channel c, pixel (y, x) -> c*9 + y*3 + x
    xp = im2col_mod.pad_nhwc(x, (0, 0, 0, 0))
    ((_, _, p),) = im2col_mod.patch_chunks(xp, 2, 2, ConvGeometry(), (2, 2), np.int64)
    assert p[0, 0].tolist() == [0, 9, 1, 10, 3, 12, 4, 13]


def test_geometry_validation():
    with pytest.raises(ValueError, match="stride"):
        ConvGeometry(stride=0)
    with pytest.raises(ValueError, match="padding"):
        ConvGeometry(padding=(1, 2, 3))
    with pytest.raises(ValueError, match="groups"):
        ConvGeometry(groups=0)
    with pytest.raises(ValueError, match="dilation"):
        ConvGeometry(dilation=(1, 0))
    assert ConvGeometry(padding=(1, 2)).padding == (1, 2, 1, 2)
    x = np.zeros((1, 4, 5, 5), np.int64)
    with pytest.raises(ValueError, match="shape mismatch"):
        fixed_conv2d(x, np.zeros((2, 3, 3, 3), np.int64), I8, I8)
    with pytest.raises(ValueError, match="does not fit"):
        fixed_conv2d(x, np.zeros((2, 4, 7, 7), np.int64), I8, I8)
    with pytest.raises(ValueError, match="per-channel"):
        fixed_conv_transpose2d(x, np.zeros((4, 2, 3, 3), np.int64), I8, FixedPoint(8, (1, 2, 3, 4)))


@settings(max_examples=25, deadline=None)
@given(
    c_per_group=st.integers(1, 3),
    groups=st.integers(1, 3),
    o_per_group=st.integers(1, 2),
    hw=st.tuples(st.integers(1, 6), st.integers(1, 6)),
    k=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    dil=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    pad=st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 2), st.integers(0, 2)),
    acc_bits=st.integers(10, 20),
    mode=st.sampled_from(["saturate", "wrap"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_property_random_geometry(c_per_group, groups, o_per_group, hw, k, stride, dil, pad, acc_bits, mode, seed):
    h, w_ = hw
    kh, kw = k
    if h + pad[0] + pad[2] < dil[0] * (kh - 1) + 1 or w_ + pad[1] + pad[3] < dil[1] * (kw - 1) + 1:
        return  # the kernel does not fit: covered by test_geometry_validation
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, size=(1, c_per_group * groups, h, w_))
    w = rng.integers(-128, 128, size=(o_per_group * groups, c_per_group, kh, kw))
    acc = FixedPoint(acc_bits, 0)
    bias = rng.integers(acc.min_code, acc.max_code + 1, size=o_per_group * groups)
    geom = ConvGeometry(stride=stride, padding=pad, dilation=dil, groups=groups)
    r = fixed_conv2d(x, w, I8, I8, geom, accumulator=acc, overflow=mode, bias_codes=bias)
    want, count = conv2d_ref(x, w, bias, acc.min_code, acc.max_code, mode, stride, pad, dil, groups)
    assert (r.codes.astype(object) == want).all() and r.overflow_count == count


# ------------------------------------------------------------------ the limb path
@pytest.mark.parametrize("case", CASES[:3])
@pytest.mark.parametrize("mode", ["saturate", "wrap"])
@pytest.mark.parametrize("bits,acc_bits", [(32, 40), (32, 75), (64, 100)])
def test_conv2d_wide_sums_against_python_integers(case, mode, bits, acc_bits, monkeypatch):
    """32- and 64-bit codes into narrow and wide accumulators, chunked output rows (WideInt assembly)."""
    c, o, h, w_, kh, kw, stride, pad, dil, g = case
    monkeypatch.setattr(im2col_mod, "CHUNK_BYTES", 2000)  # several patch chunks
    fmt = FixedPoint(bits, 0)
    rng = np.random.default_rng(sum(case[:6]) + bits)
    x = rng.integers(fmt.min_code, fmt.max_code, size=(2, c, h, w_), endpoint=True, dtype=np.int64)
    w = rng.integers(fmt.min_code, fmt.max_code, size=(o, c // g, kh, kw), endpoint=True, dtype=np.int64)
    x[0, :, 0, :] = fmt.min_code
    acc = FixedPoint(acc_bits, 0)
    bias = [int(v) * 2 ** (acc_bits - 40) for v in rng.integers(-(2**37), 2**37, size=o)]
    bias[0] = acc.max_code
    bias_codes = WideInt.from_ints(bias, 4) if acc_bits > 64 else np.array(bias, dtype=np.int64)
    geom = ConvGeometry(stride=stride, padding=pad, dilation=dil, groups=g)
    r = fixed_conv2d(x, w, fmt, fmt, geom, accumulator=acc, overflow=mode, bias_codes=bias_codes)
    want, count = conv2d_ref(x, w, bias, acc.min_code, acc.max_code, mode, stride, pad, dil, g)
    got = r.codes.to_python() if acc_bits > 64 else r.codes.astype(object)
    assert got.shape == want.shape and (got == want).all()
    assert r.overflow_count == count > 0


def test_conv_transpose_wide_sums():
    rng = np.random.default_rng(21)
    fmt = FixedPoint(40, 0)
    x = rng.integers(fmt.min_code, fmt.max_code, size=(1, 4, 3, 4), endpoint=True, dtype=np.int64)
    w = rng.integers(fmt.min_code, fmt.max_code, size=(4, 3, 3, 3), endpoint=True, dtype=np.int64)
    geom = ConvGeometry(stride=2, padding=1, groups=2, output_padding=1)
    r = fixed_conv_transpose2d(x, w, fmt, fmt, geom)
    assert r.accumulator.bits == 40 + 40 + 5 + 1  # K = 2 * 3 * 3
    want = conv_transpose2d_ref(x, w, (2, 2), (1, 1, 1, 1), (1, 1), 2, (1, 1))
    assert (r.codes.to_python() == want).all() and r.overflow_count == 0
