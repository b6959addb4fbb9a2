"""Datapaths: one object per layer arithmetic, the single description the emulator, the cost model and the RTL
read (``base``: the protocol and its hooks; ``registry``: names and the choice from a layer's formats).

Registered, in the order the registry asks them: ``fixed`` (fixed-point MAC), ``shift`` (shift-and-add, power-of-two
weights), ``minifloat-kulisch`` (exact Kulisch accumulation), ``minifloat-float`` (a declared float accumulator),
``affine`` (TFLite's int8 arithmetic: affine codes, int32 accumulator, Q31 requantization) and, in Ristretto
mode, ``ristretto-float32``.

Adding a PE kind: one module here with a ``Datapath`` subclass (``name``, ``matches``, ``prepare_weights``,
``accumulate``, ``accumulator_for``, ``units``), decorated ``@register``, imported below; its RTL generator; and
its tests (``tests/emulator/datapaths``: the registry test then checks that it is emulated, costed and
describable by a PE).
"""

from ristretto_sim.emulator.datapaths import affine, fixed, minifloat, ristretto, shift  # noqa: F401 - registration
from ristretto_sim.emulator.datapaths.base import (
    AccumulatorContents,
    ArithmeticUnit,
    Datapath,
    Keys,
    Prepared,
)
from ristretto_sim.emulator.datapaths.layer_formats import LayerFormats, Mode
from ristretto_sim.emulator.datapaths.operation import LayerKind, LayerOp
from ristretto_sim.emulator.datapaths.registry import datapath_class, names, register, select
from ristretto_sim.emulator.datapaths.results import LayerResult, LayerStats

__all__ = [
    "AccumulatorContents",
    "ArithmeticUnit",
    "Datapath",
    "Keys",
    "LayerFormats",
    "LayerKind",
    "LayerOp",
    "LayerResult",
    "LayerStats",
    "Mode",
    "Prepared",
    "datapath_class",
    "names",
    "register",
    "select",
]
