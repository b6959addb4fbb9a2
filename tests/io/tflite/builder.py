"""Small TFLite flatbuffers written for the tests with the ``tflite`` package's generated builders (schema.fbs):
one operator at a time with chosen scales, zero points, per-channel weights, padding, strides, fused activations,
so each importer handler and int8 operator is held against the LiteRT interpreter on a file it really reads."""

from __future__ import annotations

from dataclasses import dataclass, field

import flatbuffers
import numpy as np
import tflite

INT8, INT32, FLOAT32, UINT8 = 9, 2, 0, 3
OP_VERSIONS = {"CONV_2D": 3, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 4, "ADD": 2, "AVERAGE_POOL_2D": 2,
               "RESHAPE": 1, "SOFTMAX": 2, "MAX_POOL_2D": 2, "LOGISTIC": 2}
OPTIONS = {"CONV_2D": "Conv2DOptions", "DEPTHWISE_CONV_2D": "DepthwiseConv2DOptions",
           "FULLY_CONNECTED": "FullyConnectedOptions", "ADD": "AddOptions", "AVERAGE_POOL_2D": "Pool2DOptions",
           "MAX_POOL_2D": "Pool2DOptions", "SOFTMAX": "SoftmaxOptions", "RESHAPE": "ReshapeOptions"}


@dataclass
class T:
    """A tensor: name, shape, type, quantization (scales, zero points, dimension), constant data."""

    name: str
    shape: tuple
    type: int = INT8
    scale: tuple = ()
    zero_point: tuple = ()
    qdim: int = 0
    data: np.ndarray | None = None


@dataclass
class Op:
    opcode: str
    inputs: tuple
    outputs: tuple
    options: dict = field(default_factory=dict)


def _vector(b, values, dtype):
    return b.CreateNumpyVector(np.asarray(values, dtype=dtype))


def _bytes(b, data: bytes):
    b.StartVector(1, len(data), 16)
    b.head = b.head - len(data)
    b.Bytes[b.head:b.head + len(data)] = data
    return b.EndVector()


