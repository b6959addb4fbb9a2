"""Reading a TensorFlow Lite flatbuffer (``.tflite``) into plain records: tensors with their affine quantization and
constant data, operators with their builtin code and options. The flatbuffer accessors are the ``tflite`` package's
(generated from TFLite's ``schema.fbs``; pure Python over ``flatbuffers``), so no TensorFlow is needed.

A truncated or corrupt file raises ``ModelError`` naming the file: the root table, every tensor, buffer and
operator are read here once, inside one guard, so a bad offset cannot surface later as an ``IndexError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ristretto_sim.errors import ModelError

#: TFLite ``TensorType`` codes -> NumPy dtypes (schema.fbs ``enum TensorType``)
TENSOR_TYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 7: np.int16, 9: np.int8}
TYPE_NAMES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 7: "int16", 9: "int8"}


@dataclass(frozen=True, eq=False)
class Tensor:
    """One tensor of the subgraph: name, shape (as stored, NHWC for images), type code, quantization, and its
    constant data (None for activations)."""

    index: int
    name: str
    shape: tuple[int, ...]
    type: int
    scale: tuple[float, ...]
    zero_point: tuple[int, ...]
    quantized_dimension: int
    data: np.ndarray | None

    @property
    def type_name(self) -> str:
        return TYPE_NAMES.get(self.type, f"type {self.type}")


@dataclass(frozen=True, eq=False)
class Operator:
    """One operator: its builtin name, input and output tensor indices (-1: an omitted optional input), and the
    options table (a ``tflite`` options object, or None)."""

    index: int
    opcode: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: object


@dataclass(frozen=True, eq=False)
class Graph:
    """The first subgraph of a TFLite model."""

    path: Path
    tensors: tuple[Tensor, ...]
    operators: tuple[Operator, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    description: str


def _builtin_names() -> dict[int, str]:
    import tflite

    return {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_") and isinstance(v, int)}


def _options_class(name: str):
    import tflite

    return {v: k for k, v in vars(tflite.BuiltinOptions).items() if not k.startswith("_") and isinstance(v, int)
            }.get(name)


def _options(op):
    import tflite

    kind = op.BuiltinOptionsType()
    if kind == 0:
        return None
    cls_name = _options_class(kind)
    table = op.BuiltinOptions()
    if cls_name is None or table is None:
        return None
    opts = getattr(tflite, cls_name)()
    opts.Init(table.Bytes, table.Pos)
    return opts


def _tensor(model, buf: bytes, t, index: int) -> Tensor:
    q = t.Quantization()
    scale, zp, qdim = (), (), 0
    if q is not None:
        if q.ScaleLength():
            scale = tuple(float(v) for v in q.ScaleAsNumpy())
        if q.ZeroPointLength():
            zp = tuple(int(v) for v in q.ZeroPointAsNumpy())
        qdim = int(q.QuantizedDimension())
    shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
    data = None
    if t.Buffer() > 0:
        b = model.Buffers(t.Buffer())
        raw = None
        if b.DataLength():
            raw = b.DataAsNumpy().tobytes()
        elif b.Offset() > 1:  # data stored after the flatbuffer (models above 2 GB)
            raw = buf[b.Offset():b.Offset() + b.Size()]
            if len(raw) != b.Size():
                raise ValueError(f"buffer of tensor {index} runs past the end of the file")
        if raw is not None:
            dtype = TENSOR_TYPES.get(t.Type())
            if dtype is None:
                raise ValueError(f"tensor {index} has constant data of unsupported type {t.Type()}")
            data = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")).copy()
            n = int(np.prod(shape)) if shape else 1
            if data.size != n:
                raise ValueError(f"tensor {index} holds {data.size} values for shape {shape}")
            data = data.reshape(shape)
    return Tensor(index, t.Name().decode("utf-8", "replace"), shape, int(t.Type()), scale, zp, qdim, data)


def read_tflite(path) -> Graph:
    """The first subgraph of the TFLite file ``path`` (``ModelError`` if it is not a readable TFLite model)."""
    import tflite

    path = Path(path)
    try:
        buf = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the file ({exc.strerror})") from None
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise ModelError(f"{path}: not a TFLite flatbuffer (no 'TFL3' identifier at byte 4); truncated or another "
                         "format")
    names = _builtin_names()
    try:
        model = tflite.Model.GetRootAsModel(buf, 0)
        if model.SubgraphsLength() < 1:
            raise ValueError("the model has no subgraph")
        g = model.Subgraphs(0)
        tensors = tuple(_tensor(model, buf, g.Tensors(i), i) for i in range(g.TensorsLength()))
        ops = []
        for i in range(g.OperatorsLength()):
            op = g.Operators(i)
            code = model.OperatorCodes(op.OpcodeIndex())
            builtin = max(int(code.BuiltinCode()), int(code.DeprecatedBuiltinCode()))
            name = names.get(builtin, f"builtin {builtin}")
            if name == "CUSTOM":
                name = f"CUSTOM({code.CustomCode().decode('utf-8', 'replace')})"
            ins = tuple(int(v) for v in op.InputsAsNumpy()) if op.InputsLength() else ()
            outs = tuple(int(v) for v in op.OutputsAsNumpy()) if op.OutputsLength() else ()
            for t in ins + outs:
                if t >= len(tensors) or t < -1:
                    raise ValueError(f"operator {i} names tensor {t} of {len(tensors)}")
            ops.append(Operator(i, name, ins, outs, _options(op)))
        inputs = tuple(int(v) for v in g.InputsAsNumpy())
        outputs = tuple(int(v) for v in g.OutputsAsNumpy())
        desc = model.Description()
        description = desc.decode("utf-8", "replace") if desc else ""
    except ModelError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure of the accessors is a malformed file
        raise ModelError(f"{path}: malformed or truncated TFLite flatbuffer ({type(exc).__name__}: {exc})") from None
    return Graph(path, tensors, tuple(ops), inputs, outputs, description)
