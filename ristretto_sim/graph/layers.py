"""Layer specs: what each layer of a network is, as frozen, validated dataclasses (no arithmetic, no weights).

A layer spec holds a layer's structure only: its name, the names of the tensors it reads and writes, and its
hyper-parameters (kernel sizes, strides, pads, groups, dilations, axes, constants of the operation). Weights
live in the ``Network`` (``network.params[layer.name]``, float32 NumPy arrays, named ``"weight"``,
``"bias"``, ...), and the arithmetic lives in the runners. Every importer (ONNX, Caffe) builds networks from
these specs.

Conventions shared by all specs
-------------------------------
- Every field is keyword-only: ``Conv(name="conv1", inputs=("data",), outputs=("conv1",), ...)``.
- Tensor shapes are **per sample** (no batch dimension): an image tensor has shape ``(C, H, W)``, a fully
  connected output ``(F,)``. Networks run on batches of any size ``N``; the batch is axis 0 at run time.
- ``axis`` fields count the batch axis, as ONNX and Caffe do: ``axis=1`` is the channel axis of an NCHW
  tensor. They are never 0 (no layer mixes samples).
- 2-D spatial parameters are ``(height, width)`` tuples; ``pads`` are ``(top, left, bottom, right)``
  (ONNX's ``[y_begin, x_begin, y_end, x_end]``).
- Weight layouts: ``Conv`` ``(out_channels, in_channels // groups, kh, kw)`` (OIHW); ``ConvTranspose``
  ``(in_channels, out_channels // groups, kh, kw)`` (ONNX/Caffe/PyTorch layout); ``Dense`` ``(out_features,
  in_features)`` (Caffe InnerProduct, PyTorch Linear, ONNX Gemm with ``transB=1``); biases ``(out,)``.
- Enum-valued fields accept their string names (``PoolKind("max")``, ``Pool(kind="avg", ...)``).

Each spec answers ``output_shapes(input_shapes)``, ``param_shapes(input_shapes)`` (the expected shapes of its
``params`` arrays) and ``macs(input_shapes)`` (multiply-accumulates per sample); ``Network`` uses them for
shape inference and for its layer table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import ClassVar

from ristretto_sim.emulator.datapaths.operation import LayerKind, reduction_length
from ristretto_sim.emulator.im2col import ConvGeometry
from ristretto_sim.emulator.pooling import PoolGeometry, pool_output_size
from ristretto_sim.enums import NamedEnum

Shape = tuple[int, ...]


class PoolKind(NamedEnum):
    """Pooling operation: ``MAX`` or ``AVG`` (average)."""

    MAX = "max"
    AVG = "avg"


class ActivationKind(NamedEnum):
    """Elementwise activation functions of ``Activation``.

    ``RELU`` max(x, 0); ``LEAKY_RELU`` x if x >= 0 else alpha*x; ``CLIP`` min(max(x, low), high) (ReLU6 is
    ``CLIP`` with 0, 6); ``SIGMOID``; ``TANH``.
    """

    RELU = "relu"
    LEAKY_RELU = "leaky_relu"
    CLIP = "clip"
    SIGMOID = "sigmoid"
    TANH = "tanh"


class EltwiseOp(NamedEnum):
    """Binary elementwise operations of ``Eltwise`` (NumPy broadcasting): ``ADD``, ``SUB``, ``MUL``, ``DIV``,
    ``MAX``."""

    ADD = "add"
    SUB = "sub"
    MUL = "mul"
    DIV = "div"
    MAX = "max"


class LRNRegion(NamedEnum):
    """Local response normalisation region: ``ACROSS_CHANNELS`` (ONNX LRN) or ``WITHIN_CHANNEL`` (Caffe)."""

    ACROSS_CHANNELS = "across_channels"
    WITHIN_CHANNEL = "within_channel"


class PadMode(NamedEnum):
    """Padding mode of ``Pad``: ``CONSTANT``, ``REFLECT`` or ``EDGE``."""

    CONSTANT = "constant"
    REFLECT = "reflect"
    EDGE = "edge"


def _check_name(value, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(f"{what}={value!r} must be a non-empty string")
    return value


def _int_tuple(value, name: str, length: int | None = None, minimum: int | None = None) -> tuple[int, ...]:
    if isinstance(value, (int,)) and not isinstance(value, bool):
        value = (value,) * (length or 1)
    try:
        out = tuple(int(v) for v in value)
    except TypeError:
        raise TypeError(f"{name}={value!r} must be an integer or a tuple of integers") from None
    if any(isinstance(v, bool) for v in value):
        raise TypeError(f"{name}={value!r} must hold integers, not booleans")
    if length is not None and len(out) != length:
        raise ValueError(f"{name}={value!r} must have {length} entries")
    if minimum is not None and any(v < minimum for v in out):
        raise ValueError(f"{name}={value!r}: every entry must be >= {minimum}")
    return out


def _set(obj, name: str, value) -> None:
    object.__setattr__(obj, name, value)


def _shape_err(layer: Layer, msg: str) -> ValueError:
    return ValueError(f"layer {layer.name!r} ({type(layer).__name__}): {msg}")


@dataclass(frozen=True, kw_only=True)
class Layer:
    """Base of every layer spec: a name and the tensors it reads and writes.

    Parameters
    ----------
    name : str
        Unique layer name within the network (the key of ``QuantPlan`` entries and of ``network.params``).
    inputs : tuple of str
        Names of the tensors read, in operand order.
    outputs : tuple of str
        Names of the tensors written (each tensor is written exactly once in a network).
    """

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    #: number of tensor inputs accepted: (min, max); max None = unbounded
    n_inputs: ClassVar[tuple[int, int | None]] = (1, 1)
    #: names of the params arrays that must exist; ``optional_params`` may be absent
    required_params: ClassVar[tuple[str, ...]] = ()
    optional_params: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self):
        _check_name(self.name, "name")
        if isinstance(self.inputs, str) or isinstance(self.outputs, str):
            raise TypeError(
                f"layer {self.name!r}: inputs and outputs must be tuples of names, not one string"
            )
        _set(self, "inputs", tuple(_check_name(t, "inputs[]") for t in self.inputs))
        _set(self, "outputs", tuple(_check_name(t, "outputs[]") for t in self.outputs))
        lo, hi = self.n_inputs
        if len(self.inputs) < lo or (hi is not None and len(self.inputs) > hi):
            want = f"{lo}" if lo == hi else f"{lo}..{hi if hi is not None else 'n'}"
            raise ValueError(
                f"layer {self.name!r} ({type(self).__name__}) takes {want} inputs, got {self.inputs}"
            )
        if len(self.outputs) != 1:
            raise ValueError(
                f"layer {self.name!r} ({type(self).__name__}) has one output, got {self.outputs}"
            )

    @property
    def op_type(self) -> str:
        """The spec's class name (``"Conv"``, ``"Pool"``, ...)."""
        return type(self).__name__

    def params_required(self) -> tuple[str, ...]:
        """Names of the ``params`` arrays this layer must have."""
        return self.required_params

    @property
    def output(self) -> str:
        """The (single) output tensor name."""
        return self.outputs[0]

    def hyperparameters(self) -> dict:
        """The spec's own fields (everything but name, inputs, outputs), for tables and exporters."""
        return {
            f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("name", "inputs", "outputs")
        }

    def output_shapes(self, input_shapes: tuple[Shape, ...]) -> tuple[Shape, ...]:
        """Per-sample output shapes given per-sample input shapes (``ValueError`` if they do not fit)."""
        return (tuple(input_shapes[0]),)

    def param_shapes(self, input_shapes: tuple[Shape, ...]) -> dict[str, Shape]:
        """Expected shapes of the ``params`` arrays (required and optional ones)."""
        return {}

    def macs(self, input_shapes: tuple[Shape, ...]) -> int:
        """Multiply-accumulate operations per sample (0 for layers without a MAC array workload)."""
        return 0


