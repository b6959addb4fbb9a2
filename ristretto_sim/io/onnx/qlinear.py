"""ONNX integer models in operator form (``QLinearConv``, ``QLinearMatMul``, as onnxruntime's quantization writes them
with ``QuantFormat.QOperator``) or in QDQ form (``QuantFormat.QDQ``, rewritten into the operator form as onnxruntime
fuses it, ``qdq_to_operators``): the network and its embedded plan of affine formats, as the TFLite importer builds
them, computed with ONNX's own requantization (the plan's ``nearest_even`` rounding: the ``affine`` datapath's
float32 multiplier and ``rint``, as ``onnx.reference`` computes).

Handled (one handler per op type, ``HANDLERS``): ``QuantizeLinear`` of the graph input (the network takes its int8 /
uint8 codes, as the TFLite interpreter does), ``QLinearConv`` (per-channel weight scales and zero points, groups,
pads, strides, dilations), ``QLinearMatMul`` with constant weights, onnxruntime's ``com.microsoft`` ``QGemm`` (its
operator form of a Gemm: ``transB`` as written, ``alpha`` 1, an integer output), its ``QLinearAdd``,
``QLinearAveragePool`` and ``QLinearGlobalAveragePool`` (computed as its kernels compute them,
``emulator.onnxruntime_ops``), ``MaxPool``, ``Flatten`` and ``Reshape`` of integer tensors, ``DequantizeLinear`` of
a graph output (the network returns the codes). Anything else is a ``ModelError`` naming it and this list. Layout:
NCHW, the ONNX tensors themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ristretto_sim.errors import ModelError
from ristretto_sim.formats import Affine
from ristretto_sim.graph.layers import Conv, Dense, Eltwise, Flatten, Pool, Reshape
from ristretto_sim.graph.network import Network, TensorSpec
from ristretto_sim.graph.plan import EMBEDDED_PLAN, LayerPlan, QuantPlan

#: onnxruntime's operator domain (its QGemm, QLinearAdd, QLinearAveragePool, QLinearGlobalAveragePool)
CONTRIB = "com.microsoft"
#: the op types that make a graph a QLinear integer model
QLINEAR_OPS = ("QLinearConv", "QLinearMatMul", "QGemm")


def is_qlinear(proto) -> bool:
    """Whether an ONNX model is an integer model: in operator form, or QDQ (``DequantizeLinear`` of constant weights
    into a Conv, MatMul or Gemm)."""
    return any(n.op_type in QLINEAR_OPS for n in proto.graph.node) or bool(_qdq_weights(proto))


def _qdq_weights(proto) -> set:
    inits = {t.name for t in proto.graph.initializer}
    dq = {n.output[0]: n for n in proto.graph.node if n.op_type == "DequantizeLinear" and n.input[0] in inits}
    return {n.input[1] for n in proto.graph.node if n.op_type in ("Conv", "MatMul", "Gemm") and len(n.input) > 1
            and n.input[1] in dq}


def qdq_to_operators(proto):
    """A QDQ model (onnxruntime's ``QuantFormat.QDQ``: DequantizeLinear -> float Conv / MatMul / Gemm / MaxPool ->
    QuantizeLinear) rewritten into the operator form: each such group becomes one QLinearConv / QLinearMatMul (a
    Gemm's bias as a ninth input) / integer MaxPool, Add into its QLinearAdd, AveragePool and GlobalAveragePool into
    its QLinearAveragePool and QLinearGlobalAveragePool, as onnxruntime fuses them; other nodes stay. Returns a new
    model."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.ModelProto()
    model.CopyFrom(proto)
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    producer = {o: n for n in g.node for o in n.output}
    consumers: dict = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)

    def dq_of(name):
        n = producer.get(name)
        return n if n is not None and n.op_type == "DequantizeLinear" else None

    def only_q(name):
        users = consumers.get(name, [])
        return users[0] if len(users) == 1 and users[0].op_type == "QuantizeLinear" else None

    new_nodes, dropped, extra_inits = [], set(), []
    for n in g.node:
        if n.op_type not in ("Conv", "MatMul", "Gemm", "MaxPool", "Flatten", "Reshape", "Add", "AveragePool",
                             "GlobalAveragePool"):
            continue
        dx, q = dq_of(n.input[0]), only_q(n.output[0])
        if dx is None or q is None:
            continue
        zx = dx.input[2] if len(dx.input) > 2 else ""
        zy = q.input[2] if len(q.input) > 2 else ""
        if n.op_type == "Add":  # onnxruntime's QLinearAdd
            d2 = dq_of(n.input[1])
            if d2 is None:
                continue
            z2 = d2.input[2] if len(d2.input) > 2 else ""
            node = helper.make_node("QLinearAdd", [dx.input[0], dx.input[1], zx, d2.input[0], d2.input[1], z2,
                                                   q.input[1], zy], [q.output[0]], name=n.name, domain=CONTRIB)
        elif n.op_type in ("AveragePool", "GlobalAveragePool"):  # its QLinear(Global)AveragePool
            node = helper.make_node(f"QLinear{n.op_type}", [dx.input[0], dx.input[1], zx, q.input[1], zy],
                                    [q.output[0]], name=n.name, domain=CONTRIB)
            node.attribute.extend(n.attribute)
        elif n.op_type in ("MaxPool", "Flatten", "Reshape"):  # move codes: DQ and Q must agree
            if list(dx.input[1:]) != list(q.input[1:]):
                continue
            node = helper.make_node(n.op_type, [dx.input[0], *n.input[1:]], [q.output[0]], name=n.name)
            node.attribute.extend(n.attribute)
        else:
            dw = dq_of(n.input[1])
            if dw is None or dw.input[0] not in inits:
                continue
            zw = dw.input[2] if len(dw.input) > 2 else ""
            if n.op_type == "Conv":
                ins = [dx.input[0], dx.input[1], zx, dw.input[0], dw.input[1], zw, q.input[1], zy]
                if len(n.input) > 2 and n.input[2]:
                    db = dq_of(n.input[2])
                    if db is None:
                        continue
                    ins.append(db.input[0])
                    dropped.add(id(db))
                node = helper.make_node("QLinearConv", ins, [q.output[0]], name=n.name)
                node.attribute.extend(n.attribute)
            else:
                attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
                wname = dw.input[0]
                if n.op_type == "Gemm" and (attrs.get("transA", 0) or attrs.get("alpha", 1.0) != 1.0
                                            or attrs.get("beta", 1.0) != 1.0):
                    continue
                if n.op_type == "Gemm" and attrs.get("transB", 0):  # (N, K) -> (K, N), the scales per column
                    w = numpy_helper.to_array(inits[wname])
                    wname = f"{wname}#T"
                    extra_inits.append(numpy_helper.from_array(np.ascontiguousarray(w.T), wname))
                ins = [dx.input[0], dx.input[1], zx, wname, dw.input[1], zw, q.input[1], zy]
                if n.op_type == "Gemm" and len(n.input) > 2 and n.input[2]:
                    db = dq_of(n.input[2])
                    if db is None:
                        continue
                    ins.append(db.input[0])
                    dropped.add(id(db))
                node = helper.make_node("QLinearMatMul", ins, [q.output[0]], name=n.name)
            dropped.add(id(dw))
        dropped.update((id(n), id(q)))
        new_nodes.append((id(n), node))
    if not new_nodes:
        return model
    replacement = dict(new_nodes)
    kept = []
    for n in g.node:
        if id(n) in replacement:
            kept.append(replacement[id(n)])
        elif id(n) not in dropped:
            kept.append(n)
    # a DequantizeLinear feeding only fused groups is gone with them
    used = {i for n in kept for i in n.input} | {o.name for o in g.output}
    kept = [n for n in kept if not (n.op_type == "DequantizeLinear" and n.output[0] not in used)]
    del g.node[:]
    g.node.extend(kept)
    g.initializer.extend(extra_inits)
    return model


