"""Caffe importer: prototxt (+ caffemodel) -> ``Network``, with Ristretto's quantization read alongside.

Pure Python: the prototxt is parsed by ``text``, the caffemodel decoded by ``wire``; neither Caffe
nor the protobuf package is needed. Both the current ``layer`` (field 100) and the V1 ``layers`` (field 2)
formats are read, in the prototxt and in the caffemodel; blobs may carry a ``shape`` or the legacy
num/channels/height/width.

What each Caffe layer becomes (the layer specs of ``graph.layers`` encode Caffe's rules):

* ``Convolution``/``ConvolutionRistretto`` -> ``Conv``; ``Deconvolution``/``DeconvolutionRistretto`` ->
  ``ConvTranspose``; ``InnerProduct``/``FcRistretto`` -> ``Dense`` (``transpose: true`` weights are
  transposed);
* ``Pooling`` MAX/AVE -> ``Pool`` in Caffe's ceil mode (``round_mode: FLOOR``, BVLC Caffe's later field: floor
  mode), AVE dividing by the window clipped to the padded input; ``global_pooling`` -> a global pool;
  STOCHASTIC pooling is an error;
* ``ReLU`` -> ``Activation`` (relu, or leaky_relu with ``negative_slope``); ``Sigmoid``, ``TanH`` likewise;
* ``LRN``/``LRNRistretto`` -> ``LRN`` (ACROSS_CHANNELS, or WITHIN_CHANNEL with Caffe's ``k = 1``);
* ``Concat``, ``Eltwise`` (PROD/SUM with coefficients/MAX), ``Flatten``, ``Softmax`` -> the same-named specs;
* ``BatchNorm`` -> ``Scale`` with ``1/sqrt(var/f + eps)`` and ``-mean/f`` scaled, ``f`` the third blob (the
  moving average factor; 0 counts as 1/0 = 0 as in Caffe); ``Scale`` -> ``Scale``; ``Bias`` (a learned
  per-channel bias) -> ``Scale`` with unit weights; ``Power`` with ``power: 1`` (``shift + scale * x``) ->
  ``Scale`` with constant vectors (other powers are an error);
* ``PReLU`` -> ``PRelu`` (per channel, or one slope with ``channel_shared``); ``Reshape`` -> ``Reshape`` (``0``
  copies a dimension, ``-1`` is inferred, ``axis``/``num_axes`` select the replaced range; the batch axis must
  stay);
* ``Split`` and ``Dropout`` (identity at inference) alias their top to their bottom; no layer is emitted;
* ``Data``/``Input``/``MemoryData``/``ImageData``/legacy ``input:`` fields -> network inputs;
  ``transform_param`` (scale, mean_value, mean_file, crop_size, mirror) -> ``Network.preprocess``; the ``label``
  top is dropped; the phase's data layer (its source, backend and batch size) -> ``CaffeModel.data_source``
  (``data_sources`` gives both phases' without building the nets);
* ``Accuracy`` and loss layers (``SoftmaxWithLoss``, ``EuclideanLoss``, ...) and ``Silence`` are heads, not
  layers: the tensors they score become network outputs and are listed in ``CaffeModel.heads``.

Layers are selected by ``include``/``exclude`` rules against the phase (TEST by default), level and stages, as
``Net::FilterNet`` does. In-place layers (``top == bottom``) are put in single-assignment form: the in-place
layer writes a new tensor named after the layer, ``Network.source_names`` maps it back to the blob name, and
``CaffeModel.inplace`` lists every in-place write in order (Ristretto's range statistics read blobs after the
whole forward pass, so they see the last in-place writer).

Ristretto layer types carry a ``quantization_param`` that is read into ``CaffeModel.quantization``
(``quantization``); on any other layer type it is ignored, as Ristretto's Caffe ignores it. Every error is a
``ModelError`` naming the file, the layer and, for a prototxt, the line.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np

from ristretto_sim.data.caffe_source import PHASES, DataSource
from ristretto_sim.data.preprocess import Preprocessing
from ristretto_sim.errors import ModelError
from ristretto_sim.graph.layers import (
    LRN,
    Activation,
    Concat,
    Conv,
    ConvTranspose,
    Dense,
    Eltwise,
    Flatten,
    Layer,
    LRNRegion,
    Pool,
    PRelu,
    Reshape,
    Scale,
    Softmax,
)
from ristretto_sim.graph.network import Network, TensorSpec
from ristretto_sim.io.caffe.quantization import RistrettoQuant, read_quantization
from ristretto_sim.io.caffe.schema import V1_TYPE_NAMES, Message
from ristretto_sim.io.caffe.text import TextFormatError, parse_text
from ristretto_sim.io.caffe.wire import WireError, decode_message, decode_net

CONV_TYPES = ("Convolution", "ConvolutionRistretto")
DECONV_TYPES = ("Deconvolution", "DeconvolutionRistretto")
FC_TYPES = ("InnerProduct", "FcRistretto")
LRN_TYPES = ("LRN", "LRNRistretto")
RISTRETTO_TYPES = ("ConvolutionRistretto", "FcRistretto", "LRNRistretto", "DeconvolutionRistretto")
INPUT_TYPES = ("Data", "Input", "MemoryData", "ImageData", "DummyData", "HDF5Data", "WindowData")
HEAD_TYPES = ("Accuracy", "SoftmaxWithLoss", "EuclideanLoss", "SigmoidCrossEntropyLoss", "HingeLoss",
              "MultinomialLogisticLoss", "InfogainLoss", "ContrastiveLoss", "Silence")
ALIAS_TYPES = ("Split", "Dropout")

#: the most zero weights a structure-only import (no caffemodel) makes for one blob: 2**28 float32 values (1 GiB),
#: over twice VGG-16's fc6, so a mistyped num_output fails instead of allocating terabytes
MAX_ZERO_BLOB = 1 << 28

#: per-sample input shapes of Caffe's example data sources, used when a Data layer gives no shape
SOURCE_HINTS = (("mnist", (1, 28, 28)), ("cifar", (3, 32, 32)))


@dataclass(frozen=True)
class InPlace:
    """One in-place write of a Caffe blob: ``layer`` (of Caffe type ``op``) read tensor ``before`` and wrote
    ``after``, both holding blob ``blob`` of the prototxt. For a layer dropped at import (Dropout at TEST),
    ``after == before``; ``ratio`` is Dropout's ``dropout_ratio`` (TRAIN scales by 1/(1-ratio))."""

    layer: str
    blob: str
    before: str
    after: str
    op: str
    ratio: float | None = None


