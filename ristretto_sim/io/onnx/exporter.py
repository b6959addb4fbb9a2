"""``to_onnx(network)``: write any network (ONNX- or Caffe-imported, fine-tuned weights) as an ONNX model.

Each layer spec becomes one or a few standard ONNX nodes (default domain, opset 13 by default) with its
weights as float32 initializers named ``<layer>.<param>``; tensors keep their names and the batch axis is the
symbolic ``N`` (or ``batch``). Caffe-only semantics are spelled out with standard ops: WITHIN_CHANNEL LRN as
``x / (k + alpha * AveragePool(x^2)) ** beta``, Eltwise coefficients as a ``Mul`` by a constant, Scale as
``Mul`` + ``Add``, a flattening Softmax as Reshape/Softmax/Reshape. Pooling keeps Caffe's ceil-mode output
size and AVE divisor (``ceil_mode=1``, ``count_include_pad=1``); the one case ONNX sizes differently (no
padding, stride larger than the kernel) is rejected. The network's preprocessing, task and metadata go to
``metadata_props`` (the convention the importer reads back)."""

from __future__ import annotations

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
    from onnx import TensorProto, helper, numpy_helper

    if opset < 13:
        raise ValueError(f"opset={opset}: to_onnx writes opset 13 or newer")
    nodes, inits = [], []
    counter = [0]

    def const(name: str, value, dtype=np.float32) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def tmp(layer, what: str) -> str:
        counter[0] += 1
        return f"{layer.name}/{what}_{counter[0]}"

    def node(op, ins, outs, name, **attrs):
        nodes.append(helper.make_node(op, list(ins), list(outs), name=name, **attrs))

    for layer in network.layers:
        p = network.params.get(layer.name, {})
        x, y, name = layer.inputs[0], layer.output, layer.name
        in_shape = network.shape(x)
        if isinstance(layer, (Conv, ConvTranspose)):
            ins = [x, const(f"{name}.weight", p["weight"])]
            if "bias" in p:
                ins.append(const(f"{name}.bias", p["bias"]))
            attrs = dict(
                kernel_shape=list(layer.kernel),
                strides=list(layer.stride),
                pads=list(layer.pads),
                dilations=list(layer.dilation),
                group=layer.groups,
            )
            if isinstance(layer, ConvTranspose):
                attrs["output_padding"] = list(layer.output_padding)
            node("Conv" if isinstance(layer, Conv) else "ConvTranspose", ins, [y], name, **attrs)
        elif isinstance(layer, Dense):
            src = x
            if len(in_shape) != 1:
                src = tmp(layer, "flat")
                node("Flatten", [x], [src], f"{name}/flatten", axis=1)
            ins = [src, const(f"{name}.weight", p["weight"])]
            if "bias" in p:
                ins.append(const(f"{name}.bias", p["bias"]))
            node("Gemm", ins, [y], name, transB=1)
        elif isinstance(layer, Pool):
            _pool(layer, in_shape, node)
        elif isinstance(layer, Activation):
            if layer.kind in _ACT:
                node(_ACT[layer.kind], [x], [y], name)
            elif layer.kind is ActivationKind.LEAKY_RELU:
                node("LeakyRelu", [x], [y], name, alpha=layer.alpha)
            else:
                lo = const(f"{name}.min", layer.low) if layer.low is not None else ""
                hi = const(f"{name}.max", layer.high) if layer.high is not None else ""
                node("Clip", [x, lo, hi], [y], name)
        elif isinstance(layer, PRelu):
            node("PRelu", [x, const(f"{name}.slope", p["slope"])], [y], name)
        elif isinstance(layer, Scale):
            shape = [1] * len(in_shape)
            shape[layer.axis - 1] = layer.channels
            w = const(f"{name}.weight", p["weight"].reshape(shape))
            if "bias" in p:
                mid = tmp(layer, "mul")
                node("Mul", [x, w], [mid], f"{name}/mul")
                node("Add", [mid, const(f"{name}.bias", p["bias"].reshape(shape))], [y], name)
            else:
                node("Mul", [x, w], [y], name)
        elif isinstance(layer, LRN):
            if layer.region is LRNRegion.ACROSS_CHANNELS:
                node("LRN", [x], [y], name, size=layer.size, alpha=layer.alpha, beta=layer.beta, bias=layer.k)
            else:
                sq, avg, den, powd = (tmp(layer, w) for w in ("sq", "avg", "den", "pow"))
                pad = (layer.size - 1) // 2
                node("Mul", [x, x], [sq], f"{name}/sq")
                node(
                    "AveragePool",
                    [sq],
                    [avg],
                    f"{name}/avg",
                    kernel_shape=[layer.size] * 2,
                    strides=[1, 1],
                    pads=[pad, pad, layer.size - 1 - pad, layer.size - 1 - pad],
                    count_include_pad=1,
                )
                scaled = tmp(layer, "scaled")
                node("Mul", [avg, const(f"{name}.alpha", layer.alpha)], [scaled], f"{name}/alpha")
                node("Add", [scaled, const(f"{name}.k", layer.k)], [den], f"{name}/k")
                node("Pow", [den, const(f"{name}.beta", layer.beta)], [powd], f"{name}/pow")
                node("Div", [x, powd], [y], name)
        elif isinstance(layer, Eltwise):
            operands = list(layer.inputs)
            if layer.constant_index is not None:
                c = const(f"{name}.constant", p["constant"])
                operands = [c, operands[0]] if layer.constant_index == 0 else [operands[0], c]
            if layer.coeffs is not None:
                scaled = []
                for i, (t, k) in enumerate(zip(operands, layer.coeffs, strict=True)):
                    if k == 1.0:
                        scaled.append(t)
                        continue
                    s = tmp(layer, f"coeff{i}")
                    node("Mul", [t, const(f"{name}.coeff{i}", k)], [s], f"{name}/coeff{i}")
                    scaled.append(s)
                operands = scaled
            op = _ELTWISE[layer.op.value]
            acc = operands[0]
            for i, t in enumerate(operands[1:], start=1):
                out = y if i == len(operands) - 1 else tmp(layer, "acc")
                node(op, [acc, t], [out], name if out == y else f"{name}/{i}")
                acc = out
        elif isinstance(layer, Concat):
            node("Concat", list(layer.inputs), [y], name, axis=layer.axis)
        elif isinstance(layer, (Flatten, Reshape)):
            if isinstance(layer, Flatten) and layer.axis == 1:
                node("Flatten", [x], [y], name, axis=1)
            else:
                target = const(f"{name}.shape", [-1, *network.shape(y)], np.int64)
                node("Reshape", [x, target], [y], name)
        elif isinstance(layer, Transpose):
            node("Transpose", [x], [y], name, perm=list(layer.perm))
        elif isinstance(layer, Pad):
            r = len(layer.pads) // 2
            pads = [0, *layer.pads[:r], 0, *layer.pads[r:]]
            ins = [x, const(f"{name}.pads", pads, np.int64)]
            if layer.mode.value == "constant":
                ins.append(const(f"{name}.value", layer.value))
            node("Pad", ins, [y], name, mode=layer.mode.value)
        elif isinstance(layer, Softmax):
            if not layer.flatten or layer.axis == len(in_shape):
                node("Softmax", [x], [y], name, axis=layer.axis)
            else:
                f, s = tmp(layer, "flat"), tmp(layer, "soft")
                k = layer.axis - 1
                flat = [-1, *in_shape[:k], int(np.prod(in_shape[k:]))]
                node("Reshape", [x, const(f"{name}.flat_shape", flat, np.int64)], [f], f"{name}/flatten")
                node("Softmax", [f], [s], name, axis=-1)
                node(
                    "Reshape", [s, const(f"{name}.shape", [-1, *in_shape], np.int64)], [y], f"{name}/reshape"
                )
        else:  # pragma: no cover - every spec is handled above
            raise ModelError(f"layer {layer.name!r} ({layer.op_type}) cannot be exported to ONNX")

    dim = batch if batch is not None else "N"
    graph = helper.make_graph(
        nodes,
        network.name,
        [helper.make_tensor_value_info(i.name, TensorProto.FLOAT, [dim, *i.shape]) for i in network.inputs],
        [
            helper.make_tensor_value_info(t, TensorProto.FLOAT, [dim, *network.shape(t)])
            for t in network.outputs
        ],
        initializer=inits,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="ristretto-sim"
    )
    props = dict(network.metadata)
    if network.preprocess is not None:
        pre = network.preprocess
        if pre.mean_image is not None or pre.crop_size:
            props["preprocessing.note"] = "mean image / crop of the source model not representable here"
        props["preprocessing.scale"] = repr(pre.scale)
        props["preprocessing.mean"] = repr(pre.mean) if pre.mean else ""
        props["preprocessing.layout"] = network.input_layout.value.upper()
    props["task"] = network.task
    helper.set_model_props(model, props)
    onnx.checker.check_model(model)
    if path is not None:
        onnx.save(model, str(Path(path)))
    return model


def _pool(layer: Pool, in_shape, node) -> None:
    x, y, name = layer.inputs[0], layer.output, layer.name
    if layer.global_pool:
        node("GlobalMaxPool" if layer.kind is PoolKind.MAX else "GlobalAveragePool", [x], [y], name)
        return
    if layer.ceil_mode:
        for size, k, s, p0, p1 in zip(
            in_shape[1:], layer.kernel, layer.stride, layer.pads[:2], layer.pads[2:], strict=True
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
        node("MaxPool", [x], [y], name, **attrs)
    else:
        node("AveragePool", [x], [y], name, count_include_pad=int(layer.count_include_pad), **attrs)
