"""TFLite import: an int8 ``.tflite`` model as a ``Network`` (NCHW inside, as every importer builds it) and its
embedded ``QuantPlan`` (every tensor's ``formats.Affine`` format: scales, zero points, per-channel weight scales).

One handler per builtin operator (``HANDLERS``, registered by name): CONV_2D, DEPTHWISE_CONV_2D (a grouped ``Conv``
with one group per input channel), FULLY_CONNECTED, ADD, AVERAGE_POOL_2D, RESHAPE, SOFTMAX. Any other operator is a
``ModelError`` naming it and the supported list. Layouts: a TFLite image tensor ``[1, H, W, C]`` is the network
tensor ``(C, H, W)`` of the same name; where TFLite's flattening order (NHWC) differs from the network's (NCHW), a
``Transpose`` to NHWC comes first (RESHAPE, FULLY_CONNECTED on an image). A fused activation becomes its own
``Activation`` layer (ReLU, or a ``CLIP`` for ReLU6 / ReLU_N1_TO_1) writing the TFLite tensor; the MAC layer then
writes ``<name>#preact``. Tensors whose names contain ``#`` exist only in the network; every other tensor is the TFLite
tensor of that name.

Weights are held as float32 values ``s_w * (q_w - z_w)`` (their codes are recovered exactly: the quotient by the scale
is within 2**-16 of the code); the int32 bias as ``bias_exact`` (float64, exact) beside a float32 ``bias`` for the
float network. The plan is stored as YAML text in ``network.metadata["embedded_plan"]``
(``graph.plan.embedded_plan`` reads it back).

Refused, one line each: a float (or otherwise not fully int8) model, a per-channel scale on an axis that is not the
output channels, a fused activation or option the reference kernels would not run, an operator outside the list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ristretto_sim.errors import ModelError
from ristretto_sim.formats import Affine
from ristretto_sim.graph.layers import Activation, Conv, Dense, Eltwise, Layer, Pool, Reshape, Softmax, Transpose
from ristretto_sim.graph.network import Layout, Network, TensorSpec
from ristretto_sim.graph.plan import EMBEDDED_PLAN, LayerPlan, QuantPlan
from ristretto_sim.io.tflite.reader import Graph, Operator, Tensor, read_tflite

INT32_ACC = "fixed32.0"
#: fused activations (schema.fbs ActivationFunctionType) -> (clamp low, clamp high)
ACTIVATIONS = {0: None, 1: (0.0, None), 2: (-1.0, 1.0), 3: (0.0, 6.0)}
ACTIVATION_NAMES = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}
SAME, VALID = 0, 1


@dataclass
class _Builder:
    """The network being built: layers, params, plan entries, and the network name of each TFLite tensor."""

    graph: Graph
    layers: list = field(default_factory=list)
    params: dict = field(default_factory=dict)
    plan: dict = field(default_factory=dict)
    names: dict = field(default_factory=dict)  # TFLite tensor index -> network tensor name
    shapes: dict = field(default_factory=dict)  # network tensor name -> per-sample shape (network layout)

    def fail(self, op: Operator, msg: str) -> ModelError:
        return ModelError(f"{self.graph.path}: operator {op.index} ({op.opcode}): {msg}")

    def tensor(self, index: int) -> Tensor:
        return self.graph.tensors[index]

    def fmt(self, op: Operator, index: int) -> Affine:
        """The per-tensor affine format of activation tensor ``index``."""
        t = self.tensor(index)
        if t.type not in (9, 3):
            raise self.fail(op, f"tensor {t.name!r} is {t.type_name}: the int8 path needs a fully int8-quantized "
                                "model (convert with the TFLite converter's full-integer quantization)")
        if len(t.scale) != 1:
            raise self.fail(op, f"activation tensor {t.name!r} has {len(t.scale)} scales; TFLite activations have "
                                "one")
        return Affine(8, t.scale[0], t.zero_point[0] if t.zero_point else 0, signed=t.type == 9)

    def source(self, op: Operator, i: int) -> str:
        idx = op.inputs[i]
        if idx not in self.names:
            raise self.fail(op, f"input tensor {self.tensor(idx).name!r} is neither a model input nor an earlier "
                                "operator's output")
        return self.names[idx]

    def add(self, layer: Layer, shape, params=None, plan: LayerPlan | None = None) -> str:
        self.layers.append(layer)
        self.shapes[layer.output] = tuple(shape)
        if params:
            self.params[layer.name] = params
        if plan is not None:
            self.plan[layer.name] = plan
        return layer.output

    def output_name(self, op: Operator, j: int = 0) -> str:
        name = self.tensor(op.outputs[j]).name
        taken = set(self.shapes) | {layer.name for layer in self.layers}
        return name if name not in taken and "#" not in name else f"{name}#{op.outputs[j]}"

    def finish(self, op: Operator, layer_out: str, final: str, fused: int, out_fmt: Affine, shape) -> None:
        """Bind the operator's output: the fused activation (if any) as its own layer writing ``final``."""
        if fused not in ACTIVATIONS:
            raise self.fail(op, f"fused activation {ACTIVATION_NAMES.get(fused, fused)} is not supported (NONE, "
                                "RELU, RELU6, RELU_N1_TO_1)")
        act = ACTIVATIONS[fused]
        if act is not None:
            lo, hi = act
            kind = "relu" if hi is None else "clip"
            layer = Activation(name=f"{final}#act", inputs=(layer_out,), outputs=(final,), kind=kind,
                               low=None if kind == "relu" else lo, high=hi)
            self.add(layer, shape, plan=LayerPlan(inputs=out_fmt, outputs=out_fmt))
        self.names[op.outputs[0]] = final

    def to_nhwc(self, name: str, fmt: Affine) -> str:
        """``name`` in TFLite's element order: a Transpose to NHWC when the network holds it as (C, H, W) with
        more than one channel and pixel (planned in ``fmt``, the tensor's format: it moves codes)."""
        shape = self.shapes[name]
        if len(shape) != 3 or shape[0] == 1 or shape[1] * shape[2] == 1:
            return name
        out = f"{name}#nhwc"
        if out not in self.shapes:
            self.add(Transpose(name=out, inputs=(name,), outputs=(out,), perm=(0, 2, 3, 1)),
                     (shape[1], shape[2], shape[0]), plan=LayerPlan(inputs=fmt, outputs=fmt))
        return out