@dataclass(frozen=True)
class Head:
    """An Accuracy or loss layer of the prototxt: it scores tensor ``tensor`` (a network output);
    ``top_k`` for Accuracy (1 otherwise)."""

    layer: str
    op: str
    tensor: str
    top_k: int = 1


@dataclass(frozen=True)
class CaffeModel:
    """What the Caffe importer returns.

    Parameters
    ----------
    network : Network
        The imported network (single-assignment form).
    quantization : mapping
        ``{layer_name: RistrettoQuant}`` for each Ristretto layer (``quantization``), in network order.
    inplace : tuple of InPlace
        Every in-place write in the prototxt, in execution order.
    aliases : mapping
        ``{blob_name: tensor_name}`` for tops of Split/Dropout layers that alias another tensor.
    heads : tuple of Head
        Accuracy/loss layers and the tensors they score.
    phase : str
        ``"TEST"`` or ``"TRAIN"``, the phase the layers were selected for.
    weights_loaded : bool
        False when built with ``structure_only=True`` (all weights zero).
    data_source : DataSource or None
        The phase's data layer (``Data``, ``ImageData``, ...): its source, backend and batch size; None for
        ``Input`` layers and ``input:`` fields.
    """

    network: Network
    quantization: Mapping[str, RistrettoQuant] = field(default_factory=dict)
    inplace: tuple[InPlace, ...] = ()
    aliases: Mapping[str, str] = field(default_factory=dict)
    heads: tuple[Head, ...] = ()
    phase: str = "TEST"
    weights_loaded: bool = True
    data_source: DataSource | None = None

    def __post_init__(self):
        if not isinstance(self.network, Network):
            raise TypeError(f"network={self.network!r} must be a Network")
        object.__setattr__(self, "quantization", MappingProxyType(dict(self.quantization)))
        object.__setattr__(self, "aliases", MappingProxyType(dict(self.aliases)))
        object.__setattr__(self, "inplace", tuple(self.inplace))
        object.__setattr__(self, "heads", tuple(self.heads))
        if self.phase not in ("TEST", "TRAIN"):
            raise ValueError(f"phase={self.phase!r} must be 'TEST' or 'TRAIN'")
        if self.data_source is not None and not isinstance(self.data_source, DataSource):
            raise TypeError(f"data_source={self.data_source!r} must be a DataSource or None")

    def quant_plan(self, mode: str = "ristretto"):
        """The Ristretto layers' formats as a ``QuantPlan`` (default mode ``ristretto``, as the file meant).

        One entry per Ristretto layer with its inputs, weights, bias and outputs formats and its rounding;
        LRNRistretto's entry also has ``internal`` (its minifloat, ``Minifloat(exp_bits, mant_bits,
        subnormals=False, specials="none")``), which makes the runners compute it with Ristretto's strict minifloat
        LRN (``emulator.ristretto_lrn``); an LRNRistretto over WITHIN_CHANNEL is a ``PlanError`` (Ristretto is
        FATAL there). Layers without ``quantization_param`` stay float, as in Ristretto.
        """
        from ristretto_sim.graph.plan import LayerPlan, QuantPlan

        layers = {}
        for name, q in self.quantization.items():
            layers[name] = LayerPlan(**q.formats(), rounding=q.rounding)
        plan = QuantPlan(layers, mode=mode)
        plan.check(self.network, source=self.network.source)
        return plan


# ---------------------------------------------------------------------------------------------- reading files
def read_prototxt(path) -> Message:
    """Parse a ``.prototxt`` file into a ``NetParameter`` message (``ModelError`` naming file and line)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the Caffe network ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise ModelError(f"{path}: not a text prototxt (binary data; is it a .caffemodel?)") from exc
    if any(ord(c) < 32 and c not in "\t\n\r\f\v" for c in text[:4096]):
        raise ModelError(f"{path}: not a text prototxt (binary data; is it a .caffemodel?)")
    try:
        return parse_text(text, "NetParameter")
    except TextFormatError as exc:
        raise ModelError(f"{path}: {exc}") from exc


def read_caffemodel(path) -> Message:
    """Decode a binary ``.caffemodel`` into a ``NetParameter`` message (``ModelError`` naming the file)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the Caffe weights ({exc.strerror or exc})") from exc
    try:
        net = decode_net(data)
    except WireError as exc:
        raise ModelError(f"{path}: not a binary Caffe NetParameter ({exc})") from exc
    if not net.all("layer") and not net.all("layers"):
        raise ModelError(f"{path}: the caffemodel holds no layers")
    return net


def read_mean_file(path) -> np.ndarray:
    """Read a Caffe ``mean.binaryproto`` (a ``BlobProto``) as a ``(C, H, W)`` float32 image."""
    path = Path(path)
    try:
        blob = decode_message(path.read_bytes(), "BlobProto")
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the mean file ({exc.strerror or exc})") from None
    except WireError as exc:
        raise ModelError(f"{path}: not a binary BlobProto mean file ({exc})") from None
    arr = blob_array(blob, f"mean file {path}")
    if arr.ndim == 4 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 3:
        raise ModelError(f"{path}: mean image has shape {arr.shape}, expected (1, C, H, W) or (C, H, W)")
    return arr.astype(np.float32)


def blob_shape(blob: Message) -> tuple[int, ...]:
    """Shape of a ``BlobProto``: its ``shape`` field, else the legacy (num, channels, height, width)."""
    if blob.has("shape"):
        return tuple(int(d) for d in blob.sub("shape").all("dim"))
    legacy = tuple(int(blob.get(k)) for k in ("num", "channels", "height", "width"))
    return legacy if any(legacy) else ()


def blob_array(blob: Message, what: str) -> np.ndarray:
    """A ``BlobProto``'s values as an array of its declared shape (float32 ``data`` or float64 "
      "``double_data``)."""
    data = blob.array("double_data") if blob.has("double_data") else blob.array("data")
    shape = blob_shape(blob)
    count = math.prod(shape) if shape else data.size
    if data.size != count:
        raise ModelError(f"{what}: blob declares shape {shape} ({count} values) but holds {data.size}")
    return data.reshape(shape) if shape else data


