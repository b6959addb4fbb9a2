"""The float arithmetic of every layer type, registered by layer type: what a layer without a plan entry computes.

``FloatOps(network)(layer, inputs)`` returns a layer's output batch. Convolutions, transposed convolutions and
fully connected layers are float32 GEMMs whatever their inputs' dtype (the float network's arithmetic, also for
unplanned layers inside a quantized run; the result takes the input's dtype): convolutions through the emulator's
im2col (``emulator.float32_conv2d``: ``im2col.im2col_conv_nchw``, columns in (ky, kx, c) order, the float
convolution Ristretto mode uses too; a transposed convolution is rewritten as a direct one,
``im2col.transposed_as_direct``). Every other layer computes in its
input's dtype (float32 in float runs, float64 for exact mode's values on wide grids). Loops run over kernel
positions or groups, never over elements.

The instance keeps what it derives from the weights (float32 copies, a contiguous ``w.T`` for fully connected
layers: OpenBLAS multiplies a transposed view several times slower); nothing is global.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ristretto_sim.emulator.ristretto_mode import float32_conv2d, float32_conv_transpose2d
from ristretto_sim.errors import ModelError
from ristretto_sim.graph.layers import (
    LRN,
    Activation,
    ActivationKind,
    Concat,
    Conv,
    ConvTranspose,
    Dense,
    Eltwise,
    EltwiseOp,
    Flatten,
    Layer,
    LRNRegion,
    Pad,
    Pool,
    PoolKind,
    PRelu,
    Reshape,
    Scale,
    Softmax,
    Transpose,
)
from ristretto_sim.graph.network import Network

Handler = Callable[["FloatOps", Layer, list], np.ndarray]
_HANDLERS: dict[type, Handler] = {}


def handles(*layer_types: type):
    """Register a float handler ``fn(ops, layer, inputs) -> output`` for ``layer_types``."""

    def register(fn: Handler) -> Handler:
        for t in layer_types:
            if t in _HANDLERS:
                raise ValueError(f"a float handler for {t.__name__} is already registered")
            _HANDLERS[t] = fn
        return fn

    return register


class FloatOps:
    """Float evaluation of the layers of ``network`` (module docstring)."""

    def __init__(self, network: Network):
        self.network = network
        self._derived: dict[tuple[str, str], np.ndarray] = {}
        self._lock = threading.Lock()

    def __call__(self, layer: Layer, ins: list) -> np.ndarray:
        fn = _HANDLERS.get(type(layer))
        if fn is None:
            raise ModelError(f"layer {layer.name!r}: no float kernel for {layer.op_type}")
        return fn(self, layer, ins)

    def params(self, layer: Layer) -> dict:
        return self.network.params.get(layer.name, {})

    def derived(self, layer: Layer, what: str, make: Callable[[], np.ndarray]) -> np.ndarray:
        """A weight-derived array of ``layer`` (``what`` names it), made once."""
        key = (layer.name, what)
        hit = self._derived.get(key)
        if hit is None:
            hit = make()
            with self._lock:
                self._derived[key] = hit
        return hit


def _float32(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float32)


def _add_bias(y: np.ndarray, b, axis: int) -> np.ndarray:
    """``y + b`` along ``axis``, in place (``y`` is the layer's own new float32 array)."""
    if b is None:
        return y
    shape = [1] * y.ndim
    shape[axis] = b.size
    y += _float32(b).reshape(shape)
    return y


def float32_conv(x32: np.ndarray, w32: np.ndarray, layer) -> np.ndarray:
    """Float32 convolution (``Conv``) or transposed convolution (``ConvTranspose``) without bias, by im2col."""
    if isinstance(layer, ConvTranspose):
        return float32_conv_transpose2d(x32, w32, layer.geometry)
    return float32_conv2d(x32, w32, layer.geometry)


@handles(Conv, ConvTranspose)
def _conv(ops: FloatOps, layer, ins):
    x = ins[0]
    p = ops.params(layer)
    w32 = ops.derived(layer, "w32", lambda: _float32(p["weight"]))
    y = _add_bias(float32_conv(_float32(x), w32, layer), p.get("bias"), 1)
    return y.astype(x.dtype, copy=False)


@handles(Dense)
def _dense(ops: FloatOps, layer, ins):
    x = ins[0]
    p = ops.params(layer)
    wt = ops.derived(layer, "w.T", lambda: np.ascontiguousarray(_float32(p["weight"]).T))
    y = _add_bias(np.matmul(_float32(x).reshape(x.shape[0], -1), wt), p.get("bias"), 1)
    return y.astype(x.dtype, copy=False)


@handles(Pool)
def _pool(ops: FloatOps, layer, ins):
    x = ins[0]
    kernel, stride, pads = layer.window(x.shape[1:])
    out_hw = ops.network.shape(layer.output)[1:]
    return pool2d(x, layer.kind, kernel, stride, pads, out_hw, layer.count_include_pad)


@handles(Activation)
def _activation(ops: FloatOps, layer, ins):
    return activation(layer, ins[0])


@handles(PRelu)
def _prelu(ops: FloatOps, layer, ins):
    x = ins[0]
    return np.where(x >= 0, x, x * ops.params(layer)["slope"]).astype(x.dtype, copy=False)


@handles(Scale)
def _scale(ops: FloatOps, layer, ins):
    x = ins[0]
    p = ops.params(layer)
    shape = [1] * x.ndim
    shape[layer.axis] = layer.channels
    out = x * p["weight"].reshape(shape)
    if "bias" in p:
        out = out + p["bias"].reshape(shape)
    return out.astype(x.dtype, copy=False)


@handles(LRN)
def _lrn(ops: FloatOps, layer, ins):
    return lrn(ins[0], layer.size, layer.alpha, layer.beta, layer.k, layer.region is LRNRegion.ACROSS_CHANNELS)


@handles(Eltwise)
def _eltwise_layer(ops: FloatOps, layer, ins):
    return eltwise(layer, ins, ops.params(layer).get("constant"))


@handles(Concat)
def _concat(ops: FloatOps, layer, ins):
    return np.concatenate(ins, axis=layer.axis)


@handles(Flatten, Reshape)
def _reshape(ops: FloatOps, layer, ins):
    x = ins[0]
    return x.reshape((x.shape[0],) + ops.network.shape(layer.output))


@handles(Transpose)
def _transpose(ops: FloatOps, layer, ins):
    return np.ascontiguousarray(ins[0].transpose(layer.perm))


@handles(Pad)
def _pad(ops: FloatOps, layer, ins):
    return pad_tensor(ins[0], layer.pads, layer.mode.value, layer.value)


@handles(Softmax)
def _softmax(ops: FloatOps, layer, ins):
    return softmax(ins[0], layer.axis, layer.flatten)


# ---------------------------------------------------------------------- kernels


def pad_nchw(x: np.ndarray, pads: tuple[int, int, int, int], value: float = 0.0) -> np.ndarray:
    """Pad the two spatial axes of an NCHW batch by (top, left, bottom, right) with ``value``."""
    t, lft, b, r = pads
    if not any(pads):
        return x
    return np.pad(x, ((0, 0), (0, 0), (t, b), (lft, r)), mode="constant", constant_values=value)


def _window_slices(xp, kernel, stride, out_hw):
    (kh, kw), (sh, sw) = kernel, stride
    ho, wo = out_hw
    for ky in range(kh):
        for kx in range(kw):
            yield xp[:, :, ky : ky + sh * (ho - 1) + 1 : sh, kx : kx + sw * (wo - 1) + 1 : sw]


def _running_max(slices: list) -> np.ndarray:
    """The elementwise maximum of the (same-shape) ``slices``, as a new array."""
    if len(slices) == 1:
        return slices[0].copy()
    out = np.maximum(slices[0], slices[1])
    for sl in slices[2:]:
        np.maximum(out, sl, out=out)
    return out


def pool2d(x, kind: PoolKind, kernel, stride, pads, out_hw, count_include_pad: bool) -> np.ndarray:
    """Max or average pooling of an NCHW batch with explicit output size ``out_hw`` (the network's shape
    inference, ``emulator.pooling.pool_output_size``); windows reaching past the padded input are clipped
    (Caffe/ONNX semantics). One strided slice per kernel position."""
    n, c, h, w = x.shape
    t, lft, b, r = pads
    (kh, kw), (sh, sw) = kernel, stride
    ho, wo = out_hw
    eh = max(0, (ho - 1) * sh + kh - (h + t + b))
    ew = max(0, (wo - 1) * sw + kw - (w + lft + r))
    big = (t, lft, b + eh, r + ew)
    if kind is PoolKind.MAX:
        # separable: the maximum over the window's rows (full-width, contiguous slices), then over its columns;
        # the same maximum as over the kh x kw slices, in fewer and longer passes
        xp = pad_nchw(x, big, -np.inf)
        rows = _running_max([xp[:, :, ky : ky + sh * (ho - 1) + 1 : sh, :] for ky in range(kh)])
        return _running_max([rows[..., kx : kx + sw * (wo - 1) + 1 : sw] for kx in range(kw)])
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
        padded = pad_nchw(sq, (p, p, size - 1 - p, size - 1 - p))
        n, c, h, w = padded.shape
        st = padded.strides
        win = as_strided(padded, shape=(n, c, x.shape[2], x.shape[3], size, size),
                         strides=(st[0], st[1], st[2], st[3], st[2], st[3]), writeable=False)
        s = win.sum(axis=(4, 5))
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


def activation(layer: Activation, x: np.ndarray) -> np.ndarray:
    """The activation function of an ``Activation`` spec, in ``x``'s dtype."""
    kind = layer.kind
    if kind is ActivationKind.RELU:
        return np.maximum(x, x.dtype.type(0))
    if kind is ActivationKind.LEAKY_RELU:
        return np.where(x >= 0, x, x * x.dtype.type(layer.alpha)).astype(x.dtype, copy=False)
    if kind is ActivationKind.CLIP:
        lo = -np.inf if layer.low is None else x.dtype.type(layer.low)
        hi = np.inf if layer.high is None else x.dtype.type(layer.high)
        return np.clip(x, lo, hi).astype(x.dtype, copy=False)
    if kind is ActivationKind.SIGMOID:
        return sigmoid(x)
    return np.tanh(x).astype(x.dtype, copy=False)


_ELTWISE = {
    EltwiseOp.ADD: np.add,
    EltwiseOp.SUB: np.subtract,
    EltwiseOp.MUL: np.multiply,
    EltwiseOp.DIV: np.divide,
    EltwiseOp.MAX: np.maximum,
}


def eltwise(layer: Eltwise, ins: list, constant) -> np.ndarray:
    """The result of an ``Eltwise`` spec (tensor operands, or one tensor and its constant), in the first input's
    dtype."""
    dtype = ins[0].dtype
    if layer.constant_index is not None:
        operands = [constant, ins[0]] if layer.constant_index == 0 else [ins[0], constant]
    else:
        operands = list(ins)
    if layer.coeffs is not None:
        operands = [o * dtype.type(c) for o, c in zip(operands, layer.coeffs, strict=True)]
    out = operands[0]
    op = _ELTWISE[layer.op]
    for o in operands[1:]:
        out = op(out, o)
    return np.asarray(out, dtype=dtype)
