"""``Network``: a DAG of layer specs in topological order, with its weights, shapes and preprocessing.

A network has named input tensors (``TensorSpec``: per-sample shape), a tuple of layers
(``ristretto_sim.graph.layers``) in an order where every tensor is written before it is read, exactly once
(single assignment), named output tensors, and the weights of its layers as float32 NumPy arrays
(``network.params[layer_name][param_name]``; a weighted layer's optional ``bias_exact`` is float64).
Building one checks all of that, infers every tensor's
per-sample shape and checks every weight's shape.

``preprocess`` (a ``ristretto_sim.data.Preprocessing``: ``x = (pixel - mean) * scale``, then centre crop) says
how raw pixels become the network's input when the model file documents it (Caffe ``transform_param``, a
bundled model's description); None when it does not (an ONNX file from elsewhere: the user must say).
``input_layout`` records the layout the original model file took its input in (an ONNX model starting with
Transpose(0,3,1,2) is NHWC); the network itself always takes NCHW.

``Folding`` records a BatchNormalization merged into the preceding layer's weights; ``source_names`` maps
tensor names to the names they had in the model file where they differ (Caffe's in-place blobs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from ristretto_sim.data.preprocess import Preprocessing
from ristretto_sim.enums import NamedEnum
from ristretto_sim.errors import ModelError
from ristretto_sim.graph.layers import Eltwise, Layer, PRelu, Shape


class Layout(NamedEnum):
    """Memory layout of an image batch: ``NCHW`` (channels first) or ``NHWC`` (channels last)."""

    NCHW = "nchw"
    NHWC = "nhwc"


@dataclass(frozen=True)
class TensorSpec:
    """A network input: its name and per-sample shape (no batch axis), e.g. ``("data", (1, 28, 28))``."""

    name: str
    shape: Shape

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"name={self.name!r} must be a non-empty string")
        shape = tuple(int(d) for d in self.shape)
        if any(d < 1 for d in shape):
            raise ValueError(f"input {self.name!r}: shape {self.shape} must have positive dimensions")
        object.__setattr__(self, "shape", shape)


@dataclass(frozen=True)
class Folding:
    """A normalisation layer folded into ``into``'s weights: ``folded`` is its name in the model file,
    ``kind``
    its op (``"BatchNormalization"``, ``"BatchNorm+Scale"``), ``eps`` its epsilon."""

    folded: str
    into: str
    kind: str = "BatchNormalization"
    eps: float = 1e-5


@dataclass(frozen=True)
class LayerInfo:
    """One row of ``Network.summary()``: shapes per sample, MACs per sample, parameter count."""

    name: str
    op_type: str
    input_shapes: tuple[Shape, ...]
    output_shape: Shape
    macs: int
    params: int


#: a weighted layer's optional exact bias (float64; an int8 model's int32 bias codes times their scale need more
#: than float32's 24 bits); the emulator reads it instead of ``bias``, the float network reads ``bias``
EXACT_BIAS = "bias_exact"


def _freeze_params(params: Mapping) -> Mapping[str, Mapping[str, np.ndarray]]:
    out = {}
    for lname, group in params.items():
        g = {}
        for pname, arr in group.items():
            a = np.array(arr, dtype=np.float64 if pname == EXACT_BIAS else np.float32, copy=True)
            a.setflags(write=False)
            g[str(pname)] = a
        out[str(lname)] = MappingProxyType(g)
    return MappingProxyType(out)


@dataclass(frozen=True, eq=False)
class Network:
    """A network: layer specs in topological order, weights, shapes, preprocessing.

    Parameters
    ----------
    name : str
        The model's name (file stem or bundled name).
    inputs : tuple of TensorSpec
        Input tensors with per-sample shapes (usually one, ``(C, H, W)``).
    layers : tuple of Layer
        Layer specs in execution order; every tensor read is a network input or an earlier layer's output.
    outputs : tuple of str
        Output tensor names.
    params : mapping
        ``{layer_name: {param_name: array}}``; copied to read-only float32 arrays. Layers without weights may
        be absent.
    preprocess : ristretto_sim.data.Preprocessing or None
        How raw pixels become the input, when the model documents it; None otherwise.
    input_layout : Layout or str
        Layout of the input in the original model file (the network itself takes NCHW).
    source : str
        Where the network came from (a path or ``"bundled:lenet"``), for messages.
    foldings : tuple of Folding
        Normalisation layers folded at import.
    source_names : mapping
        ``{tensor_name: name_in_model_file}`` where the two differ (Caffe in-place blobs).
    task : str
        ``"classification"`` (scored by top-1/top-5) or ``"reconstruction"`` (scored by PSNR).
    metadata : mapping of str to str
        Free-form model properties from the file (ONNX ``metadata_props``, e.g. ``"dataset": "mnist"``),
        written back by ``io.onnx.exporter.to_onnx``.

    Raises
    ------
    ModelError
        If the graph is not a single-assignment DAG in topological order, a shape does not fit, or a weight is
        missing or has the wrong shape; the message names the layer.
    """

    name: str
    inputs: tuple[TensorSpec, ...]
    layers: tuple[Layer, ...]
    outputs: tuple[str, ...]
    params: Mapping[str, Mapping[str, np.ndarray]] = field(default_factory=dict)
    preprocess: Preprocessing | None = None
    input_layout: Layout = Layout.NCHW
    source: str = ""
    foldings: tuple[Folding, ...] = ()
    source_names: Mapping[str, str] = field(default_factory=dict)
    task: str = "classification"
    metadata: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(self, "outputs", tuple(self.outputs))
        object.__setattr__(self, "foldings", tuple(self.foldings))
        object.__setattr__(self, "input_layout", Layout(self.input_layout))
        if self.preprocess is not None and not isinstance(self.preprocess, Preprocessing):
            raise TypeError(f"preprocess={self.preprocess!r} must be a data.Preprocessing or None")
        object.__setattr__(self, "params", _freeze_params(self.params))
        object.__setattr__(self, "source_names", MappingProxyType(dict(self.source_names)))
        object.__setattr__(
            self, "metadata", MappingProxyType({str(k): str(v) for k, v in dict(self.metadata).items()})
        )
        if self.task not in ("classification", "reconstruction"):
            raise ValueError(f"task={self.task!r} must be 'classification' or 'reconstruction'")
        if not self.inputs:
            raise ModelError(f"network {self.name!r} has no inputs")
        shapes: dict[str, Shape] = {}
        producer: dict[str, str] = {}
        for spec in self.inputs:
            if not isinstance(spec, TensorSpec):
                raise TypeError(f"inputs must be TensorSpec objects, got {spec!r}")
            if spec.name in shapes:
                raise ModelError(f"network {self.name!r}: input {spec.name!r} declared twice")
            shapes[spec.name] = spec.shape
            producer[spec.name] = "<input>"
        names = set()
        for layer in self.layers:
            if not isinstance(layer, Layer):
                raise TypeError(f"layers must be Layer specs, got {layer!r}")
            if layer.name in names:
                raise ModelError(f"network {self.name!r}: two layers are named {layer.name!r}")
            names.add(layer.name)
            for t in layer.inputs:
                if t not in shapes:
                    raise ModelError(
                        f"layer {layer.name!r} reads tensor {t!r}, which no earlier layer or input "
                        "writes (layers must be in topological order)"
                    )
            in_shapes = tuple(shapes[t] for t in layer.inputs)
            self._check_params(layer, in_shapes)
            try:
                if isinstance(layer, Eltwise) and layer.constant_index is not None:
                    c = self.params[layer.name]["constant"]
                    if c.ndim > len(in_shapes[0]):
                        raise ValueError(
                            f"layer {layer.name!r}: constant of shape {c.shape} has more axes than the "
                            f"per-sample input {in_shapes[0]}"
                        )
                    outs = layer.output_shapes(in_shapes, constant_shape=c.shape)
                else:
                    outs = layer.output_shapes(in_shapes)
            except ValueError as exc:
                raise ModelError(f"network {self.name!r}: {exc}") from None
            for t, s in zip(layer.outputs, outs, strict=True):
                if t in shapes:
                    raise ModelError(
                        f"layer {layer.name!r} writes tensor {t!r}, already written by "
                        f"{producer[t]!r} (tensors are single-assignment)"
                    )
                shapes[t] = tuple(int(d) for d in s)
                producer[t] = layer.name
        for t in self.outputs:
            if t not in shapes:
                raise ModelError(f"network {self.name!r}: output {t!r} is not produced by any layer")
        extra = set(self.params) - names
        if extra:
            raise ModelError(f"network {self.name!r}: params for unknown layers {sorted(extra)}")
        object.__setattr__(self, "_shapes", MappingProxyType(shapes))
        object.__setattr__(self, "_producer", MappingProxyType(producer))
        object.__setattr__(self, "_by_name", MappingProxyType({layer.name: layer for layer in self.layers}))

    def _check_params(self, layer: Layer, in_shapes) -> None:
        group = self.params.get(layer.name, {})
        for p in layer.params_required():
            if p not in group:
                raise ModelError(f"layer {layer.name!r} ({layer.op_type}) has no {p!r} weights")
        allowed = set(layer.required_params) | set(layer.optional_params)
        for p in group:
            if p not in allowed:
                raise ModelError(f"layer {layer.name!r} ({layer.op_type}) has unexpected params {p!r}")
        expected = layer.param_shapes(in_shapes)
        if EXACT_BIAS in group and "bias" in expected:
            expected = {**expected, EXACT_BIAS: expected["bias"]}
        for p, shape in expected.items():
            if p not in group:
                raise ModelError(f"layer {layer.name!r} ({layer.op_type}) has no {p!r} weights")
            if tuple(group[p].shape) != tuple(shape):
                raise ModelError(
                    f"layer {layer.name!r} ({layer.op_type}): {p} has shape {group[p].shape}, "
                    f"expected {tuple(shape)}"
                )
        for p in group:
            if p not in expected and p != "constant" and not isinstance(layer, PRelu):
                raise ModelError(
                    f"layer {layer.name!r} ({layer.op_type}) has params {p!r} its spec does not declare"
                )
        if isinstance(layer, PRelu):
            try:
                np.broadcast_shapes(in_shapes[0], group["slope"].shape)
            except ValueError:
                raise ModelError(
                    f"layer {layer.name!r}: PRelu slope shape {group['slope'].shape} does not "
                    f"broadcast to the input {in_shapes[0]}"
                ) from None

    # ------------------------------------------------------------------ queries
    def shape(self, tensor: str) -> Shape:
        """Per-sample shape of a tensor (``KeyError`` naming it if unknown)."""
        try:
            return self._shapes[tensor]
        except KeyError:
            raise KeyError(f"network {self.name!r} has no tensor {tensor!r}") from None

    @property
    def tensor_shapes(self) -> Mapping[str, Shape]:
        """Per-sample shapes of every tensor, inputs included."""
        return self._shapes

    @property
    def input(self) -> TensorSpec:
        """The network's single input (``ModelError`` if it has several)."""
        if len(self.inputs) != 1:
            raise ModelError(f"network {self.name!r} has {len(self.inputs)} inputs")
        return self.inputs[0]

    def layer(self, name: str) -> Layer:
        """The layer called ``name`` (``KeyError`` listing a few names if unknown)."""
        try:
            return self._by_name[name]
        except KeyError:
            some = ", ".join(list(self._by_name)[:12])
            raise KeyError(f"network {self.name!r} has no layer {name!r} (layers: {some})") from None

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    @property
    def layer_names(self) -> tuple[str, ...]:
        return tuple(self._by_name)

    def producer(self, tensor: str) -> Layer | None:
        """The layer writing ``tensor`` (None for a network input)."""
        name = self._producer.get(tensor)
        if name is None:
            raise KeyError(f"network {self.name!r} has no tensor {tensor!r}")
        return None if name == "<input>" else self._by_name[name]

    def consumers(self, tensor: str) -> tuple[Layer, ...]:
        """The layers reading ``tensor``, in order."""
        return tuple(layer for layer in self.layers if tensor in layer.inputs)

    def input_shapes(self, layer: Layer | str) -> tuple[Shape, ...]:
        layer = self.layer(layer) if isinstance(layer, str) else layer
        return tuple(self._shapes[t] for t in layer.inputs)

    def macs(self, layer: Layer | str) -> int:
        """Multiply-accumulates per sample of one layer."""
        layer = self.layer(layer) if isinstance(layer, str) else layer
        return int(layer.macs(self.input_shapes(layer)))

    def param_count(self, layer: Layer | str) -> int:
        """Number of weight values (all params arrays but the exact copy of the bias) of one layer."""
        name = layer if isinstance(layer, str) else layer.name
        return int(sum(a.size for p, a in self.params.get(name, {}).items() if p != EXACT_BIAS))  # a copy of bias

    @property
    def total_macs(self) -> int:
        return sum(self.macs(layer) for layer in self.layers)

    @property
    def total_params(self) -> int:
        return sum(self.param_count(layer) for layer in self.layers)

    def summary(self) -> list[LayerInfo]:
        """One ``LayerInfo`` per layer, in order."""
        return [
            LayerInfo(
                layer.name,
                layer.op_type,
                self.input_shapes(layer),
                self._shapes[layer.output],
                self.macs(layer),
                self.param_count(layer),
            )
            for layer in self.layers
        ]

    def replace(self, **changes) -> Network:
        """A copy with some fields replaced (e.g. ``params=`` for fine-tuned weights); re-validated."""
        kw = {
            f: getattr(self, f)
            for f in (
                "name",
                "inputs",
                "layers",
                "outputs",
                "params",
                "preprocess",
                "source",
                "foldings",
                "source_names",
                "task",
                "metadata",
            )
        }
        kw["params"] = {k: dict(v) for k, v in self.params.items()}
        kw["metadata"] = dict(self.metadata)
        kw["source_names"] = dict(self.source_names)
        kw.update(changes)
        return Network(**kw)

    def __repr__(self) -> str:
        return (
            f"Network({self.name!r}, {len(self.layers)} layers, inputs="
            f"{[(i.name, i.shape) for i in self.inputs]}, outputs={list(self.outputs)})"
        )
