from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ristretto_sim.formats import Overflow, Rounding, StochasticKey
from ristretto_sim.formats.rounding import round_to_integer, uniform_bits53
from tests.formats.reference import pick

DETERMINISTIC = [r for r in Rounding if r is not Rounding.STOCHASTIC]


def _ref(x: float, mode: Rounding) -> float:
    f = Fraction(x)
    lo, hi = Fraction(int(np.floor(x))), Fraction(int(np.ceil(x)))
    return float(pick(f, lo, hi, mode))


@pytest.mark.parametrize("mode", DETERMINISTIC)
def test_ties_and_neighbours_match_reference(mode):
    xs = np.array([-3.5, -2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5, -2.25, 2.75, 0.49999999999999994,
                   -0.49999999999999994, 4503599627370495.5, -4503599627370495.5, 1e300, -7.0, 0.0])
    got = round_to_integer(xs, mode)
    want = [_ref(x, mode) for x in xs]
    assert got.tolist() == want


@pytest.mark.parametrize("mode", DETERMINISTIC)
@given(x=st.floats(allow_nan=False, allow_infinity=False, width=64))
def test_every_float64_rounds_like_the_exact_reference(mode, x):
    assert round_to_integer(np.array([x]), mode)[0] == _ref(x, mode)


def test_negative_values_rounding_to_zero_keep_the_sign():
    for mode in Rounding:
        out = round_to_integer(np.array([-0.25]), mode, rng=1)
        if out[0] == 0:
            assert np.signbit(out[0]), mode


def test_infinities_pass_through():
    out = round_to_integer(np.array([np.inf, -np.inf]), Rounding.NEAREST_AWAY)
    assert out.tolist() == [np.inf, -np.inf]


def test_stochastic_is_floor_plus_u_and_unbiased():
    x = np.full(200_000, 2.3)
    out = round_to_integer(x, Rounding.STOCHASTIC, rng=7)
    assert set(np.unique(out)) == {2.0, 3.0}
    assert abs(out.mean() - 2.3) < 0.005
    neg = round_to_integer(-x, Rounding.STOCHASTIC, rng=7)
    assert abs(neg.mean() + 2.3) < 0.005


def test_stochastic_never_moves_integers():
    x = np.arange(-50, 50, dtype=np.float64)
    assert (round_to_integer(x, Rounding.STOCHASTIC, rng=3) == x).all()


def test_stochastic_same_bits_however_chunked():
    rng = np.random.default_rng(0)
    x = rng.normal(size=10_000) * 10
    whole = round_to_integer(x, Rounding.STOCHASTIC, rng=StochasticKey(42))
    parts = np.concatenate([
        round_to_integer(x[:3333], Rounding.STOCHASTIC, rng=StochasticKey(42, 0)),
        round_to_integer(x[3333:], Rounding.STOCHASTIC, rng=StochasticKey(42, 3333)),
    ])
    assert (whole == parts).all()
    other = round_to_integer(x, Rounding.STOCHASTIC, rng=StochasticKey(43))
    assert (whole != other).any()


def test_stochastic_draws_are_53_bit_and_uniform():
    k = uniform_bits53(StochasticKey(1), (100_000,))
    assert k.max() < 2**53
    u = k.astype(np.float64) / 2**53
    assert abs(u.mean() - 0.5) < 0.01
    hist, _ = np.histogram(u, bins=10, range=(0, 1))
    assert hist.min() > 9_000


def test_stochastic_requires_a_seed():
    with pytest.raises(ValueError, match="rng"):
        round_to_integer(np.array([0.5]), Rounding.STOCHASTIC)
    with pytest.raises(TypeError, match="rng"):
        round_to_integer(np.array([0.5]), Rounding.STOCHASTIC, rng="seed")


def test_modes_accept_names_and_reject_unknown():
    assert Rounding("nearest_even") is Rounding.NEAREST_EVEN
    assert Rounding("NEAREST-UP") is Rounding.NEAREST_UP
    assert Overflow("wrap") is Overflow.WRAP
    with pytest.raises(ValueError, match="rounding='banker'"):
        Rounding.coerce("banker", "rounding")