def build(tensors: list[T], ops: list[Op], inputs: tuple, outputs: tuple) -> bytes:
    """The flatbuffer of a one-subgraph model."""
    b = flatbuffers.Builder(1024)
    codes = []
    for op in ops:
        if op.opcode not in codes:
            codes.append(op.opcode)
    # buffers: 0 is the empty sentinel, then one per constant tensor
    buffer_data = [None]
    tensor_buffer = []
    for t in tensors:
        if t.data is None:
            tensor_buffer.append(0)
        else:
            buffer_data.append(np.ascontiguousarray(t.data).tobytes())
            tensor_buffer.append(len(buffer_data) - 1)
    buf_offsets = []
    for data in buffer_data:
        vec = _bytes(b, data) if data is not None else None
        tflite.BufferStart(b)
        if vec is not None:
            tflite.BufferAddData(b, vec)
        buf_offsets.append(tflite.BufferEnd(b))
    t_offsets = []
    for t, buf in zip(tensors, tensor_buffer, strict=True):
        name = b.CreateString(t.name)
        shape = _vector(b, t.shape, np.int32)
        q = None
        if t.scale:
            sc = _vector(b, t.scale, np.float32)
            zp = _vector(b, t.zero_point or (0,) * len(t.scale), np.int64)
            tflite.QuantizationParametersStart(b)
            tflite.QuantizationParametersAddScale(b, sc)
            tflite.QuantizationParametersAddZeroPoint(b, zp)
            tflite.QuantizationParametersAddQuantizedDimension(b, t.qdim)
            q = tflite.QuantizationParametersEnd(b)
        tflite.TensorStart(b)
        tflite.TensorAddShape(b, shape)
        tflite.TensorAddType(b, t.type)
        tflite.TensorAddBuffer(b, buf)
        tflite.TensorAddName(b, name)
        if q is not None:
            tflite.TensorAddQuantization(b, q)
        t_offsets.append(tflite.TensorEnd(b))
    op_offsets = []
    for op in ops:
        ins = _vector(b, op.inputs, np.int32)
        outs = _vector(b, op.outputs, np.int32)
        opt_name = OPTIONS.get(op.opcode)
        opt = None
        if opt_name is not None:
            vecs = {k: _vector(b, v, np.int32) for k, v in op.options.items() if isinstance(v, tuple)}
            getattr(tflite, f"{opt_name}Start")(b)
            for k, v in op.options.items():
                getattr(tflite, f"{opt_name}Add{k}")(b, vecs.get(k, v))
            opt = getattr(tflite, f"{opt_name}End")(b)
        tflite.OperatorStart(b)
        tflite.OperatorAddOpcodeIndex(b, codes.index(op.opcode))
        tflite.OperatorAddInputs(b, ins)
        tflite.OperatorAddOutputs(b, outs)
        if opt is not None:
            tflite.OperatorAddBuiltinOptionsType(b, getattr(tflite.BuiltinOptions, opt_name))
            tflite.OperatorAddBuiltinOptions(b, opt)
        op_offsets.append(tflite.OperatorEnd(b))

    def table_vector(start, offsets):
        start(b, len(offsets))
        for o in reversed(offsets):
            b.PrependUOffsetTRelative(o)
        return b.EndVector()

    tensors_vec = table_vector(tflite.SubGraphStartTensorsVector, t_offsets)
    ops_vec = table_vector(tflite.SubGraphStartOperatorsVector, op_offsets)
    in_vec, out_vec = _vector(b, inputs, np.int32), _vector(b, outputs, np.int32)
    tflite.SubGraphStart(b)
    tflite.SubGraphAddTensors(b, tensors_vec)
    tflite.SubGraphAddOperators(b, ops_vec)
    tflite.SubGraphAddInputs(b, in_vec)
    tflite.SubGraphAddOutputs(b, out_vec)
    sub = tflite.SubGraphEnd(b)
    code_offsets = []
    for name in codes:
        code = getattr(tflite.BuiltinOperator, name)
        tflite.OperatorCodeStart(b)
        tflite.OperatorCodeAddDeprecatedBuiltinCode(b, min(code, 127))
        tflite.OperatorCodeAddBuiltinCode(b, code)
        tflite.OperatorCodeAddVersion(b, OP_VERSIONS.get(name, 1))
        code_offsets.append(tflite.OperatorCodeEnd(b))
    codes_vec = table_vector(tflite.ModelStartOperatorCodesVector, code_offsets)
    subs_vec = table_vector(tflite.ModelStartSubgraphsVector, [sub])
    bufs_vec = table_vector(tflite.ModelStartBuffersVector, buf_offsets)
    desc = b.CreateString("ristretto-sim test model")
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, 3)
    tflite.ModelAddOperatorCodes(b, codes_vec)
    tflite.ModelAddSubgraphs(b, subs_vec)
    tflite.ModelAddBuffers(b, bufs_vec)
    tflite.ModelAddDescription(b, desc)
    b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def f32(x) -> float:
    return float(np.float32(x))


def act(name, shape, scale, zp, type_=INT8) -> T:
    return T(name, tuple(shape), type_, (f32(scale),), (int(zp),))


