"""The float convolution's two GEMM orientations (per-image columns for few channels per group, row patches
otherwise): the choice depends on the layer's shape only, and both sum the same K products in (ky, kx, c) order (the
last bits may differ: BLAS blocks the sums by operand shape)."""

import numpy as np
import pytest

from ristretto_sim.emulator.im2col import (
    ROW_PATCH_CHANNELS,
    ConvGeometry,
    column_rows,
    im2col_conv,
    im2col_conv_nchw,
    weight_matrix,
)

RNG = np.random.default_rng(5)


def columns_conv(x, w, geom):
    """The column orientation whatever the channel count."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    g = geom.groups
    top, left, bottom, right = geom.padding
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    ho, wo = geom.output_size(h, wd, kh, kw)
    cols = np.empty((n, g, kh * kw * (c // g), ho * wo), np.float32)
    column_rows(xp, cols, kh, kw, geom, (ho, wo))
    wm = np.ascontiguousarray(weight_matrix(w, g).transpose(0, 2, 1))
    return np.matmul(wm, cols).reshape(n, o, ho, wo)


@pytest.mark.parametrize("shape, kernel, geom", [
    ((100, 1, 28, 28), (20, 1, 5, 5), ConvGeometry()),  # Caffe LeNet conv1
    ((100, 20, 12, 12), (50, 20, 5, 5), ConvGeometry()),  # conv2
    ((16, 32, 16, 16), (32, 32, 5, 5), ConvGeometry(padding=2)),  # CIFAR-10 full
    ((8, 16, 9, 9), (12, 4, 3, 3), ConvGeometry(stride=2, padding=(1, 0, 1, 1), dilation=(1, 2), groups=4)),
])
def test_both_orientations_give_the_same_bits(shape, kernel, geom):
    x = RNG.normal(size=shape).astype(np.float32)
    w = RNG.normal(size=kernel).astype(np.float32)
    rows = im2col_conv(x, w, geom.padding, geom, np.float32, np.matmul)
    cols = columns_conv(x, w, geom)
    scale = float(np.abs(x).max() * np.abs(w).max() * kernel[1] * kernel[2] * kernel[3])
    np.testing.assert_allclose(cols, rows, rtol=0, atol=scale * 2.0**-22)  # a few float32 ulps of the sum bound
    chosen = rows if shape[1] // geom.groups >= ROW_PATCH_CHANNELS else cols
    np.testing.assert_array_equal(im2col_conv_nchw(x, w, geom.padding, geom, np.float32), chosen)
