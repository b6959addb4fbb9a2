"""Running a ``Network`` in float or under a ``QuantPlan``, recording per-layer ranges and overflow counts.

``run_network(network, x, plan=None, mode=None)`` returns a ``RunResult``: the outputs, the mode that produced
them (``"float"``, ``"exact"``, ``"ristretto"``) and, per layer, a ``LayerRecord`` (input/output ranges and
the emulator's statistics: accumulator overflows, saturations).

Modes
-----
- **float**: float32 NumPy (``float_runner``), no plan.
- **exact**: Conv, ConvTranspose and Dense layers with a plan entry run through the emulator
  (``emulator.PreparedLayer``, the same results as ``emulate_layer``, with the weights encoded once per run:
  integer codes, declared accumulator, requantized outputs); every tensor is carried as float64 so values on
  wide grids stay exact. Other layers compute in float64 on those values; a plan entry on them (``inputs``
  and/or ``outputs`` only) quantizes that tensor with the format's own ``quantize`` (plan rounding and
  overflow). Layers without a plan entry run unquantized. Speed without a change of result: a tensor whose
  every value is exactly a float32 (the network input; outputs of planned layers with at most 24-bit codes)
  stays float32 while only layers that merely select, move or compare values (max pooling, ReLU, flatten,
  reshape, transpose, concat) or planned weighted layers read it; any other reader gets it as float64, and
  the run's outputs and kept tensors are float64.
- **ristretto**: the original tool (``reference/ristretto.md`` section 1.3): planned Conv/ConvTranspose/Dense
  layers fake-quantize inputs, weights and bias (bias in the weights' format), run a float32 GEMM and quantize
  the output (``emulate_layer(mode="ristretto")``); every other layer is float32. The input quantization is
  done **in place**: readers of the same tensor that run later see the quantized values, as Caffe's shared
  blobs (Split) did; earlier readers saw the float values.

Strict minifloat LRN: an LRN layer whose plan entry has ``internal`` (Ristretto's ``LRNRistretto``, reference
section 5) runs through ``emulator.ristretto_lrn`` in **both** quantized modes: it quantizes the input it reads,
every square, the running sum and the scale to that minifloat (always round to nearest even) and returns the
quantized output; its shared input tensor is not rounded in place (the GPU kernel rounds the values it reads).
Exact mode uses the same arithmetic because it *is* the hardware semantics of a minifloat LRN unit (every
intermediate is rounded to the declared format; the float32 steps between roundings are exact or are the
unit's own arithmetic); the input is read as float32 first (as the kernel reads Caffe's float blobs; a
wider-grid float64 input is thus rounded twice), and the float32 result is carried as float64 like every
exact-mode tensor. ``PlanError`` (from ``QuantPlan.check``) if such a layer is WITHIN_CHANNEL, as Ristretto was
FATAL there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace

import numpy as np

from ristretto_sim.emulator import ConvGeometry, LayerStats, Mode, PreparedLayer, ristretto_lrn, ristretto_quantize
from ristretto_sim.errors import PlanError
from ristretto_sim.formats import FixedPoint, Overflow
from ristretto_sim.graph.layers import (
    LRN,
    WEIGHTED,
    Activation,
    ActivationKind,
    Concat,
    Conv,
    ConvTranspose,
    Dense,
    Flatten,
    Layer,
    LRNRegion,
    Pool,
    PoolKind,
    Reshape,
    Transpose,
)
from ristretto_sim.graph.network import Network
from ristretto_sim.graph.plan import QuantPlan
from ristretto_sim.runtime.float_runner import check_input, execute, float_layer

FLOAT = "float"


@dataclass(frozen=True)
class LayerRecord:
    """What one layer did in one run (over the whole batch).

    Attributes
    ----------
    name, op_type : str
    quantized : bool
        The layer had a plan entry (and the run was quantized).
    input_min, input_max : float
        Range of the first input as the layer received it (before its own input quantization).
    output_min, output_max : float
        Range of the output.
    stats : emulator.LayerStats or None
        Emulator statistics of planned Conv/ConvTranspose/Dense layers (accumulator overflows, saturations).
    input_saturations, output_saturations : int
        For planned layers without weights: values outside the range of the ``inputs``/``outputs`` format.
    """

    name: str
    op_type: str
    quantized: bool
    input_min: float
    input_max: float
    output_min: float
    output_max: float
    stats: LayerStats | None = None
    input_saturations: int = 0
    output_saturations: int = 0

    @property
    def max_abs_input(self) -> float:
        return max(abs(self.input_min), abs(self.input_max))

    @property
    def max_abs_output(self) -> float:
        return max(abs(self.output_min), abs(self.output_max))

    @property
    def overflows(self) -> int:
        """Accumulator overflows plus output saturations (the events a hardware designer must look at)."""
        if self.stats is not None:
            return int(self.stats.accumulator_overflows + self.stats.output_saturations)
        return int(self.output_saturations)

    def as_dict(self) -> dict:
        d = {
            "name": self.name,
            "op_type": self.op_type,
            "quantized": self.quantized,
            "input_min": self.input_min,
            "input_max": self.input_max,
            "output_min": self.output_min,
            "output_max": self.output_max,
            "input_saturations": self.input_saturations,
            "output_saturations": self.output_saturations,
        }
        if self.stats is not None:
            d["stats"] = self.stats.as_dict()
        return d


@dataclass(frozen=True, eq=False)
class RunResult:
    """Outputs of a run, the mode that produced them, per-layer records and any kept tensors."""

    outputs: dict[str, np.ndarray]
    mode: str
    records: dict[str, LayerRecord] = field(default_factory=dict)
    tensors: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def output(self) -> np.ndarray:
        """The single output (``ValueError`` if the network has several)."""
        if len(self.outputs) != 1:
            raise ValueError(f"the network has {len(self.outputs)} outputs: {list(self.outputs)}")
        return next(iter(self.outputs.values()))

    @property
    def total_overflows(self) -> int:
        return sum(r.overflows for r in self.records.values())


def _range(a: np.ndarray) -> tuple[float, float]:
    if a.size == 0:
        return 0.0, 0.0
    return float(np.min(a)), float(np.max(a))


def _out_of_range(x: np.ndarray, fmt) -> int:
    lo, hi = fmt.min, fmt.max
    if isinstance(fmt, FixedPoint) and fmt.per_channel:
        return 0
    with np.errstate(invalid="ignore"):
        return int(np.count_nonzero((x > hi) | (x < lo)))


def conv_geometry(layer) -> ConvGeometry:
    """The emulator's ``ConvGeometry`` of a ``Conv`` or ``ConvTranspose`` layer."""
    if isinstance(layer, ConvTranspose):
        return ConvGeometry(
            stride=layer.stride,
            padding=layer.pads,
            dilation=layer.dilation,
            groups=layer.groups,
            output_padding=layer.output_padding,
        )
    return ConvGeometry(stride=layer.stride, padding=layer.pads, dilation=layer.dilation, groups=layer.groups)


