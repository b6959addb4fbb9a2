"""What the Caffe importer returns beside the network: in-place writes, heads (Accuracy and loss layers), and
``CaffeModel``, which holds them with the network, its Ristretto quantization and its data layer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ristretto_sim.data.caffe_source import DataSource
from ristretto_sim.graph.network import Network
from ristretto_sim.io.caffe.quantization import RistrettoQuant


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

