"""Ristretto's statistics pass: the per-layer maxima that fix every fractional length (reference §1.4).

``collect_statistics`` runs the network in float on the calibration images, ``batch_size`` at a time, and after
each *complete* forward pass records, for every Conv/ConvTranspose/Dense layer, running maxima of ``max|x|``
over its first input (``max_in``), its output (``max_out``) and ``max|w|`` over its weights (``max_params``;
the bias is ignored).

With ``inplace`` writes (``CaffeModel.inplace`` of the TRAIN-phase net), the blobs are read as Caffe reads them
after the whole pass: a layer's output blob holds the value of its **last in-place writer** (a conv followed by an
in-place ReLU reports the post-ReLU maximum), and an in-place TRAIN-phase Dropout multiplies its blob by
``mask / (1 - ratio)`` (seeded), which the following layers also see. Without ``inplace`` every layer reports its
own tensors (the clean statistics used by ``exact`` mode).

``integer_lengths`` applies the rules: inputs and outputs ``ceil(log2 max)``, weights ``ceil(log2 max + 1)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from ristretto_sim.errors import DataError
from ristretto_sim.formats import ristretto_integer_length
from ristretto_sim.graph.layers import WEIGHTED
from ristretto_sim.graph.network import Network
from ristretto_sim.runtime.executor import Executor, check_input


@dataclass(frozen=True)
class LayerRange:
    """The maxima of one weighted layer over the calibration images.

    Attributes
    ----------
    name : str
    max_in, max_out, max_params : float
        ``max|x|`` of the first input, of the output, and ``max|w|`` of the weights.
    """

    name: str
    max_in: float
    max_out: float
    max_params: float

    def __post_init__(self):
        for k in ("max_in", "max_out", "max_params"):
            v = float(getattr(self, k))
            if not v >= 0:
                raise ValueError(f"layer {self.name!r}: {k}={v!r} must be >= 0")
            object.__setattr__(self, k, v)

    def integer_lengths(self) -> tuple[int, int, int]:
        """``(il_in, il_out, il_params)`` by Ristretto's rules (``ValueError`` naming the layer for a zero max)."""
        out = []
        for k, weights in (("max_in", False), ("max_out", False), ("max_params", True)):
            v = getattr(self, k)
            if not v > 0:
                raise ValueError(f"layer {self.name!r}: {k} is 0 on the calibration data, so Ristretto's integer "
                                 "length is undefined (the original produced garbage); use other calibration data")
            out.append(ristretto_integer_length(v, weights=weights))
        return tuple(out)


@dataclass(frozen=True)
class RangeStatistics:
    """Every weighted layer's ``LayerRange``, in network order, and how they were collected.

    Attributes
    ----------
    layers : mapping of str to LayerRange
    images : int
        Calibration images read.
    batch_size : int
        Images per forward pass.
    inplace_quirks : bool
        Blobs read after the whole pass (in-place ReLU/Dropout included), as Ristretto's HEAD did.
    """

    layers: Mapping[str, LayerRange] = field(default_factory=dict)
    images: int = 0
    batch_size: int = 1
    inplace_quirks: bool = False

    def __post_init__(self):
        object.__setattr__(self, "layers", MappingProxyType(dict(self.layers)))

    def __getitem__(self, name: str) -> LayerRange:
        try:
            return self.layers[name]
        except KeyError:
            raise ValueError(f"layer {name!r} has no range statistics (layers: {', '.join(self.layers)}); "
                             "a conv/fc layer missing from the TRAIN-phase net crashed the original tool") from None

    def integer_lengths(self) -> dict[str, tuple[int, int, int]]:
        """``{layer: (il_in, il_out, il_params)}``."""
        return {name: r.integer_lengths() for name, r in self.layers.items()}

    def as_dict(self) -> dict:
        return {name: {"max_in": r.max_in, "max_out": r.max_out, "max_params": r.max_params}
                for name, r in self.layers.items()}


def _final(tensor: str, inplace: Sequence) -> str:
    """The tensor holding ``tensor``'s blob after its last in-place writer."""
    moved = True
    while moved:
        moved = False
        for w in inplace:
            if w.before == tensor and w.after != tensor:
                tensor, moved = w.after, True
                break
    return tensor


def collect_statistics(
    network: Network,
    x,
    *,
    batch_size: int = 64,
    inplace: Sequence = (),
    seed: int = 0,
) -> RangeStatistics:
    """Run the statistics pass.

    Parameters
    ----------
    network : Network
        The net to run (for Caffe models in ``ristretto`` mode: the TRAIN-phase import).
    x : array_like
        Calibration images after preprocessing, in file order.
    batch_size : int
        Images per forward pass (Caffe: the TRAIN batch size).
    inplace : sequence of io.caffe.importer.InPlace
        In-place writes to honour (module docstring); empty for the clean statistics.
    seed : int
        Seed of the TRAIN-phase Dropout masks.

    Raises
    ------
    DataError
        If there are no calibration images.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r} must be a positive integer")
    x = check_input(network, x)
    if len(x) == 0:
        raise DataError("the statistics pass got no calibration images")
    rng = np.random.default_rng(seed)
    dropout = {w.after: float(w.ratio) for w in inplace if w.op == "Dropout" and w.ratio is not None}
    weighted = [layer for layer in network.layers if isinstance(layer, WEIGHTED)]
    reads = {}
    for layer in weighted:
        reads[layer.name] = (_final(layer.inputs[0], inplace), _final(layer.output, inplace))
    wanted = {t for pair in reads.values() for t in pair}
    maxima = {layer.name: [0.0, 0.0] for layer in weighted}

    def train_dropout(layer, out):
        ratio = dropout.get(layer.output)
        if ratio:
            keep = rng.random(out.shape) >= ratio
            out = (out * keep * np.float32(1.0 / (1.0 - ratio))).astype(np.float32)
        return out

    executor = Executor(network, batch_size=batch_size)
    for lo in range(0, len(x), batch_size):
        res = executor.run(x[lo:lo + batch_size], record=False, keep=wanted,
                           transform=train_dropout if dropout else None)
        env = {**res.tensors, **res.outputs}
        for name, (tin, tout) in reads.items():
            maxima[name][0] = max(maxima[name][0], float(np.max(np.abs(env[tin]))))
            maxima[name][1] = max(maxima[name][1], float(np.max(np.abs(env[tout]))))
    layers = {}
    for layer in weighted:
        w = network.params[layer.name]["weight"]
        layers[layer.name] = LayerRange(layer.name, maxima[layer.name][0], maxima[layer.name][1],
                                        float(np.max(np.abs(w))))
    return RangeStatistics(layers, int(len(x)), batch_size, bool(inplace))
