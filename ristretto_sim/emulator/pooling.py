"""Pooling on fixed-point codes: max pooling (exact), average pooling as a sum times a quantized reciprocal.

Max pooling only compares codes, so it is exact for every format; padding never wins (it is ignored, as in
Caffe and ONNX). Average pooling is what fixed-point hardware does instead of a division: the window's codes
are summed exactly (int64), the sum is multiplied by ``1/n`` rounded to a declared ``reciprocal`` format (one
reciprocal per distinct window count ``n``), and the product (fraction ``in.frac_bits +
reciprocal.frac_bits``) is requantized to the output format with the chosen rounding (rounding shift,
saturation).

Output size (:func:`pool_output_size`, the one rule the network's shape inference uses too):
``floor((H + pad_top + pad_bottom - kernel) / stride) + 1``, or with ``ceil_mode`` (Caffe's rule) ``ceil(...) +
1``, dropping a last window that would start inside the bottom/right padding (padded inputs only). Window counts for
the average: ``count_include_pad=True`` counts positions inside the padded input (Caffe; windows that run past
the padding in ceil mode are clipped), ``False`` counts only real input positions (ONNX default).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ristretto_sim.emulator.accumulator import check_per_tensor
from ristretto_sim.emulator.im2col import ConvGeometry, as_pair
from ristretto_sim.emulator.requantize import Requantized, requantize
from ristretto_sim.formats import FixedPoint, Overflow, Rounding


def pool_output_size(size: int, k: int, s: int, p0: int, p1: int, ceil_mode: bool) -> int:
    """Output length of a pooling window sweep along one axis.

    Floor mode: ``(size + p0 + p1 - k) // s + 1``. Ceil mode (Caffe's rounding, PyTorch's ``ceil_mode``):
    ``ceil((size + p0 + p1 - k) / s) + 1``, minus one when the input is padded and the last window would start in
    the end padding (``(out - 1) * s >= size + p0``), so that every window overlaps the image or the begin padding
    (Caffe's ``PoolingLayer::Reshape``).
    """
    span = size + p0 + p1 - k
    if not ceil_mode:
        return span // s + 1
    out = -(-span // s) + 1
    if p0 + p1 > 0 and (out - 1) * s >= size + p0:
        out -= 1
    return out


@dataclass(frozen=True)
class PoolGeometry:
    """Kernel, stride and padding of a 2-D pooling window.

    Parameters
    ----------
    kernel : int or (int, int)
        Window size in pixels.
    stride : int or (int, int), optional
        Step in pixels (default: the kernel size).
    padding : int, (int, int) or (top, left, bottom, right)
        Padding in pixels (ONNX order for four values).
    ceil_mode : bool
        Round the output size up (Caffe) instead of down.
    """

    kernel: tuple[int, int]
    stride: tuple[int, int] | None = None
    padding: tuple[int, int, int, int] = (0, 0, 0, 0)
    ceil_mode: bool = False

    def __post_init__(self):
        k = as_pair(self.kernel, "kernel")
        if min(k) < 1:
            raise ValueError(f"kernel={self.kernel!r} must be >= 1")
        g = ConvGeometry(stride=k if self.stride is None else self.stride, padding=self.padding)
        object.__setattr__(self, "kernel", k)
        object.__setattr__(self, "stride", g.stride)
        object.__setattr__(self, "padding", g.padding)
        if not isinstance(self.ceil_mode, (bool, np.bool_)):
            raise TypeError(f"ceil_mode={self.ceil_mode!r} must be True or False")

    def output_size(self, h: int, w: int) -> tuple[int, int]:
        """Output height and width in pixels."""
        out = []
        for size, k, s, p0, p1 in (
            (h, self.kernel[0], self.stride[0], self.padding[0], self.padding[2]),
            (w, self.kernel[1], self.stride[1], self.padding[1], self.padding[3]),
        ):
            if size + p0 + p1 - k < 0:
                raise ValueError(f"pooling kernel {self.kernel} does not fit the padded {h}x{w} input")
            out.append(pool_output_size(size, k, s, p0, p1, self.ceil_mode))
        return out[0], out[1]


def _windows(x: np.ndarray, geom: PoolGeometry, fill):
    """(N, C, Ho, Wo, kh, kw) strided view of the input padded with ``fill`` (extra padding for ceil mode)."""
    n, c, h, w = x.shape
    ho, wo = geom.output_size(h, w)
    top, left, _, _ = geom.padding
    need_h = (ho - 1) * geom.stride[0] + geom.kernel[0]
    need_w = (wo - 1) * geom.stride[1] + geom.kernel[1]
    xp = np.full((n, c, max(need_h, h + top), max(need_w, w + left)), fill, dtype=x.dtype)
    xp[:, :, top : top + h, left : left + w] = x
    s = xp.strides
    return np.lib.stride_tricks.as_strided(
        xp,
        shape=(n, c, ho, wo, geom.kernel[0], geom.kernel[1]),
        strides=(s[0], s[1], s[2] * geom.stride[0], s[3] * geom.stride[1], s[2], s[3]),
        writeable=False,
    )


def max_pool2d(x, geometry: PoolGeometry) -> np.ndarray:
    """Max pooling of an NCHW array of codes or values (exact; padding is never selected).

    Parameters
    ----------
    x : array, shape (N, C, H, W)
        Integer codes or float values.
    geometry : PoolGeometry

    Returns
    -------
    ndarray, shape (N, C, Ho, Wo), same dtype as ``x``
    """
    if not isinstance(geometry, PoolGeometry):
        raise TypeError(f"geometry={geometry!r} must be a PoolGeometry")
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"x must be NCHW (4-D), got shape {x.shape}")
    fill = np.iinfo(x.dtype).min if x.dtype.kind in "iu" else -np.inf
    return _windows(x, geometry, fill).max(axis=(4, 5))


def window_counts(h: int, w: int, geometry: PoolGeometry, count_include_pad: bool) -> np.ndarray:
    """Number of counted positions of each output window, shape (Ho, Wo) (see the module docstring)."""
    ho, wo = geometry.output_size(h, w)
    top, left, bottom, right = geometry.padding
    counts = []
    for n_out, k, s, p0, p1, size in (
        (ho, geometry.kernel[0], geometry.stride[0], top, bottom, h),
        (wo, geometry.kernel[1], geometry.stride[1], left, right, w),
    ):
        start = np.arange(n_out) * s - p0
        end = start + k
        if count_include_pad:
            c = np.minimum(end, size + p1) - np.maximum(start, -p0)
        else:
            c = np.minimum(end, size) - np.maximum(start, 0)
        counts.append(c)
    return counts[0][:, None] * counts[1][None, :]


def avg_pool2d(
    codes,
    in_fmt: FixedPoint,
    geometry: PoolGeometry,
    *,
    reciprocal: FixedPoint,
    out_fmt: FixedPoint,
    rounding=Rounding.NEAREST_EVEN,
    count_include_pad: bool = True,
    rng=None,
) -> Requantized:
    """Average pooling of fixed-point codes: exact window sum x quantized ``1/n``, requantized to ``out_fmt``.

    Parameters
    ----------
    codes : array of int, shape (N, C, H, W)
        Input codes in ``in_fmt`` (per-tensor fraction).
    in_fmt : FixedPoint
    geometry : PoolGeometry
    reciprocal : FixedPoint
        Format of the reciprocal ``1/n`` (e.g. ``FixedPoint(16, 15, signed=False)``); ``1/n`` is rounded to it
        with ``rounding``.
    out_fmt : FixedPoint
        Output format (per-tensor).
    rounding : Rounding or str
        Rounding of the reciprocal and of the output.
    count_include_pad : bool
        Count padding positions in ``n`` (Caffe) or not (ONNX default).
    rng : optional
        Stochastic rounding key (output only; the reciprocal rounds to nearest even when stochastic).

    Returns
    -------
    Requantized
        Output codes (N, C, Ho, Wo) and the number of saturated outputs.
    """
    for f, name in ((in_fmt, "in_fmt"), (reciprocal, "reciprocal"), (out_fmt, "out_fmt")):
        check_per_tensor(f, name)
    if not isinstance(geometry, PoolGeometry):
        raise TypeError(f"geometry={geometry!r} must be a PoolGeometry")
    rounding = Rounding.coerce(rounding, "rounding")
    c = np.asarray(codes)
    if c.ndim != 4 or c.dtype.kind not in "iu":
        raise ValueError(f"codes must be NCHW integer codes, got shape {c.shape} and dtype {c.dtype}")
    sums = _windows(c.astype(np.int64), geometry, 0).sum(axis=(4, 5))  # exact
    counts = window_counts(c.shape[2], c.shape[3], geometry, count_include_pad)
    r_round = Rounding.NEAREST_EVEN if rounding is Rounding.STOCHASTIC else rounding
    recip = reciprocal.encode(1.0 / counts.astype(np.float64), r_round, Overflow.SATURATE)
    prod = sums * recip  # exact: |sum| < 2**(in.bits + log2 n), recip < 2**reciprocal.bits
    return requantize(prod, in_fmt.frac_bits + reciprocal.frac_bits, out_fmt, rounding, Overflow.SATURATE, rng)
