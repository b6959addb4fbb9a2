"""``to_onnx(network)``: write any network (ONNX- or Caffe-imported, fine-tuned weights) as an ONNX model.

Each layer spec becomes one or a few standard ONNX nodes (default domain, opset 13 by default) with its weights
as float32 initializers named ``<layer>.<param>``, written by the exporter function registered for its type
(``onnx_exporter``); tensors keep their names and the batch axis is the symbolic ``N`` (or ``batch``).
Caffe-only semantics are spelled out with standard ops: WITHIN_CHANNEL LRN as
``x / (k + alpha * AveragePool(x^2)) ** beta``, Eltwise coefficients as a ``Mul`` by a constant, Scale as
``Mul`` + ``Add``, a flattening Softmax as Reshape/Softmax/Reshape. Pooling keeps Caffe's ceil-mode output
size and AVE divisor (``ceil_mode=1``, ``count_include_pad=1``); the one case ONNX sizes differently (no
padding, stride larger than the kernel) is rejected. The network's preprocessing, task and metadata go to
``metadata_props`` (the convention the importer reads back)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

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
    Flatten,
    LRNRegion,
    Pad,
    Pool,
    PoolKind,
    PRelu,
    Reshape,
    Scale,
    Softmax,
    Transpose,
    pool_output_size,
)
from ristretto_sim.graph.network import Network

_ELTWISE = {"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "max": "Max"}
_ACT = {ActivationKind.RELU: "Relu", ActivationKind.SIGMOID: "Sigmoid", ActivationKind.TANH: "Tanh"}


class _Graph:
    """The ONNX nodes and initializers written so far for ``network``, and how layers add to them."""

    def __init__(self, network: Network):
        from onnx import helper, numpy_helper

        self.network = network
        self.nodes: list = []
        self.inits: list = []
        self.counter = 0
        self._helper, self._numpy_helper = helper, numpy_helper

    def const(self, name: str, value, dtype=np.float32) -> str:
        """Add an initializer ``name`` holding ``value``; returns its name."""
        self.inits.append(self._numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def tmp(self, layer, what: str) -> str:
        """A fresh name for an intermediate tensor of ``layer``."""
        self.counter += 1
        return f"{layer.name}/{what}_{self.counter}"

    def node(self, op: str, ins, outs, name: str, **attrs) -> None:
        """Add a default-domain node."""
        self.nodes.append(self._helper.make_node(op, list(ins), list(outs), name=name, **attrs))

    def params(self, layer) -> dict:
        return self.network.params.get(layer.name, {})

    def in_shape(self, layer) -> tuple[int, ...]:
        """Per-sample shape of the layer's first input."""
        return self.network.shape(layer.inputs[0])


#: layer class -> ``export(graph, layer)``, which writes the layer's nodes
_EXPORTERS: dict[type, Callable] = {}


def onnx_exporter(*layer_types):
    """Register the decorated function as the exporter of ``layer_types`` (``export(graph, layer)``)."""

    def register(fn):
        for t in layer_types:
            if t in _EXPORTERS:
                raise RuntimeError(f"layer type {t.__name__} has two exporters: {_EXPORTERS[t].__name__} and "
                                   f"{fn.__name__}")
            _EXPORTERS[t] = fn
        return fn

    return register


def exporter_for(layer_type: type) -> Callable | None:
    """The exporter registered for ``layer_type`` or its nearest base class; None if there is none."""
    for cls in layer_type.__mro__:
        if cls in _EXPORTERS:
            return _EXPORTERS[cls]
    return None


def to_onnx(network: Network, path=None, *, opset: int = 13, batch: int | None = None):
    """Export ``network`` as an ONNX ``ModelProto`` (saved to ``path`` when given).

    Parameters
    ----------
    network : Network
    path : str or os.PathLike, optional
        Where to save the model.
    opset : int
        Default-domain opset, 13 or newer (the node forms used need 13: one-axis Softmax, Pad/Clip inputs).
    batch : int, optional
        Fixed batch size for the input/output shapes; None: symbolic ``N``.

    Raises
    ------
    ModelError
        If a layer cannot be expressed (the message names it).
    """
    import onnx

    if opset < 13:
        raise ValueError(f"opset={opset}: to_onnx writes opset 13 or newer")
    graph = _Graph(network)
    for layer in network.layers:
        export = exporter_for(type(layer))
        if export is None:  # only a layer type from outside graph.layers: every spec there has an exporter
            raise ModelError(f"layer {layer.name!r} ({layer.op_type}) cannot be exported to ONNX")
        export(graph, layer)
    model = _model(graph, opset, batch)
    onnx.checker.check_model(model)
    if path is not None:
        onnx.save(model, str(Path(path)))
    return model


