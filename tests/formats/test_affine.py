"""Affine integer formats against exact ``Fraction`` arithmetic: every code of 8-bit formats, per-channel scales on
an axis, the text form round trip, and the errors."""

from fractions import Fraction

import numpy as np
import pytest

from ristretto_sim.errors import FormatError
from ristretto_sim.formats import Affine, Rounding, fits_in, format_kind, parse_format, widest
from ristretto_sim.graph.plan import QuantPlan

# float32 scales, as TFLite and ONNX store them (decode is then exact in float64)
SCALES = [0.5847029089927673, 0.003921568859368563, 1.0 / 256, float(np.float32(0.0235)), 3.0]


def ref_encode(x: float, scale: float, zp: int, lo: int, hi: int, rounding: Rounding) -> int:
    q = Fraction(x) / Fraction(scale)
    f = q.numerator // q.denominator
    d = q - f
    if d == 0:
        r = f
    elif d != Fraction(1, 2):
        r = f + (d > Fraction(1, 2))
    elif rounding is Rounding.NEAREST_AWAY:
        r = f + 1 if q > 0 else f
    else:  # nearest even
        r = f if f % 2 == 0 else f + 1
    return min(max(r + zp, lo), hi)


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("zp,signed", [(0, True), (83, True), (-128, True), (128, False), (0, False)])
def test_every_code_decodes_exactly_and_encodes_back(scale, zp, signed):
    f = Affine(8, scale, zp, signed=signed)
    codes = np.arange(f.min_code, f.max_code + 1)
    values = f.decode(codes)
    assert [Fraction(v) for v in values] == [Fraction(scale) * (int(c) - zp) for c in codes]
    assert np.array_equal(f.encode(values), codes)
    # the float32 values an interpreter hands over encode back too
    assert np.array_equal(f.encode(values.astype(np.float32)), codes)
    assert f.min == values[0] and f.max == values[-1]


@pytest.mark.parametrize("rounding", [Rounding.NEAREST_EVEN, Rounding.NEAREST_AWAY])
def test_encode_between_codes_and_beyond_the_range(rounding):
    rng = np.random.default_rng(0)
    for scale in SCALES:
        f = Affine(8, scale, -5)
        x = rng.uniform(-200 * scale, 200 * scale, 500)
        x = np.concatenate([x, (np.arange(-20, 20) + 0.5) * scale])  # ties
        got = f.encode(x, rounding)
        want = [ref_encode(float(v), scale, -5, -128, 127, rounding) for v in x]
        assert got.tolist() == want
        assert np.array_equal(f.quantize(x, rounding), f.decode(got))


def test_per_channel_scales_run_along_their_axis():
    f = Affine(8, (0.5, 0.25, 0.125), 0, axis=1)
    codes = np.arange(-6, 6).reshape(2, 3, 2)
    v = f.decode(codes)
    assert np.array_equal(v, codes * np.array([0.5, 0.25, 0.125]).reshape(1, 3, 1))
    assert np.array_equal(f.encode(v), codes)
    with pytest.raises(ValueError, match="3 scales along axis 1 but the tensor has shape"):
        f.encode(np.zeros((3, 2)))
    assert f.channel(2) == Affine(8, 0.125, 0)
    assert f.per_channel and f.channels == 3 and not Affine(8, 0.5).per_channel


@pytest.mark.parametrize("text", [
    "affine8[s=0.5847029089927673,z=83]", "uaffine8[s=0.5,z=128]", "affine8[s=(0.01,0.02,3e-05),z=0,axis=3]",
    "affine32[s=(0.1,0.2),z=0,axis=0]", "affine8[s=(0.5,0.25),z=(1,-2),axis=0]", "affine4[s=2.0,z=-3]",
])
def test_text_round_trip(text):
    f = parse_format(text)
    assert format_kind(f) == "affine"
    assert str(f) == text and parse_format(str(f)) == f


def test_text_accepts_long_names_and_spaces():
    assert parse_format("affine8[scale=0.5, zero_point=3]") == Affine(8, 0.5, 3)
    assert parse_format("AFFINE8[S=0.5]") == Affine(8, 0.5, 0)


@pytest.mark.parametrize("text,match", [
    ("affine8[z=3]", "needs a scale"),
    ("affine8[s=0.5,q=1]", "cannot read affine option"),
    ("affine8[s=-1]", "positive"),
    ("affine8[s=0.5,z=300]", "not a code"),
    ("affine8[s=(0.5,0.25),z=(1,2,3)]", "3 entries"),
    ("affine40[s=1]", "bits"),
])
def test_bad_text_names_the_problem(text, match):
    with pytest.raises(FormatError, match=match):
        parse_format(text)


def test_widths_of_affine_formats():
    a8, u8 = Affine(8, 0.1, -128), Affine(8, 0.2, 128, signed=False)
    assert fits_in(a8, Affine(8, 1.0)) and not fits_in(u8, Affine(8, 1.0)) and fits_in(u8, Affine(9, 1.0))
    assert widest([a8, u8]) == Affine(9, 1.0)


def test_the_plan_yaml_holds_affine_formats():
    plan = QuantPlan({"conv": {"inputs": "affine8[s=0.5,z=-128]", "weights": "affine8[s=(0.01,0.02),z=0,axis=0]",
                               "bias": "affine32[s=(0.005,0.01),z=0,axis=0]", "outputs": "affine8[s=0.25,z=3]",
                               "accumulator": "fixed32.0"}})
    text = plan.to_yaml()
    assert "affine8[s=(0.01,0.02),z=0,axis=0]" in text
    assert QuantPlan.from_yaml(text) == plan
