"""Float32 NumPy kernels of the layer specs: convolution (im2col + BLAS), pooling, LRN, softmax, ...

Each function takes NCHW batches (or ``(N, ...)`` tensors) as float arrays and returns the input's dtype
(float32 for the float runner, float64 for the quantized runner's values on wide grids). Loops run over kernel
positions or groups, never over elements. ``im2col`` orders the patch axis
as (ky, kx, c) with the channel innermost, the order the accumulator contract of ``ARCHITECTURE.md`` uses."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided


def pad_nchw(x: np.ndarray, pads: tuple[int, int, int, int], value: float = 0.0) -> np.ndarray:
    """Pad the two spatial axes of an NCHW batch by (top, left, bottom, right) with ``value``."""
    t, lft, b, r = pads
    if not any(pads):
        return x
    return np.pad(x, ((0, 0), (0, 0), (t, b), (lft, r)), mode="constant", constant_values=value)


def windows(x: np.ndarray, kernel, stride, dilation, out_hw) -> np.ndarray:
    """Strided view ``(N, C, Ho, Wo, kh, kw)`` of an (already padded) NCHW batch; no copy."""
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    ho, wo = out_hw
    s = x.strides
    return as_strided(
        x,
        shape=(n, c, ho, wo, kh, kw),
        strides=(s[0], s[1], s[2] * sh, s[3] * sw, s[2] * dh, s[3] * dw),
        writeable=False,
    )


def im2col(x: np.ndarray, kernel, stride, pads, dilation, groups: int = 1, pad_value: float = 0.0):
    """Patches of an NCHW batch as ``(N, groups, kh*kw*Cg, Ho*Wo)``, the patch axis in (ky, kx, c) order.

    One strided slice copy per kernel position (Caffe's layout: the spatial axis last, so the product with the
    weight matrix is already NCHW). Returns the patches and ``(Ho, Wo)``.
    """
    x = pad_nchw(np.ascontiguousarray(x), pads, pad_value)
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    ho = (h - dh * (kh - 1) - 1) // sh + 1
    wo = (w - dw * (kw - 1) - 1) // sw + 1
    cg = c // groups
    xg = x.reshape(n, groups, cg, h, w)
    cols = np.empty((n, groups, kh, kw, cg, ho, wo), dtype=x.dtype)
    for ky in range(kh):
        for kx in range(kw):
            y0, x0 = ky * dh, kx * dw
            cols[:, :, ky, kx] = xg[
                :, :, :, y0 : y0 + sh * (ho - 1) + 1 : sh, x0 : x0 + sw * (wo - 1) + 1 : sw
            ]
    return cols.reshape(n, groups, kh * kw * cg, ho * wo), (ho, wo)


def conv_weight_matrix(weight: np.ndarray, groups: int) -> np.ndarray:
    """OIHW weight as ``(groups, Og, kh*kw*Cg)`` matching ``im2col``'s (ky, kx, c) patch order."""
    o, cg, kh, kw = weight.shape
    og = o // groups
    return weight.reshape(groups, og, cg, kh, kw).transpose(0, 1, 3, 4, 2).reshape(groups, og, kh * kw * cg)


def conv2d(x, weight, bias, stride, pads, dilation, groups) -> np.ndarray:
    """2-D convolution of an NCHW batch (im2col + matmul, in the input's dtype)."""
    n = x.shape[0]
    o, _, kh, kw = weight.shape
    cols, (ho, wo) = im2col(x, (kh, kw), stride, pads, dilation, groups)
    wm = conv_weight_matrix(weight, groups).astype(x.dtype, copy=False)
    out = np.matmul(wm, cols).reshape(n, o, ho, wo)  # (G, Og, K) @ (N, G, K, P) -> (N, G, Og, P)
    if bias is not None:
        out += bias.reshape(1, o, 1, 1).astype(x.dtype, copy=False)
    return out


def conv_transpose2d(x, weight, bias, stride, pads, dilation, output_padding, groups) -> np.ndarray:
    """2-D transposed convolution of an NCHW batch; weight ``(Cin, Cout/groups, kh, kw)``."""
    n, cin, h, w = x.shape
    _, og, kh, kw = weight.shape
    cg = cin // groups
    (sh, sw), (dh, dw) = stride, dilation
    xg = x.reshape(n, groups, cg, h * w)
    wg = weight.reshape(groups, cg, og * kh * kw).transpose(0, 2, 1)  # (G, Og*kh*kw, Cg)
    cols = np.matmul(wg, xg).reshape(n, groups, og, kh, kw, h, w)  # per input pixel contributions
    full_h = sh * (h - 1) + dh * (kh - 1) + 1 + output_padding[0]
    full_w = sw * (w - 1) + dw * (kw - 1) + 1 + output_padding[1]
    out = np.zeros((n, groups, og, full_h, full_w), dtype=x.dtype)
    for ky in range(kh):
        for kx in range(kw):
            y0, x0 = ky * dh, kx * dw
            out[:, :, :, y0 : y0 + sh * (h - 1) + 1 : sh, x0 : x0 + sw * (w - 1) + 1 : sw] += cols[
                :, :, :, ky, kx
            ]
    t, lft, b, r = pads
    out = out.reshape(n, groups * og, full_h, full_w)[:, :, t : full_h - b, lft : full_w - r]
    if bias is not None:
        out = out + bias.reshape(1, -1, 1, 1)
    return np.ascontiguousarray(out, dtype=x.dtype)


