import numpy as np
import pytest

from ristretto_sim.emulator.elementwise import add_fixed, concat_fixed, relu
from ristretto_sim.formats import FixedPoint
from tests.emulator.reference import requantize_ref


def test_relu():
    assert relu(np.array([-3, 0, 5])).tolist() == [0, 0, 5]
    assert relu(np.array([-0.5, 2.0])).tolist() == [0.0, 2.0]


@pytest.mark.parametrize("mode", ["nearest_even", "nearest_away", "floor", "toward_zero"])
def test_add_aligns_fractions_exactly(mode):
    fa, fb, fo = FixedPoint(8, 6), FixedPoint(8, 2), FixedPoint(8, 3)
    a = np.arange(-128, 128).repeat(3)
    b = np.tile(np.array([-128, 7, 127]), 256)
    r = add_fixed(a, fa, b, fb, fo, mode)
    want = [requantize_ref(int(x) + (int(y) << 4), 6 - 3, mode, -128, 127) for x, y in zip(a, b, strict=True)]
    assert r.codes.tolist() == want
    assert r.saturations == sum(1 for x, y in zip(a, b, strict=True) if abs((int(x) + (int(y) << 4)) / 8) > 127.5)


def test_add_unsigned_output_and_left_shift():
    r = add_fixed(np.array([3, -5]), FixedPoint(8, 0), np.array([1, 1]), FixedPoint(4, 0), FixedPoint(8, 2, False))
    assert r.codes.tolist() == [16, 0] and r.saturations == 1


def test_concat_requantizes_each_input():
    a = np.array([[1, 2]])
    b = np.array([[100, -100]])
    r = concat_fixed([(a, FixedPoint(8, 0)), (b, FixedPoint(8, 4))], FixedPoint(8, 2), axis=1)
    assert r.codes.tolist() == [[4, 8, 25, -25]] and r.saturations == 0
    r = concat_fixed([(a * 100, FixedPoint(16, 0))], FixedPoint(8, 2), axis=0)
    assert r.codes.tolist() == [[127, 127]] and r.saturations == 2
    with pytest.raises(ValueError, match="at least one"):
        concat_fixed([], FixedPoint(8, 0))


def test_bad_formats():
    with pytest.raises(TypeError, match="b_fmt"):
        add_fixed(np.array([1]), FixedPoint(8, 0), np.array([1]), "int8", FixedPoint(8, 0))
    with pytest.raises(ValueError, match="per-tensor"):
        add_fixed(np.array([1]), FixedPoint(8, (0, 1)), np.array([1]), FixedPoint(8, 0), FixedPoint(8, 0))
