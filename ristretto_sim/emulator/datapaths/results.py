"""What an emulated layer returns: its output (:class:`LayerResult`) and its statistics (:class:`LayerStats`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ristretto_sim.emulator.datapaths.layer_formats import Mode


@dataclass(frozen=True)
class LayerStats:
    """Per-layer statistics of one emulated forward pass (counts are over the whole batch).

    Attributes
    ----------
    mode : Mode
    datapath : str
        The registered datapath's name: ``fixed``, ``shift``, ``minifloat-kulisch``, ``minifloat-float`` or
        ``ristretto-float32``.
    accumulator : str
        Text form of the accumulator format actually used (``"float32"`` in Ristretto mode).
    outputs : int
        Number of output values.
    macs : int
        Number of products (outputs x K; for transposed convolutions, inputs x kernel taps x output channels
        per group).
    accumulator_overflows : int
        WRAP: outputs whose exact sum left the accumulator range; SATURATE: outputs clipped at least once.
    output_saturations : int
        Outputs beyond the output format's range (clamped; minifloat formats may overflow to Inf/NaN instead).
    input_saturations, weight_saturations, bias_saturations : int
        Values outside the range of their format (``|x| > max`` or ``x < min``); the bias count also includes
        bias values clamped when preloaded into the accumulator.
    nan_outputs, inf_outputs : int
        Minifloat datapaths: outputs that read out NaN / infinite.
    """

    mode: Mode
    datapath: str
    accumulator: str
    outputs: int
    macs: int
    accumulator_overflows: int = 0
    output_saturations: int = 0
    input_saturations: int = 0
    weight_saturations: int = 0
    bias_saturations: int = 0
    nan_outputs: int = 0
    inf_outputs: int = 0

    def as_dict(self) -> dict:
        """JSON-able dict (enums as their string values)."""
        d = asdict(self)
        d["mode"] = self.mode.value
        return d


@dataclass(frozen=True, eq=False)
class LayerResult:
    """Output of one emulated layer.

    Attributes
    ----------
    values : ndarray of float64
        Output values, on the output format's grid (the accumulator's, when there is no output format); NCHW
        for convolutions, ``(N, out_features)`` for linear layers.
    stats : LayerStats
    codes : ndarray of int, optional
        Exact mode with an output format: the output codes (fixed point: int64 codes; minifloat: unsigned bit
        patterns), else None.
    accumulator : optional
        Exact integer datapaths, when asked for (``accumulator=True``): the accumulator's contents before the
        readout, an :class:`~ristretto_sim.emulator.datapaths.base.AccumulatorContents` (integer codes, int64 or
        ``WideInt``, with their per-channel fraction). None otherwise.
    """

    values: np.ndarray
    stats: LayerStats
    codes: np.ndarray | None = None
    accumulator: object | None = None