def _model(graph: _Graph, opset: int, batch: int | None):
    """The ``ModelProto`` of the written nodes: inputs and outputs with batch axis ``batch`` (or ``N``), the
    opset import and the network's metadata (``metadata_props``)."""
    from onnx import TensorProto, helper

    network = graph.network
    dim = batch if batch is not None else "N"
    proto = helper.make_graph(
        graph.nodes,
        network.name,
        [helper.make_tensor_value_info(i.name, TensorProto.FLOAT, [dim, *i.shape]) for i in network.inputs],
        [
            helper.make_tensor_value_info(t, TensorProto.FLOAT, [dim, *network.shape(t)])
            for t in network.outputs
        ],
        initializer=graph.inits,
    )
    model = helper.make_model(
        proto, opset_imports=[helper.make_opsetid("", opset)], producer_name="ristretto-sim"
    )
    helper.set_model_props(model, metadata_props(network))
    return model


def metadata_props(network: Network) -> dict[str, str]:
    """The network's metadata, preprocessing and task as ``metadata_props`` (the keys the importer reads)."""
    props = dict(network.metadata)
    if network.preprocess is not None:
        pre = network.preprocess
        if pre.mean_image is not None or pre.crop_size:
            props["preprocessing.note"] = "mean image / crop of the source model not representable here"
        props["preprocessing.scale"] = repr(pre.scale)
        props["preprocessing.mean"] = repr(pre.mean) if pre.mean else ""
        props["preprocessing.layout"] = network.input_layout.value.upper()
    props["task"] = network.task
    return props


def _weight_inputs(g: _Graph, layer, src: str) -> list[str]:
    """``[src, weight]``, and the bias when the layer has one, as node inputs."""
    p = g.params(layer)
    ins = [src, g.const(f"{layer.name}.weight", p["weight"])]
    if "bias" in p:
        ins.append(g.const(f"{layer.name}.bias", p["bias"]))
    return ins


@onnx_exporter(Conv, ConvTranspose)
def _conv(g: _Graph, layer) -> None:
    """Conv / ConvTranspose with the layer's kernel, strides, pads, dilations and groups."""
    ins = _weight_inputs(g, layer, layer.inputs[0])
    attrs = dict(
        kernel_shape=list(layer.kernel),
        strides=list(layer.stride),
        pads=list(layer.pads),
        dilations=list(layer.dilation),
        group=layer.groups,
    )
    if isinstance(layer, ConvTranspose):
        attrs["output_padding"] = list(layer.output_padding)
    g.node("Conv" if isinstance(layer, Conv) else "ConvTranspose", ins, [layer.output], layer.name, **attrs)


@onnx_exporter(Dense)
def _dense(g: _Graph, layer: Dense) -> None:
    """Gemm with the weight transposed, after a Flatten when the input is not a vector."""
    x, name = layer.inputs[0], layer.name
    src = x
    if len(g.in_shape(layer)) != 1:
        src = g.tmp(layer, "flat")
        g.node("Flatten", [x], [src], f"{name}/flatten", axis=1)
    g.node("Gemm", _weight_inputs(g, layer, src), [layer.output], name, transB=1)