def _check_conv_geometry(layer) -> None:
    """Validate and normalise the fields ``Conv`` and ``ConvTranspose`` share (kernel, stride, dilation, pads,
    channels, groups, bias)."""
    _set(layer, "kernel", _int_tuple(layer.kernel, "kernel", 2, 1))
    _set(layer, "stride", _int_tuple(layer.stride, "stride", 2, 1))
    _set(layer, "dilation", _int_tuple(layer.dilation, "dilation", 2, 1))
    _set(layer, "pads", _int_tuple(layer.pads, "pads", 4, 0))
    for name in ("in_channels", "out_channels", "groups"):
        (v,) = _int_tuple((getattr(layer, name),), name, 1, 1)
        _set(layer, name, v)
    if layer.in_channels % layer.groups or layer.out_channels % layer.groups:
        raise ValueError(
            f"layer {layer.name!r}: groups={layer.groups} must divide in_channels="
            f"{layer.in_channels} and out_channels={layer.out_channels}"
        )
    _set(layer, "bias", bool(layer.bias))


@dataclass(frozen=True, kw_only=True)
class Conv(Layer):
    """2-D convolution (cross-correlation, as in ONNX/Caffe/PyTorch), NCHW.

    Parameters
    ----------
    in_channels, out_channels : int
        Channel counts (both divisible by ``groups``).
    kernel : (int, int)
        Kernel height and width.
    stride, dilation : (int, int)
        Default (1, 1).
    pads : (int, int, int, int)
        (top, left, bottom, right) zero padding, already resolved from ``auto_pad``.
    groups : int
        Grouped convolution (``groups == in_channels == out_channels`` is depthwise).
    bias : bool
        Whether ``params["bias"]`` (shape ``(out_channels,)``) exists. Weight: ``(out, in // groups, kh,
        kw)``.
    """

    in_channels: int
    out_channels: int
    kernel: tuple[int, int]
    stride: tuple[int, int] = (1, 1)
    pads: tuple[int, int, int, int] = (0, 0, 0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    bias: bool = True

    required_params = ("weight",)
    optional_params = ("bias", "bias_exact")

    def __post_init__(self):
        super().__post_init__()
        _check_conv_geometry(self)

    @property
    def geometry(self) -> ConvGeometry:
        """The emulator's ``ConvGeometry`` of this convolution."""
        return ConvGeometry(stride=self.stride, padding=self.pads, dilation=self.dilation, groups=self.groups)

    def output_shapes(self, input_shapes):
        shape = input_shapes[0]
        if len(shape) != 3 or shape[0] != self.in_channels:
            raise _shape_err(self, f"expects input (C={self.in_channels}, H, W), got {shape}")
        try:
            ho, wo = self.geometry.output_size(shape[1], shape[2], *self.kernel)
        except ValueError:
            raise _shape_err(self, f"input {shape} is smaller than the (dilated) kernel") from None
        return ((self.out_channels, ho, wo),)

    def param_shapes(self, input_shapes):
        out = {"weight": (self.out_channels, self.in_channels // self.groups) + self.kernel}
        if self.bias:
            out["bias"] = (self.out_channels,)
        return out

    def macs(self, input_shapes):
        ((c, h, w),) = self.output_shapes(input_shapes)
        return c * h * w * (self.in_channels // self.groups) * self.kernel[0] * self.kernel[1]


@dataclass(frozen=True, kw_only=True)
class ConvTranspose(Layer):
    """2-D transposed convolution (ONNX ConvTranspose, Caffe Deconvolution), NCHW.

    Output size per axis: ``stride * (in - 1) + output_padding + dilation * (k - 1) + 1 - pad_begin -
    pad_end``. Weight layout ``(in_channels, out_channels // groups, kh, kw)``; optional bias
    ``(out_channels,)``. ``pads`` are (top, left, bottom, right), already resolved from
    ``auto_pad``/``output_shape``.
    """

    in_channels: int
    out_channels: int
    kernel: tuple[int, int]
    stride: tuple[int, int] = (1, 1)
    pads: tuple[int, int, int, int] = (0, 0, 0, 0)
    dilation: tuple[int, int] = (1, 1)
    output_padding: tuple[int, int] = (0, 0)
    groups: int = 1
    bias: bool = True

    required_params = ("weight",)
    optional_params = ("bias", "bias_exact")

    def __post_init__(self):
        super().__post_init__()
        _check_conv_geometry(self)
        _set(self, "output_padding", _int_tuple(self.output_padding, "output_padding", 2, 0))

    @property
    def geometry(self) -> ConvGeometry:
        """The emulator's ``ConvGeometry`` of this transposed convolution."""
        return ConvGeometry(stride=self.stride, padding=self.pads, dilation=self.dilation, groups=self.groups,
                            output_padding=self.output_padding)

    def output_shapes(self, input_shapes):
        shape = input_shapes[0]
        if len(shape) != 3 or shape[0] != self.in_channels:
            raise _shape_err(self, f"expects input (C={self.in_channels}, H, W), got {shape}")
        t, lft, b, r = self.pads
        sizes = []
        for size, k, s, d, op, p0, p1 in zip(
            shape[1:],
            self.kernel,
            self.stride,
            self.dilation,
            self.output_padding,
            (t, lft),
            (b, r),
            strict=True,
        ):
            sizes.append(s * (size - 1) + op + d * (k - 1) + 1 - p0 - p1)
        if min(sizes) < 1:
            raise _shape_err(self, f"pads {self.pads} leave no output for input {shape}")
        return ((self.out_channels, *sizes),)

    def param_shapes(self, input_shapes):
        out = {"weight": (self.in_channels, self.out_channels // self.groups) + self.kernel}
        if self.bias:
            out["bias"] = (self.out_channels,)
        return out

    def macs(self, input_shapes):
        c, h, w = input_shapes[0]
        return c * h * w * (self.out_channels // self.groups) * self.kernel[0] * self.kernel[1]


@dataclass(frozen=True, kw_only=True)
class Dense(Layer):
    """Fully connected layer ``y = x @ W.T + b`` (ONNX Gemm/MatMul+Add, Caffe InnerProduct, PyTorch Linear).

    The input is flattened from axis 1 (per sample: to ``in_features`` values, Caffe's InnerProduct
    behaviour);
    the output has shape ``(out_features,)``. Weight ``(out_features, in_features)``; optional bias.
    """

    in_features: int
    out_features: int
    bias: bool = True

    required_params = ("weight",)
    optional_params = ("bias", "bias_exact")

    def __post_init__(self):
        super().__post_init__()
        for name in ("in_features", "out_features"):
            (v,) = _int_tuple((getattr(self, name),), name, 1, 1)
            _set(self, name, v)
        _set(self, "bias", bool(self.bias))

    def output_shapes(self, input_shapes):
        n = math.prod(input_shapes[0])
        if n != self.in_features:
            raise _shape_err(self, f"expects {self.in_features} input features, got shape {input_shapes[0]}")
        return ((self.out_features,),)

    def param_shapes(self, input_shapes):
        out = {"weight": (self.out_features, self.in_features)}
        if self.bias:
            out["bias"] = (self.out_features,)
        return out

    def macs(self, input_shapes):
        return self.in_features * self.out_features


#: the layers whose weights a MAC array multiplies (the ones a quantization plan gives weight formats)
WEIGHTED = (Conv, ConvTranspose, Dense)


def layer_reduction_length(layer: Layer, weight) -> int:
    """Products per output (K) of a ``Conv``, ``ConvTranspose`` or ``Dense`` layer with weights ``weight``
    (OIHW, ``(C_in, C_out/groups, kh, kw)``, ``(out, in)``); for a transposed convolution the most any output
    gets. The emulator's rule (``emulator.datapaths.operation.reduction_length``)."""
    if isinstance(layer, Dense):
        return reduction_length(LayerKind.LINEAR, weight.shape, None)
    if isinstance(layer, ConvTranspose):
        return reduction_length(LayerKind.CONV_TRANSPOSE2D, weight.shape, layer.geometry)
    if isinstance(layer, Conv):
        return reduction_length(LayerKind.CONV2D, weight.shape, layer.geometry)
    raise TypeError(f"layer {layer.name!r} ({type(layer).__name__}) has no reduction length")


@dataclass(frozen=True, kw_only=True)
class Pool(Layer):
    """2-D max or average pooling, NCHW.

    Parameters
    ----------
    kind : PoolKind or str
        ``"max"`` or ``"avg"``.
    kernel, stride : (int, int)
        Window and step; ignored by shape inference when ``global_pool`` (the window is the whole image).
    pads : (int, int, int, int)
        (top, left, bottom, right). Max pooling pads with -inf.
    ceil_mode : bool
        Output size rounding, see ``pool_output_size`` (Caffe pooling is ``ceil_mode=True``).
    count_include_pad : bool
        Average pooling divisor: True divides by the window clipped to the padded input (Caffe's AVE; ONNX
        ``count_include_pad=1``); False divides by the number of image pixels in the window (ONNX default).
    global_pool : bool
        Pool the whole image to 1x1 (ONNX GlobalAveragePool/GlobalMaxPool, Caffe ``global_pooling``).
    """

    kind: PoolKind
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    pads: tuple[int, int, int, int] = (0, 0, 0, 0)
    ceil_mode: bool = False
    count_include_pad: bool = False
    global_pool: bool = False

    def __post_init__(self):
        super().__post_init__()
        try:
            _set(self, "kind", PoolKind(self.kind))
        except ValueError:
            raise ValueError(f"kind={self.kind!r} is not a PoolKind (max, avg)") from None
        _set(self, "kernel", _int_tuple(self.kernel, "kernel", 2, 1))
        _set(self, "stride", _int_tuple(self.stride, "stride", 2, 1))
        _set(self, "pads", _int_tuple(self.pads, "pads", 4, 0))
        for name in ("ceil_mode", "count_include_pad", "global_pool"):
            _set(self, name, bool(getattr(self, name)))
        if not self.global_pool and (
            self.pads[0] >= self.kernel[0] + 1 or self.pads[1] >= self.kernel[1] + 1
        ):
            raise ValueError(f"layer {self.name!r}: pads {self.pads} larger than the kernel {self.kernel}")

    def window(
        self, input_shape: Shape
    ) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int, int, int]]:
        """Effective (kernel, stride, pads) for an input shape (the whole image for ``global_pool``)."""
        if self.global_pool:
            return (input_shape[1], input_shape[2]), (1, 1), (0, 0, 0, 0)
        return self.kernel, self.stride, self.pads

    def geometry(self, input_shape: Shape) -> PoolGeometry:
        """The emulator's ``PoolGeometry`` of this pooling for a ``(C, H, W)`` input (``window``, ``ceil_mode``)."""
        kernel, stride, pads = self.window(input_shape)
        return PoolGeometry(kernel, stride, pads, ceil_mode=self.ceil_mode and not self.global_pool)

    def output_shapes(self, input_shapes):
        shape = input_shapes[0]
        if len(shape) != 3:
            raise _shape_err(self, f"expects a (C, H, W) input, got {shape}")
        if self.global_pool:
            return ((shape[0], 1, 1),)
        (kh, kw), (sh, sw), (t, lft, b, r) = self.kernel, self.stride, self.pads
        ho = pool_output_size(shape[1], kh, sh, t, b, self.ceil_mode)
        wo = pool_output_size(shape[2], kw, sw, lft, r, self.ceil_mode)
        if ho < 1 or wo < 1:
            raise _shape_err(self, f"input {shape} smaller than the window {self.kernel}")
        return ((shape[0], ho, wo),)


@dataclass(frozen=True, kw_only=True)
class Activation(Layer):
    """Elementwise activation: ``kind`` is an ``ActivationKind``; ``alpha`` is LeakyReLU's slope;
    ``low``/``high``
    are Clip's bounds (None: unbounded on that side)."""

    kind: ActivationKind
    alpha: float = 0.01
    low: float | None = None
    high: float | None = None

    def __post_init__(self):
        super().__post_init__()
        try:
            _set(self, "kind", ActivationKind(self.kind))
        except ValueError:
            raise ValueError(
                f"kind={self.kind!r} is not an ActivationKind ({', '.join(k.value for k in ActivationKind)})"
            ) from None
        _set(self, "alpha", float(self.alpha))
        for name in ("low", "high"):
            v = getattr(self, name)
            _set(self, name, None if v is None else float(v))
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"layer {self.name!r}: low={self.low} > high={self.high}")


@dataclass(frozen=True, kw_only=True)
class PRelu(Layer):
    """Parametric ReLU: ``x if x >= 0 else slope * x``; ``params["slope"]`` broadcasts against the per-sample
    input shape (e.g. ``(C, 1, 1)`` per channel, ``(1,)`` shared)."""

    required_params = ("slope",)

    def param_shapes(self, input_shapes):
        return {}  # any shape broadcasting against the input (checked by Network)


@dataclass(frozen=True, kw_only=True)
class Scale(Layer):
    """Per-channel affine ``y = x * weight[c] + bias[c]`` along ``axis`` (an unfolded BatchNormalization,
    Caffe
    Scale). ``params["weight"]`` and optional ``params["bias"]`` have shape ``(channels,)``."""

    channels: int
    axis: int = 1
    bias: bool = True

    required_params = ("weight",)
    optional_params = ("bias",)

    def __post_init__(self):
        super().__post_init__()
        (c,) = _int_tuple((self.channels,), "channels", 1, 1)
        _set(self, "channels", c)
        (a,) = _int_tuple((self.axis,), "axis", 1, 1)
        _set(self, "axis", a)
        _set(self, "bias", bool(self.bias))

    def output_shapes(self, input_shapes):
        shape = input_shapes[0]
        if len(shape) < self.axis or shape[self.axis - 1] != self.channels:
            raise _shape_err(self, f"expects {self.channels} channels on axis {self.axis}, got {shape}")
        return (tuple(shape),)

    def param_shapes(self, input_shapes):
        return {"weight": (self.channels,), **({"bias": (self.channels,)} if self.bias else {})}


@dataclass(frozen=True, kw_only=True)
class LRN(Layer):
    """Local response normalisation: ``y = x / (k + alpha / size * sum(x^2 over the window)) ** beta``.

    ``region`` ACROSS_CHANNELS sums over ``size`` neighbouring channels (ONNX LRN, window from
    ``c - (size-1)//2`` to ``c + size//2``); WITHIN_CHANNEL over a ``size x size`` spatial window (Caffe;
    Caffe divides alpha by ``size*size`` there).
    """

    size: int
    alpha: float = 1e-4
    beta: float = 0.75
    k: float = 1.0
    region: LRNRegion = LRNRegion.ACROSS_CHANNELS

    def __post_init__(self):
        super().__post_init__()
        (s,) = _int_tuple((self.size,), "size", 1, 1)
        _set(self, "size", s)
        for name in ("alpha", "beta", "k"):
            _set(self, name, float(getattr(self, name)))
        _set(self, "region", LRNRegion(self.region))


@dataclass(frozen=True, kw_only=True)
class Eltwise(Layer):
    """Binary elementwise operation with NumPy broadcasting, over two tensors or a tensor and a constant.

    Parameters
    ----------
    op : EltwiseOp or str
        add, sub, mul, div, max. With more than two tensor inputs (Caffe Eltwise), the operation is applied
        left to right; ``coeffs`` (Caffe's SUM coefficients) multiply the inputs first.
    constant_index : int or None
        When not None, the operation has one tensor input and ``params["constant"]`` (float32, per-sample
        shape broadcasting against the input) is the operand at this position (0: ``constant op x``, 1: ``x
        op constant``).
    coeffs : tuple of float or None
        Caffe SUM coefficients, one per input.
    """

    op: EltwiseOp
    constant_index: int | None = None
    coeffs: tuple[float, ...] | None = None

    n_inputs = (1, None)
    optional_params = ("constant",)

    def __post_init__(self):
        super().__post_init__()
        _set(self, "op", EltwiseOp(self.op))
        if self.constant_index is not None:
            if self.constant_index not in (0, 1):
                raise ValueError(f"constant_index={self.constant_index!r} must be 0, 1 or None")
            if len(self.inputs) != 1:
                raise ValueError(f"layer {self.name!r}: with a constant operand, exactly one tensor input")
        elif len(self.inputs) < 2:
            raise ValueError(f"layer {self.name!r}: Eltwise needs two inputs or a constant operand")
        if self.coeffs is not None:
            _set(self, "coeffs", tuple(float(c) for c in self.coeffs))
            if len(self.coeffs) != len(self.inputs):
                raise ValueError(
                    f"layer {self.name!r}: {len(self.coeffs)} coeffs for {len(self.inputs)} inputs"
                )

    def params_required(self) -> tuple[str, ...]:
        """The params this instance needs: ``("constant",)`` with a constant operand."""
        return ("constant",) if self.constant_index is not None else ()

    def output_shapes(self, input_shapes, constant_shape: Shape | None = None):
        shapes = list(input_shapes) + ([constant_shape] if constant_shape is not None else [])
        try:
            import numpy as np

            return (tuple(np.broadcast_shapes(*shapes)),)
        except ValueError:
            raise _shape_err(self, f"shapes {shapes} do not broadcast") from None


@dataclass(frozen=True, kw_only=True)
class Concat(Layer):
    """Concatenation along ``axis`` (counting the batch axis; 1 = channels)."""

    axis: int = 1
    n_inputs = (1, None)

    def __post_init__(self):
        super().__post_init__()
        (a,) = _int_tuple((self.axis,), "axis", 1, 1)
        _set(self, "axis", a)

    def output_shapes(self, input_shapes):
        first = input_shapes[0]
        ax = self.axis - 1
        if ax >= len(first):
            raise _shape_err(self, f"axis {self.axis} out of range for shape {first}")
        for s in input_shapes[1:]:
            if len(s) != len(first) or any(a != b for i, (a, b) in enumerate(zip(s, first, strict=True))
                                           if i != ax):
                raise _shape_err(self, f"input shapes {input_shapes} differ outside axis {self.axis}")
        out = list(first)
        out[ax] = sum(s[ax] for s in input_shapes)
        return (tuple(out),)


@dataclass(frozen=True, kw_only=True)
class Flatten(Layer):
    """Flatten each sample from ``axis`` on (ONNX Flatten with axis >= 1; axis 1 gives ``(prod(shape),)``)."""

    axis: int = 1

    def __post_init__(self):
        super().__post_init__()
        (a,) = _int_tuple((self.axis,), "axis", 1, 1)
        _set(self, "axis", a)

    def output_shapes(self, input_shapes):
        s = input_shapes[0]
        k = self.axis - 1
        if k > len(s):
            raise _shape_err(self, f"axis {self.axis} out of range for shape {s}")
        return (tuple(s[:k]) + (math.prod(s[k:]),),)


@dataclass(frozen=True, kw_only=True)
class Reshape(Layer):
    """Reshape each sample to ``shape`` (fully resolved, per sample, no -1 or 0 entries; C order)."""

    shape: tuple[int, ...]

    def __post_init__(self):
        super().__post_init__()
        _set(self, "shape", _int_tuple(self.shape, "shape", None, 1))

    def output_shapes(self, input_shapes):
        if math.prod(input_shapes[0]) != math.prod(self.shape):
            raise _shape_err(self, f"cannot reshape {input_shapes[0]} to {self.shape}")
        return (self.shape,)


@dataclass(frozen=True, kw_only=True)
class Transpose(Layer):
    """Permute axes; ``perm`` counts the batch axis and keeps it first (``perm[0] == 0``)."""

    perm: tuple[int, ...]

    def __post_init__(self):
        super().__post_init__()
        _set(self, "perm", _int_tuple(self.perm, "perm", None, 0))
        if sorted(self.perm) != list(range(len(self.perm))) or self.perm[0] != 0:
            raise ValueError(
                f"layer {self.name!r}: perm={self.perm} must be a permutation keeping axis 0 first"
            )

    def output_shapes(self, input_shapes):
        s = input_shapes[0]
        if len(s) + 1 != len(self.perm):
            raise _shape_err(self, f"perm {self.perm} does not fit a rank-{len(s) + 1} batch of {s}")
        return (tuple(s[p - 1] for p in self.perm[1:]),)


@dataclass(frozen=True, kw_only=True)
class Pad(Layer):
    """Pad each sample: ``pads`` is ``(begin_1, ..., begin_r, end_1, ..., end_r)`` over the per-sample axes
    (ONNX order without the batch entries); ``mode`` a ``PadMode``; ``value`` the constant for
    ``CONSTANT``."""

    pads: tuple[int, ...]
    mode: PadMode = PadMode.CONSTANT
    value: float = 0.0

    def __post_init__(self):
        super().__post_init__()
        _set(self, "pads", _int_tuple(self.pads, "pads", None, None))
        if len(self.pads) % 2:
            raise ValueError(f"layer {self.name!r}: pads={self.pads} must have an even length")
        _set(self, "mode", PadMode(self.mode))
        _set(self, "value", float(self.value))

    def output_shapes(self, input_shapes):
        s = input_shapes[0]
        r = len(self.pads) // 2
        if r != len(s):
            raise _shape_err(self, f"pads {self.pads} do not fit shape {s}")
        out = tuple(d + self.pads[i] + self.pads[r + i] for i, d in enumerate(s))
        if min(out) < 1:
            raise _shape_err(self, f"pads {self.pads} leave nothing of shape {s}")
        return (out,)


@dataclass(frozen=True, kw_only=True)
class Softmax(Layer):
    """Softmax over the axes from ``axis`` to the last when ``flatten`` (ONNX before opset 13, Caffe over one
    axis
    when the rest is 1x1), or over the single ``axis`` (ONNX 13+)."""

    axis: int = 1
    flatten: bool = False

    def __post_init__(self):
        super().__post_init__()
        (a,) = _int_tuple((self.axis,), "axis", 1, 1)
        _set(self, "axis", a)
        _set(self, "flatten", bool(self.flatten))

    def output_shapes(self, input_shapes):
        if self.axis > len(input_shapes[0]):
            raise _shape_err(self, f"axis {self.axis} out of range for shape {input_shapes[0]}")
        return (tuple(input_shapes[0]),)


#: every layer spec class, by name
LAYER_TYPES: dict[str, type[Layer]] = {
    cls.__name__: cls
    for cls in (
        Conv,
        ConvTranspose,
        Dense,
        Pool,
        Activation,
        PRelu,
        Scale,
        LRN,
        Eltwise,
        Concat,
        Flatten,
        Reshape,
        Transpose,
        Pad,
        Softmax,
    )
}

__all__ = [
    "LAYER_TYPES",
    "LRN",
    "Activation",
    "ActivationKind",
    "Concat",
    "Conv",
    "ConvTranspose",
    "Dense",
    "Eltwise",
    "EltwiseOp",
    "Flatten",
    "LRNRegion",
    "Layer",
    "Pad",
    "PadMode",
    "Pool",
    "PoolKind",
    "PRelu",
    "Reshape",
    "Scale",
    "Shape",
    "Softmax",
    "Transpose",
    "WEIGHTED",
    "layer_reduction_length",
    "pool_output_size",
]
