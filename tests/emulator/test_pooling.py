from fractions import Fraction

import numpy as np
import pytest

from ristretto_sim.emulator.pooling import PoolGeometry, avg_pool2d, max_pool2d, window_counts
from ristretto_sim.formats import FixedPoint
from tests.emulator.reference import requantize_ref, round_fraction


def _ref_windows(h, w, geom):
    """Yield (yo, xo, [(y, x) inside the input], count_incl_pad, count_excl_pad) by brute force."""
    ho, wo = geom.output_size(h, w)
    top, left, bottom, right = geom.padding
    for yo in range(ho):
        for xo in range(wo):
            ys = range(yo * geom.stride[0] - top, yo * geom.stride[0] - top + geom.kernel[0])
            xs = range(xo * geom.stride[1] - left, xo * geom.stride[1] - left + geom.kernel[1])
            inside = [(y, x) for y in ys for x in xs if 0 <= y < h and 0 <= x < w]
            padded = [(y, x) for y in ys for x in xs if -top <= y < h + bottom and -left <= x < w + right]
            yield yo, xo, inside, len(padded), len(inside)


GEOMS = [
    PoolGeometry(2),
    PoolGeometry(3, 2, 1),
    PoolGeometry(3, 2, 0, ceil_mode=True),  # Caffe's ceil mode: the last window runs past the input
    PoolGeometry((2, 3), (1, 2), (0, 1, 1, 0)),
    PoolGeometry(7, 1),  # global
]


@pytest.mark.parametrize("geom", GEOMS, ids=str)
def test_max_pool_against_brute_force(geom):
    rng = np.random.default_rng(0)
    x = rng.integers(-128, 128, size=(2, 3, 7, 7))
    x[0, 0] = -128  # all-negative channel: padding must not win
    got = max_pool2d(x, geom)
    for yo, xo, inside, _, _ in _ref_windows(7, 7, geom):
        want = np.array([[max(int(x[n, c, y, xx]) for y, xx in inside) for c in range(3)] for n in range(2)])
        assert np.array_equal(got[:, :, yo, xo], want)
    assert max_pool2d(x.astype(float) / 8, geom).dtype == np.float64


@pytest.mark.parametrize("geom", GEOMS, ids=str)
@pytest.mark.parametrize("include_pad", [True, False])
@pytest.mark.parametrize("mode", ["nearest_even", "floor", "nearest_up"])
def test_avg_pool_sum_times_quantized_reciprocal(geom, include_pad, mode):
    rng = np.random.default_rng(1)
    fin, recip, fout = FixedPoint(8, 4), FixedPoint(10, 9, signed=False), FixedPoint(8, 5)
    x = rng.integers(-128, 128, size=(1, 2, 7, 7))
    x[0, 1] = 127
    r = avg_pool2d(x, fin, geom, reciprocal=recip, out_fmt=fout, rounding=mode, count_include_pad=include_pad)
    counts = window_counts(7, 7, geom, include_pad)
    for yo, xo, inside, n_pad, n_in in _ref_windows(7, 7, geom):
        n = n_pad if include_pad else n_in
        assert counts[yo, xo] == n
        rc = min(round_fraction(Fraction(2**9, n), mode), 2**10 - 1)  # 1/n on the reciprocal grid
        for c in range(2):
            s = sum(int(x[0, c, y, xx]) for y, xx in inside)
            assert r.codes[0, c, yo, xo] == requantize_ref(s * rc, 4 + 9 - 5, mode, -128, 127)


def test_global_average_of_constant_is_close_and_reciprocal_error_visible():
    x = np.full((1, 1, 3, 3), 100)
    fin = FixedPoint(8, 0)
    r = avg_pool2d(x, fin, PoolGeometry(3), reciprocal=FixedPoint(4, 4, signed=False), out_fmt=FixedPoint(8, 0))
    assert r.codes[0, 0, 0, 0] == 112  # 1/9 rounds to 2/16; 900 * 2/16 = 112.5 -> 112 (ties to even)
    exact = avg_pool2d(x, fin, PoolGeometry(3), reciprocal=FixedPoint(16, 16, signed=False), out_fmt=fin)
    assert exact.codes[0, 0, 0, 0] == 100


def test_bad_parameters():
    with pytest.raises(ValueError, match="stride"):
        PoolGeometry(2, 0)
    with pytest.raises(ValueError, match="does not fit"):
        max_pool2d(np.zeros((1, 1, 2, 2)), PoolGeometry(3))
    with pytest.raises(TypeError, match="reciprocal"):
        avg_pool2d(
            np.zeros((1, 1, 2, 2), np.int64),
            FixedPoint(8, 0),
            PoolGeometry(2),
            reciprocal=0.25,
            out_fmt=FixedPoint(8, 0),
        )
    with pytest.raises(TypeError, match="geometry"):
        max_pool2d(np.zeros((1, 1, 2, 2)), 2)


def test_kernel_validation_names_the_kernel():
    with pytest.raises(ValueError, match="kernel=0"):
        PoolGeometry(0)
    with pytest.raises(TypeError, match="kernel="):
        PoolGeometry("3")
    with pytest.raises(TypeError, match="ceil_mode"):
        PoolGeometry(2, ceil_mode="yes")