@onnx_exporter(Pool)
def _pool(g: _Graph, layer: Pool) -> None:
    """Max/AveragePool in Caffe's ceil mode and AVE divisor, or the global pools; ``ModelError`` for a
    ceil-mode window ONNX would drop."""
    x, y, name = layer.inputs[0], layer.output, layer.name
    if layer.global_pool:
        g.node("GlobalMaxPool" if layer.kind is PoolKind.MAX else "GlobalAveragePool", [x], [y], name)
        return
    if layer.ceil_mode:
        for size, k, s, p0, p1 in zip(
            g.in_shape(layer)[1:], layer.kernel, layer.stride, layer.pads[:2], layer.pads[2:], strict=True
        ):
            out = pool_output_size(size, k, s, p0, p1, True)
            if (out - 1) * s >= size + p0:
                raise ModelError(
                    f"layer {name!r}: Caffe's ceil-mode pooling size ({out}) has a last window "
                    "outside the input, which ONNX's ceil mode drops; cannot export"
                )
    attrs = dict(
        kernel_shape=list(layer.kernel),
        strides=list(layer.stride),
        pads=list(layer.pads),
        ceil_mode=int(layer.ceil_mode),
    )
    if layer.kind is PoolKind.MAX:
        g.node("MaxPool", [x], [y], name, **attrs)
    else:
        g.node("AveragePool", [x], [y], name, count_include_pad=int(layer.count_include_pad), **attrs)


@onnx_exporter(Activation)
def _activation(g: _Graph, layer: Activation) -> None:
    """Relu, Sigmoid, Tanh, LeakyRelu, or Clip with its optional bounds as inputs."""
    x, y, name = layer.inputs[0], layer.output, layer.name
    if layer.kind in _ACT:
        g.node(_ACT[layer.kind], [x], [y], name)
    elif layer.kind is ActivationKind.LEAKY_RELU:
        g.node("LeakyRelu", [x], [y], name, alpha=layer.alpha)
    else:
        lo = g.const(f"{name}.min", layer.low) if layer.low is not None else ""
        hi = g.const(f"{name}.max", layer.high) if layer.high is not None else ""
        g.node("Clip", [x, lo, hi], [y], name)


@onnx_exporter(PRelu)
def _prelu(g: _Graph, layer: PRelu) -> None:
    """PRelu with the slope as an initializer."""
    slope = g.const(f"{layer.name}.slope", g.params(layer)["slope"])
    g.node("PRelu", [layer.inputs[0], slope], [layer.output], layer.name)


@onnx_exporter(Scale)
def _scale(g: _Graph, layer: Scale) -> None:
    """Caffe's Scale as a Mul by the per-channel weight (shaped to broadcast on its axis), then an Add of the bias."""
    x, y, name, p = layer.inputs[0], layer.output, layer.name, g.params(layer)
    shape = [1] * len(g.in_shape(layer))
    shape[layer.axis - 1] = layer.channels
    w = g.const(f"{name}.weight", p["weight"].reshape(shape))
    if "bias" in p:
        mid = g.tmp(layer, "mul")
        g.node("Mul", [x, w], [mid], f"{name}/mul")
        g.node("Add", [mid, g.const(f"{name}.bias", p["bias"].reshape(shape))], [y], name)
    else:
        g.node("Mul", [x, w], [y], name)


@onnx_exporter(LRN)
def _lrn(g: _Graph, layer: LRN) -> None:
    """ACROSS_CHANNELS LRN as ONNX's LRN; WITHIN_CHANNEL as ``x / (k + alpha * AveragePool(x^2)) ** beta``."""
    x, y, name = layer.inputs[0], layer.output, layer.name
    if layer.region is LRNRegion.ACROSS_CHANNELS:
        g.node("LRN", [x], [y], name, size=layer.size, alpha=layer.alpha, beta=layer.beta, bias=layer.k)
        return
    sq, avg, den, powd = (g.tmp(layer, w) for w in ("sq", "avg", "den", "pow"))
    pad = (layer.size - 1) // 2
    g.node("Mul", [x, x], [sq], f"{name}/sq")
    g.node(
        "AveragePool",
        [sq],
        [avg],
        f"{name}/avg",
        kernel_shape=[layer.size] * 2,
        strides=[1, 1],
        pads=[pad, pad, layer.size - 1 - pad, layer.size - 1 - pad],
        count_include_pad=1,
    )
    scaled = g.tmp(layer, "scaled")
    g.node("Mul", [avg, g.const(f"{name}.alpha", layer.alpha)], [scaled], f"{name}/alpha")
    g.node("Add", [scaled, g.const(f"{name}.k", layer.k)], [den], f"{name}/k")
    g.node("Pow", [den, g.const(f"{name}.beta", layer.beta)], [powd], f"{name}/pow")
    g.node("Div", [x, powd], [y], name)


