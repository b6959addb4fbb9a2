import pytest
from hypothesis import given
from hypothesis import strategies as st

from ristretto_sim.errors import FormatError
from ristretto_sim.formats import CATALOG, FixedPoint, Minifloat, PowerOfTwo, catalog, parse_format


@pytest.mark.parametrize(
    "text, fmt",
    [
        ("fixed8.7", FixedPoint(8, 7)),
        ("fixed8.-3", FixedPoint(8, -3)),
        ("FIXED 32.16", FixedPoint(32, 16)),
        ("ufixed8.0", FixedPoint(8, 0, signed=False)),
        ("fixed8.(7,6,-1)", FixedPoint(8, (7, 6, -1))),
        ("e5m2", Minifloat(5, 2)),
        ("e4m3fn", Minifloat(4, 3, specials="fn")),
        ("e4m3[bias=8,nosub]", Minifloat(4, 3, bias=8, subnormals=False)),
        ("e3m2[specials=ieee]", Minifloat(3, 2)),
        ("e3m2", Minifloat(3, 2, specials="none")),
        ("e2m1", Minifloat(2, 1, specials="none")),
        ("fp16", Minifloat(5, 10)),
        ("bf16", Minifloat(8, 7)),
        ("int8", FixedPoint(8, 0)),
        ("uint8", FixedPoint(8, 0, signed=False)),
        ("pow2[-8,-1]", PowerOfTwo(-8, -1)),
        ("pow2[-8,-1,nozero]", PowerOfTwo(-8, -1, has_zero=False)),
        ("pow2[-8, -1, nozero, linear]", PowerOfTwo(-8, -1, has_zero=False, domain="linear")),
    ],
)
def test_parse(text, fmt):
    assert parse_format(text) == fmt
    assert parse_format(str(fmt)) == fmt


def test_catalog_names_are_canonical_and_round_trip():
    for name, fmt in CATALOG.items():
        assert parse_format(str(fmt)) == fmt
        assert catalog(name) is fmt
    assert str(CATALOG["e2m1"]) == "fp4_e2m1"
    assert str(CATALOG["int8"]) == "fixed8.0"
    assert CATALOG["fp4_e2m1"].max == 6 and CATALOG["e4m3fn"].max == 448 and CATALOG["e5m2"].max == 57344


minifloats = st.builds(
    Minifloat, exp_bits=st.integers(2, 8), man_bits=st.integers(1, 10), bias=st.none() | st.integers(-5, 20),
    subnormals=st.booleans(), specials=st.sampled_from(["ieee", "fn", "none"]))
fixed = st.builds(FixedPoint, bits=st.integers(1, 64), frac_bits=st.integers(-40, 80) | st.lists(
    st.integers(-8, 16), min_size=1, max_size=5).map(tuple), signed=st.booleans())
pow2 = st.builds(lambda lo, n, z, d: PowerOfTwo(lo, lo + n, has_zero=z, domain=d), st.integers(-30, 10),
                 st.integers(0, 20), st.booleans(), st.sampled_from(["log", "linear"]))


@given(fmt=minifloats | fixed | pow2)
def test_every_format_round_trips_through_its_text(fmt):
    assert parse_format(str(fmt)) == fmt
    assert f"{fmt}" == str(fmt)


@pytest.mark.parametrize("text", ["fixed8", "fixed8.x", "e4", "pow2[1]", "float8", "e4m3[bias=]",
                                  "e4m3fn[specials=none]", "pow2[0,1,square]", "", "fixed0.0", "pow2[3,1]", "e1m3"])
def test_bad_text_names_itself(text):
    with pytest.raises(FormatError, match="format|option|invalid"):
        parse_format(text)


def test_catalog_lookup_error_lists_names():
    with pytest.raises(KeyError, match="e4m3fn"):
        catalog("fp7")
