"""Ristretto's own quantizers (reference ristretto.md §1-3)."""

import numpy as np
import pytest

from ristretto_sim.formats import (
    Minifloat,
    ristretto_fixed_point,
    ristretto_minifloat,
    ristretto_power_of_two,
)


def test_dfp_clamps_then_rounds_half_even_on_gpu_and_away_on_cpu():
    x = np.array([2.5, -2.5, 3.5, 200.0, -200.0], dtype=np.float32)
    assert ristretto_fixed_point(x, 8, 0).tolist() == [2.0, -2.0, 4.0, 127.0, -128.0]
    assert ristretto_fixed_point(x, 8, 0, cpu_compat=True).tolist() == [3.0, -3.0, 4.0, 127.0, -128.0]
    assert ristretto_fixed_point([100.0], 8, 1).tolist() == [63.5]  # il = ceil(log2 100) = 7 saturates at 63.5


def test_dfp_default_q16_16_bound_is_exactly_32768():
    out = ristretto_fixed_point([1e6, -1e6, 32767.99999], 32, 16)
    assert out.tolist() == [32768.0, -32768.0, 32768.0]
    assert out.dtype == np.float32


def test_minifloat_examples_from_the_reference():
    assert ristretto_minifloat([500.0, 1000.0, -1000.0], 4, 3).tolist() == [512.0, 480.0, -480.0]
    assert ristretto_minifloat([1e6], 5, 10).tolist() == [131008.0]
    bias = 7
    smallest = 2.0 ** -bias
    assert ristretto_minifloat([smallest, smallest * 0.99, 0.0], 4, 3).tolist() == [smallest, 0.0, 0.0]
    assert ristretto_minifloat([np.inf], 4, 3).tolist() == [480.0]
    assert np.isinf(ristretto_minifloat([np.nan], 8, 23)[0])  # e=8: NaN comes out as Inf


def test_minifloat_default_is_identity_on_normal_floats():
    x = np.random.default_rng(0).normal(size=1000).astype(np.float32)
    assert np.array_equal(ristretto_minifloat(x, 8, 23), x)


def test_minifloat_cpu_quirk_stops_at_first_zero():
    x = np.array([1.3, 0.0, 1.3, 1.3], dtype=np.float32)
    gpu = ristretto_minifloat(x, 4, 1)
    cpu = ristretto_minifloat(x, 4, 1, cpu_compat=True)
    assert gpu.tolist() == [1.5, 0.0, 1.5, 1.5]
    assert cpu.tolist() == [1.5, 0.0, np.float32(1.3), np.float32(1.3)]


def test_hardware_twin_agrees_inside_the_range():
    """Minifloat(e, m, subnormals=False, specials='none') equals Ristretto away from the documented differences."""
    twin = Minifloat(4, 3, subnormals=False, specials="none")
    rng = np.random.default_rng(3)
    x = (rng.uniform(twin.min_normal, 400, 10000) * rng.choice([-1, 1], 10000)).astype(np.float32)
    assert np.array_equal(ristretto_minifloat(x, 4, 3).astype(np.float64), twin.quantize(x.astype(np.float64)))
    assert twin.quantize([500.0]).tolist() == [480.0]  # where they differ: no non-monotone carry


def test_power_of_two_rules():
    w = np.array([0.0, -0.0, 1e-9, -1e-9, 0.3, -0.3, 0.9, 0.75], dtype=np.float32)
    got = ristretto_power_of_two(w)
    assert got.tolist() == [2**-8, 2**-8, 2**-8, -(2**-8), 0.25, -0.25, 0.5, 0.5]
    # log-domain threshold is sqrt(2)*2^k, not 1.5*2^k: 0.36 > 0.25*sqrt(2) = 0.3536 rounds up
    assert ristretto_power_of_two([0.36, 0.35]).tolist() == [0.5, 0.25]


def test_only_nearest_or_stochastic():
    with pytest.raises(ValueError, match="Ristretto rounds"):
        ristretto_fixed_point([1.0], 8, 0, rounding="floor")
    s = ristretto_fixed_point(np.full(10000, 0.25, dtype=np.float32), 8, 0, rounding="stochastic", rng=4)
    assert abs(s.mean() - 0.25) < 0.02