def emulator_call(layer, x0):
    """``(kind, geometry, input)`` for the emulator's ``emulate_layer`` on a Conv, ConvTranspose or Dense layer
    (a Dense layer's input is flattened to ``(N, features)``)."""
    if isinstance(layer, Dense):
        return "linear", None, x0.reshape(x0.shape[0], -1)
    return ("conv2d" if isinstance(layer, Conv) else "conv_transpose2d"), conv_geometry(layer), x0


def run_network(
    network: Network,
    x,
    plan: QuantPlan | None = None,
    mode=None,
    *,
    record: bool = True,
    keep: Iterable[str] = (),
    rng=None,
    batch_size: int = 256,
) -> RunResult:
    """Run ``network`` on batch ``x`` (NCHW, raw network input: preprocessing already applied).

    Parameters
    ----------
    network : Network
    x : array_like
        Input batch ``(N, *input_shape)`` (a single sample without the batch axis is accepted).
    plan : QuantPlan, optional
        None: float32 run.
    mode : str or emulator.Mode, optional
        ``"exact"`` or ``"ristretto"``; default: the plan's mode. Ignored without a plan.
    record : bool
        Collect a ``LayerRecord`` per layer.
    keep : iterable of str
        Tensors to return besides the outputs (``"*"``: all).
    rng : optional
        Seed for stochastic rounding.
    batch_size : int
        The batch is processed in chunks of this many samples (memory); results do not depend on it, except
        for stochastic rounding, whose draws restart per chunk.

    Raises
    ------
    PlanError
        If the plan does not fit the network.
    ValueError
        If ``x`` does not match the network's input shape.
    """
    keep = tuple(keep)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r} must be a positive integer")
    x = check_input(network, x)
    prepared: dict[str, PreparedLayer] = {}  # weights encoded once for every batch
    if len(x) > batch_size:
        parts = [
            _run_batch(network, x[i : i + batch_size], plan, mode, record, keep, rng, prepared)
            for i in range(0, len(x), batch_size)
        ]
        return merge_results(parts)
    return _run_batch(network, x, plan, mode, record, keep, rng, prepared)


