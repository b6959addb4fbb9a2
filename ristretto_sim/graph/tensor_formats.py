"""The fixed-point format of every tensor in an exact-mode run of a plan, where it is known.

A tensor's format is known when a plan entry produced it (a planned weighted layer's output format, the one its
datapath reads out in; a planned layer's ``outputs``) and the layers since only moved, selected or exactly combined
its values: ReLU, max pooling, flatten, reshape, transpose, and exact mode's integer operators (average pooling,
requantized to its input's format; Add, into a format that holds the exact sum; Concat, into the finest common
format). ``None`` means the tensor is float (a network input, a float layer's output, a minifloat, per-channel
fractions). The executor's integer operators (``runtime.exact_ops``) and the QONNX export read it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from ristretto_sim.emulator.datapaths import LayerOp, Mode, select
from ristretto_sim.formats import FixedPoint, format_kind
from ristretto_sim.graph.layers import (
    LRN,
    WEIGHTED,
    Activation,
    ActivationKind,
    Concat,
    ConvTranspose,
    Dense,
    Eltwise,
    EltwiseOp,
    Flatten,
    Layer,
    Pool,
    PoolKind,
    Reshape,
    Transpose,
)
from ristretto_sim.graph.network import Network
from ristretto_sim.graph.plan import QuantPlan

#: widest code the integer operators carry (int64 arithmetic with room for one carry)
MAX_BITS = 62


def fixed(fmt) -> FixedPoint | None:
    """``fmt`` if it is a per-tensor fixed-point format the integer operators can carry, else None."""
    if fmt is not None and format_kind(fmt) == "fixed" and not fmt.per_channel and fmt.bits <= MAX_BITS:
        return fmt
    return None


def common_format(formats, extra_bit: bool = False) -> FixedPoint | None:
    """The narrowest format holding every value of each of ``formats`` (the finest fraction, the widest integer
    part, signed if any is); one more integer bit with ``extra_bit`` (the exact sum of two)."""
    if any(f is None for f in formats):
        return None
    frac = max(f.frac_bits for f in formats)
    signed = any(f.signed for f in formats)
    whole = max(f.bits - f.frac_bits + (1 if signed and not f.signed else 0) for f in formats)
    return fixed(FixedPoint(whole + frac + int(extra_bit), frac, signed=signed))


def is_add(layer: Eltwise) -> bool:
    return (layer.op is EltwiseOp.ADD and layer.coeffs is None and layer.constant_index is None
            and len(layer.inputs) >= 2)


Rule = Callable[[Layer, list], FixedPoint | None]
_RULES: dict[type, Rule] = {}


def _rule(*types):
    def register(fn):
        for t in types:
            _RULES[t] = fn
        return fn

    return register


@_rule(Flatten, Reshape, Transpose)
def _same(layer, ins):
    return ins[0]


@_rule(Activation)
def _activation(layer, ins):
    return ins[0] if layer.kind is ActivationKind.RELU else None


def average_fits(layer: Pool, fin: FixedPoint, reciprocal: FixedPoint, input_shape) -> bool:
    """Whether the exact window sum of ``fin`` codes times a ``reciprocal`` code fits ``MAX_BITS`` bits."""
    kernel = layer.window(input_shape)[0]
    n_max = kernel[0] * kernel[1]
    return fin.bits + math.ceil(math.log2(max(n_max, 2))) + reciprocal.bits <= MAX_BITS


def _pool(layer, ins, reciprocal, input_shape):
    if layer.kind is PoolKind.MAX:
        return ins[0]  # max pooling selects
    # the integer average is requantized to its input's format
    return ins[0] if average_fits(layer, ins[0], reciprocal, input_shape) else None


@_rule(Concat)
def _concat(layer, ins):
    return common_format(ins)


@_rule(Eltwise)
def _eltwise(layer, ins):
    if not is_add(layer):
        return None
    fmt = ins[0]
    for f in ins[1:]:
        fmt = common_format([fmt, f], extra_bit=True)
    return fmt


def weighted_output_format(network: Network, plan: QuantPlan, layer: Layer):
    """The format planned weighted layer ``layer`` reads out in, in exact mode (its datapath's ``output_format``)."""
    kind = "linear" if isinstance(layer, Dense) else "conv_transpose2d" if isinstance(layer, ConvTranspose) else \
        "conv2d"
    op = LayerOp.of(kind, network.params[layer.name]["weight"], None if kind == "linear" else layer.geometry)
    return select(plan.layer_formats(layer.name), Mode.EXACT).output_format(op.k, op.n_out)


def tensor_formats(network: Network, plan: QuantPlan) -> dict:
    """The fixed-point format of every tensor of ``network`` in an exact run of ``plan`` (None: not known, the
    tensor is float)."""
    formats: dict[str, FixedPoint | None] = {t.name: None for t in network.inputs}
    for layer in network.layers:
        entry = plan.get(layer.name)
        if entry is not None and isinstance(layer, WEIGHTED):
            out = fixed(weighted_output_format(network, plan, layer))
        elif entry is not None and isinstance(layer, LRN) and entry.internal is not None:
            out = None
        else:
            ins = [formats.get(t) for t in layer.inputs]
            if entry is not None and entry.inputs is not None:
                ins = [fixed(entry.inputs)] * len(ins)
            if entry is not None and entry.outputs is not None:
                out = fixed(entry.outputs)
            elif any(f is None for f in ins):
                out = None
            elif isinstance(layer, Pool):
                out = _pool(layer, ins, plan.reciprocal_of(layer.name), network.shape(layer.inputs[0]))
            else:
                rule = _RULES.get(type(layer))
                out = rule(layer, ins) if rule is not None else None
        formats[layer.output] = out
    return formats


