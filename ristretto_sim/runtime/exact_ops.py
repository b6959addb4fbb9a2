"""Exact mode's integer operators between the weighted layers: average pooling, elementwise Add and Concat.

Exact mode knows the fixed-point format of a tensor when a plan entry produced it (a planned weighted layer's
output format, a planned layer's ``outputs``) and the layers since only moved, selected or exactly combined its
values (``graph.tensor_formats``: ReLU, max pooling, flatten, reshape, transpose, and the operators below). On such
tensors the operators compute what integer hardware computes, with the emulator's functions:

* average pooling (and global average pooling): the window's codes summed exactly, times ``1/n`` rounded to the
  plan's ``reciprocal`` format (default ``graph.plan.DEFAULT_RECIPROCAL``, ``ufixed16.15``), requantized to the
  layer's ``outputs`` format, else to its input's format (``emulator.avg_pool2d``);
* Add (``Eltwise`` add without coefficients or constant): the operands aligned to the finer fraction and added
  exactly (``emulator.add_fixed``), into a format wide enough for the exact sum, or requantized to ``outputs``;
* Concat: every input requantized to the ``outputs`` format, else to the finest common format that holds them all
  (``emulator.concat_fixed``).

Rounding is the plan's for the layer; outputs saturate. A tensor without a known fixed-point format (float, a
minifloat, per-channel fractions) is computed in float64 as before; so is an average whose exact product would
not fit 62 bits (``float_fallbacks``: the run's notes say which).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ristretto_sim.emulator import add_fixed, avg_pool2d, concat_fixed, requantize
from ristretto_sim.formats import FixedPoint, Overflow
from ristretto_sim.graph.layers import Concat, Eltwise, Layer, Pool, PoolKind
from ristretto_sim.graph.network import Network
from ristretto_sim.graph.plan import QuantPlan
from ristretto_sim.graph.tensor_formats import MAX_BITS, average_fits, common_format, fixed, is_add


@dataclass(frozen=True)
class IntegerResult:
    """An integer operator's output values (float64, on ``fmt``'s grid) and its saturated outputs."""

    values: np.ndarray
    fmt: FixedPoint
    saturations: int


def _values(codes: np.ndarray, fmt: FixedPoint) -> np.ndarray:
    return np.ldexp(codes.astype(np.float64), -fmt.frac_bits)


def _encode(x: np.ndarray, fmt: FixedPoint) -> np.ndarray:
    return fmt.encode(np.asarray(x, dtype=np.float64))  # exact: the values are on fmt's grid


@dataclass(frozen=True)
class Context:
    """What an integer operator needs besides its inputs: their formats, the output format the plan states (or
    None), the reciprocal, rounding, overflow and the stochastic-rounding key."""

    in_formats: list
    outputs: FixedPoint | None
    reciprocal: FixedPoint
    rounding: object
    overflow: Overflow
    rng: object = None


Op = Callable[[Network, Layer, list, Context], "IntegerResult | None"]
_OPS: dict[type, Op] = {}


def _op(*types):
    def register(fn):
        for t in types:
            _OPS[t] = fn
        return fn

    return register


def integer_op(network: Network, layer: Layer, ins: list, ctx: Context) -> IntegerResult | None:
    """The integer result of ``layer`` on ``ins``, or None (float) when the layer has no integer operator, its inputs
    no fixed-point format, or its integers would not fit ``MAX_BITS`` bits (``float_fallbacks``)."""
    op = _OPS.get(type(layer))
    if op is None or any(f is None for f in ctx.in_formats):
        return None
    return op(network, layer, ins, ctx)


@_op(Pool)
def _avg_pool(network, layer, ins, ctx: Context):
    if layer.kind is not PoolKind.AVG:
        return None
    (fin,) = ctx.in_formats[:1]
    fout = ctx.outputs or fin
    x = ins[0]
    geom = layer.geometry(x.shape[1:])
    if not average_fits(layer, fin, ctx.reciprocal, x.shape[1:]):
        return None  # too wide: float64 (float_fallbacks says so)
    r = avg_pool2d(_encode(x, fin), fin, geom, reciprocal=ctx.reciprocal, out_fmt=fout, rounding=ctx.rounding,
                   count_include_pad=layer.count_include_pad, rng=ctx.rng)
    return IntegerResult(_values(r.codes, fout), fout, int(r.saturations))


@_op(Eltwise)
def _add(network, layer, ins, ctx: Context):
    if not is_add(layer):
        return None
    fmt, codes = ctx.in_formats[0], _encode(ins[0], ctx.in_formats[0])
    for x, f in zip(ins[1:], ctx.in_formats[1:], strict=True):
        total = common_format([fmt, f], extra_bit=True)
        if total is None:
            return None  # too wide: float64 (float_fallbacks says so)
        codes = add_fixed(codes, fmt, _encode(x, f), f, total).codes  # exact: total holds the sum
        fmt = total
    sat = 0
    if ctx.outputs is not None and ctx.outputs != fmt:
        r = requantize(codes, fmt.frac_bits, ctx.outputs, ctx.rounding, ctx.overflow, ctx.rng)
        codes, fmt, sat = r.codes, ctx.outputs, int(r.saturations)
    return IntegerResult(_values(codes, fmt), fmt, sat)


@_op(Concat)
def _concat_op(network, layer, ins, ctx: Context):
    if ctx.outputs is not None and ctx.overflow is Overflow.WRAP:
        return None  # concat_fixed saturates; the float path wraps as the plan says
    fout = ctx.outputs or common_format(ctx.in_formats)
    if fout is None:
        return None  # too wide: float64 (float_fallbacks says so)
    parts = [(_encode(x, f), f) for x, f in zip(ins, ctx.in_formats, strict=True)]
    r = concat_fixed(parts, fout, axis=layer.axis, rounding=ctx.rounding)
    return IntegerResult(_values(r.codes, fout), fout, int(r.saturations))


def float_fallbacks(network: Network, plan: QuantPlan, formats: dict) -> list[str]:
    """The layers with an integer operator and fixed-point inputs that still compute in float64, because their
    integers would need more than ``MAX_BITS`` bits (one sentence each, for the run's notes)."""
    notes = []
    for layer in network.layers:
        entry = plan.get(layer.name)
        ins = [formats.get(t) for t in layer.inputs]
        if entry is not None and entry.inputs is not None:
            ins = [fixed(entry.inputs)] * len(ins)
        if type(layer) not in _OPS or any(f is None for f in ins):
            continue
        if isinstance(layer, Pool) and layer.kind is PoolKind.AVG:
            recip = plan.reciprocal_of(layer.name)
            if not average_fits(layer, ins[0], recip, network.shape(layer.inputs[0])):
                notes.append(f"layer {layer.name!r}: the exact average of {ins[0]} codes times a {recip} reciprocal "
                             f"needs more than {MAX_BITS} bits; it computes in float64")
        elif isinstance(layer, Eltwise) and is_add(layer):
            fmt = ins[0]
            for f in ins[1:]:
                fmt = common_format([fmt, f], extra_bit=True)
            if fmt is None:
                notes.append(f"layer {layer.name!r}: the exact sum needs more than {MAX_BITS} bits; it computes in "
                             "float64")
        elif isinstance(layer, Concat) and (entry is None or entry.outputs is None) and common_format(ins) is None:
            notes.append(f"layer {layer.name!r}: no fixed-point format of {MAX_BITS} bits holds all its inputs; it "
                         "computes in float64")
    return notes