@dataclass
class _Builder:
    source: str
    consts: dict
    layers: list = field(default_factory=list)
    params: dict = field(default_factory=dict)
    plan: dict = field(default_factory=dict)
    shapes: dict = field(default_factory=dict)
    formats: dict = field(default_factory=dict)
    alias: dict = field(default_factory=dict)
    outputs: dict = field(default_factory=dict)  # graph output -> network tensor

    def fail(self, node, msg: str) -> ModelError:
        return ModelError(f"{self.source}: node {node.name or node.op_type!r} ({node.op_type}): {msg}")

    def const(self, node, name: str) -> np.ndarray:
        if name not in self.consts:
            raise self.fail(node, f"input {name!r} must be a constant (an initializer)")
        return self.consts[name]

    def tensor(self, node, name: str) -> str:
        t = self.alias.get(name, name)
        if t not in self.shapes:
            raise self.fail(node, f"input {name!r} is not an integer tensor computed earlier")
        return t

    def fmt(self, node, scale_name: str, zp_name: str | None, axis: int = 0) -> Affine:
        scale = self.const(node, scale_name).astype(np.float32).reshape(-1)
        zp = self.const(node, zp_name) if zp_name else np.zeros(1, np.uint8)
        signed = zp.dtype == np.int8
        if zp.dtype not in (np.int8, np.uint8):
            raise self.fail(node, f"zero point of type {zp.dtype}; int8 and uint8 are supported")
        zps = tuple(int(v) for v in zp.reshape(-1))
        if scale.size == 1:
            return Affine(8, float(scale[0]), zps[0], signed=signed)
        return Affine(8, tuple(float(v) for v in scale), zps if len(zps) > 1 else zps[0], signed=signed, axis=axis)

    def add(self, layer, shape, params=None, plan=None) -> None:
        self.layers.append(layer)
        self.shapes[layer.output] = tuple(shape)
        if params:
            self.params[layer.name] = params
        if plan is not None:
            self.plan[layer.name] = plan


