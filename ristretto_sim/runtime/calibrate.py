"""Building a first ``QuantPlan`` from observed ranges: dynamic fixed point for every weighted layer.

``dynamic_fixed_point_plan(network, x_calib, bits=8)`` runs the network in float on calibration data and gives
every Conv/ConvTranspose/Dense layer fixed-point inputs, weights and outputs of ``bits`` bits with fractional
lengths from the observed maxima (Ristretto's rules, ``reference/ristretto.md`` section 1.4: activations
``ceil(log2 max)`` integer bits, weights ``ceil(log2 max + 1)``), and an accumulator (and bias) whose fraction
is ``in.frac + w.frac``: ``acc_bits`` wide, or (``acc_bits=None``) the width that cannot overflow, the emulator's
rule ``emulator.default_accumulator`` (``in.bits + w.bits + ceil(log2 K) + 1``; above 62 bits the emulator's limb
path computes it). It is the starting point of the Ristretto trimming search and the plan ``make demo`` uses; it
is not a search."""

from __future__ import annotations

import numpy as np

from ristretto_sim.emulator import MAX_ACCUMULATOR_BITS, default_accumulator
from ristretto_sim.emulator.datapaths import LayerOp
from ristretto_sim.errors import PlanError
from ristretto_sim.formats import FixedPoint, RangeRule, fixed_point_for_range
from ristretto_sim.graph.layers import WEIGHTED
from ristretto_sim.graph.network import Network
from ristretto_sim.graph.plan import LayerPlan, QuantPlan
from ristretto_sim.runtime.executor import emulator_kind, run_network


def no_overflow_accumulator(network: Network, name: str, fin: FixedPoint, fw: FixedPoint) -> FixedPoint:
    """The accumulator of weighted layer ``name`` that cannot overflow: the emulator's ``default_accumulator``
    (``in.bits + w.bits + ceil(log2 K) + 1`` bits, ``frac = fl_in + fl_w``; per channel for per-channel weights).

    ``PlanError`` if that is wider than the emulator's ``MAX_ACCUMULATOR_BITS`` (only operands wider than 32 bits
    get there: 32 x 32 bits needs ``K > 2**62``)."""
    layer = network.layer(name)
    w = network.params[name]["weight"]
    kind, geometry = emulator_kind(layer)
    op = LayerOp.of(kind, w, geometry)
    try:
        acc = default_accumulator(fin, fw, op.k, op.n_out)
    except ValueError as exc:  # FixedPoint refuses more than MAX_ACCUMULATOR_BITS
        acc = None
        cause = exc
    if acc is None or acc.bits > MAX_ACCUMULATOR_BITS:
        raise PlanError(f"layer {name!r}: inputs {fin} x weights {fw} over K={op.k} need an accumulator wider than "
                        f"the emulator's {MAX_ACCUMULATOR_BITS} bits not to overflow (declare a narrower one, e.g. "
                        "--acc-bits)") from (cause if acc is None else None)
    return acc


def dynamic_fixed_point_plan(
    network: Network,
    x_calib,
    bits: int = 8,
    *,
    weight_bits: int | None = None,
    acc_bits: int | None = 32,
    mode="exact",
) -> QuantPlan:
    """An ``bits``-bit dynamic fixed point plan for every weighted layer, from a float run on ``x_calib``.

    Parameters
    ----------
    network : Network
    x_calib : array_like
        Calibration batch (network input, preprocessing applied).
    bits : int
        Activation (input and output) width.
    weight_bits : int, optional
        Weight width (default ``bits``).
    acc_bits : int or None
        Accumulator and bias width; None: per layer, the width that cannot overflow.
    mode : str
        Mode recorded in the plan.
    """
    weight_bits = bits if weight_bits is None else weight_bits
    result = run_network(network, x_calib, record=True)
    layers = {}
    for layer in network.layers:
        if not isinstance(layer, WEIGHTED):
            continue
        rec = result.records[layer.name]
        w = network.params[layer.name]["weight"]
        fin = fixed_point_for_range(max(rec.max_abs_input, 2.0**-20), bits, RangeRule.RISTRETTO_ACTIVATIONS)
        fw = fixed_point_for_range(
            max(float(np.max(np.abs(w))), 2.0**-20), weight_bits, RangeRule.RISTRETTO_WEIGHTS
        )
        fout = fixed_point_for_range(max(rec.max_abs_output, 2.0**-20), bits, RangeRule.RISTRETTO_ACTIVATIONS)
        if acc_bits is None:
            acc = no_overflow_accumulator(network, layer.name, fin, fw)
        else:
            acc = FixedPoint(acc_bits, fin.frac_bits + fw.frac_bits)
        layers[layer.name] = LayerPlan(fin, fw, acc, fout, acc)
    return QuantPlan(layers, mode=mode)