def conv_model(rng, *, depthwise=False, c=3, multiplier=1, o=4, k=3, stride=(1, 1), padding=0, fused=0,
               per_channel=True, qdim=None, hw=(7, 6)) -> bytes:
    """One CONV_2D (or DEPTHWISE_CONV_2D) layer with random int8 weights and int32 bias."""
    h, w = hw
    n_out = c * multiplier if depthwise else o
    s_in, s_out = f32(rng.uniform(0.01, 0.1)), f32(rng.uniform(0.02, 0.3))
    sw = tuple(f32(v) for v in rng.uniform(0.002, 0.02, n_out if per_channel else 1))
    if depthwise:
        wshape, wdim = (1, k, k, n_out), 3
    else:
        wshape, wdim = (n_out, k, k, c), 0
    wq = rng.integers(-127, 128, wshape).astype(np.int8)
    bq = rng.integers(-2000, 2000, n_out).astype(np.int32)
    eff = k
    if padding == 0:  # SAME
        ho, wo = -(-h // stride[0]), -(-w // stride[1])
    else:
        ho, wo = (h - eff) // stride[0] + 1, (w - eff) // stride[1] + 1
    tensors = [
        act("x", (1, h, w, c), s_in, int(rng.integers(-20, 20))),
        T("w", wshape, INT8, sw, (0,) * len(sw), wdim if qdim is None else qdim, wq),
        T("b", (n_out,), INT32, tuple(f32(s_in * v) for v in sw), (0,) * len(sw), 0, bq),
        act("y", (1, ho, wo, n_out), s_out, int(rng.integers(-128, 0))),
    ]
    opts = {"Padding": padding, "StrideH": stride[0], "StrideW": stride[1], "FusedActivationFunction": fused}
    if depthwise:
        opts["DepthMultiplier"] = multiplier
    op = Op("DEPTHWISE_CONV_2D" if depthwise else "CONV_2D", (0, 1, 2), (3,), opts)
    return build(tensors, [op], (0,), (3,))


def fc_model(rng, *, image=False, fused=0, softmax=False) -> bytes:
    """FULLY_CONNECTED on a [1, 12] vector (or a [1, 2, 2, 3] image, flattened in NHWC order), optionally followed
    by SOFTMAX."""
    shape = (1, 2, 2, 3) if image else (1, 12)
    n_out = 5
    s_in, s_w, s_out = f32(rng.uniform(0.01, 0.1)), f32(rng.uniform(0.005, 0.02)), f32(rng.uniform(0.05, 0.2))
    tensors = [
        act("x", shape, s_in, 7),
        T("w", (n_out, 12), INT8, (s_w,), (0,), 0, rng.integers(-127, 128, (n_out, 12)).astype(np.int8)),
        T("b", (n_out,), INT32, (f32(s_in * s_w),), (0,), 0, rng.integers(-3000, 3000, n_out).astype(np.int32)),
        act("y", (1, n_out), s_out, -3),
    ]
    ops = [Op("FULLY_CONNECTED", (0, 1, 2), (3,), {"FusedActivationFunction": fused})]
    outputs = (3,)
    if softmax:
        tensors.append(act("p", (1, n_out), 1.0 / 256, -128))
        ops.append(Op("SOFTMAX", (3,), (4,), {"Beta": 1.0}))
        outputs = (4,)
    return build(tensors, ops, (0,), outputs)


def add_model(rng, *, fused=0) -> bytes:
    """ADD of the input and a 1x1 convolution of it (different scales and zero points)."""
    c = 3
    s_in, s_c, s_out = f32(0.05), f32(rng.uniform(0.02, 0.2)), f32(rng.uniform(0.05, 0.3))
    sw = tuple(f32(v) for v in rng.uniform(0.005, 0.02, c))
    tensors = [
        act("x", (1, 4, 5, c), s_in, 10),
        T("w", (c, 1, 1, c), INT8, sw, (0,) * c, 0, rng.integers(-127, 128, (c, 1, 1, c)).astype(np.int8)),
        T("b", (c,), INT32, tuple(f32(s_in * v) for v in sw), (0,) * c, 0,
          rng.integers(-500, 500, c).astype(np.int32)),
        act("y", (1, 4, 5, c), s_c, -20),
        act("z", (1, 4, 5, c), s_out, 4),
    ]
    ops = [Op("CONV_2D", (0, 1, 2), (3,), {"Padding": 1, "StrideH": 1, "StrideW": 1}),
           Op("ADD", (0, 3), (4,), {"FusedActivationFunction": fused})]
    return build(tensors, ops, (0,), (4,))


def pool_model(*, kernel=(3, 3), stride=(2, 2), padding=0, hw=(7, 6), fused=0) -> bytes:
    h, w = hw
    if padding == 0:
        ho, wo = -(-h // stride[0]), -(-w // stride[1])
    else:
        ho, wo = (h - kernel[0]) // stride[0] + 1, (w - kernel[1]) // stride[1] + 1
    tensors = [act("x", (1, h, w, 2), 0.1, -5), act("y", (1, ho, wo, 2), 0.1, -5)]
    op = Op("AVERAGE_POOL_2D", (0,), (1,), {"Padding": padding, "StrideH": stride[0], "StrideW": stride[1],
                                            "FilterHeight": kernel[0], "FilterWidth": kernel[1],
                                            "FusedActivationFunction": fused})
    return build(tensors, [op], (0,), (1,))


def reshape_model(*, to_image=False) -> bytes:
    """RESHAPE of a [1, 2, 3, 4] image to [1, 24] (NHWC order), or to another image [1, 4, 3, 2]."""
    target = (1, 4, 3, 2) if to_image else (1, 24)
    tensors = [act("x", (1, 2, 3, 4), 0.1, 3), act("y", target, 0.1, 3),
               T("shape", (len(target),), INT32, data=np.array(target, np.int32))]
    return build(tensors, [Op("RESHAPE", (0, 2), (1,), {"NewShape": target})], (0,), (1,))