Handler = Callable[[_Builder, object], None]
HANDLERS: dict[str, Handler] = {}


def handler(*op_types: str):
    def register(fn):
        for op_type in op_types:
            HANDLERS[op_type] = fn
        return fn

    return register


def _attrs(node) -> dict:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _pads(node, b: _Builder, a: dict, in_hw, kernel, stride, dilation):
    auto = a.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else str(auto)
    if auto in ("NOTSET", "VALID"):
        p = tuple(a.get("pads", (0, 0, 0, 0))) if auto == "NOTSET" else (0, 0, 0, 0)
        return (p[0], p[1], p[2], p[3])
    out = []
    for size, k, s, d in zip(in_hw, kernel, stride, dilation, strict=True):
        total = max((-(-size // s) - 1) * s + (k - 1) * d + 1 - size, 0)
        small, big = total // 2, total - total // 2
        out.append((small, big) if auto == "SAME_UPPER" else (big, small))
    return (out[0][0], out[1][0], out[0][1], out[1][1])


@handler("QuantizeLinear")
def _quantize(b: _Builder, node) -> None:
    if node.input[0] not in b.graph_inputs:
        raise b.fail(node, "QuantizeLinear is supported on the graph input only (the network takes its codes)")
    fmt = b.fmt(node, node.input[1], node.input[2] if len(node.input) > 2 else None)
    if fmt.per_channel:
        raise b.fail(node, "per-channel quantization of the input is not supported")
    b.network_input = node.output[0]
    b.shapes[node.output[0]] = b.graph_inputs[node.input[0]]
    b.formats[node.output[0]] = fmt


@handler("DequantizeLinear")
def _dequantize(b: _Builder, node) -> None:
    t = b.tensor(node, node.input[0])
    fmt = b.fmt(node, node.input[1], node.input[2] if len(node.input) > 2 else None)
    if b.formats.get(t) != fmt:
        raise b.fail(node, f"dequantizes {t!r} with {fmt}, not its format {b.formats.get(t)}")
    b.outputs[node.output[0]] = t


@handler("QLinearConv")
def _qlinear_conv(b: _Builder, node) -> None:
    a = _attrs(node)
    x = b.tensor(node, node.input[0])
    in_fmt = b.formats[x] = b.fmt(node, node.input[1], node.input[2])
    wq = b.const(node, node.input[3]).astype(np.int64)
    if wq.ndim != 4:
        raise b.fail(node, f"weights of rank {wq.ndim}; 2-D convolutions only")
    w_fmt = b.fmt(node, node.input[4], node.input[5], axis=0)
    if w_fmt.per_channel and w_fmt.channels != wq.shape[0]:
        raise b.fail(node, f"{w_fmt.channels} weight scales for {wq.shape[0]} output channels (the scales must run "
                           "along axis 0)")
    out_fmt = b.fmt(node, node.input[6], node.input[7])
    c, h, w = b.shapes[x]
    kernel = tuple(a.get("kernel_shape", wq.shape[2:]))
    stride, dilation = tuple(a.get("strides", (1, 1))), tuple(a.get("dilations", (1, 1)))
    groups = int(a.get("group", 1))
    pads = _pads(node, b, a, (h, w), kernel, stride, dilation)
    params = {"weight": w_fmt.decode(wq).astype(np.float32)}
    bias_fmt = None
    if len(node.input) > 8 and node.input[8]:
        bq = b.const(node, node.input[8]).astype(np.int64).reshape(-1)
        s_b = (np.float32(in_fmt.scale) * w_fmt.scale_array().astype(np.float32)).astype(np.float64)
        bias_fmt = Affine(32, tuple(s_b) if w_fmt.per_channel else float(s_b[0]))
        exact = bq * np.broadcast_to(s_b, bq.shape)
        params.update(bias=exact.astype(np.float32), bias_exact=exact)
    name = node.name or node.output[0]
    layer = Conv(name=name, inputs=(x,), outputs=(node.output[0],), in_channels=c, out_channels=wq.shape[0],
                 kernel=kernel, stride=stride, pads=pads, dilation=dilation, groups=groups,
                 bias=bias_fmt is not None)
    shape = (wq.shape[0],) + layer.geometry.output_size(h, w, *kernel)
    b.add(layer, shape, params, LayerPlan(inputs=in_fmt, weights=w_fmt, bias=bias_fmt, outputs=out_fmt,
                                          accumulator="fixed32.0"))
    b.formats[node.output[0]] = out_fmt


@handler("QLinearMatMul")
def _qlinear_matmul(b: _Builder, node) -> None:
    bias = node.input[8] if len(node.input) > 8 else ""  # a QDQ Gemm's int32 bias (qdq_to_operators)
    _dense(b, node, *node.input[:3], *node.input[3:6], *node.input[6:8], bias, transposed=False)


@handler("QGemm")
def _qgemm(b: _Builder, node) -> None:
    """onnxruntime's ``com.microsoft`` QGemm (its operator form of a Gemm): A, its scale and zero point, B, its
    scale and zero point, the int32 bias C, the output's scale and zero point; ``transB`` weights as stored, ``alpha``
    1 (the scale onnxruntime requantizes with is ``alpha * s_a * s_b / s_y``)."""
    a = _attrs(node)
    if node.domain not in ("com.microsoft",):
        raise b.fail(node, f"QGemm of domain {node.domain!r}; onnxruntime's com.microsoft QGemm is supported")
    if int(a.get("transA", 0)) != 0 or float(a.get("alpha", 1.0)) != 1.0:
        raise b.fail(node, "QGemm with transA or alpha != 1 is not supported (onnxruntime's quantizer writes "
                           "transA=0, alpha=1)")
    ins = list(node.input) + [""] * (9 - len(node.input))
    if not ins[7]:
        raise b.fail(node, "QGemm without y_scale gives a float output; integer outputs only")
    _dense(b, node, *ins[:6], ins[7], ins[8], ins[6], transposed=bool(a.get("transB", 0)))


def _dense(b: _Builder, node, x_name, x_scale, x_zp, w_name, w_scale, w_zp, y_scale, y_zp, bias_name,
           transposed: bool) -> None:
    """A fully connected layer from integer weights ``(K, N)`` (``(N, K)`` when ``transposed``), their per-tensor or
    per-output scales, an optional int32 bias and the output's format."""
    x = b.tensor(node, x_name)
    if len(b.shapes[x]) != 1:
        raise b.fail(node, f"input of per-sample shape {b.shapes[x]}; (N, K) inputs only")
    in_fmt = b.formats[x] = b.fmt(node, x_scale, x_zp)
    wq = b.const(node, w_name).astype(np.int64)
    if wq.ndim != 2:
        raise b.fail(node, f"weights of rank {wq.ndim}; 2-D only")
    wq = wq if transposed else wq.T.copy()  # (N, K): one row per output
    w_fmt = b.fmt(node, w_scale, w_zp, axis=0)  # per output: axis 0 of (N, K)
    out_fmt = b.fmt(node, y_scale, y_zp)
    name = node.name or node.output[0]
    params = {"weight": w_fmt.decode(wq).astype(np.float32)}
    bias_fmt = None
    if bias_name:
        bq = b.const(node, bias_name).astype(np.int64).reshape(-1)
        s_b = (np.float32(in_fmt.scale) * w_fmt.scale_array().astype(np.float32)).astype(np.float64)
        bias_fmt = Affine(32, tuple(s_b) if w_fmt.per_channel else float(s_b[0]))
        exact = bq * np.broadcast_to(s_b, bq.shape)
        params.update(bias=exact.astype(np.float32), bias_exact=exact)
    layer = Dense(name=name, inputs=(x,), outputs=(node.output[0],), in_features=wq.shape[1],
                  out_features=wq.shape[0], bias=bias_fmt is not None)
    b.add(layer, (wq.shape[0],), params,
          LayerPlan(inputs=in_fmt, weights=w_fmt, bias=bias_fmt, outputs=out_fmt, accumulator="fixed32.0"))
    b.formats[node.output[0]] = out_fmt


def _contrib(b: _Builder, node) -> None:
    if node.domain != "com.microsoft":
        raise b.fail(node, f"{node.op_type} of domain {node.domain!r}; onnxruntime's com.microsoft op is supported")


def _input_format(b: _Builder, node, t: str, scale: str, zp: str) -> Affine:
    """The format a contrib op states for its integer input ``t``, which must be the one ``t`` was computed in."""
    fmt = b.fmt(node, scale, zp)
    if t in b.formats and b.formats[t] != fmt:
        raise b.fail(node, f"reads {t!r} as {fmt}, not its format {b.formats[t]}")
    b.formats[t] = fmt
    return fmt


@handler("QLinearAdd")
def _qlinear_add(b: _Builder, node) -> None:
    """onnxruntime's QLinearAdd of two integer tensors of one shape (A, its scale and zero point, B, its scale and
    zero point, the output's)."""
    _contrib(b, node)
    x1, x2 = b.tensor(node, node.input[0]), b.tensor(node, node.input[3])
    if b.shapes[x1] != b.shapes[x2]:
        raise b.fail(node, f"inputs of shapes {b.shapes[x1]} and {b.shapes[x2]}; equal shapes only")
    _input_format(b, node, x1, node.input[1], node.input[2])
    _input_format(b, node, x2, node.input[4], node.input[5])
    out = b.fmt(node, node.input[6], node.input[7] if len(node.input) > 7 else None)
    layer = Eltwise(name=node.name or node.output[0], inputs=(x1, x2), outputs=(node.output[0],), op="add")
    b.add(layer, b.shapes[x1], plan=LayerPlan(outputs=out))
    b.formats[node.output[0]] = out


@handler("QLinearAveragePool", "QLinearGlobalAveragePool")
def _qlinear_avg_pool(b: _Builder, node) -> None:
    """onnxruntime's QLinearAveragePool (kernel, strides, pads, ``count_include_pad``) and QLinearGlobalAveragePool
    of an NCHW integer tensor (X, its scale and zero point, the output's)."""
    _contrib(b, node)
    a = _attrs(node)
    if int(a.get("channels_last", 0)):
        raise b.fail(node, "channels_last=1 is not supported (NCHW tensors only)")
    x = b.tensor(node, node.input[0])
    _input_format(b, node, x, node.input[1], node.input[2])
    out = b.fmt(node, node.input[3], node.input[4] if len(node.input) > 4 else None)
    name = node.name or node.output[0]
    if node.op_type == "QLinearGlobalAveragePool":
        layer = Pool(name=name, inputs=(x,), outputs=(node.output[0],), kind="avg", global_pool=True)
    else:
        kernel = tuple(a["kernel_shape"])
        stride = tuple(a.get("strides", (1, 1)))
        pads = _pads(node, b, a, b.shapes[x][1:], kernel, stride, (1, 1))
        layer = Pool(name=name, inputs=(x,), outputs=(node.output[0],), kind="avg", kernel=kernel, stride=stride,
                     pads=pads, ceil_mode=bool(a.get("ceil_mode", 0)),
                     count_include_pad=bool(a.get("count_include_pad", 0)))
    b.add(layer, layer.output_shapes((b.shapes[x],))[0], plan=LayerPlan(outputs=out))
    b.formats[node.output[0]] = out


def _moves(b: _Builder, node, layer, shape) -> None:
    fmt = b.formats[layer.inputs[0]]
    b.add(layer, shape, plan=LayerPlan(inputs=fmt, outputs=fmt))
    b.formats[layer.output] = fmt


@handler("MaxPool")
def _max_pool(b: _Builder, node) -> None:
    a = _attrs(node)
    x = b.tensor(node, node.input[0])
    kernel = tuple(a["kernel_shape"])
    stride = tuple(a.get("strides", (1, 1)))
    pads = _pads(node, b, a, b.shapes[x][1:], kernel, stride, (1, 1))
    layer = Pool(name=node.name or node.output[0], inputs=(x,), outputs=(node.output[0],), kind="max",
                 kernel=kernel, stride=stride, pads=pads, ceil_mode=bool(a.get("ceil_mode", 0)))
    _moves(b, node, layer, layer.output_shapes((b.shapes[x],))[0])


@handler("Flatten")
def _flatten(b: _Builder, node) -> None:
    x = b.tensor(node, node.input[0])
    if int(_attrs(node).get("axis", 1)) != 1:
        raise b.fail(node, "Flatten with axis != 1 is not supported")
    layer = Flatten(name=node.name or node.output[0], inputs=(x,), outputs=(node.output[0],))
    _moves(b, node, layer, (int(np.prod(b.shapes[x])),))


@handler("Reshape")
def _reshape(b: _Builder, node) -> None:
    x = b.tensor(node, node.input[0])
    target = [int(v) for v in b.const(node, node.input[1])]
    n = int(np.prod(b.shapes[x]))
    if target[0] not in (0, 1, -1):
        raise b.fail(node, f"shape {target} must keep the batch axis first")
    rest = target[1:]
    if -1 in rest:
        known = int(np.prod([v for v in rest if v != -1]))
        rest = [n // known if v == -1 else v for v in rest]
    layer = Reshape(name=node.name or node.output[0], inputs=(x,), outputs=(node.output[0],), shape=tuple(rest))
    _moves(b, node, layer, tuple(rest))


def qlinear_network(proto, name: str, source: str) -> Network:
    """The network and embedded plan of a QLinear (or QDQ, rewritten by ``qdq_to_operators``) ONNX model (module
    docstring)."""
    from onnx import numpy_helper

    proto = qdq_to_operators(proto)
    g = proto.graph
    consts = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    for node in g.node:
        if node.op_type == "Constant":
            consts[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    b = _Builder(source, consts)
    b.graph_inputs = {}
    b.network_input = None
    for vi in g.input:
        if vi.name in consts:
            continue
        dims = [d.dim_value for d in vi.type.tensor_type.shape.dim]
        if len(dims) < 2 or any(d < 1 for d in dims[1:]):
            raise ModelError(f"{source}: input {vi.name!r} needs a batch axis and fixed dimensions, got {dims}")
        b.graph_inputs[vi.name] = tuple(dims[1:])
        elem = vi.type.tensor_type.elem_type
        if elem in (2, 3):  # uint8, int8: the codes themselves (their format comes from the first consumer)
            b.network_input = vi.name
            b.shapes[vi.name] = tuple(dims[1:])
    if len(b.graph_inputs) != 1:
        raise ModelError(f"{source}: {len(b.graph_inputs)} graph inputs; one is supported")
    for node in g.node:
        if node.op_type == "Constant":
            continue
        fn = HANDLERS.get(node.op_type)
        if fn is None:
            raise ModelError(f"{source}: node {node.name or node.output[0]!r} is {node.op_type}, which the QLinear "
                             f"importer does not support (supported: {', '.join(HANDLERS)})")
        fn(b, node)
    if b.network_input is None:
        raise ModelError(f"{source}: the graph input is float and no QuantizeLinear of it was found")
    outs = [b.outputs.get(o.name, o.name) for o in g.output]
    for o in outs:
        if o not in b.shapes or o not in b.formats:
            raise ModelError(f"{source}: graph output {o!r} is not an integer tensor the network computes")
    plan = QuantPlan(b.plan, mode="exact", rounding="nearest_even")
    net_in = b.network_input
    args = dict(name=name, inputs=(TensorSpec(net_in, b.shapes[net_in]),), layers=tuple(b.layers),
                outputs=tuple(outs), params=b.params, source=source)
    try:
        net = Network(**args, metadata={"format": "onnx-qlinear"})
        plan.check(net)
    except ValueError as exc:
        raise ModelError(f"{source}: {exc}") from None
    return Network(**args, metadata={"format": "onnx-qlinear", EMBEDDED_PLAN: plan.to_yaml()})