Handler = Callable[[_Builder, Operator], None]
HANDLERS: dict[str, Handler] = {}


def handler(name: str):
    def register(fn):
        HANDLERS[name] = fn
        return fn

    return register


def _pads(in_hw, kernel, stride, dilation, padding: int):
    """(top, left, bottom, right) of TFLite's SAME / VALID padding (``kernels/padding.h``: the odd pixel at the
    end)."""
    if padding == VALID:
        return (0, 0, 0, 0)
    out = []
    for size, k, s, d in zip(in_hw, kernel, stride, dilation, strict=True):
        eff = (k - 1) * d + 1
        o = -(-size // s)
        total = max((o - 1) * s + eff - size, 0)
        out.append((total // 2, total - total // 2))
    return (out[0][0], out[1][0], out[0][1], out[1][1])


def _weights(b: _Builder, op: Operator, index: int, channel_dim: int, n_out: int) -> tuple[np.ndarray, Affine]:
    """The int8 weight codes of tensor ``index`` and their affine format (per-channel along ``channel_dim`` of
    the TFLite tensor, axis 0 of the network's weights)."""
    t = b.tensor(index)
    if t.data is None:
        raise b.fail(op, f"weights {t.name!r} are not a constant tensor")
    if t.type != 9:
        raise b.fail(op, f"weights {t.name!r} are {t.type_name}: the int8 path needs int8 weights (a float model "
                         "or dynamic-range quantization is not an int8 model)")
    if len(t.scale) > 1:
        if t.quantized_dimension != channel_dim:
            raise b.fail(op, f"weights {t.name!r} have per-channel scales on axis {t.quantized_dimension}; "
                             f"{op.opcode} takes them on axis {channel_dim} (the output channels)")
        if len(t.scale) != n_out:
            raise b.fail(op, f"weights {t.name!r} have {len(t.scale)} scales for {n_out} output channels")
        zp = t.zero_point if len(t.zero_point) > 1 else (t.zero_point[0] if t.zero_point else 0)
        return t.data.astype(np.int64), Affine(8, t.scale, zp, axis=0)
    if not t.scale:
        raise b.fail(op, f"weights {t.name!r} carry no quantization")
    return t.data.astype(np.int64), Affine(8, t.scale[0], t.zero_point[0] if t.zero_point else 0)


def _bias(b: _Builder, op: Operator, n_out: int, in_fmt: Affine, w_fmt: Affine):
    """``(params, bias format)`` of the optional int32 bias (input 2)."""
    if len(op.inputs) < 3 or op.inputs[2] < 0:
        return {}, None
    t = b.tensor(op.inputs[2])
    if t.data is None or t.type != 2:
        raise b.fail(op, f"bias {t.name!r} must be a constant int32 tensor, not {t.type_name}")
    scales = t.scale if t.scale else tuple(in_fmt.scale * s for s in w_fmt.scale_array())
    fmt = Affine(32, scales if len(scales) > 1 else scales[0], 0)
    codes = t.data.astype(np.int64).reshape(n_out)
    exact = codes * np.broadcast_to(fmt.scale_array(), (n_out,))
    return {"bias": exact.astype(np.float32), "bias_exact": exact}, fmt


def _mac_plan(in_fmt, w_fmt, bias_fmt, out_fmt) -> LayerPlan:
    return LayerPlan(inputs=in_fmt, weights=w_fmt, bias=bias_fmt, outputs=out_fmt, accumulator=INT32_ACC)


def _conv_like(b: _Builder, op: Operator, depthwise: bool) -> None:
    o = op.options
    src = b.source(op, 0)
    in_shape = b.shapes[src]
    if len(in_shape) != 3:
        raise b.fail(op, f"expects an image input [1, H, W, C], got per-sample shape {in_shape}")
    c_in, h, w = in_shape
    in_fmt, out_fmt = b.fmt(op, op.inputs[0]), b.fmt(op, op.outputs[0])
    wt = b.tensor(op.inputs[1])
    if len(wt.shape) != 4:
        raise b.fail(op, f"weights {wt.name!r} must be 4-D, got {wt.shape}")
    if depthwise:
        _, kh, kw, n_out = wt.shape
        codes, w_fmt = _weights(b, op, op.inputs[1], 3, n_out)
        codes = codes[0].transpose(2, 0, 1)[:, None]  # [1, kh, kw, C*M] -> (C*M, 1, kh, kw)
        groups = c_in
        if n_out % c_in:
            raise b.fail(op, f"{n_out} output channels are not a multiple of the {c_in} input channels")
    else:
        n_out, kh, kw, c_w = wt.shape
        codes, w_fmt = _weights(b, op, op.inputs[1], 0, n_out)
        codes = codes.transpose(0, 3, 1, 2)  # OHWI -> OIHW
        groups = 1
        if c_w != c_in:
            raise b.fail(op, f"weights take {c_w} input channels, the input has {c_in}")
    stride = (o.StrideH(), o.StrideW())
    dilation = (o.DilationHFactor(), o.DilationWFactor())
    pads = _pads((h, w), (kh, kw), stride, dilation, o.Padding())
    bias_params, bias_fmt = _bias(b, op, n_out, in_fmt, w_fmt)
    final = b.output_name(op)
    fused = o.FusedActivationFunction()
    out = final if fused == 0 else f"{final}#preact"
    layer = Conv(name=final, inputs=(src,), outputs=(out,), in_channels=c_in, out_channels=n_out, kernel=(kh, kw),
                 stride=stride, pads=pads, dilation=dilation, groups=groups, bias=bool(bias_params))
    shape = (n_out,) + layer.geometry.output_size(h, w, kh, kw)
    expect = b.tensor(op.outputs[0]).shape
    if tuple(expect[1:]) != (shape[1], shape[2], shape[0]):
        raise b.fail(op, f"output shape {expect} does not follow from the input and options ({shape})")
    params = {"weight": w_fmt.decode(codes).astype(np.float32), **bias_params}
    b.add(layer, shape, params, _mac_plan(in_fmt, w_fmt, bias_fmt, out_fmt))
    b.finish(op, out, final, fused, out_fmt, shape)


@handler("CONV_2D")
def _conv(b: _Builder, op: Operator) -> None:
    _conv_like(b, op, depthwise=False)


@handler("DEPTHWISE_CONV_2D")
def _depthwise(b: _Builder, op: Operator) -> None:
    _conv_like(b, op, depthwise=True)


@handler("FULLY_CONNECTED")
def _fully_connected(b: _Builder, op: Operator) -> None:
    o = op.options
    if o is not None and o.WeightsFormat() != 0:
        raise b.fail(op, "shuffled weights (SHUFFLED4x16INT8) are not supported")
    in_fmt, out_fmt = b.fmt(op, op.inputs[0]), b.fmt(op, op.outputs[0])
    src = b.to_nhwc(b.source(op, 0), in_fmt)
    wt = b.tensor(op.inputs[1])
    if len(wt.shape) != 2:
        raise b.fail(op, f"weights {wt.name!r} must be 2-D (out, in), got {wt.shape}")
    n_out, n_in = wt.shape
    if int(np.prod(b.shapes[src])) != n_in:
        raise b.fail(op, f"input of {int(np.prod(b.shapes[src]))} values per sample; the weights take {n_in} "
                         "(batched fully connected layers are not supported)")
    codes, w_fmt = _weights(b, op, op.inputs[1], 0, n_out)
    bias_params, bias_fmt = _bias(b, op, n_out, in_fmt, w_fmt)
    final = b.output_name(op)
    fused = o.FusedActivationFunction() if o is not None else 0
    out = final if fused == 0 else f"{final}#preact"
    layer = Dense(name=final, inputs=(src,), outputs=(out,), in_features=n_in, out_features=n_out,
                  bias=bool(bias_params))
    params = {"weight": w_fmt.decode(codes).astype(np.float32), **bias_params}
    b.add(layer, (n_out,), params, _mac_plan(in_fmt, w_fmt, bias_fmt, out_fmt))
    b.finish(op, out, final, fused, out_fmt, (n_out,))


@handler("ADD")
def _add(b: _Builder, op: Operator) -> None:
    o = op.options
    srcs = [b.source(op, 0), b.source(op, 1)]
    shapes = [b.shapes[s] for s in srcs]
    if shapes[0] != shapes[1]:
        raise b.fail(op, f"broadcasting ADD ({shapes[0]} + {shapes[1]}) is not supported; the operands must have "
                         "one shape")
    f1, f2, out_fmt = b.fmt(op, op.inputs[0]), b.fmt(op, op.inputs[1]), b.fmt(op, op.outputs[0])
    final = b.output_name(op)
    fused = o.FusedActivationFunction() if o is not None else 0
    out = final if fused == 0 else f"{final}#preact"
    layer = Eltwise(name=final, inputs=tuple(srcs), outputs=(out,), op="add")
    b.add(layer, shapes[0], plan=LayerPlan(outputs=out_fmt))
    b.finish(op, out, final, fused, out_fmt, shapes[0])
    del f1, f2  # the operands' formats come from their producers


@handler("AVERAGE_POOL_2D")
def _avg_pool(b: _Builder, op: Operator) -> None:
    o = op.options
    src = b.source(op, 0)
    c, h, w = b.shapes[src]
    in_fmt, out_fmt = b.fmt(op, op.inputs[0]), b.fmt(op, op.outputs[0])
    if in_fmt != out_fmt:
        raise b.fail(op, f"input {in_fmt} and output {out_fmt} formats differ; TFLite's int8 average pooling "
                         "keeps the scale and zero point")
    kernel, stride = (o.FilterHeight(), o.FilterWidth()), (o.StrideH(), o.StrideW())
    pads = _pads((h, w), kernel, stride, (1, 1), o.Padding())
    final = b.output_name(op)
    fused = o.FusedActivationFunction()
    out = final if fused == 0 else f"{final}#preact"
    layer = Pool(name=final, inputs=(src,), outputs=(out,), kind="avg", kernel=kernel, stride=stride, pads=pads,
                 count_include_pad=False)
    shape = layer.output_shapes(((c, h, w),))[0]
    b.add(layer, shape, plan=LayerPlan(inputs=in_fmt, outputs=out_fmt))
    b.finish(op, out, final, fused, out_fmt, shape)


@handler("RESHAPE")
def _reshape(b: _Builder, op: Operator) -> None:
    in_fmt, out_fmt = b.fmt(op, op.inputs[0]), b.fmt(op, op.outputs[0])
    if in_fmt != out_fmt:
        raise b.fail(op, f"input {in_fmt} and output {out_fmt} formats differ; RESHAPE moves codes")
    src = b.to_nhwc(b.source(op, 0), in_fmt)
    target = b.tensor(op.outputs[0]).shape
    moves = LayerPlan(inputs=in_fmt, outputs=out_fmt)
    if not target or target[0] != 1:
        raise b.fail(op, f"output shape {target} must keep a batch axis of 1")
    final = b.output_name(op)
    per_sample = tuple(target[1:]) or (1,)
    if len(per_sample) == 3:  # an image again: reshape to (H, W, C), then to the network's (C, H, W)
        mid = f"{final}#nhwc"
        b.add(Reshape(name=mid, inputs=(src,), outputs=(mid,), shape=per_sample), per_sample, plan=moves)
        h, w, c = per_sample
        b.add(Transpose(name=final, inputs=(mid,), outputs=(final,), perm=(0, 3, 1, 2)), (c, h, w), plan=moves)
    else:
        b.add(Reshape(name=final, inputs=(src,), outputs=(final,), shape=per_sample), per_sample, plan=moves)
    b.names[op.outputs[0]] = final


@handler("SOFTMAX")
def _softmax(b: _Builder, op: Operator) -> None:
    o = op.options
    beta = o.Beta() if o is not None else 1.0
    if beta != 1.0:
        raise b.fail(op, f"beta={beta}: only beta = 1 is supported")
    src = b.source(op, 0)
    shape = b.shapes[src]
    if len(shape) != 1:
        raise b.fail(op, f"softmax over a per-sample shape {shape}; only [1, N] inputs are supported")
    out_fmt = b.fmt(op, op.outputs[0])
    if out_fmt != Affine(8, 1.0 / 256, -128):
        raise b.fail(op, f"output format {out_fmt}: TFLite's int8 softmax writes scale 1/256, zero point -128")
    in_fmt = b.fmt(op, op.inputs[0])
    final = b.output_name(op)
    b.add(Softmax(name=final, inputs=(src,), outputs=(final,), axis=1), shape,
          plan=LayerPlan(inputs=in_fmt, outputs=out_fmt))
    b.names[op.outputs[0]] = final


def supported_operators() -> tuple[str, ...]:
    return tuple(HANDLERS)


def tflite_network(graph: Graph) -> Network:
    """The network and embedded plan of a read TFLite graph (module docstring)."""
    b = _Builder(graph)
    if len(graph.inputs) != 1:
        raise ModelError(f"{graph.path}: {len(graph.inputs)} inputs; one input is supported")
    t_in = graph.tensors[graph.inputs[0]]
    if t_in.type not in (9, 3):
        if any(op.opcode == "QUANTIZE" and graph.inputs[0] in op.inputs for op in graph.operators):
            # the converter's default interface: int8 inside, float input and output
            raise ModelError(f"{graph.path}: input {t_in.name!r} is {t_in.type_name}, quantized by a QUANTIZE "
                             "operator: an int8 model with a float interface; convert it with "
                             "inference_input_type=tf.int8 and inference_output_type=tf.int8 (int8 in and out)")
        raise ModelError(f"{graph.path}: input {t_in.name!r} is {t_in.type_name}: this is not a fully int8-quantized "
                         "model (a float TFLite model cannot run on the int8 path; quantize it with full-integer "
                         "quantization)")
    if not t_in.shape or t_in.shape[0] != 1:
        raise ModelError(f"{graph.path}: input {t_in.name!r} has shape {t_in.shape}; expected a batch axis of 1")
    nhwc = len(t_in.shape) == 4
    shape = (t_in.shape[3], t_in.shape[1], t_in.shape[2]) if nhwc else tuple(t_in.shape[1:])
    b.names[graph.inputs[0]] = t_in.name
    b.shapes[t_in.name] = shape
    for op in graph.operators:
        fn = HANDLERS.get(op.opcode)
        if fn is None:
            raise ModelError(f"{graph.path}: operator {op.index} is {op.opcode}, which the TFLite importer does not "
                             f"support (supported: {', '.join(HANDLERS)})")
        fn(b, op)
    outputs = []
    for idx in graph.outputs:
        if idx not in b.names:
            raise ModelError(f"{graph.path}: output tensor {graph.tensors[idx].name!r} is not produced")
        outputs.append(b.names[idx])
    # the input's format: the first layer reading it states it
    plan = QuantPlan(b.plan, mode="exact", rounding="nearest_away")
    out_shape = b.shapes[outputs[0]]
    task = "reconstruction" if out_shape == shape and len(outputs) == 1 else "classification"
    try:
        net = Network(name=graph.path.stem, inputs=(TensorSpec(t_in.name, shape),), layers=tuple(b.layers),
                      outputs=tuple(outputs), params=b.params, input_layout=Layout.NHWC if nhwc else Layout.NCHW,
                      source=str(graph.path), task=task, metadata={"format": "tflite"})
    except ValueError as exc:
        raise ModelError(f"{graph.path}: {exc}") from None
    plan.check(net)
    return Network(name=net.name, inputs=net.inputs, layers=net.layers, outputs=net.outputs, params=b.params,
                   input_layout=net.input_layout, source=net.source, task=task,
                   metadata={"format": "tflite", EMBEDDED_PLAN: plan.to_yaml()})


def load_tflite(path) -> Network:
    """Import the int8 TFLite model at ``path`` (module docstring); ``ModelError`` naming the file otherwise."""
    return tflite_network(read_tflite(Path(path)))
