"""Convolution geometry and im2col in bounded-memory chunks.

A convolution becomes GEMMs over patches: each output pixel's receptive field is flattened in **(ky, kx, c)
order, channel innermost** (the order the systolic array streams and the accumulator contract adds), one GEMM
per group. Patches are cut from a zero-padded NHWC view with stride tricks and copied one chunk of output rows
at a time, so a chunk's patch matrix stays below :data:`CHUNK_BYTES` whatever the batch size.

Layouts: inputs NCHW; weights OIHW with ``I = C_in / groups`` (direct convolution) or ``(C_in, C_out / groups,
kh, kw)`` (transposed convolution, as ONNX ``ConvTranspose`` and PyTorch). Padding is given in ONNX order
``(top, left, bottom, right)``, or as one int / an ``(h, w)`` pair for symmetric padding.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

#: target size of one chunk's patch matrix, in bytes
CHUNK_BYTES = 128 * 2**20
#: the same for convolutions whose sums go through the limb path (a dozen passes over patches and sums per
#: chunk: smaller chunks keep their temporaries in the allocator's reused memory and in cache)
WIDE_CHUNK_BYTES = 4 * 2**20


def as_pair(value, name: str) -> tuple[int, int]:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value), int(value)
    if isinstance(value, (str, bytes, bool)):
        raise TypeError(f"{name}={value!r} must be an int or a pair of ints")
    try:
        v = tuple(int(x) for x in value)
    except TypeError:
        raise TypeError(f"{name}={value!r} must be an int or a pair of ints") from None
    if len(v) != 2:
        raise ValueError(f"{name}={value!r} must be an int or a pair of ints")
    return v


@dataclass(frozen=True)
class ConvGeometry:
    """Stride, padding, dilation, groups (and output padding for transposed convolutions) of a 2-D
    convolution.

    Parameters
    ----------
    stride : int or (int, int)
        Step between output pixels, in input pixels (>= 1).
    padding : int, (int, int) or (int, int, int, int)
        Zero padding in pixels: one value, ``(h, w)``, or ONNX order ``(top, left, bottom, right)`` (>= 0).
    dilation : int or (int, int)
        Spacing between kernel taps (>= 1).
    groups : int
        Channel groups (``groups == C_in`` with one input channel per group is a depthwise convolution).
    output_padding : int or (int, int)
        Extra rows/columns at the bottom/right of a transposed convolution's output (< stride or < dilation).
    """

    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int, int, int] = (0, 0, 0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    output_padding: tuple[int, int] = (0, 0)

    def __post_init__(self):
        stride = as_pair(self.stride, "stride")
        dilation = as_pair(self.dilation, "dilation")
        out_pad = as_pair(self.output_padding, "output_padding")
        p = self.padding
        if isinstance(p, (int, np.integer)) and not isinstance(p, bool):
            pad = (int(p),) * 4
        else:
            try:
                pad = tuple(int(x) for x in p)
            except TypeError:
                raise TypeError(f"padding={p!r} must be an int, a pair or a 4-tuple of ints") from None
            if len(pad) == 2:
                pad = (pad[0], pad[1], pad[0], pad[1])
            elif len(pad) != 4:
                raise ValueError(f"padding={p!r} must be an int, (h, w) or (top, left, bottom, right)")
        if min(stride) < 1:
            raise ValueError(f"stride={self.stride!r} must be >= 1")
        if min(dilation) < 1:
            raise ValueError(f"dilation={self.dilation!r} must be >= 1")
        if min(pad) < 0:
            raise ValueError(f"padding={self.padding!r} must be >= 0")
        if min(out_pad) < 0:
            raise ValueError(f"output_padding={self.output_padding!r} must be >= 0")
        if isinstance(self.groups, bool) or not isinstance(self.groups, (int, np.integer)) or self.groups < 1:
            raise ValueError(f"groups={self.groups!r} must be an integer >= 1")
        object.__setattr__(self, "stride", stride)
        object.__setattr__(self, "dilation", dilation)
        object.__setattr__(self, "padding", pad)
        object.__setattr__(self, "output_padding", out_pad)
        object.__setattr__(self, "groups", int(self.groups))

    def output_size(self, h: int, w: int, kh: int, kw: int, pad=None) -> tuple[int, int]:
        """Output height and width (pixels) of a direct convolution of an ``h x w`` input with a ``kh x kw``
        kernel; ``pad`` ``(top, left, bottom, right)``, negative entries cropping, replaces ``padding`` (the
        direct form of a transposed convolution)."""
        top, left, bottom, right = self.padding if pad is None else pad
        ho = (h + top + bottom - self.dilation[0] * (kh - 1) - 1) // self.stride[0] + 1
        wo = (w + left + right - self.dilation[1] * (kw - 1) - 1) // self.stride[1] + 1
        if ho < 1 or wo < 1:
            raise ValueError(f"kernel {kh}x{kw} (dilation {self.dilation}) does not fit the padded {h}x{w} input")
        return ho, wo


def check_conv_shapes(x: np.ndarray, w: np.ndarray, geom: ConvGeometry) -> None:
    """Raise ``ValueError`` unless ``x`` (NCHW) and ``w`` (OIHW) fit together under ``geom``."""
    if x.ndim != 4:
        raise ValueError(f"input must be NCHW (4-D), got shape {x.shape}")
    if w.ndim != 4:
        raise ValueError(f"weights must be OIHW (4-D), got shape {w.shape}")
    g = geom.groups
    if x.shape[1] % g or w.shape[0] % g:
        raise ValueError(f"groups={g} must divide input channels {x.shape[1]} and output channels {w.shape[0]}")
    if w.shape[1] * g != x.shape[1]:
        raise ValueError(
            f"shape mismatch: weights {w.shape} expect {w.shape[1] * g} input channels (groups={g}), "
            f"input {x.shape} has {x.shape[1]}"
        )


def pad_nhwc(x: np.ndarray, pad: tuple[int, int, int, int]) -> np.ndarray:
    """NCHW -> zero-padded NHWC (negative padding crops)."""
    top, left, bottom, right = pad
    x = np.moveaxis(x, 1, -1)
    crop = (
        slice(None),
        slice(max(-top, 0), x.shape[1] - max(-bottom, 0)),
        slice(max(-left, 0), x.shape[2] - max(-right, 0)),
        slice(None),
    )
    x = x[crop]
    widths = ((0, 0), (max(top, 0), max(bottom, 0)), (max(left, 0), max(right, 0)), (0, 0))
    return np.pad(x, widths)


def weight_matrix(w: np.ndarray, groups: int) -> np.ndarray:
    """OIHW weights -> ``(groups, kh*kw*I, O/groups)`` with rows in (ky, kx, c) order."""
    o, i, kh, kw = w.shape
    wg = w.reshape(groups, o // groups, i, kh, kw)
    return np.ascontiguousarray(wg.transpose(0, 3, 4, 2, 1).reshape(groups, kh * kw * i, o // groups))


def patch_chunks(
    xp: np.ndarray, kh: int, kw: int, geom: ConvGeometry, out_hw: tuple[int, int], dtype,
    chunk_bytes: int | None = None,
) -> Iterator[tuple[slice, slice, np.ndarray]]:
    """Yield ``(batch_slice, row_slice, patches)`` with patches of shape ``(groups, P, kh*kw*C/groups)``, of about
    :data:`CHUNK_BYTES` each, or ``chunk_bytes`` if smaller.

    ``xp`` is the padded NHWC input; ``P`` = batch chunk x output rows x output width; rows of a chunk are
    output pixels in (n, y, x) order and columns are (ky, kx, c) with ``c`` innermost.
    """
    n, _, _, c = xp.shape
    ho, wo = out_hw
    sh, sw = geom.stride
    dh, dw = geom.dilation
    g = geom.groups
    s = xp.strides
    win = np.lib.stride_tricks.as_strided(
        xp,
        shape=(n, ho, wo, kh, kw, c),
        strides=(s[0], s[1] * sh, s[2] * sw, s[1] * dh, s[2] * dw, s[3]),
        writeable=False,
    )
    k = kh * kw * c
    row_bytes = max(1, k * np.dtype(dtype).itemsize * wo)
    limit = CHUNK_BYTES if chunk_bytes is None else min(CHUNK_BYTES, chunk_bytes)
    rows = max(1, limit // row_bytes)  # output rows (of one image) per chunk
    if rows >= ho:
        imgs = max(1, rows // ho)
        for n0 in range(0, n, imgs):
            yield from _emit(win, slice(n0, min(n, n0 + imgs)), slice(0, ho), g, dtype)
    else:
        for n0 in range(n):
            for y0 in range(0, ho, rows):
                yield from _emit(win, slice(n0, n0 + 1), slice(y0, min(ho, y0 + rows)), g, dtype)


def im2col_conv(x: np.ndarray, w: np.ndarray, pad, geom: ConvGeometry, dtype, gemm,
                chunk_bytes: int | None = None) -> np.ndarray:
    """A direct convolution (NCHW x OIHW -> NCHW; ``pad`` replaces ``geom.padding``, see
    :meth:`ConvGeometry.output_size`) computed chunk by chunk of patches (of at most ``chunk_bytes``, default
    :data:`CHUNK_BYTES`): ``gemm(patches, w_matrix)`` maps a chunk's patches ``(groups, P, K)``, in ``dtype``, and the
    weight matrix to its outputs ``(groups, P, O/groups)``; the result is in ``dtype``."""
    n, _, h, wd = x.shape
    o, _, kh, kw = w.shape
    ho, wo = geom.output_size(h, wd, kh, kw, pad)
    xp = pad_nhwc(x, pad)
    wm = weight_matrix(w, geom.groups)
    out = np.empty((n, ho, wo, o), dtype=dtype)
    for bs, ys, patches in patch_chunks(xp, kh, kw, geom, (ho, wo), dtype, chunk_bytes):
        r = gemm(patches, wm)
        out[bs, ys] = r.transpose(1, 0, 2).reshape(bs.stop - bs.start, ys.stop - ys.start, wo, o)
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2))


def column_rows(x: np.ndarray, cols: np.ndarray, kh: int, kw: int, geom: ConvGeometry, out_hw) -> None:
    """Write the im2col columns of an (already padded) NCHW batch into ``cols`` ``(N, groups, K', Ho*Wo)``: its
    first ``K = kh*kw*C/groups`` rows in (ky, kx, c) order, channel innermost (rows past K are left to the caller,
    e.g. a bias row). One strided slice copy per kernel position (Caffe's layout: the spatial axis last, so the
    product ``(groups, O/groups, K) @ cols`` is already NCHW)."""
    nb, c = x.shape[:2]
    g = geom.groups
    cg = c // g
    ho, wo = out_hw
    sh, sw = geom.stride
    dh, dw = geom.dilation
    xg = x.reshape(nb, g, cg, x.shape[2], x.shape[3])
    e = cols.itemsize
    pix = ho * wo * e
    kb = cols.shape[2]
    view = np.lib.stride_tricks.as_strided(  # the first K rows of cols as (n, g, ky, kx, c, y, x), written in place
        cols, (nb, g, kh, kw, cg, ho, wo), (g * kb * pix, kb * pix, kw * cg * pix, cg * pix, pix, wo * e, e)
    )
    for ky in range(kh):
        for kx in range(kw):
            y0, x0 = ky * dh, kx * dw
            view[:, :, ky, kx] = xg[:, :, :, y0 : y0 + sh * (ho - 1) + 1 : sh, x0 : x0 + sw * (wo - 1) + 1 : sw]


def pad_nchw(x: np.ndarray, pad: tuple[int, int, int, int], dtype) -> np.ndarray:
    """An NCHW batch zero-padded by ``(top, left, bottom, right)`` (negative entries crop), as ``dtype``."""
    top, left, bottom, right = pad
    x = x[:, :, max(-top, 0): x.shape[2] - max(-bottom, 0), max(-left, 0): x.shape[3] - max(-right, 0)]
    t, lf, b, r = max(top, 0), max(left, 0), max(bottom, 0), max(right, 0)
    if not (t or lf or b or r):
        return np.ascontiguousarray(x, dtype=dtype)
    out = np.zeros((x.shape[0], x.shape[1], x.shape[2] + t + b, x.shape[3] + lf + r), dtype=dtype)
    out[:, :, t : t + x.shape[2], lf : lf + x.shape[3]] = x
    return out


#: patch memory of one GEMM of the float convolution's row-patch orientation (bounds its peak, costs no speed)
FLOAT_CHUNK_BYTES = 8 * 2**20
#: input channels per group from which the float convolution multiplies row patches (one GEMM per chunk, the
#: channels contiguous in each patch row) instead of per-image columns (fast when a patch row is a few channels)
ROW_PATCH_CHANNELS = 8


def im2col_conv_nchw(x: np.ndarray, w: np.ndarray, pad, geom: ConvGeometry, dtype) -> np.ndarray:
    """A direct convolution (NCHW x OIHW -> NCHW, ``pad`` as in :func:`im2col_conv`) in ``dtype`` GEMMs: the float
    convolution (float network, Ristretto mode).

    With at least :data:`ROW_PATCH_CHANNELS` input channels per group, :func:`im2col_conv`'s row patches times the
    weight matrix (one GEMM per chunk); with fewer, the weight matrix ``(groups, O/groups, K)`` times the im2col
    columns (:func:`column_rows`) of chunks of images of about :data:`CHUNK_BYTES`, straight into NCHW. Either way
    every output is the same K products in (ky, kx, c) order in a float32 BLAS GEMM; which orientation runs depends on
    the layer's shape only, so a layer always gives the same bits (the two may differ in the last bits: BLAS blocks
    the sums by operand shape)."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    g = geom.groups
    if c // g >= ROW_PATCH_CHANNELS:
        return im2col_conv(x, w, pad, geom, dtype, np.matmul, FLOAT_CHUNK_BYTES)
    ho, wo = geom.output_size(h, wd, kh, kw, pad)
    k = kh * kw * (c // g)
    wm = np.ascontiguousarray(weight_matrix(w, g).transpose(0, 2, 1), dtype=dtype)  # (G, Og, K), (ky, kx, c)
    out = np.empty((n, o, ho, wo), dtype=dtype)
    imgs = max(1, CHUNK_BYTES // max(1, k * g * ho * wo * np.dtype(dtype).itemsize))
    for n0 in range(0, n, imgs):
        n1 = min(n, n0 + imgs)
        cols = np.empty((n1 - n0, g, k, ho * wo), dtype=dtype)
        column_rows(pad_nchw(x[n0:n1], pad, dtype), cols, kh, kw, geom, (ho, wo))
        np.matmul(wm, cols, out=out[n0:n1].reshape(n1 - n0, g, o // g, ho * wo))  # (nb, G, Og, P): NCHW order
    return out


def _emit(win, bs, ys, g, dtype):
    part = win[bs, ys]  # (nb, yb, wo, kh, kw, c)
    nb, yb, wo, kh, kw, c = part.shape
    cg = c // g
    p = part.reshape(nb, yb, wo, kh, kw, g, cg).transpose(5, 0, 1, 2, 3, 4, 6)
    yield bs, ys, np.ascontiguousarray(p, dtype=dtype).reshape(g, nb * yb * wo, kh * kw * cg)


def transposed_as_direct(x: np.ndarray, w: np.ndarray, geom: ConvGeometry):
    """Rewrite a transposed convolution as a direct one: zero-insert the input, flip and regroup the kernel.

    Returns ``(x_direct, w_direct, geom_direct)``: a stride-1 convolution with the same dilation, whose K
    order is (ky, kx, c) over the flipped kernel. Inserted zeros add zero products, which change no sum and
    clip nothing.
    """
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(f"input must be NCHW and weights (C_in, C_out/groups, kh, kw); got {x.shape}, {w.shape}")
    g = geom.groups
    cin, cout_g, kh, kw = w.shape
    if x.shape[1] != cin or cin % g:
        raise ValueError(f"shape mismatch: weights {w.shape} expect {cin} input channels, input {x.shape}")
    sh, sw = geom.stride
    n, c, h, wd = x.shape
    xz = np.zeros((n, c, (h - 1) * sh + 1, (wd - 1) * sw + 1), dtype=x.dtype)
    xz[:, :, ::sh, ::sw] = x
    top, left, bottom, right = geom.padding
    dh, dw = geom.dilation
    pad = (
        dh * (kh - 1) - top,
        dw * (kw - 1) - left,
        dh * (kh - 1) - bottom + geom.output_padding[0],
        dw * (kw - 1) - right + geom.output_padding[1],
    )
    wd_ = w.reshape(g, cin // g, cout_g, kh, kw).transpose(0, 2, 1, 3, 4)[..., ::-1, ::-1]
    wd_ = np.ascontiguousarray(wd_).reshape(g * cout_g, cin // g, kh, kw)
    return xz, wd_, pad, ConvGeometry(stride=1, padding=0, dilation=geom.dilation, groups=g)