def _float32_exact_op(layer: Layer) -> bool:
    """Layers whose float32 result on float32 values is exactly their float64 result (they only select,
    move or compare values)."""
    if isinstance(layer, Pool):
        return layer.kind is PoolKind.MAX
    if isinstance(layer, Activation):
        return layer.kind is ActivationKind.RELU
    return isinstance(layer, (Flatten, Reshape, Transpose, Concat))


def _f64(v: np.ndarray) -> np.ndarray:
    return v.astype(np.float64, copy=False)


def _run_batch(network, x, plan, mode, record, keep, rng, prepared) -> RunResult:
    # ``x``: a float32 batch already checked by ``run_network``
    if plan is None:
        records: dict[str, LayerRecord] = {}

        def evaluate_float(layer, ins):
            out = float_layer(network, layer, ins)
            if record:
                records[layer.name] = LayerRecord(
                    layer.name, layer.op_type, False, *_range(ins[0]), *_range(out)
                )
            return out

        with np.errstate(over="ignore", under="ignore"):
            env = execute(network, {network.input.name: x}, evaluate_float, keep)
        return _result(network, env, FLOAT, records)
    if not isinstance(plan, QuantPlan):
        raise TypeError(f"plan={plan!r} must be a QuantPlan or None")
    mode = plan.mode if mode is None else Mode.coerce(mode, "mode")
    plan.check(network)
    exact = mode is Mode.EXACT
    # exact mode: float32 input values are exact in float64; tensors stay float32 while every value is exactly a
    # float32 and only float32-exact layers read them (``_float32_exact_op``, planned weighted layers)
    records = {}

    def evaluate(layer: Layer, ins: list):
        entry = plan.get(layer.name)
        x0 = ins[0]
        updates = {}
        stats = None
        in_sat = out_sat = 0
        if exact and not (isinstance(layer, WEIGHTED) and entry is not None):
            if entry is not None or not _float32_exact_op(layer):
                ins = [_f64(v) for v in ins]
        if entry is None:
            out = float_layer(network, layer, ins)
        elif isinstance(layer, WEIGHTED):
            p = network.params.get(layer.name, {})
            kind, geometry, xin = emulator_call(layer, x0)
            try:
                prep = prepared.get(layer.name)
                if prep is None:
                    formats = plan.layer_formats(layer.name)
                    prep = prepared[layer.name] = PreparedLayer(
                        kind, p["weight"], p.get("bias"), formats, geometry, mode=mode
                    )
                res = prep(xin, rng=rng, codes=False, float32_values=exact)
            except (ValueError, TypeError) as exc:
                raise PlanError(f"plan layer {layer.name!r}: {exc}") from None
            values = res.values if exact else np.asarray(res.values, dtype=x0.dtype)
            out = values.reshape((x0.shape[0],) + network.shape(layer.output))
            stats = res.stats
            if not exact and len(network.consumers(layer.inputs[0])) > 1:
                # Caffe: the layer rounded its (shared) bottom blob in place; later readers see it rounded
                updates[layer.inputs[0]] = ristretto_quantize(
                    x0, entry.inputs, plan.rounding_of(layer.name), rng=rng
                ).astype(np.float32)
        elif isinstance(layer, LRN) and entry.internal is not None:
            # strict minifloat LRN (module docstring); plan.check allowed ACROSS_CHANNELS only
            fmt = entry.internal
            in_sat = _out_of_range(x0, fmt)
            out = strict_lrn(layer, x0, fmt)
            out = _f64(out) if exact else out
            out_sat = _out_of_range(out, fmt)
        else:
            r, ov = plan.rounding_of(layer.name), plan.overflow_of(layer.name)
            x0 = ins[0]
            if entry.inputs is not None:
                in_sat = _out_of_range(x0, entry.inputs)
                ins = [_quantize(v, entry.inputs, r, ov, exact, rng) for v in ins]
                if not exact and len(network.consumers(layer.inputs[0])) > 1:
                    updates[layer.inputs[0]] = ins[0]
            out = float_layer(network, layer, ins)
            if entry.outputs is not None:
                out_sat = _out_of_range(out, entry.outputs)
                out = _quantize(out, entry.outputs, r, ov, exact, rng)
        if record:
            records[layer.name] = LayerRecord(
                layer.name,
                layer.op_type,
                entry is not None,
                *_range(x0),
                *_range(out),
                stats,
                in_sat,
                out_sat,
            )
        return (out, updates) if updates else out

    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        env = execute(network, {network.input.name: x}, evaluate, keep)
    if exact:
        env = {t: _f64(v) for t, v in env.items()}
    return _result(network, env, mode.value, records)


