import numpy as np
import pytest

from ristretto_sim.formats import (
    FixedPoint,
    fixed_point_for_range,
    minifloat_for_range,
    ristretto_integer_length,
    ristretto_minifloat_exp_bits,
)


def test_ristretto_integer_lengths():
    assert ristretto_integer_length(100.0, weights=False) == 7
    assert ristretto_integer_length(0.9, weights=True) == 1
    assert ristretto_integer_length(0.5, weights=True) == 0  # an exact power of two loses one LSB
    assert ristretto_integer_length(151.0, weights=False) == 8  # SqueezeNet conv1 fl_in = 0 at 8 bits
    with pytest.raises(ValueError, match="positive"):
        ristretto_integer_length(0.0, weights=False)


def test_fixed_point_rules():
    assert fixed_point_for_range([100.0, -3.0], 8, "ristretto_activations") == FixedPoint(8, 1)
    assert fixed_point_for_range(0.9, 8, "ristretto_weights") == FixedPoint(8, 7)
    f = fixed_point_for_range([100.0], 8, "no_saturation")
    assert f == FixedPoint(8, 0) and f.max >= 100
    f = fixed_point_for_range([0.9921875], 8)
    assert f == FixedPoint(8, 7)
    f = fixed_point_for_range([0.9921876], 8)
    assert f == FixedPoint(8, 6)
    u = fixed_point_for_range([255.0], 8, signed=False)
    assert u == FixedPoint(8, 0, signed=False)


def test_no_saturation_rule_is_tight():
    rng = np.random.default_rng(0)
    for m in rng.uniform(1e-4, 1e4, 200):
        f = fixed_point_for_range(m, 8)
        assert f.max >= m and FixedPoint(8, f.frac_bits + 1).max < m


def test_per_channel():
    w = np.array([[0.5, -0.2], [3.0, 1.0]])
    f = fixed_point_for_range(w, 8, "ristretto_weights", per_channel=True)
    assert f.frac_bits == (8, 5)


def test_minifloat_exponent_choice():
    assert ristretto_minifloat_exp_bits([1.0, 100.0, 512.0]) == 4
    assert ristretto_minifloat_exp_bits([513.0]) == 5
    assert ristretto_minifloat_exp_bits([2.0**17]) == 5
    assert ristretto_minifloat_exp_bits([2.0**17 + 1000]) == 6
    f = minifloat_for_range([300.0], 8, specials="fn")
    assert f.exp_bits == 4 and f.max >= 300
    with pytest.raises(ValueError, match="reaches"):
        minifloat_for_range([1e30], 4)
