"""The shift-and-add datapath's fast path (a lossless shifter is an integer GEMM with weights +-2**t, run by the
fixed-point fast path) equals its general accumulate-and-readout path bit for bit."""

import numpy as np
import pytest

from ristretto_sim.emulator import LayerFormats, PreparedLayer
from ristretto_sim.emulator.im2col import ConvGeometry
from ristretto_sim.formats import FixedPoint, PowerOfTwo


@pytest.mark.parametrize("kind", ["linear", "conv2d"])
@pytest.mark.parametrize("rounding", ["nearest_even", "floor", "nearest_away"])
def test_lossless_shift_fast_path_equals_the_general_path(kind, rounding):
    rng = np.random.default_rng(4)
    formats = LayerFormats(FixedPoint(8, 5), PowerOfTwo(-8, -1, has_zero=False), None, FixedPoint(8, 4),
                           rounding=rounding)
    if kind == "linear":
        x, w, geom = rng.normal(size=(17, 40)), rng.normal(size=(6, 40)) * 0.2, None
    else:
        x, w = rng.normal(size=(3, 4, 9, 8)), rng.normal(size=(5, 4, 3, 3)) * 0.2
        geom = ConvGeometry(stride=(2, 1), padding=(1, 1, 0, 2))
    x[0, :3] = 40.0  # input saturations
    b = rng.normal(size=w.shape[0])
    layer = PreparedLayer(kind, w, b, formats, geom)
    prep = layer.datapath.prepare(layer.op, layer.weights, layer.bias)
    assert prep.extra[1] is not None  # the fast path is prepared
    fast = layer.datapath.run(prep, x.astype(np.float64))
    slow = layer.datapath.run(prep, x.astype(np.float64), accumulator=True)  # the accumulate hook, then readout
    assert np.array_equal(fast.values, slow.values) and np.array_equal(fast.codes, slow.codes)
    assert fast.stats.output_saturations == slow.stats.output_saturations
    assert fast.stats.input_saturations == slow.stats.input_saturations
