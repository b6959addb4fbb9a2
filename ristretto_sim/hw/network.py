"""Layer shapes from the graph package's ``Network``: GEMM layers for the array, the rest for the vector unit.

Convolutions become ``ConvShape`` (ONNX pads kept as (top, left, bottom, right)), transposed convolutions
``ConvTransposeShape`` (symmetric pads only), fully connected layers ``GemmShape`` (M = batch), each with its
bias. Pooling, activations, scaling, elementwise, LRN, softmax, concat, pad and transpose become
``VectorShape`` (``ristretto_sim.hw.vector``) with their operands' element counts, window and producers. Only
views (flatten, reshape), which move no data, are left out; ``skipped`` lists them. Handlers are registered
per layer class in ``_HANDLERS``.
"""

from __future__ import annotations

import math

from ristretto_sim.errors import ModelError
from ristretto_sim.hw.enums import VectorOp
from ristretto_sim.hw.layers import ConvShape, ConvTransposeShape, GemmShape
from ristretto_sim.hw.vector import VectorShape


def _conv(network, layer, batch):
    c, h, w = network.input_shapes(layer)[0]
    return ConvShape(layer.name, h, w, c, layer.out_channels, kernel=layer.kernel, stride=layer.stride,
                     padding=tuple(layer.pads), dilation=layer.dilation, groups=layer.groups, batch=batch,
                     bias=bool(layer.bias))


def _conv_transpose(network, layer, batch):
    c, h, w = network.input_shapes(layer)[0]
    t, left, b, r = layer.pads
    if (t, left) != (b, r):
        raise ModelError(
            f"layer {layer.name!r}: transposed convolution with asymmetric pads "
            f"{layer.pads} is not modelled by the hardware simulator"
        )
    return ConvTransposeShape(layer.name, h, w, c, layer.out_channels, kernel=layer.kernel, stride=layer.stride,
                              padding=(t, left), output_padding=layer.output_padding, dilation=layer.dilation,
                              groups=layer.groups, batch=batch, bias=bool(layer.bias))


def _dense(network, layer, batch):
    return GemmShape(layer.name, batch, layer.out_features, layer.in_features, bias=bool(layer.bias))


def _pool(network, layer):
    shape = network.input_shapes(layer)[0]
    (kh, kw), _, _ = layer.window(shape)
    return VectorOp.MAX_POOL if layer.kind.value == "max" else VectorOp.AVG_POOL, kh * kw


def _softmax(network, layer):
    shape = network.input_shapes(layer)[0]
    axes = shape[layer.axis - 1:] if layer.flatten else shape[layer.axis - 1:layer.axis]
    return VectorOp.SOFTMAX, math.prod(axes)


def _eltwise(network, layer):
    return VectorOp(layer.op.value), 1


#: layer class name -> (op, window) of a vector layer
_VECTOR = {
    "Pool": _pool,
    "Activation": lambda net, layer: (VectorOp(layer.kind.value), 1),
    "PRelu": lambda net, layer: (VectorOp.PRELU, 1),
    "Scale": lambda net, layer: (VectorOp.SCALE, 1),
    "LRN": lambda net, layer: (VectorOp.LRN, layer.size),
    "Eltwise": _eltwise,
    "Concat": lambda net, layer: (VectorOp.CONCAT, 1),
    "Softmax": _softmax,
    "Pad": lambda net, layer: (VectorOp.PAD, 1),
    "Transpose": lambda net, layer: (VectorOp.TRANSPOSE, 1),
}

#: layer class name -> the array layer shape
_GEMM = {"Conv": _conv, "ConvTranspose": _conv_transpose, "Dense": _dense}

#: layers that only re-label a tensor
_VIEWS = frozenset({"Flatten", "Reshape"})


def layers_from_network(network, *, batch: int = 1) -> tuple[list, list[str]]:
    """The layers of ``network`` in execution order as array and vector-unit shapes, and the names of the views
    left out.

    Raises
    ------
    ModelError
        For a transposed convolution with asymmetric padding (not modelled), or a layer type the model does not
        know, naming the layer.
    """
    out: list = []
    skipped: list[str] = []
    made_by: dict[str, str] = {}  # tensor -> the simulated layer that wrote it (through views)
    for layer in network.layers:
        kind = type(layer).__name__
        if kind in _VIEWS:
            skipped.append(layer.name)
            for t in layer.outputs:
                made_by[t] = made_by.get(layer.inputs[0], "")
            continue
        if kind in _GEMM:
            out.append(_GEMM[kind](network, layer, batch))
        elif kind in _VECTOR:
            op, window = _VECTOR[kind](network, layer)
            sizes = tuple(batch * math.prod(s) for s in network.input_shapes(layer))
            first = layer.inputs[0]
            producer = made_by.get(first, "")
            fusable = (
                bool(out)
                and producer == out[-1].name
                and len(network.consumers(first)) == 1
                and first not in network.outputs
            )
            out.append(
                VectorShape(
                    layer.name,
                    op,
                    sizes,
                    batch * math.prod(network.shape(layer.outputs[0])),
                    window=window,
                    sources=tuple(made_by.get(t, "") for t in layer.inputs),
                    fusable=fusable,
                )
            )
        else:
            raise ModelError(f"layer {layer.name!r}: the hardware model has no cost for a {kind} layer")
        for t in layer.outputs:
            made_by[t] = layer.name
    if not any(not isinstance(x, VectorShape) for x in out):
        raise ModelError(f"network {network.name!r} has no convolution or fully connected layer to simulate")
    return out, skipped
