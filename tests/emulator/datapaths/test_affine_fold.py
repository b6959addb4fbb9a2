"""The folded zero point (``AffineMac.accumulate_folded``): the bias absorbs ``z_x * sum_k w_k`` (and with
asymmetric weights the PE's row sums subtract ``z_w * sum_k x_k``), and the int32 accumulator equals the
subtracting datapath's bit for bit, including when the intermediate sums wrap."""

import numpy as np
import pytest

from ristretto_sim.emulator import ConvGeometry, LayerFormats
from ristretto_sim.emulator.datapaths import select
from ristretto_sim.emulator.datapaths.base import NO_KEYS
from ristretto_sim.emulator.datapaths.operation import LayerOp
from ristretto_sim.formats import Affine

INT8_IN, INT8_W = Affine(8, 0.05, -7), Affine(8, 0.01, 0)


def _layer(kind, w_shape, geometry=None, in_fmt=INT8_IN, w_fmt=INT8_W, seed=0, bias_scale=1.0):
    rng = np.random.default_rng(seed)
    f = LayerFormats(in_fmt, w_fmt, outputs=Affine(8, 0.2, 3), accumulator="fixed32.0", rounding="nearest_away")
    dp = select(f)
    w = (rng.integers(w_fmt.min_code, w_fmt.max_code + 1, w_shape) - w_fmt.zero_point) * w_fmt.scale
    b = rng.integers(-2**31, 2**31, w_shape[0]) * bias_scale * in_fmt.scale * w_fmt.scale
    op = LayerOp.of(kind, w, geometry)
    return dp, dp.prepare(op, w, b), rng


def _x(rng, fmt, shape):
    return (rng.integers(fmt.min_code, fmt.max_code + 1, shape) - fmt.zero_point) * fmt.scale


@pytest.mark.parametrize("geometry, w_shape, x_shape", [
    (ConvGeometry(stride=(1, 1), padding=(1, 1, 1, 1)), (6, 3, 3, 3), (2, 3, 7, 7)),
    (ConvGeometry(stride=(2, 2), padding=(0, 1, 2, 1), groups=4), (8, 1, 3, 3), (1, 4, 9, 8)),
])
def test_folded_convolution_equals_subtracting_one_with_padding(geometry, w_shape, x_shape):
    dp, prepared, rng = _layer("conv2d", w_shape, geometry)
    x = _x(rng, dp.inputs, x_shape)
    assert np.array_equal(dp.accumulate_folded(prepared, x).codes, dp.accumulate(prepared, x, NO_KEYS).codes)


def test_folded_sums_wrap_to_the_same_int32_codes():
    # int32-extreme biases and a long K: the exact sums leave int32 (the subtracting datapath wraps them), and the
    # folded bias and sums pass through other wrapped values on the way
    f = LayerFormats(Affine(8, 0.05, -7), Affine(8, 0.01, 0), outputs=Affine(8, 0.2, 3), accumulator="fixed32.0",
                     rounding="nearest_away")
    dp = select(f)
    w = np.array([[127] * 4096, [-127] * 4096, [127, -128] * 2048]) * 0.01
    b = np.array([2**31 - 1, -2**31, 2**31 - 1]) * 0.05 * 0.01  # int32-extreme bias codes
    prepared = dp.prepare(LayerOp.of("linear", w), w, b)
    x = (np.array([[127] * 4096, [-128] * 4096, [-7] * 4096]) + 7) * 0.05
    ref = dp.accumulate(prepared, x, NO_KEYS)
    assert ref.overflows > 0
    exact_bias = prepared.bias + 7 * np.rint(w / 0.01).astype(np.int64).sum(axis=1)  # b - z_x * sum w, z_x = -7
    assert exact_bias[0] > 2**31 - 1 and dp.folded_bias(prepared)[0] == exact_bias[0] - 2**32  # it wraps too
    assert np.array_equal(dp.accumulate_folded(prepared, x).codes, ref.codes)


def test_asymmetric_weights_fold_with_the_row_sums():
    # ONNX's uint8 weights and activations (z_w != 0): the row-sum term -z_w * sum_k x_k and K * z_x * z_w
    dp, prepared, rng = _layer("linear", (5, 300), in_fmt=Affine(8, 0.05, 100, signed=False),
                               w_fmt=Affine(8, 0.01, 131, signed=False), bias_scale=1e-3)
    x = _x(rng, dp.inputs, (3, 300))
    assert np.array_equal(dp.accumulate_folded(prepared, x).codes, dp.accumulate(prepared, x, NO_KEYS).codes)
    units = {u.op: u.bits for u in dp.folded_units(1)}
    assert units["int_mul"] == (8, 8) and len(dp.folded_units(1)) == 3  # the raw-code multiplier, acc and row sum
    assert len(dp.folded_readout_units()) == len(dp.readout_units()) + 2


def test_symmetric_weights_fold_to_a_plain_8x8_mac():
    dp, _, _ = _layer("linear", (4, 16))
    assert [u.bits for u in dp.units(1)] == [(9, 8), (32,)]
    assert [u.bits for u in dp.folded_units(1)] == [(8, 8), (32,)]
    assert dp.folded_readout_units() == dp.readout_units()