def dense(x, weight, bias) -> np.ndarray:
    """``x.reshape(N, -1) @ weight.T + bias``."""
    out = x.reshape(x.shape[0], -1) @ weight.T
    if bias is not None:
        out = out + bias
    return out.astype(x.dtype, copy=False)


def _pool_geometry(h, w, kernel, stride, pads, out_hw):
    """Extra bottom/right padding so that every output window lies inside the padded array."""
    (kh, kw), (sh, sw) = kernel, stride
    t, lft, b, r = pads
    ho, wo = out_hw
    need_h = (ho - 1) * sh + kh
    need_w = (wo - 1) * sw + kw
    return max(0, need_h - (h + t + b)), max(0, need_w - (w + lft + r))


def _window_slices(xp, kernel, stride, out_hw):
    (kh, kw), (sh, sw) = kernel, stride
    ho, wo = out_hw
    for ky in range(kh):
        for kx in range(kw):
            yield xp[:, :, ky : ky + sh * (ho - 1) + 1 : sh, kx : kx + sw * (wo - 1) + 1 : sw]


def pool2d(x, kind: str, kernel, stride, pads, out_hw, count_include_pad: bool) -> np.ndarray:
    """Max or average pooling of an NCHW batch with explicit output size ``out_hw`` (ceil mode handled by the
    caller's shape inference); windows reaching past the padded input are clipped (Caffe/ONNX semantics).
    One strided slice per kernel position."""
    n, c, h, w = x.shape
    t, lft, b, r = pads
    eh, ew = _pool_geometry(h, w, kernel, stride, pads, out_hw)
    big = (t, lft, b + eh, r + ew)
    if kind == "max":
        xp = pad_nchw(x, big, -np.inf)
        out = None
        for sl in _window_slices(xp, kernel, stride, out_hw):
            out = sl.copy() if out is None else np.maximum(out, sl, out=out)
        return out
    xp = pad_nchw(x, big, 0.0)
    total = None
    for sl in _window_slices(xp, kernel, stride, out_hw):
        total = sl.copy() if total is None else np.add(total, sl, out=total)
    # divisor: ones on the image (exclude pad) or on the padded image (include pad), zero beyond
    mask = np.zeros((1, 1, h + t + b + eh, w + lft + r + ew), dtype=x.dtype)
    if count_include_pad:
        mask[:, :, : h + t + b, : w + lft + r] = 1.0
    else:
        mask[:, :, t : t + h, lft : lft + w] = 1.0
    count = sum(_window_slices(mask, kernel, stride, out_hw))
    return total / np.maximum(count, 1.0).astype(x.dtype)


def lrn(x, size: int, alpha: float, beta: float, k: float, across: bool) -> np.ndarray:
    """Local response normalisation (ONNX LRN across channels; Caffe WITHIN_CHANNEL with ``across=False``)."""
    sq = np.square(x)
    f = x.dtype.type
    if across:
        c = x.shape[1]
        lo, hi = (size - 1) // 2, size // 2
        padded = np.pad(sq, ((0, 0), (lo, hi), (0, 0), (0, 0)))
        s = np.zeros_like(x)
        for i in range(size):
            s += padded[:, i : i + c]
        scale = f(k) + f(alpha / size) * s
    else:
        p = (size - 1) // 2
        ho, wo = x.shape[2], x.shape[3]
        padded = pad_nchw(sq, (p, p, size - 1 - p, size - 1 - p))
        s = windows(padded, (size, size), (1, 1), (1, 1), (ho, wo)).sum(axis=(4, 5))
        scale = f(k) + f(alpha / (size * size)) * s
    return (x / np.power(scale, f(beta))).astype(x.dtype, copy=False)


def softmax(x, axis: int, flatten: bool) -> np.ndarray:
    """Softmax over ``axis`` (batch counted), or over all axes from ``axis`` on when ``flatten``."""
    if flatten:
        shape = x.shape
        y = x.reshape(int(np.prod(shape[:axis])), -1)
        y = y - y.max(axis=1, keepdims=True)
        e = np.exp(y)
        return (e / e.sum(axis=1, keepdims=True)).reshape(shape).astype(x.dtype, copy=False)
    y = x - x.max(axis=axis, keepdims=True)
    e = np.exp(y)
    return (e / e.sum(axis=axis, keepdims=True)).astype(x.dtype, copy=False)


def sigmoid(x) -> np.ndarray:
    """Logistic function, overflow-free for large |x|."""
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    e = np.exp(x[~pos])
    out[~pos] = e / (1.0 + e)
    return out


def pad_tensor(x, pads, mode: str, value: float) -> np.ndarray:
    """Pad the per-sample axes of a batch: ``pads`` = (begins..., ends...) without the batch axis."""
    r = len(pads) // 2
    begins, ends = pads[:r], pads[r:]
    if min(pads) < 0:  # negative pads crop
        sl = (slice(None),) + tuple(
            slice(max(0, -b_), x.shape[i + 1] - max(0, -e_))
            for i, (b_, e_) in enumerate(zip(begins, ends, strict=True))
        )
        x = x[sl]
        begins, ends = [max(0, v) for v in begins], [max(0, v) for v in ends]
    width = [(0, 0)] + list(zip(begins, ends, strict=True))
    if mode == "constant":
        return np.pad(x, width, mode="constant", constant_values=value)
    return np.pad(x, width, mode=mode)
