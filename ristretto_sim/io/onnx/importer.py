"""ONNX importer: ``load_onnx(path_or_model) -> Network`` (default-domain opsets 7 to the installed onnx's).

How the ONNX graph becomes layer specs:

- **Constant folding.** Every node whose inputs are all constants (initializers, ``Constant`` nodes, results
  of earlier folding) is evaluated at import by ``onnx.reference``; ``Shape`` of a non-constant tensor is a
  constant too (all shapes are static), so Shape/Gather/Concat/Unsqueeze chains feeding ``Reshape`` disappear.
- **Batch axis.** The first axis of the input is the batch; whatever size the file declares (often 1), the
  network runs on any ``N``. ``Shape`` reports the declared size, and a ``Reshape`` target whose first entry
  resolves to it (mnist-8's ``(1, 256)``) keeps the batch axis. Operations that would move or mix the batch
  axis are errors.
- **Per-opset changes.** Softmax before opset 13 flattens to 2-D from ``axis`` (default 1; 13+: -1, one axis);
  Clip's bounds, Pad's pads/value, Squeeze/Unsqueeze's axes moved from attributes to inputs (11, 11, 13);
  pooling gained ``ceil_mode`` (10); BatchNormalization's training outputs are rejected.
- **Folding into weights.** BatchNormalization after Conv/ConvTranspose/Gemm/MatMul (whose output nothing else
  reads) is folded into that layer's weight and bias and recorded as a ``Folding``; otherwise it becomes a
  ``Scale``. An ``Add`` of a per-channel constant after a bias-less Conv or MatMul (mnist-8) becomes that
  layer's bias.
- **Layout.** A leading ``Transpose(0,3,1,2)`` of the input is removed and the network records an NHWC input
  layout (``Network.input_layout``); the network itself takes NCHW.
- Identity, Dropout (inference) and Cast to float are aliases. Squeeze, Unsqueeze and Reshape become
  ``Reshape``.

Anything else raises ``ModelError`` naming the op, the node and the supported ops.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from ristretto_sim.data.preprocess import Preprocessing
from ristretto_sim.errors import ModelError
from ristretto_sim.graph.layers import (
    LRN,
    WEIGHTED,
    Activation,
    Concat,
    Conv,
    ConvTranspose,
    Dense,
    Eltwise,
    Flatten,
    Pad,
    Pool,
    PRelu,
    Reshape,
    Scale,
    Softmax,
    Transpose,
    pool_output_size,
)
from ristretto_sim.graph.network import Folding, Layout, Network, TensorSpec

MIN_OPSET = 7

_FLOAT_TYPES = {1, 10, 11, 16}  # FLOAT, FLOAT16, DOUBLE, BFLOAT16
_WIDENING = {(2, 1), (7, 6)}  # an INT (INTS) attribute where the schema says FLOAT (FLOATS) reads as a number


def max_opset() -> int:
    """The newest default-domain opset the installed ``onnx`` package knows."""
    import onnx

    return onnx.defs.onnx_opset_version()


def load_onnx(model, name: str | None = None) -> Network:
    """Import an ONNX model as a ``Network``.

    Parameters
    ----------
    model : str, os.PathLike or onnx.ModelProto
        The model file or an in-memory model.
    name : str, optional
        Network name (default: the file stem or the graph name).

    Raises
    ------
    ModelError
        If the file cannot be read, uses an opset outside 7..``max_opset()``, or contains an op or an
        attribute
        value the importer does not support (the message names the op, the node and the supported ops).
    """
    import onnx

    if isinstance(model, onnx.ModelProto):
        source = name or model.graph.name or "onnx-model"
        proto = model
    else:
        path = Path(model)
        source = str(path)
        if not path.is_file():
            raise ModelError(f"ONNX model {path} does not exist or is not a file")
        try:
            proto = onnx.load(str(path))
        except Exception as exc:  # onnx raises DecodeError, google.protobuf errors, ...
            raise ModelError(f"{path}: not a readable ONNX model ({type(exc).__name__}: {exc})") from exc
        name = name or path.stem
    from ristretto_sim.io.onnx.qlinear import is_qlinear, qlinear_network

    if is_qlinear(proto):  # an integer model in operator form (QLinearConv, QLinearMatMul)
        return qlinear_network(proto, name or proto.graph.name or "onnx-model", source)
    return _Importer(proto, name or proto.graph.name or "onnx-model", source).run()


_HANDLERS: dict[str, Callable] = {}


def onnx_handler(op_type: str):
    """Register the decorated ``_Importer`` method as the handler of ONNX op ``op_type`` (default domain):
    ``handler(importer, node, index)`` turns one node into layer specs, aliases or constants."""

    def register(method):
        if op_type in _HANDLERS:
            raise RuntimeError(f"ONNX op {op_type!r} has two handlers: {_HANDLERS[op_type].__name__} and "
                               f"{method.__name__}")
        _HANDLERS[op_type] = method
        return method

    return register


class _Importer:
    def __init__(self, model, name: str, source: str):
        self.model = model
        self.name = name
        self.source = source
        self.check_text()
        self.opset = None
        for op in model.opset_import:
            if op.domain in ("", "ai.onnx"):
                self.opset = int(op.version)
        if self.opset is None:
            raise ModelError(f"{source}: no default-domain (ai.onnx) opset import")
        if not MIN_OPSET <= self.opset <= max_opset():
            raise ModelError(
                f"{source}: opset {self.opset} is outside the supported range {MIN_OPSET}..{max_opset()}"
            )
        self.consts: dict[str, np.ndarray] = {}
        self.shapes: dict[str, tuple[int, ...]] = {}  # per-sample shapes of dynamic tensors
        self.alias: dict[str, str] = {}
        self.layers: list = []
        self.params: dict[str, dict[str, np.ndarray]] = {}
        self.foldings: list[Folding] = []
        self.layer_names: set[str] = set()
        self.batch = 1
        self.layout = Layout.NCHW
        self.uses: dict[str, int] = {}

    def check_text(self) -> None:
        """Names, op types and domains must be text: protobuf hands back ``bytes`` for a string field that is not
        UTF-8 (a corrupted file)."""
        g = self.model.graph
        texts = [op.domain for op in self.model.opset_import]
        texts += [p.key for p in self.model.metadata_props] + [p.value for p in self.model.metadata_props]
        texts += [t.name for t in (*g.initializer, *g.input, *g.output, *g.value_info)]
        for node in g.node:
            texts += [node.name, node.op_type, node.domain, *node.input, *node.output]
            texts += [a.name for a in node.attribute]
        bad = next((t for t in texts if not isinstance(t, str)), None)
        if bad is not None:
            raise ModelError(f"{self.source}: a name or op type is not UTF-8 text ({bad[:40]!r}); the file is "
                             "corrupted")
        # "" stands for an omitted optional input or output; a graph input or a node's first output needs a name
        if any(not t.name for t in (*g.input, *g.output)) or any(not n.output or not n.output[0] for n in g.node):
            raise ModelError(f"{self.source}: a graph input or output, or a node's first output, has no name")

    # ------------------------------------------------------------------ helpers
    def err(self, node, msg: str) -> ModelError:
        return ModelError(f"{self.source}: node {node.name or '<unnamed>'!r} ({node.op_type}): {msg}")

    def resolve(self, t: str) -> str:
        while t in self.alias:
            t = self.alias[t]
        return t

    def is_const(self, t: str) -> bool:
        return t == "" or self.resolve(t) in self.consts

    def const(self, node, t: str) -> np.ndarray:
        t = self.resolve(t)
        if t not in self.consts:
            raise self.err(node, f"input {t!r} must be a constant (initializer) for this op")
        return self.consts[t]

    def scalar(self, node, t: str) -> float:
        c = np.asarray(self.const(node, t))
        if c.size != 1:
            raise self.err(node, f"input {t!r} must be a scalar, got shape {c.shape}")
        return float(c.reshape(-1)[0])

    def dyn(self, node, i: int = 0) -> str:
        t = self.resolve(node.input[i])
        if t not in self.shapes:
            raise self.err(node, f"input {node.input[i]!r} is not a network tensor")
        return t

    def attrs(self, node) -> dict:
        from onnx import helper

        schema = self.schema(node)
        declared = {} if schema is None else schema.attributes
        out = {}
        for a in node.attribute:
            want = declared[a.name].type.value if a.name in declared else None
            if want is not None and a.type != want and (a.type, want) not in _WIDENING:
                raise self.err(node, f"attribute {a.name!r} has attribute type {a.type}, expected {want} "
                                     f"({declared[a.name].type.name})")
            try:  # an attribute whose type field is missing or unknown has no value
                value = helper.get_attribute_value(a)
            except (KeyError, ValueError, TypeError) as exc:
                raise self.err(node, f"attribute {a.name!r} is malformed ({exc})") from exc
            if value is None:
                raise self.err(node, f"attribute {a.name!r} has no value (attribute type {a.type})")
            out[a.name] = value
        missing = [n for n, d in declared.items() if d.required and n not in out]
        if missing:
            raise self.err(node, f"required attribute(s) {', '.join(missing)} missing")
        return out

    def schema(self, node):
        """The op's schema at the model's opset, or None for an op onnx does not know."""
        from onnx import defs

        try:
            return defs.get_schema(node.op_type, self.opset, node.domain)
        except defs.SchemaError:
            return None

    def check_arity(self, node) -> None:
        """Reject a node with fewer inputs or outputs than its op's schema requires (malformed files).

        The importer is lenient where a later opset made an input optional (Gemm's C before opset 11), so the
        bound is the smaller of the file's opset's and the newest opset's."""
        from onnx import defs

        schema = self.schema(node)
        if schema is None:
            return  # an unknown op: the dispatch names it
        newest = defs.get_schema(node.op_type, max_opset(), node.domain)
        need_in = min(schema.min_input, newest.min_input)
        need_out = max(min(schema.min_output, newest.min_output), 1)
        if len(node.input) < need_in or len(node.output) < need_out:
            raise self.err(node, f"has {len(node.input)} inputs and {len(node.output)} outputs; {node.op_type} "
                                 f"takes at least {need_in} inputs and {need_out} outputs")

    def layer_name(self, node, index: int) -> str:
        base = node.name or f"{node.op_type.lower()}_{index}"
        name, k = base, 1
        while name in self.layer_names:
            k += 1
            name = f"{base}_{k}"
        self.layer_names.add(name)
        return name

    def add_layer(self, layer, params=None):
        self.layers.append(layer)
        if params:
            self.params[layer.name] = {k: np.asarray(v, dtype=np.float32) for k, v in params.items()}
        in_shapes = tuple(self.shapes[t] for t in layer.inputs)
        try:
            if isinstance(layer, Eltwise) and layer.constant_index is not None:
                outs = layer.output_shapes(
                    in_shapes, constant_shape=self.params[layer.name]["constant"].shape
                )
            else:
                outs = layer.output_shapes(in_shapes)
        except ValueError as exc:
            raise ModelError(f"{self.source}: {exc}") from None
        self.shapes[layer.output] = tuple(outs[0])

    def producer_index(self, t: str) -> int | None:
        for i in range(len(self.layers) - 1, -1, -1):
            if self.layers[i].output == t:
                return i
        return None

    def full_rank(self, t: str) -> int:
        return len(self.shapes[t]) + 1

    def axis(self, node, axis: int, rank: int) -> int:
        a = axis + rank if axis < 0 else axis
        if not 0 <= a < rank:
            raise self.err(node, f"axis {axis} out of range for rank {rank}")
        if a == 0:
            raise self.err(node, "operates on the batch axis (axis 0), which the importer does not support")
        return a

    def per_sample_const(self, node, c: np.ndarray, rank: int) -> np.ndarray:
        """A constant operand broadcast against a batch of full rank ``rank``, as a per-sample constant."""
        c = np.asarray(c)
        if c.ndim == rank:
            if c.shape[0] != 1:
                raise self.err(node, f"constant of shape {c.shape} varies along the batch axis")
            c = c[0]
        elif c.ndim > rank:
            raise self.err(node, f"constant of shape {c.shape} has more axes than the tensor (rank {rank})")
        return c

    # ------------------------------------------------------------------ main
    def run(self) -> Network:
        from onnx import numpy_helper

        g = self.model.graph
        for init in g.initializer:
            try:  # numpy_helper rejects data that does not fill the declared dims, or an unknown data type
                self.consts[init.name] = numpy_helper.to_array(init)
            except (ValueError, TypeError, KeyError) as exc:
                raise ModelError(f"{self.source}: initializer {init.name!r} is malformed "
                                 f"({type(exc).__name__}: {exc})") from exc
        for node in g.node:
            for t in node.input:
                self.uses[t] = self.uses.get(t, 0) + 1
        for o in g.output:
            self.uses[o.name] = self.uses.get(o.name, 0) + 1
        inputs = []
        for vi in g.input:
            if vi.name in self.consts:
                continue
            tt = vi.type.tensor_type
            if not vi.type.HasField("tensor_type") or tt.elem_type not in _FLOAT_TYPES:
                raise ModelError(f"{self.source}: input {vi.name!r} is not a float tensor")
            dims = []
            for i, d in enumerate(tt.shape.dim):
                if d.HasField("dim_value") and d.dim_value > 0:
                    dims.append(int(d.dim_value))
                elif i == 0:
                    dims.append(None)
                else:
                    raise ModelError(
                        f"{self.source}: input {vi.name!r} has a symbolic dimension "
                        f"{d.dim_param or '?'!r} at axis {i}; only the batch axis may be symbolic"
                    )
            if len(dims) < 2:
                raise ModelError(
                    f"{self.source}: input {vi.name!r} has rank {len(dims)}; need a batch axis "
                    "and at least one more"
                )
            self.batch = dims[0] or 1
            self.shapes[vi.name] = tuple(dims[1:])
            inputs.append(vi.name)
        if not inputs:
            raise ModelError(f"{self.source}: the graph has no non-constant input")
        input_specs = {n: self.shapes[n] for n in inputs}
        for index, node in enumerate(g.node):
            if node.domain not in ("", "ai.onnx"):
                raise self.err(
                    node,
                    f"custom domain {node.domain!r} is not supported; supported ops: "
                    f"{', '.join(SUPPORTED_OPS)}",
                )
            self.check_arity(node)
            if (
                node.op_type == "Transpose"
                and len(inputs) == 1
                and self.resolve(node.input[0]) == inputs[0]
                and self.uses.get(node.input[0]) == 1
                and not self.layers
                and tuple(self.attrs(node).get("perm", ())) == (0, 3, 1, 2)
            ):
                c_h_w = self.shapes[inputs[0]]
                nchw = (c_h_w[2], c_h_w[0], c_h_w[1])
                self.shapes[inputs[0]] = nchw
                input_specs[inputs[0]] = nchw
                self.alias[node.output[0]] = inputs[0]
                self.layout = Layout.NHWC
                continue
            if all(self.is_const(t) for t in node.input) and node.op_type not in ("Shape",):
                self.fold(node)
                continue
            handler = _HANDLERS.get(node.op_type)
            if handler is None:
                raise self.err(
                    node,
                    f"unsupported ONNX op {node.op_type!r}; supported ops: "
                    f"{', '.join(SUPPORTED_OPS)} (and any op on constants only)",
                )
            try:
                handler(self, node, index)
            except ValueError as exc:  # a layer spec rejecting the node's attributes (layers validate themselves)
                raise self.err(node, str(exc)) from exc
        outputs = []
        for o in g.output:
            t = self.resolve(o.name)
            if t not in self.shapes or t in inputs:
                raise ModelError(
                    f"{self.source}: graph output {o.name!r} is a constant or an input, not computed"
                )
            outputs.append(t)
        source_names = {self.resolve(o.name): o.name for o in g.output if self.resolve(o.name) != o.name}
        try:
            return Network(
                self.name,
                tuple(TensorSpec(n, input_specs[n]) for n in inputs),
                tuple(self.layers),
                tuple(outputs),
                self.params,
                source=self.source,
                foldings=tuple(self.foldings),
                source_names=source_names,
                input_layout=self.layout,
                **self.model_properties(),
            )
        except ModelError as exc:
            raise ModelError(f"{self.source}: {exc}") from None

    def model_properties(self) -> dict:
        """Preprocessing, task and metadata from the model's ``metadata_props`` (the bundled models'
        convention:
        ``preprocessing.scale``, ``preprocessing.mean``, ``preprocessing.layout``, ``task``, ``dataset``)."""
        import ast

        props = {p.key: p.value for p in self.model.metadata_props}
        out = {"metadata": props}
        if "preprocessing.scale" in props or "preprocessing.mean" in props:
            try:
                scale = float(ast.literal_eval(props.get("preprocessing.scale") or "1.0"))
                mean = ast.literal_eval(props.get("preprocessing.mean") or "()")
                mean = tuple(float(m) for m in (mean if isinstance(mean, (tuple, list)) else (mean,)))
                out["preprocess"] = Preprocessing(scale=scale, mean=mean)
            except (ValueError, SyntaxError, TypeError) as exc:
                raise ModelError(f"{self.source}: malformed preprocessing metadata ({exc})") from None
        if props.get("task") in ("classification", "reconstruction"):
            out["task"] = props["task"]
        return out

    def fold(self, node):
        """Evaluate a node whose inputs are all constants with onnx.reference."""
        from onnx import helper
        from onnx.reference import ReferenceEvaluator

        feeds = {}
        ins = []
        for t in node.input:
            if t:
                v = self.consts[self.resolve(t)]
                feeds[t] = v
                ins.append(
                    helper.make_tensor_value_info(t, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
                )
        outs = [helper.make_empty_tensor_value_info(o) for o in node.output if o]
        graph = helper.make_graph([node], "fold", ins, outs)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)])
        try:
            results = ReferenceEvaluator(model).run(None, feeds)
        except Exception as exc:
            raise self.err(node, f"constant folding failed ({type(exc).__name__}: {exc})") from None
        for o, v in zip([o for o in node.output if o], results, strict=True):
            self.consts[o] = np.asarray(v)

    # ------------------------------------------------------------------ op handlers
    @onnx_handler("Shape")
    def op_Shape(self, node, index):
        x = self.dyn(node)
        full = np.array((self.batch,) + self.shapes[x], dtype=np.int64)
        a = self.attrs(node)
        start, end = a.get("start", 0), a.get("end", None)
        self.consts[node.output[0]] = full[start:end]

    def _alias(self, node):
        self.alias[node.output[0]] = self.dyn(node)

    @onnx_handler("Identity")
    def op_Identity(self, node, index):
        self._alias(node)

    @onnx_handler("Dropout")
    def op_Dropout(self, node, index):
        if len(node.output) > 1 and node.output[1] and self.uses.get(node.output[1]):
            raise self.err(node, "the dropout mask output is used (training graph)")
        if len(node.input) > 2 and node.input[2] and bool(np.asarray(self.const(node, node.input[2]))):
            raise self.err(node, "training_mode=True")
        self._alias(node)

    @onnx_handler("Cast")
    def op_Cast(self, node, index):
        to = self.attrs(node).get("to")
        if to not in (1, 11):
            raise self.err(
                node,
                f"Cast of a network tensor to type {to} is not supported (only to float32 or "
                "float64, which the float32 runner treats as identity)",
            )
        self._alias(node)

    def _spatial(self, node, x: str, what: str):
        if len(self.shapes[x]) != 3:
            raise self.err(
                node,
                f"only 2-D {what} on (N, C, H, W) tensors are supported, input is "
                f"(N, {', '.join(map(str, self.shapes[x]))})",
            )

    def _pads(self, node, a, in_hw, kernel, stride, dilation, out_fn=None):
        if min((*kernel, *stride, *dilation), default=1) < 1:
            raise self.err(node, f"kernel {kernel}, strides {stride} and dilations {dilation} must be positive")
        auto = a.get("auto_pad", b"NOTSET")
        auto = auto.decode() if isinstance(auto, bytes) else str(auto)
        if auto in ("NOTSET", ""):
            pads = tuple(a.get("pads", (0, 0, 0, 0)))
            if len(pads) != 4:
                raise self.err(node, f"pads {pads} must have 4 entries for 2-D")
            return (pads[0], pads[1], pads[2], pads[3])
        if auto == "VALID":
            return (0, 0, 0, 0)
        if auto not in ("SAME_UPPER", "SAME_LOWER"):
            raise self.err(node, f"auto_pad={auto!r} not supported")
        begin, end = [], []
        for size, k, s, d in zip(in_hw, kernel, stride, dilation, strict=True):
            out = -(-size // s)
            total = max(0, (out - 1) * s + (k - 1) * d + 1 - size)
            lo = total // 2 if auto == "SAME_UPPER" else total - total // 2
            begin.append(lo)
            end.append(total - lo)
        return (begin[0], begin[1], end[0], end[1])

    @onnx_handler("Conv")
    def op_Conv(self, node, index):
        x = self.dyn(node)
        self._spatial(node, x, "convolutions")
        w = self.const(node, node.input[1]).astype(np.float32)
        b = self.const(node, node.input[2]) if len(node.input) > 2 and node.input[2] else None
        a = self.attrs(node)
        if w.ndim != 4:
            raise self.err(node, f"weight of rank {w.ndim}; only 2-D convolutions are supported")
        kernel = tuple(a.get("kernel_shape", w.shape[2:]))
        stride = tuple(a.get("strides", (1, 1)))
        dilation = tuple(a.get("dilations", (1, 1)))
        groups = int(a.get("group", 1))
        pads = self._pads(node, a, self.shapes[x][1:], kernel, stride, dilation)
        layer = Conv(
            name=self.layer_name(node, index),
            inputs=(x,),
            outputs=(node.output[0],),
            in_channels=self.shapes[x][0],
            out_channels=w.shape[0],
            kernel=kernel,
            stride=stride,
            pads=pads,
            dilation=dilation,
            groups=groups,
            bias=b is not None,
        )
        params = {"weight": w, **({"bias": np.asarray(b).reshape(-1)} if b is not None else {})}
        self.add_layer(layer, params)

    @onnx_handler("ConvTranspose")
    def op_ConvTranspose(self, node, index):
        x = self.dyn(node)
        self._spatial(node, x, "transposed convolutions")
        w = self.const(node, node.input[1]).astype(np.float32)
        b = self.const(node, node.input[2]) if len(node.input) > 2 and node.input[2] else None
        a = self.attrs(node)
        if w.ndim != 4:
            raise self.err(node, f"weight of rank {w.ndim}; only 2-D transposed convolutions are supported")
        groups = int(a.get("group", 1))
        kernel = tuple(a.get("kernel_shape", w.shape[2:]))
        stride = tuple(a.get("strides", (1, 1)))
        dilation = tuple(a.get("dilations", (1, 1)))
        out_pad = tuple(a.get("output_padding", (0, 0)))
        auto = a.get("auto_pad", b"NOTSET")
        auto = auto.decode() if isinstance(auto, bytes) else str(auto)
        in_hw = self.shapes[x][1:]
        out_shape = a.get("output_shape")
        if out_shape is not None or auto in ("SAME_UPPER", "SAME_LOWER"):
            if out_shape is None:
                out_shape = [s * i for s, i in zip(stride, in_hw, strict=True)]
            out_shape = list(out_shape)[-2:]
            begin, end = [], []
            for i in range(2):
                total = (
                    stride[i] * (in_hw[i] - 1) + out_pad[i] + (kernel[i] - 1) * dilation[i] + 1 - out_shape[i]
                )
                if total < 0:
                    raise self.err(node, f"output_shape {out_shape} needs negative padding")
                if auto == "SAME_UPPER":
                    begin.append(total // 2)
                    end.append(total - total // 2)
                else:
                    begin.append(total - total // 2)
                    end.append(total // 2)
            pads = (begin[0], begin[1], end[0], end[1])
        elif auto == "VALID":
            pads = (0, 0, 0, 0)
        else:
            pads = tuple(a.get("pads", (0, 0, 0, 0)))
        layer = ConvTranspose(
            name=self.layer_name(node, index),
            inputs=(x,),
            outputs=(node.output[0],),
            in_channels=self.shapes[x][0],
            out_channels=w.shape[1] * groups,
            kernel=kernel,
            stride=stride,
            pads=pads,
            dilation=dilation,
            output_padding=out_pad,
            groups=groups,
            bias=b is not None,
        )
        params = {"weight": w, **({"bias": np.asarray(b).reshape(-1)} if b is not None else {})}
        self.add_layer(layer, params)

    @onnx_handler("Gemm")
    def op_Gemm(self, node, index):
        x = self.dyn(node)
        a = self.attrs(node)
        if a.get("transA", 0):
            raise self.err(node, "transA=1 (the network tensor transposed) is not supported")
        if len(self.shapes[x]) != 1:
            raise self.err(node, f"Gemm input must be 2-D (N, K), got (N, {self.shapes[x]})")
        w = np.asarray(self.const(node, node.input[1]), dtype=np.float64)
        if w.ndim != 2:
            raise self.err(node, f"weight B of shape {w.shape} is not a matrix")
        w = w if a.get("transB", 0) else w.T
        w = w * float(a.get("alpha", 1.0))
        params = {"weight": w}
        if len(node.input) > 2 and node.input[2]:
            c = np.asarray(self.const(node, node.input[2]), dtype=np.float64) * float(a.get("beta", 1.0))
            try:
                params["bias"] = (
                    np.broadcast_to(c, (1, w.shape[0])).reshape(w.shape[0])
                    if c.ndim < 2 or c.shape[0] == 1
                    else None
                )
            except ValueError:
                params["bias"] = None
            if params["bias"] is None:
                raise self.err(node, f"bias C of shape {c.shape} varies along the batch axis")
        layer = Dense(
            name=self.layer_name(node, index),
            inputs=(x,),
            outputs=(node.output[0],),
            in_features=w.shape[1],
            out_features=w.shape[0],
            bias="bias" in params,
        )
        self.add_layer(layer, params)

    @onnx_handler("MatMul")
    def op_MatMul(self, node, index):
        if self.is_const(node.input[0]):
            raise self.err(node, "constant @ tensor is not supported (only tensor @ constant weight)")
        x = self.dyn(node)
        if not self.is_const(node.input[1]):
            raise self.err(
                node,
                "MatMul of two network tensors is not supported (the second operand must be a "
                "constant weight)",
            )
        w = np.asarray(self.const(node, node.input[1]))
        if len(self.shapes[x]) != 1 or w.ndim != 2:
            raise self.err(node, f"only (N, K) @ (K, M) is supported, got (N, {self.shapes[x]}) @ {w.shape}")
        layer = Dense(
            name=self.layer_name(node, index),
            inputs=(x,),
            outputs=(node.output[0],),
            in_features=w.shape[0],
            out_features=w.shape[1],
            bias=False,
        )
        self.add_layer(layer, {"weight": w.T})

    def _pool(self, node, index, kind):
        x = self.dyn(node)
        self._spatial(node, x, "pooling")
        if len(node.output) > 1 and node.output[1] and self.uses.get(node.output[1]):
            raise self.err(node, "the Indices output of MaxPool is not supported")
        a = self.attrs(node)
        kernel = tuple(a["kernel_shape"])
        stride = tuple(a.get("strides", (1, 1)))
        if tuple(a.get("dilations", (1, 1))) != (1, 1):
            raise self.err(node, f"pooling dilations {a['dilations']} are not supported")
        pads = self._pads(node, a, self.shapes[x][1:], kernel, stride, (1, 1))
        ceil_mode = bool(a.get("ceil_mode", 0))
        if ceil_mode:
            # ONNX drops a last window that starts beyond the begin-padded input even without padding; Caffe's
            # rule
            # (Pool.ceil_mode) only with padding. Where they differ the ONNX size equals floor mode's.
            for size, k, s, p0, p1 in zip(
                self.shapes[x][1:], kernel, stride, pads[:2], pads[2:], strict=True
            ):
                out = -(-(size + p0 + p1 - k) // s) + 1
                if (out - 1) * s >= size + p0:
                    out -= 1
                if out != pool_output_size(size, k, s, p0, p1, True):
                    if out != pool_output_size(size, k, s, p0, p1, False):
                        raise self.err(node, "ceil_mode output size not representable")
                    ceil_mode = False
        layer = Pool(
            name=self.layer_name(node, index),
            inputs=(x,),
            outputs=(node.output[0],),
            kind=kind,
            kernel=kernel,
            stride=stride,
            pads=pads,
            ceil_mode=ceil_mode,
            count_include_pad=bool(a.get("count_include_pad", 0)),
        )
        self.add_layer(layer)

    @onnx_handler("MaxPool")
    def op_MaxPool(self, node, index):
        self._pool(node, index, "max")

    @onnx_handler("AveragePool")
    def op_AveragePool(self, node, index):
        self._pool(node, index, "avg")

    def _global_pool(self, node, index, kind):
        x = self.dyn(node)
        self._spatial(node, x, "global pooling")
        self.add_layer(
            Pool(
                name=self.layer_name(node, index),
                inputs=(x,),
                outputs=(node.output[0],),
                kind=kind,
                global_pool=True,
            )
        )

    @onnx_handler("GlobalAveragePool")
    def op_GlobalAveragePool(self, node, index):
        self._global_pool(node, index, "avg")

    @onnx_handler("GlobalMaxPool")
    def op_GlobalMaxPool(self, node, index):
        self._global_pool(node, index, "max")

    def _act(self, node, index, kind, **kw):
        x = self.dyn(node)
        self.add_layer(
            Activation(
                name=self.layer_name(node, index), inputs=(x,), outputs=(node.output[0],), kind=kind, **kw
            )
        )

    @onnx_handler("Relu")
    def op_Relu(self, node, index):
        self._act(node, index, "relu")

    @onnx_handler("LeakyRelu")
    def op_LeakyRelu(self, node, index):
        self._act(node, index, "leaky_relu", alpha=self.attrs(node).get("alpha", 0.01))

    @onnx_handler("Sigmoid")
    def op_Sigmoid(self, node, index):
        self._act(node, index, "sigmoid")

    @onnx_handler("Tanh")
    def op_Tanh(self, node, index):
        self._act(node, index, "tanh")

    @onnx_handler("Clip")
    def op_Clip(self, node, index):
        if self.opset < 11:
            a = self.attrs(node)
            lo, hi = a.get("min", None), a.get("max", None)
        else:
            lo = self.scalar(node, node.input[1]) if len(node.input) > 1 and node.input[1] else None
            hi = self.scalar(node, node.input[2]) if len(node.input) > 2 and node.input[2] else None
        self._act(node, index, "clip", low=lo, high=hi)

    @onnx_handler("PRelu")
    def op_PRelu(self, node, index):
        x = self.dyn(node)
        slope = self.per_sample_const(node, self.const(node, node.input[1]), self.full_rank(x))
        self.add_layer(
            PRelu(name=self.layer_name(node, index), inputs=(x,), outputs=(node.output[0],)), {"slope": slope}
        )

    @onnx_handler("LRN")
    def op_LRN(self, node, index):
        x = self.dyn(node)
        a = self.attrs(node)
        self.add_layer(
            LRN(
                name=self.layer_name(node, index),
                inputs=(x,),
                outputs=(node.output[0],),
                size=a["size"],
                alpha=a.get("alpha", 1e-4),
                beta=a.get("beta", 0.75),
                k=a.get("bias", 1.0),
            )
        )

    @onnx_handler("BatchNormalization")
    def op_BatchNormalization(self, node, index):
        x = self.dyn(node)
        if any(o and self.uses.get(o) for o in node.output[1:]):
            raise self.err(node, "training-mode outputs (running mean/var) are used")
        a = self.attrs(node)
        if a.get("training_mode", 0):
            raise self.err(node, "training_mode=1")
        if self.opset < 9 and not a.get("spatial", 1):
            raise self.err(node, "spatial=0 is not supported")
        eps = float(a.get("epsilon", 1e-5))
        gamma, beta, mean, var = (np.asarray(self.const(node, t), dtype=np.float64) for t in node.input[1:5])
        s = gamma / np.sqrt(var + eps)
        shift = beta - mean * s
        c = self.shapes[x][0]
        out = node.output[0]
        i = self.producer_index(x)
        prod = self.layers[i] if i is not None else None
        if isinstance(prod, WEIGHTED) and self.uses.get(x, 0) == 1:
            p = {k: np.asarray(v, dtype=np.float64) for k, v in self.params[prod.name].items()}
            w = p["weight"]
            if isinstance(prod, Conv):
                w = w * s.reshape(-1, 1, 1, 1)
            elif isinstance(prod, Dense):
                w = w * s.reshape(-1, 1)
            else:
                cin, og = w.shape[0], w.shape[1]
                cg = cin // prod.groups
                group_of_in = np.arange(cin) // cg
                factor = s.reshape(prod.groups, og)[group_of_in]  # (cin, og)
                w = w * factor[:, :, None, None]
            b = p.get("bias", np.zeros(c))
            params = {"weight": w, "bias": b * s + shift}
            self.layers[i] = replace(prod, outputs=(out,), bias=True)
            self.params[prod.name] = {k: np.asarray(v, dtype=np.float32) for k, v in params.items()}
            self.shapes[out] = self.shapes.pop(x)
            self.foldings.append(
                Folding(node.name or f"batchnormalization_{index}", prod.name, "BatchNormalization", eps)
            )
            return
        self.add_layer(
            Scale(name=self.layer_name(node, index), inputs=(x,), outputs=(out,), channels=c),
            {"weight": s, "bias": shift},
        )

    def _binary(self, node, index, op):
        a_const, b_const = self.is_const(node.input[0]), self.is_const(node.input[1])
        out = node.output[0]
        if not a_const and not b_const:
            xa, xb = self.dyn(node, 0), self.dyn(node, 1)
            if len(self.shapes[xa]) != len(self.shapes[xb]):
                raise self.err(
                    node,
                    f"operands of different rank {self.shapes[xa]} and {self.shapes[xb]} "
                    "(would broadcast across the batch axis)",
                )
            self.add_layer(Eltwise(name=self.layer_name(node, index), inputs=(xa, xb), outputs=(out,), op=op))
            return
        ci = 0 if a_const else 1
        x = self.dyn(node, 1 - ci)
        c = self.per_sample_const(node, self.const(node, node.input[ci]), self.full_rank(x))
        if op in ("add", "sub") and ci == 1 and self._fold_bias(x, out, c, op):
            return
        self.add_layer(
            Eltwise(name=self.layer_name(node, index), inputs=(x,), outputs=(out,), op=op, constant_index=ci),
            {"constant": c},
        )

    def _fold_bias(self, x: str, out: str, c: np.ndarray, op: str) -> bool:
        """Fold ``x + c`` into the bias of the Conv/ConvTranspose/Dense producing ``x`` when ``c`` is
        per-channel."""
        i = self.producer_index(x)
        prod = self.layers[i] if i is not None else None
        if not isinstance(prod, WEIGHTED) or self.uses.get(x, 0) != 1:
            return False
        shape = self.shapes[x]
        try:
            if np.broadcast_shapes(shape, c.shape) != tuple(shape):
                return False
        except ValueError:
            return False
        full = np.broadcast_to(c, shape).reshape(shape[0], -1)
        if not np.all(full == full[:, :1]):
            return False  # varies within a channel
        add = full[:, 0].astype(np.float64) * (1.0 if op == "add" else -1.0)
        p = dict(self.params[prod.name])
        p["bias"] = np.asarray(p.get("bias", np.zeros(shape[0])), dtype=np.float64) + add
        self.layers[i] = replace(prod, outputs=(out,), bias=True)
        self.params[prod.name] = {k: np.asarray(v, dtype=np.float32) for k, v in p.items()}
        self.shapes[out] = self.shapes.pop(x)
        return True

    @onnx_handler("Add")
    def op_Add(self, node, index):
        self._binary(node, index, "add")

    @onnx_handler("Sub")
    def op_Sub(self, node, index):
        self._binary(node, index, "sub")

    @onnx_handler("Mul")
    def op_Mul(self, node, index):
        self._binary(node, index, "mul")

    @onnx_handler("Div")
    def op_Div(self, node, index):
        self._binary(node, index, "div")

    @onnx_handler("Concat")
    def op_Concat(self, node, index):
        if any(self.is_const(t) for t in node.input):
            raise self.err(node, "concatenating a constant with network tensors is not supported")
        xs = tuple(self.dyn(node, i) for i in range(len(node.input)))
        axis = self.axis(node, int(self.attrs(node).get("axis", 1)), self.full_rank(xs[0]))
        self.add_layer(
            Concat(name=self.layer_name(node, index), inputs=xs, outputs=(node.output[0],), axis=axis)
        )

    @onnx_handler("Flatten")
    def op_Flatten(self, node, index):
        x = self.dyn(node)
        rank = self.full_rank(x)
        axis = int(self.attrs(node).get("axis", 1))
        axis = self.axis(node, axis + rank if axis < 0 else axis, rank + 1)
        if axis > 1:
            raise self.err(node, f"Flatten axis={axis} keeps more than the batch axis; not supported")
        self.add_layer(Flatten(name=self.layer_name(node, index), inputs=(x,), outputs=(node.output[0],)))

    def _reshape_to(self, node, index, x: str, full: tuple[int, ...]):
        if full[0] != self.batch:
            raise self.err(node, f"reshape to {full} changes the batch axis (declared batch {self.batch})")
        target = tuple(int(d) for d in full[1:])
        if target == self.shapes[x]:
            self.alias[node.output[0]] = x
            return
        self.add_layer(
            Reshape(name=self.layer_name(node, index), inputs=(x,), outputs=(node.output[0],), shape=target)
        )

    @onnx_handler("Reshape")
    def op_Reshape(self, node, index):
        x = self.dyn(node)
        if self.opset < 5:  # pragma: no cover - below MIN_OPSET
            raise self.err(node, "Reshape-1 is not supported")
        spec = [int(v) for v in np.asarray(self.const(node, node.input[1])).reshape(-1)]
        in_full = (self.batch,) + self.shapes[x]
        if self.attrs(node).get("allowzero", 0) and 0 in spec:
            raise self.err(node, "allowzero=1 with a zero in the shape is not supported")
        resolved = [in_full[i] if d == 0 else d for i, d in enumerate(spec)]
        if resolved.count(-1) > 1:
            raise self.err(node, f"shape {spec} has more than one -1")
        if -1 in resolved:
            known = math.prod(d for d in resolved if d != -1)
            resolved[resolved.index(-1)] = math.prod(in_full) // max(known, 1)
        if math.prod(resolved) != math.prod(in_full):
            raise self.err(node, f"cannot reshape {in_full} to {spec}")
        self._reshape_to(node, index, x, tuple(resolved))

    def _axes(self, node, name, position):
        if self.opset >= 13:
            if len(node.input) > position and node.input[position]:
                return [int(v) for v in np.asarray(self.const(node, node.input[position])).reshape(-1)]
            return None
        a = self.attrs(node).get(name)
        return None if a is None else [int(v) for v in a]

    @onnx_handler("Squeeze")
    def op_Squeeze(self, node, index):
        x = self.dyn(node)
        in_full = (self.batch,) + self.shapes[x]
        axes = self._axes(node, "axes", 1)
        if axes is None:
            axes = [i for i, d in enumerate(in_full) if d == 1 and i > 0]
        axes = [a + len(in_full) if a < 0 else a for a in axes]
        if 0 in axes:
            raise self.err(node, "squeezes the batch axis")
        if any(in_full[a] != 1 for a in axes):
            raise self.err(node, f"squeezes axes {axes} of shape {in_full} that are not 1")
        self._reshape_to(node, index, x, tuple(d for i, d in enumerate(in_full) if i not in axes))

    @onnx_handler("Unsqueeze")
    def op_Unsqueeze(self, node, index):
        x = self.dyn(node)
        in_full = (self.batch,) + self.shapes[x]
        axes = self._axes(node, "axes", 1)
        if axes is None:
            raise self.err(node, "no axes given")
        rank = len(in_full) + len(axes)
        axes = sorted(a + rank if a < 0 else a for a in axes)
        if 0 in axes:
            raise self.err(node, "inserts an axis before the batch axis")
        out = list(in_full)
        for a in axes:
            out.insert(a, 1)
        self._reshape_to(node, index, x, tuple(out))

    @onnx_handler("Transpose")
    def op_Transpose(self, node, index):
        x = self.dyn(node)
        rank = self.full_rank(x)
        perm = tuple(int(p) for p in self.attrs(node).get("perm", range(rank - 1, -1, -1)))
        if not perm or perm[0] != 0:
            raise self.err(node, f"perm {perm} moves the batch axis")
        if perm == tuple(range(rank)):
            self.alias[node.output[0]] = x
            return
        self.add_layer(
            Transpose(name=self.layer_name(node, index), inputs=(x,), outputs=(node.output[0],), perm=perm)
        )

    @onnx_handler("Pad")
    def op_Pad(self, node, index):
        x = self.dyn(node)
        a = self.attrs(node)
        mode = a.get("mode", b"constant")
        mode = mode.decode() if isinstance(mode, bytes) else str(mode)
        if mode not in ("constant", "reflect", "edge"):
            raise self.err(node, f"mode={mode!r} is not supported (constant, reflect, edge)")
        rank = self.full_rank(x)
        if self.opset < 11:
            pads = [int(p) for p in a.get("pads", a.get("paddings", ()))]
            value = float(a.get("value", 0.0))
        else:
            pads = [int(p) for p in np.asarray(self.const(node, node.input[1])).reshape(-1)]
            value = (
                float(np.asarray(self.const(node, node.input[2])).reshape(-1)[0])
                if len(node.input) > 2 and node.input[2]
                else 0.0
            )
            if len(node.input) > 3 and node.input[3]:
                axes = [int(v) % rank for v in np.asarray(self.const(node, node.input[3])).reshape(-1)]
                full = [0] * (2 * rank)
                for k, ax in enumerate(axes):
                    full[ax] = pads[k]
                    full[rank + ax] = pads[len(axes) + k]
                pads = full
        if len(pads) != 2 * rank:
            raise self.err(node, f"pads {pads} do not fit rank {rank}")
        if pads[0] or pads[rank]:
            raise self.err(node, "pads the batch axis")
        per = tuple(pads[1:rank]) + tuple(pads[rank + 1 :])
        self.add_layer(
            Pad(
                name=self.layer_name(node, index),
                inputs=(x,),
                outputs=(node.output[0],),
                pads=per,
                mode=mode,
                value=value,
            )
        )

    @onnx_handler("Softmax")
    def op_Softmax(self, node, index):
        x = self.dyn(node)
        rank = self.full_rank(x)
        default = 1 if self.opset < 13 else -1
        axis = self.axis(node, int(self.attrs(node).get("axis", default)), rank)
        flatten = self.opset < 13 and axis < rank - 1
        self.add_layer(
            Softmax(
                name=self.layer_name(node, index),
                inputs=(x,),
                outputs=(node.output[0],),
                axis=axis,
                flatten=flatten,
            )
        )


SUPPORTED_OPS = tuple(sorted({*_HANDLERS, "Constant"}))
"""ONNX ops the importer maps onto layer specs (each has a handler registered with ``onnx_handler``; Constant is
folded, as is any op whose inputs are all constants, whatever it is)."""