# ---------------------------------------------------------------------------------------------- layer records
@dataclass
class _Layer:
    """A prototxt layer, normalised across the V1 and current formats."""

    name: str
    type: str
    bottoms: list[str]
    tops: list[str]
    msg: Message
    line: int


def _normalise(msg: Message, v1: bool, index: int) -> _Layer:
    if v1:
        raw = msg.get("type", "NONE")
        typ = V1_TYPE_NAMES.get(raw, raw) if isinstance(raw, str) else str(raw)
    else:
        typ = msg.get("type", "")
    name = msg.get("name") or f"{typ or 'layer'}_{index}"
    return _Layer(name, typ, msg.all("bottom"), msg.all("top"), msg, msg.line)


def _rule_matches(rule: Message, phase: str, level: int, stages: Sequence[str]) -> bool:
    if rule.has("phase") and rule.get("phase") != phase:
        return False
    if rule.has("min_level") and level < rule.get("min_level"):
        return False
    if rule.has("max_level") and level > rule.get("max_level"):
        return False
    if any(s not in stages for s in rule.all("stage")):
        return False
    return not any(s in stages for s in rule.all("not_stage"))


def _included(layer: _Layer, phase: str, level: int, stages: Sequence[str]) -> bool:
    """``Net::StateMeetsRule`` logic: include rules (any must match) or exclude rules (none may match)."""
    include, exclude = layer.msg.all("include"), layer.msg.all("exclude")
    if include:
        return any(_rule_matches(r, phase, level, stages) for r in include)
    return not any(_rule_matches(r, phase, level, stages) for r in exclude)


def _net_layers(net: Message) -> list[_Layer]:
    if net.all("layer") and net.all("layers"):
        raise ValueError("the file mixes the current 'layer' and the V1 'layers' formats")
    v1 = not net.all("layer")
    return [_normalise(m, v1, i) for i, m in enumerate(net.all("layers") if v1 else net.all("layer"))]


_SOURCE_PARAMS = ("data_param", "image_data_param", "memory_data_param", "window_data_param")


def _data_source(layer: _Layer, phase: str, path: Path) -> DataSource:
    """The ``DataSource`` of a data layer (not ``Input``): source, backend (``Data`` only), batch size."""
    msg = layer.msg
    source, batch = "", None
    for sub in _SOURCE_PARAMS:
        p = msg.sub(sub)
        if p.has("batch_size") and batch is None:
            batch = int(p.get("batch_size"))
        if p.has("source") and not source:
            source = str(p.get("source"))
    backend = str(msg.sub("data_param").get("backend")) if layer.type == "Data" else None
    return DataSource(phase, layer.name, layer.type, source, backend, batch or None, str(path))


def data_sources(prototxt, *, level: int = 0, stages: Sequence[str] = ()) -> dict[str, DataSource]:
    """``{"TRAIN": DataSource, "TEST": DataSource}``: each phase's first data layer (``Data``, ``ImageData``,
    ...; not ``Input``), selected by the same ``include``/``exclude`` rules as the importer, without building
    the nets. Phases without one are left out."""
    path = Path(os.fspath(prototxt))
    net = read_prototxt(path)
    try:
        layers = _net_layers(net)
    except ValueError as exc:
        raise ModelError(f"{path}: {exc}") from None
    found = {}
    for phase in PHASES:
        for layer in layers:
            if layer.type in INPUT_TYPES and layer.type != "Input" and _included(layer, phase, level, stages):
                found[phase] = _data_source(layer, phase, path)
                break
    return found


# ---------------------------------------------------------------------------------------------- the importer
_HANDLERS: dict[str, Callable[[_Importer, _Layer], None]] = {}


def caffe_handler(*types: str):
    """Register the decorated ``_Importer`` method as the handler of the Caffe layer ``types``: it turns one such
    layer into layer specs (``emit``), network inputs, aliases or heads."""

    def register(method):
        for t in types:
            if t in _HANDLERS:
                raise RuntimeError(f"Caffe layer type {t!r} has two handlers: {_HANDLERS[t].__name__} and "
                                   f"{method.__name__}")
            _HANDLERS[t] = method
        return method

    return register


