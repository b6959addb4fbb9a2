"""Running a ``Network`` in float32: the graph walk shared by every runner, and the float layer evaluator.

``execute`` walks the layers in order, keeps each tensor until its last reader has run (or for good when asked
to
keep it), and calls an evaluator ``(layer, input_arrays) -> output_array`` per layer; ``run_float`` uses
``float_layer``. Batches are NCHW float32 (any batch size); per-sample shapes are checked against the network.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

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
from ristretto_sim.runtime import kernels as K

Evaluator = Callable[[Layer, list], np.ndarray]


def check_input(network: Network, x, name: str | None = None) -> np.ndarray:
    """Return ``x`` as a contiguous float32 batch after checking its per-sample shape against the input."""
    spec = network.input if name is None else next(i for i in network.inputs if i.name == name)
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"input must be numeric, got dtype {arr.dtype}")
    if arr.shape == spec.shape:
        arr = arr[None]
    if arr.ndim != len(spec.shape) + 1 or tuple(arr.shape[1:]) != spec.shape:
        raise ValueError(
            f"input batch of shape {arr.shape} does not match network {network.name!r} input "
            f"{spec.name!r} of per-sample shape {spec.shape} "
            f"(expected (N, {', '.join(map(str, spec.shape))}))"
        )
    return np.ascontiguousarray(arr, dtype=np.float32)


def execute(
    network: Network, feeds: dict[str, np.ndarray], evaluate: Evaluator, keep: Iterable[str] = ()
) -> dict[str, np.ndarray]:
    """Walk the network; return the output tensors plus every tensor named in ``keep``.

    Parameters
    ----------
    feeds : dict
        Input tensor name -> batch array.
    evaluate : callable
        ``evaluate(layer, inputs)`` returns the layer's output batch, or ``(output, updates)`` where
        ``updates`` maps input tensor names to new values that later readers see (Ristretto's in-place
        quantization of shared blobs).
    keep : iterable of str
        Extra tensors to return (``"*"`` keeps every tensor).
    """
    keep = set(keep)
    keep_all = "*" in keep
    wanted = set(network.outputs) | keep
    last_use: dict[str, int] = {}
    for i, layer in enumerate(network.layers):
        for t in layer.inputs:
            last_use[t] = i
    env = dict(feeds)
    kept: dict[str, np.ndarray] = {t: v for t, v in feeds.items() if keep_all or t in wanted}
    for i, layer in enumerate(network.layers):
        ins = [env[t] for t in layer.inputs]
        out = evaluate(layer, ins)
        if isinstance(out, tuple):
            out, updates = out
            for t, v in updates.items():
                env[t] = v
        env[layer.output] = out
        if keep_all or layer.output in wanted:
            kept[layer.output] = out
        for t in set(layer.inputs):
            if last_use.get(t) == i and t not in wanted and not keep_all:
                del env[t]
    return kept


def _eltwise(op: EltwiseOp, a, b):
    if op is EltwiseOp.ADD:
        return a + b
    if op is EltwiseOp.SUB:
        return a - b
    if op is EltwiseOp.MUL:
        return a * b
    if op is EltwiseOp.DIV:
        return a / b
    return np.maximum(a, b)


def float_layer(network: Network, layer: Layer, ins: list) -> np.ndarray:
    """Output batch of one layer given its input batches (dispatch on the spec type), in the inputs' dtype."""
    p = network.params.get(layer.name, {})
    x = ins[0]
    n = x.shape[0]
    if isinstance(layer, Conv):
        return K.conv2d(x, p["weight"], p.get("bias"), layer.stride, layer.pads, layer.dilation, layer.groups)
    if isinstance(layer, ConvTranspose):
        return K.conv_transpose2d(
            x,
            p["weight"],
            p.get("bias"),
            layer.stride,
            layer.pads,
            layer.dilation,
            layer.output_padding,
            layer.groups,
        )
    if isinstance(layer, Dense):
        return K.dense(x, p["weight"], p.get("bias"))
    if isinstance(layer, Pool):
        out_shape = network.shape(layer.output)
        kernel, stride, pads = layer.window(x.shape[1:])
        return K.pool2d(
            x,
            "max" if layer.kind is PoolKind.MAX else "avg",
            kernel,
            stride,
            pads,
            out_shape[1:],
            layer.count_include_pad,
        )
    if isinstance(layer, Activation):
        return activation(layer, x)
    if isinstance(layer, PRelu):
        slope = p["slope"]
        return np.where(x >= 0, x, x * slope).astype(x.dtype, copy=False)
    if isinstance(layer, Scale):
        shape = [1] * x.ndim
        shape[layer.axis] = layer.channels
        out = x * p["weight"].reshape(shape)
        if "bias" in p:
            out = out + p["bias"].reshape(shape)
        return out.astype(x.dtype, copy=False)
    if isinstance(layer, LRN):
        return K.lrn(
            x, layer.size, layer.alpha, layer.beta, layer.k, layer.region is LRNRegion.ACROSS_CHANNELS
        )
    if isinstance(layer, Eltwise):
        return eltwise(layer, ins, p.get("constant"))
    if isinstance(layer, Concat):
        return np.concatenate(ins, axis=layer.axis)
    if isinstance(layer, (Flatten, Reshape)):
        return x.reshape((n,) + network.shape(layer.output))
    if isinstance(layer, Transpose):
        return np.ascontiguousarray(x.transpose(layer.perm))
    if isinstance(layer, Pad):
        return K.pad_tensor(x, layer.pads, layer.mode.value, layer.value)
    if isinstance(layer, Softmax):
        return K.softmax(x, layer.axis, layer.flatten)
    raise ModelError(f"layer {layer.name!r}: no float kernel for {layer.op_type}")


def activation(layer: Activation, x: np.ndarray) -> np.ndarray:
    """Float32 activation function of an ``Activation`` spec."""
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
        return K.sigmoid(x)
    return np.tanh(x).astype(x.dtype, copy=False)


def eltwise(layer: Eltwise, ins: list, constant) -> np.ndarray:
    """Float32 result of an ``Eltwise`` spec (tensor operands, or one tensor and its constant)."""
    dtype = ins[0].dtype
    if layer.constant_index is not None:
        operands = [constant, ins[0]] if layer.constant_index == 0 else [ins[0], constant]
    else:
        operands = list(ins)
    if layer.coeffs is not None:
        operands = [o * dtype.type(c) for o, c in zip(operands, layer.coeffs, strict=True)]
    out = operands[0]
    for o in operands[1:]:
        out = _eltwise(layer.op, out, o)
    return np.asarray(out, dtype=dtype)


def run_float(network: Network, x, *, keep: Iterable[str] = ()) -> dict[str, np.ndarray]:
    """Run ``network`` in float32 on batch ``x`` (NCHW); return its outputs (and kept tensors) by name."""
    if isinstance(x, dict):
        feeds = {name: check_input(network, v, name) for name, v in x.items()}
    else:
        feeds = {network.input.name: check_input(network, x)}
    with np.errstate(over="ignore", under="ignore"):
        return execute(network, feeds, lambda layer, ins: float_layer(network, layer, ins), keep)
