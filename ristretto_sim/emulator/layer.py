"""Layer-level entry points: float tensors and a set of formats in; output values and per-layer statistics
out.

This is what the network executor (``runtime.executor``) calls for a Conv / ConvTranspose / Gemm (fully connected)
layer.
``emulate_layer`` checks the operands, lets the registry choose the layer's datapath from its
:class:`LayerFormats` (:func:`~ristretto_sim.emulator.datapaths.select`: fixed-point MAC, shift-and-add,
minifloat with a Kulisch or a float accumulator; Ristretto's float32 in ``Mode.RISTRETTO``) and runs it,
returning a :class:`LayerResult` (output values on the output format's grid, as float64, plus
:class:`LayerStats`). :class:`PreparedLayer` keeps what does not depend on the input for many batches.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ristretto_sim.emulator.datapaths import (
    Keys,
    LayerFormats,
    LayerKind,
    LayerOp,
    LayerResult,
    LayerStats,
    Mode,
    select,
)
from ristretto_sim.emulator.datapaths.operation import as_float
from ristretto_sim.emulator.datapaths.ristretto import RistrettoFloat32
from ristretto_sim.emulator.im2col import ConvGeometry
from ristretto_sim.emulator.shift_pe import ShiftPE
from ristretto_sim.formats import Rounding

__all__ = [
    "LayerFormats",
    "LayerKind",
    "LayerResult",
    "LayerStats",
    "Mode",
    "PreparedLayer",
    "datapath_of",
    "emulate_conv2d",
    "emulate_conv_transpose2d",
    "emulate_layer",
    "emulate_linear",
]


def datapath_of(formats: LayerFormats, mode=Mode.EXACT, *, cpu_compat: bool = False, shift_pe: ShiftPE | None = None):
    """The datapath of a layer: ``select(formats, mode)``, with Ristretto mode's CPU quirks or an explicit
    barrel shifter (``shift_pe``, overriding ``formats.shifter_bits``) applied."""
    if not isinstance(formats, LayerFormats):
        raise TypeError(f"formats={formats!r} must be a LayerFormats")
    mode = Mode.coerce(mode, "mode")
    if shift_pe is not None:
        if not isinstance(shift_pe, ShiftPE):
            raise TypeError(f"shift_pe={shift_pe!r} must be a ShiftPE")
        formats = replace(formats, shifter_bits=shift_pe.shifter_bits)
    if mode is Mode.RISTRETTO:
        return RistrettoFloat32(formats, cpu_compat=cpu_compat)
    return select(formats, mode)


def emulate_layer(
    kind,
    x,
    weights,
    bias,
    formats: LayerFormats,
    geometry: ConvGeometry | None = None,
    *,
    mode=Mode.EXACT,
    rng=None,
    cpu_compat: bool = False,
    shift_pe: ShiftPE | None = None,
) -> LayerResult:
    """Emulate one Conv / ConvTranspose / fully connected layer.

    Parameters
    ----------
    kind : LayerKind or str
        ``"linear"``, ``"conv2d"`` or ``"conv_transpose2d"``.
    x : array_like of float
        Input: ``(N, in_features)`` (or ``(..., in_features)``) for linear layers, NCHW for convolutions.
    weights : array_like of float
        ``(out_features, in_features)``; OIHW; ``(C_in, C_out/groups, kh, kw)`` for transposed convolutions.
    bias : array_like of float or None
        One value per output channel.
    formats : LayerFormats
    geometry : ConvGeometry, optional
        Convolutions only (default: stride 1, no padding).
    mode : Mode or str
        ``"exact"`` (hardware integers) or ``"ristretto"`` (the original tool's float32 simulation).
    rng : int, StochasticKey or numpy Generator, optional
        Seed for stochastic rounding (required when ``formats.rounding`` is stochastic).
    cpu_compat : bool
        Ristretto mode only: reproduce Ristretto's CPU quirks.
    shift_pe : ShiftPE, optional
        Shift-and-add datapaths: the barrel shifter (default: ``formats.shifter_bits``, lossless when None).

    Returns
    -------
    LayerResult
    """
    kind = LayerKind.coerce(kind, "kind")
    mode = Mode.coerce(mode, "mode")
    if not isinstance(formats, LayerFormats):
        raise TypeError(f"formats={formats!r} must be a LayerFormats")
    x = as_float(x, "x")
    w = as_float(weights, "weights")
    b = None if bias is None else as_float(bias, "bias")
    op = LayerOp.of(kind, w, geometry)
    op.check_shapes(x, w, b)
    return datapath_of(formats, mode, cpu_compat=cpu_compat, shift_pe=shift_pe).emulate(op, x, w, b, rng)


def emulate_linear(x, weights, bias, formats: LayerFormats, **options) -> LayerResult:
    """Emulate a fully connected layer, ``y = x @ weights.T + bias``; ``options`` as :func:`emulate_layer`."""
    return emulate_layer(LayerKind.LINEAR, x, weights, bias, formats, **options)


def emulate_conv2d(
    x, weights, bias, formats: LayerFormats, geometry: ConvGeometry | None = None, **options
) -> LayerResult:
    """Emulate a 2-D convolution, NCHW x OIHW; ``options`` as :func:`emulate_layer`."""
    return emulate_layer(LayerKind.CONV2D, x, weights, bias, formats, geometry, **options)


def emulate_conv_transpose2d(
    x, weights, bias, formats: LayerFormats, geometry: ConvGeometry | None = None, **options
) -> LayerResult:
    """Emulate a 2-D transposed convolution, weights ``(C_in, C_out/groups, kh, kw)``."""
    return emulate_layer(LayerKind.CONV_TRANSPOSE2D, x, weights, bias, formats, geometry, **options)


class PreparedLayer:
    """One Conv / ConvTranspose / fully connected layer ready to run on many batches: what does not depend on
    the input (encoded weights, bias preload, the fast exact path's scaled weight matrix) is computed once, by
    the layer's datapath (``Datapath.prepare``).

    ``PreparedLayer(kind, weights, bias, formats, geometry=None, mode="exact")(x)`` returns the same
    :class:`LayerResult` as ``emulate_layer(kind, x, weights, bias, formats, geometry, mode=mode)``. With
    stochastic rounding the keys depend on each call's seed, so the weights are prepared per call.

    Errors in the layer's description (formats, shapes, geometry) are raised here, when the layer is prepared,
    as ``emulate_layer`` would raise them; an error that needs the input (its shape) is raised per call.

    Parameters
    ----------
    kind, weights, bias, formats, geometry, mode, cpu_compat
        As :func:`emulate_layer`.
    """

    def __init__(self, kind, weights, bias, formats: LayerFormats, geometry: ConvGeometry | None = None, *,
                 mode=Mode.EXACT, cpu_compat: bool = False):
        self.kind = LayerKind.coerce(kind, "kind")
        self.mode = Mode.coerce(mode, "mode")
        self.formats = formats
        self.datapath = datapath_of(formats, self.mode, cpu_compat=cpu_compat)
        self.weights = as_float(weights, "weights")
        self.bias = None if bias is None else as_float(bias, "bias")
        self.op = LayerOp.of(self.kind, self.weights, geometry)
        self._prepared = None
        if formats.rounding is not Rounding.STOCHASTIC:
            self._prepared = self.datapath.prepare(self.op, self.weights, self.bias)

    def __call__(self, x, *, rng=None, codes: bool = True, float32_values: bool = False,
                 accumulator: bool = False) -> LayerResult:
        """Run the layer on batch ``x``.

        Parameters
        ----------
        x : array_like of float
            As :func:`emulate_layer`.
        rng : optional
            Seed for stochastic rounding.
        codes : bool
            Return the output codes (False: ``LayerResult.codes`` is None, saving a pass).
        float32_values : bool
            Allow ``values`` as float32 when every value is exactly a float32 (the fast path with output codes of
            at most 24 bits); they are float64 otherwise.
        accumulator : bool
            Also return the accumulator's contents before the readout (``LayerResult.accumulator``).
        """
        arr = np.asarray(x)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"x must be real numbers, got dtype {arr.dtype}")
        if arr.dtype not in (np.float32, np.float64):
            arr = arr.astype(np.float64)
        self.op.check_shapes(arr, self.weights, self.bias)
        if self._prepared is None:
            keys = Keys.of(rng, self.formats.rounding)
            prepared = self.datapath.prepare(self.op, self.weights, self.bias, keys)
            return self.datapath.run(prepared, arr, keys, codes=codes, accumulator=accumulator)
        return self.datapath.run(self._prepared, arr, codes=codes, float32_values=float32_values,
                                 accumulator=accumulator)