def _eltwise_operands(g: _Graph, layer: Eltwise) -> list[str]:
    """The operands of an Eltwise: its inputs with the constant operand in place, each multiplied by its
    coefficient unless that is 1."""
    name = layer.name
    operands = list(layer.inputs)
    if layer.constant_index is not None:
        c = g.const(f"{name}.constant", g.params(layer)["constant"])
        operands = [c, operands[0]] if layer.constant_index == 0 else [operands[0], c]
    if layer.coeffs is None:
        return operands
    scaled = []
    for i, (t, k) in enumerate(zip(operands, layer.coeffs, strict=True)):
        if k == 1.0:
            scaled.append(t)
            continue
        s = g.tmp(layer, f"coeff{i}")
        g.node("Mul", [t, g.const(f"{name}.coeff{i}", k)], [s], f"{name}/coeff{i}")
        scaled.append(s)
    return scaled


@onnx_exporter(Eltwise)
def _eltwise(g: _Graph, layer: Eltwise) -> None:
    """A chain of binary nodes over the (scaled) operands, left to right."""
    operands = _eltwise_operands(g, layer)
    op, y, name = _ELTWISE[layer.op.value], layer.output, layer.name
    acc = operands[0]
    for i, t in enumerate(operands[1:], start=1):
        out = y if i == len(operands) - 1 else g.tmp(layer, "acc")
        g.node(op, [acc, t], [out], name if out == y else f"{name}/{i}")
        acc = out


@onnx_exporter(Concat)
def _concat(g: _Graph, layer: Concat) -> None:
    """Concat on the layer's axis."""
    g.node("Concat", list(layer.inputs), [layer.output], layer.name, axis=layer.axis)


@onnx_exporter(Flatten, Reshape)
def _reshape(g: _Graph, layer) -> None:
    """Flatten from axis 1, else a Reshape to the layer's output shape."""
    x, y, name = layer.inputs[0], layer.output, layer.name
    if isinstance(layer, Flatten) and layer.axis == 1:
        g.node("Flatten", [x], [y], name, axis=1)
    else:
        target = g.const(f"{name}.shape", [-1, *g.network.shape(y)], np.int64)
        g.node("Reshape", [x, target], [y], name)


@onnx_exporter(Transpose)
def _transpose(g: _Graph, layer: Transpose) -> None:
    """Transpose with the layer's permutation."""
    g.node("Transpose", [layer.inputs[0]], [layer.output], layer.name, perm=list(layer.perm))


@onnx_exporter(Pad)
def _pad(g: _Graph, layer: Pad) -> None:
    """Pad with the pads as an input (no padding on the batch axis) and, in constant mode, the value."""
    name = layer.name
    r = len(layer.pads) // 2
    pads = [0, *layer.pads[:r], 0, *layer.pads[r:]]
    ins = [layer.inputs[0], g.const(f"{name}.pads", pads, np.int64)]
    if layer.mode.value == "constant":
        ins.append(g.const(f"{name}.value", layer.value))
    g.node("Pad", ins, [layer.output], name, mode=layer.mode.value)


@onnx_exporter(Softmax)
def _softmax(g: _Graph, layer: Softmax) -> None:
    """Softmax on one axis; Caffe's flattening Softmax over all axes from ``axis`` as Reshape/Softmax/Reshape."""
    x, y, name = layer.inputs[0], layer.output, layer.name
    in_shape = g.in_shape(layer)
    if not layer.flatten or layer.axis == len(in_shape):
        g.node("Softmax", [x], [y], name, axis=layer.axis)
        return
    f, s = g.tmp(layer, "flat"), g.tmp(layer, "soft")
    k = layer.axis - 1
    flat = [-1, *in_shape[:k], int(np.prod(in_shape[k:]))]
    g.node("Reshape", [x, g.const(f"{name}.flat_shape", flat, np.int64)], [f], f"{name}/flatten")
    g.node("Softmax", [f], [s], name, axis=-1)
    g.node("Reshape", [s, g.const(f"{name}.shape", [-1, *in_shape], np.int64)], [y], f"{name}/reshape")
