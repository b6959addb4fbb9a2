"""Exact fixed-point 2-D convolution and transposed convolution with a declared accumulator.

A convolution is run as one GEMM per group over im2col patches in (ky, kx, c) order (channel innermost), chunk
by chunk of output rows (:mod:`ristretto_sim.emulator.im2col`), through the same accumulator contract as
:func:`~ristretto_sim.emulator.fixed_gemm.fixed_matmul`: bias preloaded, products added over K in (ky, kx, c)
order, wrap or per-addition saturation, overflow counts. Padding inserts code 0 (value 0). Convolutions whose
sums may need the limb path (``K max|x| max|w| >= 2**62``) go in smaller chunks
(:data:`~ristretto_sim.emulator.im2col.WIDE_CHUNK_BYTES`), and WideInt accumulator codes are written once per
chunk straight into their NCHW digits.

A transposed convolution is computed as the equivalent direct convolution (zero-inserted input, flipped
kernel, stride 1); its K order is therefore (ky, kx, c) over the flipped kernel, and the inserted zeros add
zero products. Per-channel weight fractions are along the output channels (axis 0 of OIHW); for a transposed
convolution axis 0 of the weights is the input channel, so per-channel weight formats are rejected there.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from ristretto_sim.emulator.accumulator import (
    AccumulatorResult,
    IntegerProducts,
    accumulate,
    check_fixed,
    wide_accumulator,
)
from ristretto_sim.emulator.exact_sum import F32_EXACT, F64_EXACT, INT64_SAFE
from ristretto_sim.emulator.fixed_gemm import check_codes, resolve_accumulator
from ristretto_sim.emulator.im2col import (
    WIDE_CHUNK_BYTES,
    ConvGeometry,
    check_conv_shapes,
    pad_nhwc,
    patch_chunks,
    transposed_as_direct,
    weight_matrix,
)
from ristretto_sim.emulator.kernels import Backends, default_backends
from ristretto_sim.emulator.wide import WideInt, digits_for
from ristretto_sim.formats import FixedPoint, Overflow


def _abs_max(x: np.ndarray) -> float:
    """``max |x|`` as float64 (0 for an empty array)."""
    return max(float(x.max(initial=0)), -float(x.min(initial=0)))


#: the choice without an integer kernel (operands of other product sources stay in float dtypes)
BLAS_ONLY = Backends(None)


def _operand_dtype(top: float, backends=None):
    """GEMM operand dtype for integer codes of magnitude at most ``top``: int8 when they fit and an integer kernel
    is in use (:mod:`~ristretto_sim.emulator.kernels`: no conversion, a quarter of the patch memory), else the
    narrowest float dtype holding them exactly."""
    if top <= 127 and (backends if backends is not None else default_backends()).kernel is not None:
        return np.int8
    if top <= F32_EXACT:
        return np.float32
    if top <= F64_EXACT:
        return np.float64
    return np.int64


def conv_accumulate(
    x: np.ndarray,
    w: np.ndarray,
    pad,
    geom: ConvGeometry,
    acc: FixedPoint,
    overflow,
    bias_codes,
    products_cls=IntegerProducts,
    w_matrix=None,
    backends=None,
) -> AccumulatorResult:
    """Accumulate a direct convolution of codes (no validation; callers check formats and shapes).

    Parameters
    ----------
    x : array of int, NCHW
    w : array of int, OIHW
    pad : (top, left, bottom, right)
        Zero padding in pixels (negative crops).
    geom : ConvGeometry
        Stride, dilation, groups (its padding is ignored in favour of ``pad``).
    acc, overflow, bias_codes
        As :func:`~ristretto_sim.emulator.accumulator.accumulate`; ``bias_codes`` has one code per output
        channel.
    products_cls : callable
        ``products_cls(patches, w_matrix)`` -> ProductSource (integer products by default).
    w_matrix : array, optional
        Weight matrix ``(groups, K, O/groups)`` to use instead of ``weight_matrix(w)`` (shift PEs pass encoded
        exponents).
    backends : kernels.Backends, optional
        Integer kernels (default :func:`~ristretto_sim.emulator.kernels.default_backends`); results are the same on
        every backend.

    Returns
    -------
    AccumulatorResult
        Codes of shape (N, O, Ho, Wo).
    """
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    g = geom.groups
    ho, wo = geom.output_size(h, wd, kh, kw, pad)
    x_max = _abs_max(x)
    dtype = _operand_dtype(x_max, backends) if products_cls is IntegerProducts else _operand_dtype(x_max, BLAS_ONLY)
    if products_cls is IntegerProducts:
        products_cls = partial(IntegerProducts, a_column_extremes=None, backends=backends)
    xp = pad_nhwc(x.astype(dtype, copy=False), pad)
    wm = weight_matrix(w, g) if w_matrix is None else w_matrix
    if bias_codes is None:
        bias = None
    elif isinstance(bias_codes, WideInt):
        bias = bias_codes.reshape((g, 1, o // g))
    else:
        bias = np.asarray(bias_codes, dtype=np.int64).reshape(g, 1, o // g)
    overflow = Overflow.coerce(overflow, "overflow")
    # sums that may need the limb path (worst case K max|x| max|w| >= 2**62) go in smaller chunks
    worst = x_max * _abs_max(wm) * (kh * kw * c // g)
    chunk_bytes = WIDE_CHUNK_BYTES if worst >= INT64_SAFE else None
    chunks = patch_chunks(xp, kh, kw, geom, (ho, wo), dtype, chunk_bytes)
    if wide_accumulator(acc):
        return _assemble_wide(chunks, products_cls, wm, bias, acc, overflow, (n, o, ho, wo), g)
    out = np.empty((n, ho, wo, o), dtype=np.int64)
    count = 0
    for bs, ys, patches in chunks:
        r = accumulate(products_cls(patches, wm), bias, acc, overflow)
        nb, yb = bs.stop - bs.start, ys.stop - ys.start
        out[bs, ys] = r.codes.transpose(1, 0, 2).reshape((nb, yb, wo, o))
        count += r.overflow_count
    overflow = Overflow.SATURATE if overflow is Overflow.NATURAL else overflow
    return AccumulatorResult(np.ascontiguousarray(out.transpose(0, 3, 1, 2)), acc, overflow, count)


def _assemble_wide(chunks, products_cls, wm, bias, acc: FixedPoint, overflow: Overflow, shape, g: int):
    """:func:`conv_accumulate` with WideInt codes: each chunk's digits ``(digits, groups, P, O/groups)`` are
    written once, straight into the NCHW digits ``(digits, N, O, Ho, Wo)``."""
    n, o, ho, wo = shape
    nd = digits_for(acc.bits)
    out = np.empty((nd, n, o, ho, wo), dtype=np.int64)
    by_group = out.reshape(nd, n, g, o // g, ho, wo)  # a view: O split into (group, channel in group)
    count = 0
    for bs, ys, patches in chunks:
        r = accumulate(products_cls(patches, wm), bias, acc, overflow)
        nb, yb = bs.stop - bs.start, ys.stop - ys.start
        d = r.codes.digits.reshape(nd, g, nb, yb, wo, o // g)
        by_group[:, bs, :, :, ys, :] = d.transpose(0, 2, 1, 5, 3, 4)
        count += r.overflow_count
    overflow = Overflow.SATURATE if overflow is Overflow.NATURAL else overflow
    return AccumulatorResult(WideInt(out), acc, overflow, count)


def _prepare(x, w, in_fmt, w_fmt, accumulator, bias_codes, n_out, k):
    check_fixed(in_fmt, "in_fmt")
    check_fixed(w_fmt, "w_fmt")
    x = check_codes(x, in_fmt, "x")
    w = check_codes(w, w_fmt, "w")
    acc, bias_codes = resolve_accumulator(in_fmt, w_fmt, accumulator, bias_codes, k, n_out)
    return x, w, acc, bias_codes


def fixed_conv2d(
    x,
    w,
    in_fmt: FixedPoint,
    w_fmt: FixedPoint,
    geometry: ConvGeometry | None = None,
    *,
    accumulator: FixedPoint | None = None,
    overflow=Overflow.SATURATE,
    bias_codes=None,
    backends=None,
) -> AccumulatorResult:
    """Exact fixed-point 2-D convolution (cross-correlation, as Caffe/ONNX/PyTorch) into a declared
    accumulator.

    Parameters
    ----------
    x : array of int, shape (N, C_in, H, W)
        Input codes in ``in_fmt``.
    w : array of int, shape (C_out, C_in / groups, kh, kw)
        Weight codes in ``w_fmt`` (per-channel fractions along ``C_out``).
    in_fmt, w_fmt : FixedPoint
    geometry : ConvGeometry, optional
        Stride, padding, dilation, groups (default: all ones, no padding).
    accumulator : FixedPoint, optional
        ``frac_bits == in.frac_bits + w.frac_bits``; default ``in.bits + w.bits + ceil(log2 K) + 1`` bits with
        ``K = kh * kw * C_in / groups``.
    overflow : Overflow or str
        ``"saturate"`` or ``"wrap"``.
    bias_codes : array of int or WideInt, shape (C_out,), optional
        Accumulator codes preloaded before the products.
    backends : kernels.Backends, optional
        Integer kernels (default :func:`~ristretto_sim.emulator.kernels.default_backends`); the result is the same
        on every backend.

    Returns
    -------
    AccumulatorResult
        Accumulator codes of shape (N, C_out, Ho, Wo) (int64, or WideInt for accumulators wider than int64) and
        the overflow count (over all outputs).
    """
    geom = ConvGeometry() if geometry is None else geometry
    if not isinstance(geom, ConvGeometry):
        raise TypeError(f"geometry={geometry!r} must be a ConvGeometry")
    x = np.asarray(x)
    w = np.asarray(w)
    check_conv_shapes(x, w, geom)
    k = w.shape[1] * w.shape[2] * w.shape[3]
    x, w, acc, bias_codes = _prepare(x, w, in_fmt, w_fmt, accumulator, bias_codes, w.shape[0], k)
    return conv_accumulate(x, w, geom.padding, geom, acc, overflow, bias_codes,
                           backends=backends)


def fixed_conv_transpose2d(
    x,
    w,
    in_fmt: FixedPoint,
    w_fmt: FixedPoint,
    geometry: ConvGeometry | None = None,
    *,
    accumulator: FixedPoint | None = None,
    overflow=Overflow.SATURATE,
    bias_codes=None,
) -> AccumulatorResult:
    """Exact fixed-point 2-D transposed convolution (ONNX ``ConvTranspose``) into a declared accumulator.

    Parameters
    ----------
    x : array of int, shape (N, C_in, H, W)
        Input codes.
    w : array of int, shape (C_in, C_out / groups, kh, kw)
        Weight codes (per-tensor ``w_fmt`` only).
    geometry : ConvGeometry, optional
        Stride, padding, dilation, groups, output_padding.
    accumulator, overflow, bias_codes
        As :func:`fixed_conv2d` (``bias_codes`` has ``C_out`` entries).

    Returns
    -------
    AccumulatorResult
        Codes of shape (N, C_out, Ho, Wo) with ``Ho = (H-1)*stride - pad_top - pad_bottom + dilation*(kh-1) +
        output_padding + 1``.
    """
    geom = ConvGeometry() if geometry is None else geometry
    if not isinstance(geom, ConvGeometry):
        raise TypeError(f"geometry={geometry!r} must be a ConvGeometry")
    check_fixed(w_fmt, "w_fmt")
    if w_fmt.per_channel:
        raise ValueError(f"w_fmt={w_fmt}: per-channel weight formats are not supported for transposed convolutions")
    x = np.asarray(x)
    w = np.asarray(w)
    xd, wd, pad, gd = transposed_as_direct(x, w, geom)
    k = wd.shape[1] * wd.shape[2] * wd.shape[3]
    xd, wd, acc, bias_codes = _prepare(xd, wd, in_fmt, w_fmt, accumulator, bias_codes, wd.shape[0], k)
    return conv_accumulate(xd, wd, pad, gd, acc, overflow, bias_codes)
