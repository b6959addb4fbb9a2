"""Exact mode's int8 operators on affine tensors (an imported int8 model's plan): the activation clamp, ADD, average
pooling and softmax as TFLite's reference kernels compute them (``emulator.affine_ops``) when the plan rounds as
TFLite (``nearest_away``), the activation clamp, Add and (global) average pooling as onnxruntime's ``com.microsoft``
kernels compute them (``emulator.onnxruntime_ops``) when it rounds as ONNX (``nearest_even``).

A tensor's affine format is known when a plan entry states it (a weighted layer's ``outputs``, another layer's
``outputs``, the ``inputs`` of the first planned layer reading a network input) or when only layers that move or
select codes came since (flatten, reshape, transpose, max pooling). Tensors carry float64 values
``scale * (code - zero_point)``, which encode back to their codes exactly (``formats.affine``); the operators here
decode nothing: they take the codes, compute in integers and return the values of the output codes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ristretto_sim.emulator import onnxruntime_ops as ort_ops
from ristretto_sim.emulator.affine_ops import activation_range, affine_add, affine_avg_pool, affine_softmax, clamp
from ristretto_sim.formats import Rounding, format_kind
from ristretto_sim.graph.layers import (
    WEIGHTED,
    Activation,
    ActivationKind,
    Eltwise,
    Flatten,
    Layer,
    Pool,
    PoolKind,
    Reshape,
    Softmax,
    Transpose,
)
from ristretto_sim.graph.network import Network
from ristretto_sim.graph.plan import QuantPlan
from ristretto_sim.graph.tensor_formats import is_add


def affine(fmt):
    """``fmt`` if it is a per-tensor affine format, else None."""
    if fmt is not None and format_kind(fmt) == "affine" and not fmt.per_channel:
        return fmt
    return None


def _moves_codes(layer: Layer) -> bool:
    if isinstance(layer, Pool):
        return layer.kind is PoolKind.MAX
    return isinstance(layer, (Flatten, Reshape, Transpose))


def affine_formats(network: Network, plan: QuantPlan) -> dict:
    """The affine format of every tensor whose format is known (module docstring); empty when the plan has
    none."""
    formats: dict = {}
    for layer in network.layers:
        entry = plan.get(layer.name)
        if entry is not None and entry.inputs is not None:
            for t in layer.inputs:
                if network.producer(t) is None and affine(entry.inputs) is not None:
                    formats.setdefault(t, entry.inputs)
        out = affine(entry.outputs) if entry is not None else None
        if out is None and not isinstance(layer, WEIGHTED) and _moves_codes(layer):
            out = formats.get(layer.inputs[0])
        if out is not None:
            formats[layer.output] = out
    return formats


@dataclass(frozen=True)
class AffineStep:
    """An int8 operator's output values (float64, on its format's grid) and its clamped outputs."""

    values: np.ndarray
    saturations: int


Op = Callable[[Layer, list, list, object], "tuple | None"]
#: the operators by (the plan's rounding, layer type): TFLite's reference kernels for ``nearest_away`` (an imported
#: TFLite model), onnxruntime's contrib kernels for ``nearest_even`` (an imported ONNX integer model)
_OPS: dict[tuple[Rounding, type], Op] = {}
TFLITE, ONNXRUNTIME = Rounding.NEAREST_AWAY, Rounding.NEAREST_EVEN


def _op(*types, rounding=(TFLITE,)):
    def register(fn):
        for r in rounding:
            for t in types:
                _OPS[(r, t)] = fn
        return fn

    return register


def _codes(x: np.ndarray, fmt) -> np.ndarray:
    return fmt.encode(np.asarray(x, dtype=np.float64), Rounding.NEAREST_AWAY)  # exact: the values are on the grid


@_op(Activation, rounding=(TFLITE, ONNXRUNTIME))
def _activation(layer, codes, fins, out):
    if layer.kind is ActivationKind.RELU:
        low, high = 0.0, None
    elif layer.kind is ActivationKind.CLIP:
        low, high = layer.low, layer.high
    else:
        return None
    if fins[0] != out:
        return None
    return clamp(codes[0], *activation_range(out, low, high))


@_op(Pool)
def _avg_pool(layer, codes, fins, out):
    if layer.kind is not PoolKind.AVG or fins[0] != out or layer.count_include_pad or layer.ceil_mode:
        return None
    geom = layer.geometry(codes[0].shape[1:])
    return affine_avg_pool(codes[0], geom, (out.min_code, out.max_code))


@_op(Eltwise)
def _add(layer, codes, fins, out):
    if not is_add(layer) or len(codes) != 2:
        return None
    return affine_add(codes[0], fins[0], codes[1], fins[1], out)


@_op(Softmax)
def _softmax(layer, codes, fins, out):
    if codes[0].ndim != 2 or out is None or out.zero_point != -128 or out.scale != 1.0 / 256:
        return None
    return affine_softmax(codes[0], fins[0], beta=1.0)


@_op(Eltwise, rounding=(ONNXRUNTIME,))
def _ort_add(layer, codes, fins, out):
    if not is_add(layer) or len(codes) != 2:
        return None
    return ort_ops.qlinear_add(codes[0], fins[0], codes[1], fins[1], out)


@_op(Pool, rounding=(ONNXRUNTIME,))
def _ort_avg_pool(layer, codes, fins, out):
    if layer.kind is not PoolKind.AVG:
        return None
    if layer.global_pool:
        return ort_ops.qlinear_global_avg_pool(codes[0], fins[0], out)
    geom = layer.geometry(codes[0].shape[1:])
    return ort_ops.qlinear_avg_pool(codes[0], fins[0], out, geom, layer.count_include_pad)


def handles(layer: Layer, formats: dict, rounding: Rounding = TFLITE) -> bool:
    """Whether ``layer`` runs as an int8 operator under these tensor formats (and the plan's rounding, which names
    the operator set)."""
    return ((rounding, type(layer)) in _OPS and layer.output in formats
            and all(t in formats for t in layer.inputs))


def affine_op(layer: Layer, ins: list, formats: dict, rounding: Rounding = TFLITE) -> AffineStep | None:
    """``layer``'s int8 result on ``ins``, or None when it has no int8 operator or its tensors no affine formats."""
    if not handles(layer, formats, rounding):
        return None
    fins = [formats[t] for t in layer.inputs]
    out = formats[layer.output]
    res = _OPS[(rounding, type(layer))](layer, [_codes(x, f) for x, f in zip(ins, fins, strict=True)], fins, out)
    if res is None:
        return None
    return AffineStep(out.decode(res.codes), res.saturations)
