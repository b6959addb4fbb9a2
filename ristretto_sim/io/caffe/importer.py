"""Caffe importer: prototxt (+ caffemodel) -> ``Network``, with Ristretto's quantization read alongside.

Pure Python: the prototxt is parsed by ``text``, the caffemodel decoded by ``wire``; neither Caffe
nor the protobuf package is needed. Both the current ``layer`` (field 100) and the V1 ``layers`` (field 2)
formats are read, in the prototxt and in the caffemodel; blobs may carry a ``shape`` or the legacy
num/channels/height/width. This module holds the importer's state and main loop (``CaffeImporter``) and the
load functions; the files are read by ``files``, the layers selected by ``net_layers``, and each layer type turned
into specs by its handler in ``handlers``.

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
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ristretto_sim.data.caffe_source import PHASES, DataSource
from ristretto_sim.data.preprocess import Preprocessing
from ristretto_sim.errors import ModelError
from ristretto_sim.graph.layers import Layer
from ristretto_sim.graph.network import Network, TensorSpec
from ristretto_sim.io.caffe.files import blob_array, read_caffemodel, read_prototxt
from ristretto_sim.io.caffe.handlers import HANDLERS, LayerHandlers
from ristretto_sim.io.caffe.layer_types import MAX_ZERO_BLOB, RISTRETTO_TYPES
from ristretto_sim.io.caffe.net_layers import NetLayer, data_sources, included, net_layers
from ristretto_sim.io.caffe.quantization import RistrettoQuant, read_quantization
from ristretto_sim.io.caffe.records import CaffeModel, Head, InPlace
from ristretto_sim.io.caffe.schema import Message


class CaffeImporter(LayerHandlers):
    """One prototxt (+ caffemodel) imported for one phase: the state the handlers fill and the main loop."""

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
                for layer in net_layers(weights):
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
    def err(self, layer: NetLayer | None, msg: str) -> ModelError:
        if layer is None:
            return ModelError(f"{self.path}: {msg}")
        where = f", line {layer.line}" if layer.line else ""
        return ModelError(f"{self.path}: layer {layer.name!r} ({layer.type}{where}): {msg}")

    def tensor(self, layer: NetLayer, blob: str) -> str:
        if blob in self.label_blobs:
            raise self.err(layer,
                           f"reads {blob!r}, the label top of a data layer; only Accuracy and loss layers "
                                  "may read labels")
        if blob not in self.current:
            raise self.err(layer,
                           f"bottom {blob!r} is not produced by any earlier layer in phase {self.phase}")
        return self.current[blob]

    def new_tensor(self, layer: NetLayer, blob: str) -> str:
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

    def layer_blobs(self, layer: NetLayer, count: tuple[int, int]) -> list[np.ndarray]:
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

    def fit(self, layer: NetLayer, arr: np.ndarray | None, shape: tuple[int, ...], what: str) -> np.ndarray:
        if arr is None:
            if math.prod(shape) > MAX_ZERO_BLOB:  # the prototxt alone declares the size: no file bounds it
                raise self.err(layer, f"{what} blob of shape {shape} would hold {math.prod(shape):,} values; a "
                                      f"structure-only import allocates at most {MAX_ZERO_BLOB:,} per blob")
            return np.zeros(shape, dtype=np.float32)
        if arr.size != math.prod(shape):
            where = f" in {self.weights_path}" if self.blobs.get(layer.name) is not None else ""
            raise self.err(layer, f"{what} blob{where} has shape {arr.shape} ({arr.size} values), expected {shape}")
        return np.asarray(arr, dtype=np.float32).reshape(shape)

    def emit(self, layer: NetLayer, spec_cls, params: dict | None = None, **kw) -> None:
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

    def in_shape(self, layer: NetLayer, index: int = 0) -> tuple[int, ...]:
        if index >= len(layer.bottoms):
            raise self.err(layer, f"needs at least {index + 1} bottom(s)")
        return self.shapes[self.tensor(layer, layer.bottoms[index])]

    # ---------------------------------------------------------------- inputs
    def add_input(self, layer: NetLayer | None, blob: str, shape: tuple[int, ...]) -> None:
        if blob in self.current:
            raise self.err(layer, f"input blob {blob!r} is defined twice")
        if len(shape) < 1 or any(int(d) < 1 for d in shape):
            raise self.err(layer, f"input {blob!r} has an invalid per-sample shape {shape}")
        self.inputs.append(TensorSpec(blob, tuple(int(d) for d in shape)))
        self.shapes[blob] = tuple(int(d) for d in shape)
        self.current[blob] = blob
        self.used_tensor_names.add(blob)

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

    # ---------------------------------------------------------------- main loop
    def run(self) -> CaffeModel:
        try:
            self.all_layers = [lay for lay in net_layers(self.net)
                               if included(lay, self.phase, self.level, self.stages)]
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
            handler = HANDLERS.get(t)
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


SUPPORTED_TYPES = tuple(sorted(HANDLERS))
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
    return {phase: CaffeImporter(path, net, wnet, wpath, phase=phase, level=int(level), stages=stages,
                             input_shape=input_shape, structure_only=structure_only).run()
            for phase in dict.fromkeys(phases)}


def load_caffe(prototxt, weights=None, **kwargs) -> Network:
    """Import a Caffe network as a ``Network`` (see ``load_caffe_model`` for the parameters)."""
    return load_caffe_model(prototxt, weights, **kwargs).network



__all__ = ["SUPPORTED_TYPES", "CaffeImporter", "CaffeModel", "Head", "InPlace", "data_sources", "load_caffe",
           "load_caffe_model", "load_caffe_phases"]