class _Importer:
    def __init__(self, path: Path, net: Message, weights: Message | None, weights_path: Path | None, *,
                 phase: str, level: int, stages: Sequence[str], input_shape, structure_only: bool):
        self.path = path
        self.net = net
        self.weights_path = weights_path
        self.phase = phase
        self.level = level
        self.stages = tuple(stages)
        self.input_shape = input_shape
        self.structure_only = structure_only
        self.blobs: dict[str, Message] = {}
        if weights is not None:
            try:
                for layer in _net_layers(weights):
                    if layer.msg.all("blobs"):
                        self.blobs.setdefault(layer.name, layer.msg)
            except ValueError as exc:
                raise ModelError(f"{weights_path}: {exc}") from None
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.current: dict[str, str] = {}  # blob name -> current tensor name
        self.inputs: list[TensorSpec] = []
        self.layers: list[Layer] = []
        self.params: dict[str, dict[str, np.ndarray]] = {}
        self.source_names: dict[str, str] = {}
        self.inplace: list[InPlace] = []
        self.aliases: dict[str, str] = {}
        self.heads: list[Head] = []
        self.quant: dict[str, RistrettoQuant] = {}
        self.preprocess: Preprocessing | None = None
        self.data_source: DataSource | None = None
        self.consumed: set[str] = set()
        self.label_blobs: set[str] = set()
        self.all_blob_names: set[str] = set()
        self.used_tensor_names: set[str] = set()

    # ---------------------------------------------------------------- helpers
    def err(self, layer: _Layer | None, msg: str) -> ModelError:
        if layer is None:
            return ModelError(f"{self.path}: {msg}")
        where = f", line {layer.line}" if layer.line else ""
        return ModelError(f"{self.path}: layer {layer.name!r} ({layer.type}{where}): {msg}")

    def tensor(self, layer: _Layer, blob: str) -> str:
        if blob in self.label_blobs:
            raise self.err(layer,
                           f"reads {blob!r}, the label top of a data layer; only Accuracy and loss layers "
                                  "may read labels")
        if blob not in self.current:
            raise self.err(layer,
                           f"bottom {blob!r} is not produced by any earlier layer in phase {self.phase}")
        return self.current[blob]

    def new_tensor(self, layer: _Layer, blob: str) -> str:
        """The tensor name for ``layer`` writing ``blob`` (a fresh name when ``blob`` already exists)."""
        if blob not in self.current:
            name = blob
        else:
            name = layer.name
            if name in self.all_blob_names or name in self.used_tensor_names:
                name = f"{blob}/{layer.name}"
            k = 2
            base = name
            while name in self.used_tensor_names:
                name = f"{base}#{k}"
                k += 1
            self.source_names[name] = blob
        self.used_tensor_names.add(name)
        return name

    def layer_blobs(self, layer: _Layer, count: tuple[int, int]) -> list[np.ndarray]:
        """The layer's weight blobs from the caffemodel (or the prototxt), checked for count."""
        src = self.blobs.get(layer.name)
        msgs = src.all("blobs") if src is not None else layer.msg.all("blobs")
        if not msgs:
            if self.structure_only:
                return []
            where = f"in {self.weights_path}" if self.weights_path else "(no caffemodel given)"
            raise self.err(layer, f"has no trained weights {where}; pass the matching .caffemodel")
        lo, hi = count
        if not lo <= len(msgs) <= hi:
            where = f" in {self.weights_path}" if src is not None else ""
            raise self.err(layer, f"has {len(msgs)} weight blobs{where}, expected {lo}"
                                  + (f"..{hi}" if hi != lo else ""))
        return [blob_array(b, f"{self.weights_path or self.path}: layer {layer.name!r} blob {i}")
                for i, b in enumerate(msgs)]

    def fit(self, layer: _Layer, arr: np.ndarray | None, shape: tuple[int, ...], what: str) -> np.ndarray:
        if arr is None:
            if math.prod(shape) > MAX_ZERO_BLOB:  # the prototxt alone declares the size: no file bounds it
                raise self.err(layer, f"{what} blob of shape {shape} would hold {math.prod(shape):,} values; a "
                                      f"structure-only import allocates at most {MAX_ZERO_BLOB:,} per blob")
            return np.zeros(shape, dtype=np.float32)
        if arr.size != math.prod(shape):
            where = f" in {self.weights_path}" if self.blobs.get(layer.name) is not None else ""
            raise self.err(layer, f"{what} blob{where} has shape {arr.shape} ({arr.size} values), expected {shape}")
        return np.asarray(arr, dtype=np.float32).reshape(shape)

    def emit(self, layer: _Layer, spec_cls, params: dict | None = None, **kw) -> None:
        if len(layer.tops) != 1:
            raise self.err(layer, f"has {len(layer.tops)} tops; this layer type takes exactly one")
        bottoms = [self.tensor(layer, b) for b in layer.bottoms]
        top = layer.tops[0]
        out = self.new_tensor(layer, top)
        try:
            spec = spec_cls(name=layer.name, inputs=tuple(bottoms), outputs=(out,), **kw)
            in_shapes = tuple(self.shapes[t] for t in bottoms)
            (shape,) = spec.output_shapes(in_shapes)
        except (ValueError, TypeError) as exc:
            raise self.err(layer, str(exc)) from None
        if top in layer.bottoms:
            self.inplace.append(InPlace(layer.name, top, self.current[top], out, layer.type))
        self.layers.append(spec)
        if params:
            self.params[layer.name] = params
        self.shapes[out] = tuple(int(d) for d in shape)
        self.current[top] = out
        self.consumed.update(bottoms)

    def in_shape(self, layer: _Layer, index: int = 0) -> tuple[int, ...]:
        if index >= len(layer.bottoms):
            raise self.err(layer, f"needs at least {index + 1} bottom(s)")
        return self.shapes[self.tensor(layer, layer.bottoms[index])]

    # ---------------------------------------------------------------- inputs
    def add_input(self, layer: _Layer | None, blob: str, shape: tuple[int, ...]) -> None:
        if blob in self.current:
            raise self.err(layer, f"input blob {blob!r} is defined twice")
        if len(shape) < 1 or any(int(d) < 1 for d in shape):
            raise self.err(layer, f"input {blob!r} has an invalid per-sample shape {shape}")
        self.inputs.append(TensorSpec(blob, tuple(int(d) for d in shape)))
        self.shapes[blob] = tuple(int(d) for d in shape)
        self.current[blob] = blob
        self.used_tensor_names.add(blob)

    @caffe_handler(*INPUT_TYPES)
    def data_layer(self, layer: _Layer) -> None:
        msg = layer.msg
        if not layer.tops:
            raise self.err(layer, "data layer has no top")
        if layer.type == "Input":
            shapes = [tuple(int(d) for d in s.all("dim")) for s in msg.sub("input_param").all("shape")]
            if len(shapes) not in (1, len(layer.tops)):
                raise self.err(layer, f"{len(shapes)} shapes for {len(layer.tops)} tops")
            for i, top in enumerate(layer.tops):
                s = shapes[0] if len(shapes) == 1 else shapes[i]
                if len(s) < 2:
                    raise self.err(layer, f"input shape {s} lacks the batch axis")
                self.add_input(layer, top, s[1:])
            return
        tp = msg.sub("transform_param")
        dp = msg.sub("data_param")
        scale = tp.get("scale") if tp.has("scale") else dp.get("scale")
        crop = tp.get("crop_size") if tp.has("crop_size") else dp.get("crop_size")
        mirror = bool(tp.get("mirror") if tp.has("mirror") else dp.get("mirror"))
        mean = tuple(float(v) for v in tp.all("mean_value"))
        mean_file = tp.get("mean_file") if tp.has("mean_file") else dp.get("mean_file")
        mean_image = None
        if mean_file:
            if mean:
                raise self.err(layer, "transform_param sets both mean_file and mean_value (Caffe forbids it)")
            mean_image = read_mean_file(self.resolve(layer, mean_file))
        try:
            self.preprocess = Preprocessing(scale=scale, mean=mean, mean_image=mean_image, crop_size=crop,
                                            mirror=mirror)
        except ValueError as exc:
            raise self.err(layer, f"transform_param: {exc}") from None
        shape = self.data_shape(layer, mean_image, crop, mean)
        try:
            per_sample = self.preprocess.output_shape(shape)
        except ValueError as exc:
            raise self.err(layer, str(exc)) from None
        self.add_input(layer, layer.tops[0], per_sample)
        for top in layer.tops[1:]:
            self.label_blobs.add(top)
        if self.data_source is None:
            self.data_source = _data_source(layer, self.phase, self.path)

    def resolve(self, layer: _Layer, name: str) -> Path:
        p = Path(name)
        candidates = [p] if p.is_absolute() else [self.path.parent / p, Path.cwd() / p]
        for c in candidates:
            if c.is_file():
                return c
        raise self.err(layer, f"mean_file {name!r} not found (looked in {', '.join(map(str, candidates))})")

    def data_shape(self, layer: _Layer, mean_image, crop: int, mean: tuple[float, ...]) -> tuple[int, ...]:
        """Raw (uncropped) per-sample shape of a Data-like layer's images."""
        if self.input_shape is not None:
            shape = tuple(int(d) for d in self.input_shape)
            if crop and self.preprocess is not None and len(shape) == 3 and shape[1:] == (crop, crop):
                return shape  # the user gave the cropped shape; treat it as the raw size (no-op crop)
            return shape
        if mean_image is not None:
            return mean_image.shape
        md = layer.msg.sub("memory_data_param")
        if layer.type == "MemoryData" and md.has("channels"):
            return (md.get("channels"), md.get("height"), md.get("width"))
        im = layer.msg.sub("image_data_param")
        if layer.type == "ImageData" and im.get("new_height", 0) and im.get("new_width", 0):
            return (3 if im.get("is_color", True) else 1, im.get("new_height"), im.get("new_width"))
        msg = layer.msg
        source = msg.sub("data_param").get("source") or msg.sub("image_data_param").get("source") or ""
        for key, shape in SOURCE_HINTS:
            if key in source.lower() and (not crop or crop <= shape[1]):
                return shape
        if crop:
            channels = len(mean) if len(mean) > 1 else self.first_conv_channels(layer)
            if channels:
                return (channels, crop, crop)
        raise self.err(layer, "the data layer does not say its image size; pass input_shape=(C, H, W)")

    def first_conv_channels(self, data_layer: _Layer) -> int | None:
        for layer in self.all_layers:
            if layer.type in CONV_TYPES and data_layer.tops[0] in layer.bottoms:
                src = self.blobs.get(layer.name)
                if src is not None and src.all("blobs"):
                    shape = blob_shape(src.all("blobs")[0])
                    group = layer.msg.sub("convolution_param").get("group")
                    if len(shape) == 4:
                        return shape[1] * group
        return None

    def legacy_inputs(self) -> None:
        names = self.net.all("input")
        if not names:
            return
        shapes = [tuple(int(d) for d in s.all("dim")) for s in self.net.all("input_shape")]
        dims = self.net.all("input_dim")
        if not shapes and dims:
            if len(dims) != 4 * len(names):
                raise self.err(None, f"{len(dims)} input_dim values for {len(names)} inputs (need 4 each)")
            shapes = [tuple(dims[4 * i:4 * i + 4]) for i in range(len(names))]
        if len(shapes) != len(names):
            if self.input_shape is None:
                raise self.err(None,
                               f"inputs {names} have no input_shape/input_dim; pass input_shape=(C, H, W)")
            shapes = [(1, *self.input_shape)] * len(names)
        for name, s in zip(names, shapes, strict=True):
            self.add_input(None, name, s[1:])

    # ---------------------------------------------------------------- layer kinds
    @caffe_handler(*CONV_TYPES)
    def convolution(self, layer: _Layer) -> None:
        self.conv(layer, transpose=False)

    @caffe_handler(*DECONV_TYPES)
    def deconvolution(self, layer: _Layer) -> None:
        self.conv(layer, transpose=True)

    def conv(self, layer: _Layer, transpose: bool) -> None:
        p = layer.msg.sub("convolution_param")
        if p.get("axis") != 1:
            raise self.err(layer, f"convolution axis {p.get('axis')} is not supported (only 1)")
        c = self.in_shape(layer)
        if len(c) != 3:
            raise self.err(layer, f"expects a (C, H, W) input, got {c}")

        def pair(name, h, w, default):
            vals = p.all(name)
            if p.has(h) or p.has(w):
                return (int(p.get(h, default)), int(p.get(w, default)))
            if not vals:
                return (default, default)
            if len(vals) == 1:
                return (int(vals[0]), int(vals[0]))
            if len(vals) == 2:
                return (int(vals[0]), int(vals[1]))
            raise self.err(layer, f"{name} has {len(vals)} values; only 2-D convolution is supported")

        kernel = pair("kernel_size", "kernel_h", "kernel_w", 0)
        if min(kernel) < 1:
            raise self.err(layer, "kernel_size (or kernel_h/kernel_w) is required")
        stride = pair("stride", "stride_h", "stride_w", 1)
        pad = pair("pad", "pad_h", "pad_w", 0)
        dil = p.all("dilation")
        dilation = (1, 1) if not dil else ((dil[0], dil[0]) if len(dil) == 1 else (dil[0], dil[1]))
        group = int(p.get("group"))
        num_output = p.get("num_output")
        if not num_output:
            raise self.err(layer, "num_output is required")
        bias = bool(p.get("bias_term"))
        blobs = self.layer_blobs(layer, (1 + bias, 1 + bias))
        cin = c[0]
        if transpose:
            wshape = (cin, num_output // group, *kernel)
        else:
            wshape = (num_output, cin // max(group, 1), *kernel)
        params = {"weight": self.fit(layer, blobs[0] if blobs else None, wshape, "weight")}
        if bias:
            params["bias"] = self.fit(layer, blobs[1] if blobs else None, (num_output,), "bias")
        common = dict(in_channels=cin, out_channels=num_output, kernel=kernel, stride=stride,
                      pads=(pad[0], pad[1], pad[0], pad[1]), dilation=dilation, groups=group, bias=bias)
        self.emit(layer, ConvTranspose if transpose else Conv, params, **common)

    @caffe_handler(*FC_TYPES)
    def inner_product(self, layer: _Layer) -> None:
        p = layer.msg.sub("inner_product_param")
        if p.get("axis") != 1:
            raise self.err(layer, f"InnerProduct axis {p.get('axis')} is not supported (only 1)")
        n_in = math.prod(self.in_shape(layer))
        n_out = p.get("num_output")
        if not n_out:
            raise self.err(layer, "num_output is required")
        bias = bool(p.get("bias_term"))
        blobs = self.layer_blobs(layer, (1 + bias, 1 + bias))
        if p.get("transpose"):
            w = self.fit(layer, blobs[0] if blobs else None, (n_in, n_out), "weight").T.copy()
        else:
            w = self.fit(layer, blobs[0] if blobs else None, (n_out, n_in), "weight")
        params = {"weight": w}
        if bias:
            params["bias"] = self.fit(layer, blobs[1] if blobs else None, (n_out,), "bias")
        self.emit(layer, Dense, params, in_features=n_in, out_features=n_out, bias=bias)

    @caffe_handler("Pooling")
    def pooling(self, layer: _Layer) -> None:
        p = layer.msg.sub("pooling_param")
        kind = p.get("pool")
        if kind not in ("MAX", "AVE"):
            raise self.err(layer, f"pool: {kind} is not supported (MAX, AVE)")
        shape = self.in_shape(layer)
        if p.get("global_pooling"):
            if p.get("pad") or p.get("pad_h") or p.get("pad_w") or p.get("stride") != 1:
                raise self.err(layer, "global_pooling requires pad 0 and stride 1 (Caffe's check)")
            self.emit(layer, Pool, kind="max" if kind == "MAX" else "avg", global_pool=True,
                      ceil_mode=True, count_include_pad=True)
            return
        if p.has("kernel_h") or p.has("kernel_w"):
            kernel = (p.get("kernel_h", 0), p.get("kernel_w", 0))
        else:
            kernel = (p.get("kernel_size", 0),) * 2
        if min(kernel) < 1:
            raise self.err(layer, "kernel_size (or kernel_h and kernel_w) is required")
        stride = (p.get("stride_h"), p.get("stride_w")) if p.has("stride_h") or p.has("stride_w") \
            else (p.get("stride"),) * 2
        pad = (p.get("pad_h"), p.get("pad_w")) if p.has("pad_h") or p.has("pad_w") else (p.get("pad"),) * 2
        if pad[0] >= kernel[0] or pad[1] >= kernel[1]:
            raise self.err(layer, f"pad {pad} must be smaller than the kernel {kernel} (Caffe's check)")
        if len(shape) != 3:
            raise self.err(layer, f"expects a (C, H, W) input, got {shape}")
        self.emit(layer, Pool, kind="max" if kind == "MAX" else "avg", kernel=kernel, stride=stride,
                  pads=(pad[0], pad[1], pad[0], pad[1]), ceil_mode=p.get("round_mode") != "FLOOR",
                  count_include_pad=True)

    @caffe_handler(*LRN_TYPES)
    def lrn(self, layer: _Layer) -> None:
        p = layer.msg.sub("lrn_param")
        size = int(p.get("local_size"))
        if size % 2 == 0:
            raise self.err(layer, f"local_size {size} must be odd (Caffe's check)")
        region = p.get("norm_region")
        k = float(p.get("k"))
        if region == "WITHIN_CHANNEL":
            k = 1.0  # Caffe's WITHIN_CHANNEL path (power layer shift 1) ignores k
        self.emit(layer, LRN, size=size, alpha=float(p.get("alpha")), beta=float(p.get("beta")), k=k,
                  region=LRNRegion(region.lower()))

    def axis(self, layer: _Layer, axis: int, rank: int) -> int:
        a = axis + rank if axis < 0 else axis
        if not 1 <= a < rank:
            raise self.err(layer,
                           f"axis {axis} is not supported for a rank-{rank} blob (the batch axis is 0)")
        return a

    @caffe_handler("BatchNorm")
    def batch_norm(self, layer: _Layer) -> None:
        p = layer.msg.sub("batch_norm_param")
        if p.has("use_global_stats") and not p.get("use_global_stats") and self.phase == "TEST":
            raise self.err(layer, "use_global_stats: false normalises with batch statistics, which inference "
                                  "cannot reproduce")
        shape = self.in_shape(layer)
        c = shape[0]
        blobs = self.layer_blobs(layer, (3, 3))
        if blobs:
            mean = self.fit(layer, blobs[0], (c,), "mean").astype(np.float64)
            var = self.fit(layer, blobs[1], (c,), "variance").astype(np.float64)
            factor = float(np.asarray(blobs[2]).ravel()[0]) if np.asarray(blobs[2]).size else 0.0
            inv = 0.0 if factor == 0 else 1.0 / factor
            w = 1.0 / np.sqrt(var * inv + float(p.get("eps")))
            b = -mean * inv * w
        else:
            w, b = np.ones(c), np.zeros(c)
        self.emit(layer, Scale, {"weight": w.astype(np.float32), "bias": b.astype(np.float32)},
                  channels=c, axis=1, bias=True)

    @caffe_handler("Scale")
    def scale(self, layer: _Layer) -> None:
        p = layer.msg.sub("scale_param")
        if len(layer.bottoms) != 1:
            raise self.err(layer, "Scale with the factor as a second bottom is not supported")
        shape = self.in_shape(layer)
        if p.get("axis") != 1 or p.get("num_axes") != 1:
            raise self.err(layer, "only Scale over the channel axis (axis 1, num_axes 1) is supported")
        c = shape[0]
        bias = bool(p.get("bias_term"))
        blobs = self.layer_blobs(layer, (1 + bias, 1 + bias))
        params = {"weight": self.fit(layer, blobs[0] if blobs else None, (c,), "scale")}
        if bias:
            params["bias"] = self.fit(layer, blobs[1] if blobs else None, (c,), "bias")
        self.emit(layer, Scale, params, channels=c, axis=1, bias=bias)

    @caffe_handler("Bias")
    def bias(self, layer: _Layer) -> None:
        p = layer.msg.sub("bias_param")
        if len(layer.bottoms) != 1:
            raise self.err(layer, "Bias with the bias as a second bottom is not supported")
        if p.get("axis") != 1 or p.get("num_axes") != 1:
            raise self.err(layer, "only Bias over the channel axis (axis 1, num_axes 1) is supported")
        c = self.in_shape(layer)[0]
        blobs = self.layer_blobs(layer, (1, 1))
        b = self.fit(layer, blobs[0] if blobs else None, (c,), "bias")
        self.emit(layer, Scale, {"weight": np.ones(c, dtype=np.float32), "bias": b}, channels=c, axis=1, bias=True)

    @caffe_handler("Power")
    def power(self, layer: _Layer) -> None:
        p = layer.msg.sub("power_param")
        power, scale, shift = float(p.get("power")), float(p.get("scale")), float(p.get("shift"))
        if power != 1.0:
            raise self.err(layer, f"power: {power:g} is not supported (only power: 1, the affine shift + scale * x)")
        c = self.in_shape(layer)[0]
        self.emit(layer, Scale, {"weight": np.full(c, scale, dtype=np.float32),
                                 "bias": np.full(c, shift, dtype=np.float32)}, channels=c, axis=1, bias=True)

    @caffe_handler("PReLU")
    def prelu(self, layer: _Layer) -> None:
        shape = self.in_shape(layer)
        shared = bool(layer.msg.sub("prelu_param").get("channel_shared"))
        c = 1 if shared else shape[0]
        blobs = self.layer_blobs(layer, (1, 1))
        slope = self.fit(layer, blobs[0] if blobs else None, (c,), "slope")
        if not shared:  # one slope per channel (axis 1), broadcast over the spatial axes
            slope = slope.reshape((c,) + (1,) * (len(shape) - 1))
        self.emit(layer, PRelu, {"slope": slope})

    @caffe_handler("Reshape")
    def reshape(self, layer: _Layer) -> None:
        p = layer.msg.sub("reshape_param")
        per_sample = self.in_shape(layer)
        full = ("N",) + tuple(per_sample)  # "N": the batch size
        rank = len(full)
        dims = [int(d) for d in p.sub("shape").all("dim")]
        axis, num_axes = int(p.get("axis")), int(p.get("num_axes"))
        start = axis + rank + 1 if axis < 0 else axis
        end = rank if num_axes == -1 else start + num_axes
        if not 0 <= start <= end <= rank:
            raise self.err(layer, f"axis {axis} / num_axes {num_axes} do not fit a rank-{rank} blob")
        new = []
        for i, d in enumerate(dims):
            if d == 0:
                if start + i >= end:
                    raise self.err(layer, f"dim {i} is 0 (copy) but the input has no axis {start + i} to copy")
                new.append(full[start + i])
            elif d >= -1:
                new.append(d)
            else:
                raise self.err(layer, f"dim {d} is invalid (give a size, 0 to copy or -1 to infer)")
        out = list(full[:start]) + new + list(full[end:])
        total = math.prod(per_sample)
        if out.count(-1) > 1:
            raise self.err(layer, "only one dim may be -1")
        if not out or out[0] not in ("N", -1) or "N" in out[1:]:
            raise self.err(layer, f"reshape to {tuple(out)} must keep the batch axis first (dim 0: 0)")
        rest = out[1:]
        if out[0] == -1:  # the batch inferred: the per-sample size must stay the same
            if math.prod(rest) != total:
                raise self.err(layer, f"reshape to {tuple(out)} would change the batch size ({total} values per "
                                      f"sample, {math.prod(rest)} asked)")
        elif -1 in rest:
            known = math.prod(d for d in rest if d != -1)
            if known == 0 or total % known:
                raise self.err(layer, f"cannot infer -1: {total} values per sample do not split into {rest}")
            rest[rest.index(-1)] = total // known
        self.emit(layer, Reshape, shape=tuple(rest))

    @caffe_handler(*ALIAS_TYPES)
    def alias(self, layer: _Layer) -> None:
        if len(layer.bottoms) != 1:
            raise self.err(layer, f"takes one bottom, got {layer.bottoms}")
        src = self.tensor(layer, layer.bottoms[0])
        if layer.type == "Dropout" and len(layer.tops) != 1:
            raise self.err(layer, f"takes one top, got {layer.tops}")
        for top in layer.tops:
            if top == layer.bottoms[0]:
                dropout = layer.type == "Dropout"
                ratio = float(layer.msg.sub("dropout_param").get("dropout_ratio")) if dropout else None
                self.inplace.append(InPlace(layer.name, top, src, src, layer.type, ratio))
            else:
                if top in self.current:
                    raise self.err(layer, f"top {top!r} overwrites another blob (only in-place writes may)")
                self.current[top] = src
                self.aliases[top] = src
        self.consumed.add(src)

    @caffe_handler(*HEAD_TYPES)
    def head(self, layer: _Layer) -> None:
        if layer.type == "Silence":
            for b in layer.bottoms:
                self.consumed.add(self.tensor(layer, b))
            return
        if not layer.bottoms:
            raise self.err(layer, "has no bottom")
        scored = self.tensor(layer, layer.bottoms[0])
        top_k = int(layer.msg.sub("accuracy_param").get("top_k")) if layer.type == "Accuracy" else 1
        self.heads.append(Head(layer.name, layer.type, scored, top_k))

    @caffe_handler("ReLU")
    def relu(self, layer: _Layer) -> None:
        slope = float(layer.msg.sub("relu_param").get("negative_slope"))
        if slope:
            self.emit(layer, Activation, kind="leaky_relu", alpha=slope)
        else:
            self.emit(layer, Activation, kind="relu")

    @caffe_handler("Sigmoid", "TanH")
    def sigmoid_tanh(self, layer: _Layer) -> None:
        self.emit(layer, Activation, kind="sigmoid" if layer.type == "Sigmoid" else "tanh")

    @caffe_handler("Concat")
    def concat(self, layer: _Layer) -> None:
        p = layer.msg.sub("concat_param")
        ax = p.get("axis") if p.has("axis") or not p.has("concat_dim") else p.get("concat_dim")
        self.emit(layer, Concat, axis=self.axis(layer, ax, len(self.in_shape(layer)) + 1))

    @caffe_handler("Eltwise")
    def eltwise(self, layer: _Layer) -> None:
        p = layer.msg.sub("eltwise_param")
        op = {"PROD": "mul", "SUM": "add", "MAX": "max"}[p.get("operation")]
        coeffs = p.all("coeff") or None
        if coeffs is not None and op != "add":
            raise self.err(layer, "coeff is only allowed with operation SUM")
        if coeffs is not None and len(coeffs) != len(layer.bottoms):
            raise self.err(layer, f"{len(coeffs)} coeff values for {len(layer.bottoms)} bottoms")
        self.emit(layer, Eltwise, op=op, coeffs=tuple(coeffs) if coeffs else None)

    @caffe_handler("Flatten")
    def flatten(self, layer: _Layer) -> None:
        p = layer.msg.sub("flatten_param")
        rank = len(self.in_shape(layer)) + 1
        a, e = self.axis(layer, p.get("axis"), rank), p.get("end_axis")
        e = e + rank if e < 0 else e
        if e == rank - 1:
            self.emit(layer, Flatten, axis=a)
        else:
            s = self.in_shape(layer)
            new = s[:a - 1] + (math.prod(s[a - 1:e]),) + s[e:]
            self.emit(layer, Reshape, shape=new)

    @caffe_handler("Softmax")
    def softmax(self, layer: _Layer) -> None:
        p = layer.msg.sub("softmax_param")
        rank = len(self.in_shape(layer)) + 1
        self.emit(layer, Softmax, axis=self.axis(layer, p.get("axis"), rank), flatten=False)

    # ---------------------------------------------------------------- main loop
    def run(self) -> CaffeModel:
        try:
            self.all_layers = [lay for lay in _net_layers(self.net)
                               if _included(lay, self.phase, self.level, self.stages)]
        except ValueError as exc:
            raise self.err(None, str(exc)) from None
        for lay in self.all_layers:
            self.all_blob_names.update(lay.tops)
            self.all_blob_names.update(lay.bottoms)
        names = [lay.name for lay in self.all_layers]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise self.err(None, f"layer names {sorted(dup)} are used twice in phase {self.phase}")
        self.legacy_inputs()
        for layer in self.all_layers:
            t = layer.type
            handler = _HANDLERS.get(t)
            if handler is None:
                raise self.err(layer, f"layer type {t!r} is not supported; supported: "
                                      f"{', '.join(SUPPORTED_TYPES)}")
            handler(self, layer)
            if t in RISTRETTO_TYPES:
                try:
                    self.quant[layer.name] = read_quantization(layer.msg.sub("quantization_param"), t)
                except ValueError as exc:
                    raise self.err(layer, f"quantization_param: {exc}") from None
        if not self.inputs:
            raise self.err(None, "the network has no input (no Data/Input layer and no 'input:' field)")
        produced = [t for layer in self.layers for t in layer.outputs]
        outputs = [h.tensor for h in self.heads if h.op != "Silence"]
        outputs += [t for t in produced if t not in self.consumed and t in self.current.values()]
        outputs = list(dict.fromkeys(o for o in outputs if o not in {i.name for i in self.inputs}))
        if not outputs:
            raise self.err(None, "the network has no output")
        try:
            network = Network(name=self.net.get("name") or self.path.stem, inputs=tuple(self.inputs),
                              layers=tuple(self.layers), outputs=tuple(outputs), params=self.params,
                              preprocess=self.preprocess, source=str(self.path),
                              source_names=self.source_names)
        except ModelError as exc:
            raise ModelError(f"{self.path}: {exc}") from None
        return CaffeModel(network, self.quant, tuple(self.inplace), self.aliases, tuple(self.heads),
                          self.phase, weights_loaded=not self.structure_only, data_source=self.data_source)


SUPPORTED_TYPES = tuple(sorted(_HANDLERS))
"""The Caffe layer types the importer reads (each has a handler registered with ``caffe_handler``)."""


def load_caffe_model(prototxt, weights=None, *, phase: str = "TEST", level: int = 0,
                     stages: Sequence[str] = (),
                     input_shape: Sequence[int] | None = None, structure_only: bool = False) -> CaffeModel:
    """Import a Caffe network (prototxt + caffemodel) with its Ristretto quantization and in-place records.

    Parameters
    ----------
    prototxt : str or os.PathLike
        The network description (text ``NetParameter``; train_val, test or deploy form).
    weights : str or os.PathLike, optional
        The trained ``.caffemodel`` (binary ``NetParameter``; weights are matched to layers by name, as
        Caffe's ``CopyTrainedLayersFrom`` does). Required unless ``structure_only``.
    phase : {"TEST", "TRAIN"}
        Which layers to keep (``include``/``exclude`` rules).
    level : int
        Net state level for ``min_level``/``max_level`` rules.
    stages : sequence of str
        Net state stages for ``stage``/``not_stage`` rules.
    input_shape : sequence of int, optional
        Per-sample ``(C, H, W)`` of the raw images for a Data layer that does not state it (LMDB sources);
        default: a ``crop_size``, the mean file, or the MNIST/CIFAR example sources.
    structure_only : bool
        Build the network with zero weights when there is no caffemodel (shapes, MACs and quantization only;
        ``CaffeModel.weights_loaded`` is then False). Never use its outputs as results.

    Returns
    -------
    CaffeModel

    Raises
    ------
    ModelError
        Unreadable or malformed files, unsupported layers, missing weights or inconsistent shapes; the message
        names the file and the layer.
    """
    return load_caffe_phases(prototxt, weights, phases=(phase,), level=level, stages=stages,
                             input_shape=input_shape, structure_only=structure_only)[str(phase).upper()]


def load_caffe_phases(prototxt, weights=None, *, phases: Sequence[str] = PHASES, level: int = 0,
                      stages: Sequence[str] = (), input_shape: Sequence[int] | None = None,
                      structure_only: bool = False) -> dict[str, CaffeModel]:
    """``{phase: CaffeModel}``: the network of each of ``phases`` (``"TEST"``, ``"TRAIN"``), reading the prototxt
    and the caffemodel once (the other parameters as for ``load_caffe_model``)."""
    phases = tuple(str(p).upper() for p in phases)
    for phase in phases:
        if phase not in ("TEST", "TRAIN"):
            raise ValueError(f"phase={phase!r} must be 'TEST' or 'TRAIN'")
    if isinstance(stages, str):
        raise TypeError("stages must be a sequence of stage names, not one string")
    if input_shape is not None:
        input_shape = tuple(int(d) for d in input_shape)
        if len(input_shape) != 3 or min(input_shape) < 1:
            raise ValueError(f"input_shape={input_shape!r} must be a positive (C, H, W)")
    path = Path(os.fspath(prototxt))
    net = read_prototxt(path)
    wpath = None if weights is None else Path(os.fspath(weights))
    wnet = None if wpath is None else read_caffemodel(wpath)
    return {phase: _Importer(path, net, wnet, wpath, phase=phase, level=int(level), stages=stages,
                             input_shape=input_shape, structure_only=structure_only).run()
            for phase in dict.fromkeys(phases)}


def load_caffe(prototxt, weights=None, **kwargs) -> Network:
    """Import a Caffe network as a ``Network`` (see ``load_caffe_model`` for the parameters)."""
    return load_caffe_model(prototxt, weights, **kwargs).network