def merge_results(parts: list[RunResult]) -> RunResult:
    """One ``RunResult`` from the results of consecutive batches of one run: outputs and kept tensors
    concatenated along the batch axis, each layer's input/output ranges merged, its integer statistics and
    saturation counts summed."""
    first = parts[0]
    outputs = {t: np.concatenate([p.outputs[t] for p in parts]) for t in first.outputs}
    tensors = {t: np.concatenate([p.tensors[t] for p in parts]) for t in first.tensors}
    records = {}
    for name, r0 in first.records.items():
        rs = [p.records[name] for p in parts]
        stats = r0.stats
        if stats is not None:
            ints = {
                f.name: sum(getattr(r.stats, f.name) for r in rs)
                for f in fields(stats)
                if isinstance(getattr(stats, f.name), int) and not isinstance(getattr(stats, f.name), bool)
            }
            stats = replace(stats, **ints)
        records[name] = LayerRecord(
            name,
            r0.op_type,
            r0.quantized,
            min(r.input_min for r in rs),
            max(r.input_max for r in rs),
            min(r.output_min for r in rs),
            max(r.output_max for r in rs),
            stats,
            sum(r.input_saturations for r in rs),
            sum(r.output_saturations for r in rs),
        )
    return RunResult(outputs, first.mode, records, tensors)


def strict_lrn(layer: LRN, x: np.ndarray, fmt) -> np.ndarray:
    """Ristretto's strict minifloat LRN (``LRNRistretto``) of ``layer`` on ``x``, every intermediate in minifloat
    ``fmt`` (float32 out); ``PlanError`` naming the layer unless the layer is ACROSS_CHANNELS."""
    if layer.region is not LRNRegion.ACROSS_CHANNELS:
        raise PlanError(f"plan layer {layer.name!r}: strict minifloat LRN (Ristretto's LRNRistretto) supports "
                        f"ACROSS_CHANNELS only, not {layer.region.name}")
    return ristretto_lrn(x, layer.size, layer.alpha, layer.beta, layer.k, fmt.exp_bits, fmt.man_bits)


def _quantize(x: np.ndarray, fmt, rounding, overflow: Overflow, exact: bool, rng) -> np.ndarray:
    if exact:
        return fmt.quantize(x, rounding, overflow, rng=rng)
    return ristretto_quantize(x, fmt, rounding, rng=rng).astype(np.float32)


def _result(network: Network, env: dict, mode: str, records: dict) -> RunResult:
    outputs = {t: env[t] for t in network.outputs}
    tensors = {t: v for t, v in env.items() if t not in outputs}
    return RunResult(outputs, mode, records, tensors)


def run(network: Network, x, plan: QuantPlan | None = None, mode=None, *, rng=None) -> np.ndarray:
    """The network's (single) output for batch ``x``: float32 without a plan, float64 values in exact mode,
    float32 in ristretto mode."""
    return run_network(network, x, plan, mode, record=False, rng=rng).output
