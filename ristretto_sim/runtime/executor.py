"""The one network executor: a ``Network`` run in float32, or under a ``QuantPlan`` in ``exact`` or ``ristretto``
arithmetic, with per-layer records, tensor lifetimes and the prefix cache.

``Executor(network)`` holds what a run derives from the network and the plan (prepared layers: weights encoded
once per formats; float32 weight copies; tensor lifetimes) and runs batches: ``run(x, plan, mode)`` returns a
``RunResult``. With held images (``Executor(network, images=x, batch_size=100)``), ``run(plan=...)`` scores the same
images under many plans and starts each run after the longest prefix a former run already computed (the trimming
search; ``prefix_cache``). ``run_network``, ``run`` and ``run_float`` are the one-call forms.

Modes
-----
- **float**: no plan; every layer computes as ``float_ops`` says (float32; convolutions are float32 im2col GEMMs).
- **exact** (int8 models: tensors in affine formats run TFLite's integer activation clamp, ADD, average pooling
  and softmax, ``affine_ops``; their MAC layers run the emulator's ``affine`` datapath):
  Conv, ConvTranspose and Dense layers with a plan entry run through the emulator
  (``emulator.PreparedLayer``: the results of ``emulate_layer``, weights encoded once; integer codes, declared
  accumulator, requantized outputs); tensors after them are float64 values, so values on wide grids stay exact (a
  tensor whose every value is exactly a float32, e.g. the output of a layer with at most 24-bit codes, stays float32
  while only layers that merely select, move or compare values read it). Average pooling, Add and Concat on tensors
  whose fixed-point format is known compute in integers (``exact_ops``: the plan key ``reciprocal`` states the
  format of an average's ``1/n``). A plan entry on another layer (``inputs`` and/or ``outputs`` only) quantizes
  that tensor with the format's own ``quantize`` (plan rounding and overflow). Layers without a plan entry and
  without an integer operator compute in float64 (softmax among them: the run says so in its notes), except
  weighted layers, which compute as in the float network (float32 GEMMs).
- **ristretto**: the original tool (``reference/ristretto.md`` §1.3): planned weighted layers fake-quantize their
  input, weights and bias (bias in the weights' format: a plan stating another bias format is told so in the
  run's notes; power-of-two weights leave it float), run a float32 GEMM and quantize the output (the emulator's
  ``ristretto-float32`` datapath); every other layer is float32. The input quantization is done **in place**:
  readers of the same tensor that run later see the quantized values, as Caffe's shared blobs (Split) did;
  earlier readers saw the float values. GPU semantics by default; ``cpu_compat=True`` gives the CPU quirks (ties
  away from zero, the minifloat early return, and layers with power-of-two weights that quantize no activation).

Strict minifloat LRN: an LRN layer whose plan entry has ``internal`` (Ristretto's ``LRNRistretto``, reference §5)
runs through ``emulator.ristretto_lrn`` in **both** quantized modes: every square, the running sum and the scale
rounded to that minifloat; its shared input is not rounded in place. Exact mode uses the same arithmetic because
it *is* the hardware semantics of a minifloat LRN unit (the input is read as float32 first, as the kernel reads
Caffe's float blobs); the float32 result is carried as float64.

Input layout: batches are NCHW (the network's layout) unless ``layout`` says otherwise; ``layout="model"`` takes
the layout of the model file (``Network.input_layout``: an ONNX model starting with an NHWC Transpose takes NHWC
batches, as onnxruntime does).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from ristretto_sim.emulator import LayerStats, Mode, PreparedLayer, ristretto_lrn, ristretto_quantize
from ristretto_sim.errors import PlanError
from ristretto_sim.graph.layers import (
    LRN,
    WEIGHTED,
    Activation,
    ActivationKind,
    Concat,
    ConvTranspose,
    Dense,
    Flatten,
    Layer,
    LRNRegion,
    Pool,
    PoolKind,
    Reshape,
    Softmax,
    Transpose,
)
from ristretto_sim.graph.network import EXACT_BIAS, Layout, Network
from ristretto_sim.graph.plan import QuantPlan
from ristretto_sim.graph.tensor_formats import fixed, tensor_formats
from ristretto_sim.runtime import affine_ops, exact_ops
from ristretto_sim.runtime.float_ops import FloatOps
from ristretto_sim.runtime.lifetimes import Lifetimes
from ristretto_sim.runtime.prefix_cache import PrefixCache
from ristretto_sim.runtime.records import LayerRecord, RunResult, merge_records, sum_stats

FLOAT = "float"
#: memory bound of the prefix cache of an executor holding images
DEFAULT_CACHE_BYTES = 512 << 20


# ---------------------------------------------------------------------- inputs


def sample_shape(shape: tuple, layout: Layout) -> tuple:
    """The per-sample shape of a network input (``shape``, CHW for images) in ``layout``."""
    if layout is Layout.NHWC and len(shape) == 3:
        c, h, w = shape
        return (h, w, c)
    return tuple(shape)


def check_input(network: Network, x, name: str | None = None, layout=None) -> np.ndarray:
    """``x`` as a contiguous float32 NCHW batch after checking its per-sample shape against the input.

    ``layout``: the batch's layout (default NCHW, the network's own; ``"model"``: the model file's,
    ``Network.input_layout``); an NHWC batch is transposed. A single sample without the batch axis is accepted.
    """
    spec = network.input if name is None else next(i for i in network.inputs if i.name == name)
    if layout is None:
        layout = Layout.NCHW
    elif isinstance(layout, str) and layout.lower() == "model":
        layout = network.input_layout
    else:
        layout = Layout.coerce(layout, "layout")
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"input must be numeric, got dtype {arr.dtype}")
    nhwc = sample_shape(spec.shape, Layout.NHWC)
    want = sample_shape(spec.shape, layout)
    if arr.shape == want:
        arr = arr[None]
    if arr.ndim != len(want) + 1 or tuple(arr.shape[1:]) != want:
        hint = ""
        if layout is Layout.NHWC and tuple(arr.shape[1:]) == spec.shape:
            hint = "; the batch looks channels-first: pass layout='nchw'"
        elif layout is Layout.NCHW and network.input_layout is Layout.NHWC and tuple(arr.shape[-3:]) == nhwc:
            hint = f"; the model file takes NHWC: pass layout='model' for (N, {', '.join(map(str, nhwc))}) batches"
        raise ValueError(
            f"input batch of shape {arr.shape} does not match network {network.name!r} input "
            f"{spec.name!r}: expected (N, {', '.join(map(str, want))}) in layout {layout.value.upper()}{hint}"
        )
    if layout is Layout.NHWC and arr.ndim == 4:
        arr = arr.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(arr, dtype=np.float32)


# ---------------------------------------------------------------------- helpers


def _range(a: np.ndarray) -> tuple[float, float]:
    if a.size == 0:
        return 0.0, 0.0
    return float(np.min(a)), float(np.max(a))


def _out_of_range(x: np.ndarray, fmt) -> int:
    if np.ndim(fmt.max):  # per-channel fractions: no per-tensor range
        return 0
    with np.errstate(invalid="ignore"):
        return int(np.count_nonzero((x > fmt.max) | (x < fmt.min)))


def _float32_exact_op(layer: Layer) -> bool:
    """Layers whose float32 result on float32 values is exactly their float64 result (they only select, move or
    compare values)."""
    if isinstance(layer, Pool):
        return layer.kind is PoolKind.MAX
    if isinstance(layer, Activation):
        return layer.kind is ActivationKind.RELU
    return isinstance(layer, (Flatten, Reshape, Transpose, Concat))


def _f64(v: np.ndarray) -> np.ndarray:
    return v.astype(np.float64, copy=False)


def emulator_kind(layer) -> tuple[str, object]:
    """``(kind, geometry)`` of a Conv, ConvTranspose or Dense layer for the emulator."""
    if isinstance(layer, Dense):
        return "linear", None
    return ("conv_transpose2d" if isinstance(layer, ConvTranspose) else "conv2d"), layer.geometry


def emulator_input(layer, x0: np.ndarray) -> np.ndarray:
    """A weighted layer's input as the emulator takes it (a Dense layer's flattened to ``(N, features)``)."""
    return x0.reshape(x0.shape[0], -1) if isinstance(layer, Dense) else x0


def strict_lrn(layer: LRN, x: np.ndarray, fmt) -> np.ndarray:
    """Ristretto's strict minifloat LRN (``LRNRistretto``) of ``layer`` on ``x``, every intermediate in minifloat
    ``fmt`` (float32 out); ``PlanError`` naming the layer unless the layer is ACROSS_CHANNELS."""
    if layer.region is not LRNRegion.ACROSS_CHANNELS:
        raise PlanError(f"plan layer {layer.name!r}: strict minifloat LRN (Ristretto's LRNRistretto) supports "
                        f"ACROSS_CHANNELS only, not {layer.region.name}")
    return ristretto_lrn(x, layer.size, layer.alpha, layer.beta, layer.k, fmt.exp_bits, fmt.man_bits)


def bias_notes(network: Network, plan: QuantPlan, prepared: dict) -> list[str]:
    """Ristretto mode: the planned weighted layers whose plan bias format is not the one Ristretto uses (the
    weights' format; float for power-of-two weights), with the format used."""
    notes = []
    for name, prep in prepared.items():
        stated = plan.get(name).bias
        if stated is None or network.params[name].get("bias") is None:
            continue
        used = prep.datapath.bias_format
        if used == stated:
            continue
        if used is None:
            notes.append(f"layer {name!r}: ristretto mode kept the bias in float32, not the plan's {stated} "
                         "(Ristretto does not quantize the bias of power-of-two weights; exact mode uses the plan's)")
        else:
            notes.append(f"layer {name!r}: ristretto mode quantized the bias to {used}, the weights' format, not the "
                         f"plan's {stated} (Ristretto quantizes the bias with the weights' parameters; exact mode "
                         "uses the plan's)")
    return notes


# ---------------------------------------------------------------------- one run's settings


@dataclass(eq=False)
class _Run:
    """The settings of one run and what it derived from the plan (shared by its batches)."""

    plan: QuantPlan | None
    mode: Mode | None
    cpu_compat: bool
    record: bool
    wanted: frozenset | None  # None: keep every tensor
    rng: object
    transform: Callable | None
    prepared: dict = field(default_factory=dict)
    formats: dict = field(default_factory=dict)
    affine: dict = field(default_factory=dict)  # tensor -> affine format (int8 models)
    notes: dict = field(default_factory=dict)  # ordered set

    @property
    def exact(self) -> bool:
        return self.mode is Mode.EXACT

    @property
    def ristretto(self) -> bool:
        return self.mode is Mode.RISTRETTO

    @property
    def mode_name(self) -> str:
        return FLOAT if self.mode is None else self.mode.value


@dataclass(eq=False)
class _Batch:
    """The state of one batch walking the layers: live tensors, kept tensors, records and emulator statistics."""

    env: dict
    kept: dict
    records: dict = field(default_factory=dict)
    stats: dict = field(default_factory=dict)

    def copy(self) -> _Batch:
        return _Batch(dict(self.env), dict(self.kept), dict(self.records), dict(self.stats))

    def nbytes(self) -> int:
        seen, total = set(), 0
        for a in list(self.env.values()) + list(self.kept.values()):
            if id(a) not in seen:
                seen.add(id(a))
                total += a.nbytes
        return total


@dataclass(frozen=True)
class _Step:
    """What one layer evaluation produced."""

    out: np.ndarray
    updates: dict | None = None
    stats: LayerStats | None = None
    input_saturations: int = 0
    output_saturations: int = 0


# ---------------------------------------------------------------------- the executor


class Executor:
    """Run ``network`` in float or under quantization plans (module docstring).

    Parameters
    ----------
    network : Network
    images : array_like, optional
        Images to hold (preprocessed, NCHW): ``run(plan=...)`` without ``x`` runs them, reusing the prefixes
        earlier runs computed.
    batch_size : int
        Images per forward pass (memory; Caffe's TEST batch size for held images). Results do not depend on it,
        except for stochastic rounding, whose draws restart per batch.
    cache_bytes : int, optional
        Memory bound of the prefix cache (default ``DEFAULT_CACHE_BYTES`` with held images; 0 disables it).
    workers : int
        Threads running batches in parallel (default 1: on a 2-core machine BLAS already uses both cores);
        results do not depend on it.
    """

    def __init__(self, network: Network, images=None, *, batch_size: int = 256, cache_bytes: int | None = None,
                 workers: int = 1):
        if not isinstance(network, Network):
            raise TypeError(f"network={network!r} must be a Network")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size={batch_size!r} must be a positive integer")
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers={workers!r} must be a positive integer")
        self.network = network
        self.batch_size = batch_size
        self.workers = workers
        self.images = None if images is None else check_input(network, images)
        if cache_bytes is None:
            cache_bytes = DEFAULT_CACHE_BYTES if images is not None else 0
        self.cache = PrefixCache(int(cache_bytes))
        self.float_ops = FloatOps(network)
        self.lifetimes = Lifetimes(network)
        self._cut_points = tuple(i for i, layer in enumerate(network.layers) if isinstance(layer, WEIGHTED))
        self._prepared: dict[tuple, tuple] = {}  # (layer, mode, cpu_compat) -> (formats, PreparedLayer)

    def __len__(self) -> int:
        return 0 if self.images is None else int(self.images.shape[0])

    # ------------------------------------------------------------------ public
    def run(
        self,
        x=None,
        plan: QuantPlan | None = None,
        mode=None,
        *,
        cpu_compat: bool = False,
        record: bool = True,
        keep: Iterable[str] = (),
        rng=None,
        layout=None,
        transform: Callable[[Layer, np.ndarray], np.ndarray] | None = None,
    ) -> RunResult:
        """Run batch ``x`` (None: the held images) under ``plan`` (None: float32).

        Parameters
        ----------
        x : array_like, optional
            Input batch ``(N, *input_shape)`` after preprocessing (a single sample without the batch axis is
            accepted).
        plan : QuantPlan, optional
        mode : str or emulator.Mode, optional
            ``"exact"`` or ``"ristretto"``; default: the plan's mode. Ignored without a plan.
        cpu_compat : bool
            Ristretto mode: Ristretto's CPU quirks (module docstring).
        record : bool
            Collect a ``LayerRecord`` per layer (the emulator statistics of planned weighted layers are always in
            ``RunResult.layer_stats``).
        keep : iterable of str
            Tensors to return besides the outputs (``"*"``: all).
        rng : optional
            Seed for stochastic rounding (the prefix cache is not used with one).
        layout : str or Layout, optional
            Layout of ``x`` (default NCHW; ``"model"``: the model file's).
        transform : callable, optional
            ``transform(layer, output) -> output`` applied to every layer's output before later layers read it
            (the statistics pass's TRAIN-phase Dropout); the prefix cache is not used with one.

        Raises
        ------
        PlanError
            If the plan does not fit the network.
        ValueError
            If ``x`` does not match the network's input shape.
        """
        net = self.network
        keep = (keep,) if isinstance(keep, str) else tuple(keep)
        for t in keep:
            if t != "*" and t not in net.tensor_shapes:
                raise ValueError(f"keep: {t!r} is not a tensor of network {net.name!r}")
        held = x is None
        if held:
            if self.images is None:
                raise ValueError("this executor holds no images: give the batch x")
            x = self.images
        else:
            x = check_input(net, x, layout=layout)
        s = self._settings(plan, mode, cpu_compat, record, keep, rng, transform)
        use_cache = held and self.cache.enabled and rng is None and transform is None
        keys = self._keys(s) if use_cache else None
        start, snapshots = 0, None
        if use_cache:
            for i in reversed(self._cut_points):
                if self.cache.peek(keys[i]):
                    hit = self.cache.get(keys[i])
                    if hit is not None:
                        start, snapshots = i, hit
                        break
        cuts = [i for i in self._cut_points if i > start] if use_cache else []
        n_batches = -(-len(x) // self.batch_size) if len(x) else 0

        def one(b: int):
            if snapshots is None:
                xb = x[b * self.batch_size:(b + 1) * self.batch_size]
                feeds = {net.input.name: xb}
                kept = {t: v for t, v in feeds.items() if s.wanted is None or t in s.wanted}
                state = _Batch(feeds, kept)
            else:
                state = snapshots[b].copy()
            return self._walk(state, s, start, cuts)

        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            if self.workers > 1 and n_batches > 1:
                from concurrent.futures import ThreadPoolExecutor

                with ThreadPoolExecutor(self.workers) as pool:
                    parts = list(pool.map(one, range(n_batches)))
            else:
                parts = [one(b) for b in range(n_batches)]
        if use_cache:
            for i in cuts:
                snaps = [p[1][i] for p in parts]
                self.cache.put(keys[i], snaps, sum(sn.nbytes() for sn in snaps))
        return self._result(s, [p[0] for p in parts], n_batches * (len(net.layers) - start))

    # ------------------------------------------------------------------ settings
    def _settings(self, plan, mode, cpu_compat, record, keep, rng, transform) -> _Run:
        net = self.network
        wanted = None if "*" in keep else frozenset(net.outputs) | frozenset(keep)
        if plan is None:
            return _Run(None, None, bool(cpu_compat), bool(record), wanted, rng, transform)
        if not isinstance(plan, QuantPlan):
            raise TypeError(f"plan={plan!r} must be a QuantPlan or None")
        mode = plan.mode if mode is None else Mode.coerce(mode, "mode")
        plan.check(net)
        s = _Run(plan, mode, bool(cpu_compat), bool(record), wanted, rng, transform)
        for layer in net.layers:
            if isinstance(layer, WEIGHTED) and layer.name in plan:
                s.prepared[layer.name] = self._prepared_layer(layer, plan, mode, s.cpu_compat)
        if s.ristretto:
            for note in bias_notes(net, plan, s.prepared):
                s.notes[note] = None
        if s.exact:
            s.formats = tensor_formats(net, plan)
            s.affine = affine_ops.affine_formats(net, plan)
            for note in exact_ops.float_fallbacks(net, plan, s.formats):
                s.notes[note] = None
            soft = [layer.name for layer in net.layers if isinstance(layer, Softmax)
                    and not affine_ops.handles(layer, s.affine, plan.rounding)]
            if soft:
                s.notes[f"softmax ({', '.join(soft)}) computes in float64: exact mode has no integer softmax"] = None
        return s

    def _prepared_layer(self, layer, plan: QuantPlan, mode: Mode, cpu_compat: bool) -> PreparedLayer:
        """The layer's ``PreparedLayer`` under its plan formats (weights encoded once; one per layer, mode and
        ``cpu_compat``, for the formats it last ran with)."""
        formats = plan.layer_formats(layer.name)
        key = (layer.name, mode, cpu_compat)
        hit = self._prepared.get(key)
        if hit is None or hit[0] != formats:
            p = self.network.params[layer.name]
            kind, geometry = emulator_kind(layer)
            try:
                bias = p.get(EXACT_BIAS, p.get("bias"))  # an int8 model's exact int32 bias, when it has one
                prep = PreparedLayer(kind, p["weight"], bias, formats, geometry, mode=mode,
                                     cpu_compat=cpu_compat)
            except ValueError as exc:
                raise PlanError(f"plan layer {layer.name!r} ({mode.value} mode, inputs {formats.inputs}, weights "
                                f"{formats.weights}): {exc}") from exc
            hit = self._prepared[key] = (formats, prep)
        return hit[1]

    def _keys(self, s: _Run) -> list:
        """The prefix-cache key before every layer: the run's settings and the plan entries of the layers before."""
        head = (s.exact, s.cpu_compat, s.record, s.wanted)
        keys, prefix = [], ()
        for layer in self.network.layers:
            keys.append((head, prefix))
            entry = None if s.plan is None else s.plan.get(layer.name)
            if entry is not None:
                entry = (s.mode, entry, s.plan.rounding_of(layer.name), s.plan.overflow_of(layer.name))
            prefix = prefix + ((layer.name, entry),)
        return keys

    # ------------------------------------------------------------------ walking the layers
    def _walk(self, state: _Batch, s: _Run, start: int, cuts: list) -> tuple[_Batch, dict]:
        net = self.network
        snaps = {}
        cut_set = set(cuts)
        env, kept = state.env, state.kept
        for i in range(start, len(net.layers)):
            layer = net.layers[i]
            if i in cut_set:
                snaps[i] = state.copy()
            ins = [env[t] for t in layer.inputs]
            step = self._step(layer, ins, s)
            out = step.out if s.transform is None else s.transform(layer, step.out)
            if step.updates:
                env.update(step.updates)
            env[layer.output] = out
            if s.wanted is None or layer.output in s.wanted:
                kept[layer.output] = out
            if step.stats is not None:
                state.stats[layer.name] = step.stats
            if s.record:
                state.records[layer.name] = LayerRecord(
                    layer.name, layer.op_type, s.plan is not None and layer.name in s.plan, *_range(ins[0]),
                    *_range(out), step.stats, step.input_saturations, step.output_saturations)
            for t in self.lifetimes.released_after(i, s.wanted):
                env.pop(t, None)
        return state, snaps

    def _step(self, layer: Layer, ins: list, s: _Run) -> _Step:
        entry = None if s.plan is None else s.plan.get(layer.name)
        if s.plan is None:
            return _Step(self.float_ops(layer, ins))
        if isinstance(layer, WEIGHTED) and entry is not None:
            return self._weighted(layer, ins, s)
        if s.exact and s.affine:
            done = affine_ops.affine_op(layer, ins, s.affine, s.plan.rounding)
            if done is not None:
                return _Step(done.values, None, None, 0, done.saturations)
        if s.exact and (entry is not None or not _float32_exact_op(layer)):
            ins = [_f64(v) for v in ins]
        if entry is None:
            if s.exact:
                done = self._integer(layer, ins, s, None)
                if done is not None:
                    return done
            return _Step(self.float_ops(layer, ins))
        if isinstance(layer, LRN) and entry.internal is not None:
            fmt = entry.internal  # strict minifloat LRN (module docstring); plan.check allowed ACROSS_CHANNELS only
            out = strict_lrn(layer, ins[0], fmt)
            return _Step(_f64(out) if s.exact else out, None, None, _out_of_range(ins[0], fmt),
                         _out_of_range(out, fmt))
        return self._planned_tensor(layer, ins, s, entry)

    def _weighted(self, layer, ins, s: _Run) -> _Step:
        net = self.network
        x0 = ins[0]
        prep = s.prepared[layer.name]
        try:
            res = prep(emulator_input(layer, x0), rng=s.rng, codes=False, float32_values=True)
        except ValueError as exc:
            raise PlanError(f"plan layer {layer.name!r}: {exc}") from exc
        values = res.values if s.exact else np.asarray(res.values, dtype=x0.dtype)
        out = values.reshape((x0.shape[0],) + net.shape(layer.output))
        updates = None
        if s.ristretto and prep.datapath.quantizes_activations and len(net.consumers(layer.inputs[0])) > 1:
            # Caffe: the layer rounded its (shared) bottom blob in place; later readers see it rounded
            entry = s.plan.get(layer.name)
            updates = {layer.inputs[0]: ristretto_quantize(x0, entry.inputs, s.plan.rounding_of(layer.name),
                                                           s.cpu_compat, s.rng).astype(np.float32)}
        return _Step(out, updates, res.stats)

    def _quantize(self, v: np.ndarray, fmt, layer, s: _Run) -> np.ndarray:
        r = s.plan.rounding_of(layer.name)
        if s.exact:
            return fmt.quantize(v, r, s.plan.overflow_of(layer.name), rng=s.rng)
        return ristretto_quantize(v, fmt, r, s.cpu_compat, s.rng).astype(np.float32)

    def _integer(self, layer, ins, s: _Run, outputs) -> _Step | None:
        """Exact mode's integer operator of ``layer`` (``exact_ops``), or None (float)."""
        name = layer.name
        entry = s.plan.get(name)
        in_formats = [s.formats.get(t) for t in layer.inputs]
        if entry is not None and entry.inputs is not None:
            in_formats = [fixed(entry.inputs)] * len(ins)
        ctx = exact_ops.Context(in_formats, fixed(outputs) if outputs is not None else None,
                                s.plan.reciprocal_of(name), s.plan.rounding_of(name), s.plan.overflow_of(name),
                                s.rng)
        if outputs is not None and ctx.outputs is None:
            return None  # a non-fixed-point output format: the float path quantizes to it
        res = exact_ops.integer_op(self.network, layer, ins, ctx)
        if res is None:
            return None
        return _Step(res.values, None, None, 0, res.saturations)

    def _planned_tensor(self, layer, ins, s: _Run, entry) -> _Step:
        """A planned layer without weights: quantize its inputs and/or outputs (module docstring)."""
        net = self.network
        in_sat = out_sat = 0
        updates = None
        if entry.inputs is not None:
            in_sat = _out_of_range(ins[0], entry.inputs)
            ins = [self._quantize(v, entry.inputs, layer, s) for v in ins]
            if s.ristretto and len(net.consumers(layer.inputs[0])) > 1:
                updates = {layer.inputs[0]: ins[0]}
        done = self._integer(layer, ins, s, entry.outputs) if s.exact else None
        if done is not None:
            return _Step(done.out, updates, None, in_sat, done.output_saturations)
        out = self.float_ops(layer, ins)
        if entry.outputs is not None:
            out_sat = _out_of_range(out, entry.outputs)
            out = self._quantize(out, entry.outputs, layer, s)
        return _Step(out, updates, None, in_sat, out_sat)

    # ------------------------------------------------------------------ results
    def _result(self, s: _Run, parts: list[_Batch], layers_run: int) -> RunResult:
        net = self.network
        if not parts:
            raise ValueError("the batch holds no images")

        def cat(t):
            vals = [p.kept[t] for p in parts]
            out = np.concatenate(vals) if len(vals) > 1 else vals[0]
            return _f64(out) if s.exact else out

        names = list(parts[0].kept)
        outputs = {t: cat(t) for t in net.outputs}
        tensors = {t: cat(t) for t in names if t not in outputs}
        records = merge_records([p.records for p in parts]) if s.record else {}
        stats = {name: sum_stats([p.stats[name] for p in parts]) for name in parts[0].stats}
        return RunResult(outputs, s.mode_name, records, tensors, stats, tuple(s.notes), layers_run)


# ---------------------------------------------------------------------- one-call forms


def run_network(network: Network, x, plan: QuantPlan | None = None, mode=None, *, record: bool = True,
                keep: Iterable[str] = (), rng=None, batch_size: int = 256, cpu_compat: bool = False,
                layout=None) -> RunResult:
    """Run ``network`` on batch ``x`` once (``Executor(network, batch_size=...).run(x, plan, mode, ...)``).

    ``x`` is the raw network input (preprocessing already applied), NCHW unless ``layout`` says otherwise.
    """
    return Executor(network, batch_size=batch_size).run(x, plan, mode, record=record, keep=keep, rng=rng,
                                                        cpu_compat=cpu_compat, layout=layout)


def run(network: Network, x, plan: QuantPlan | None = None, mode=None, *, rng=None, layout=None) -> np.ndarray:
    """The network's (single) output for batch ``x``: float32 without a plan, float64 values in exact mode,
    float32 in ristretto mode."""
    return run_network(network, x, plan, mode, record=False, rng=rng, layout=layout).output


def run_float(network: Network, x, *, keep: Iterable[str] = ()) -> dict[str, np.ndarray]:
    """Run ``network`` in float32 on batch ``x`` (NCHW, or a dict of input name to batch); return its outputs (and
    kept tensors) by name."""
    if isinstance(x, dict):
        if len(network.inputs) != 1 or set(x) != {network.input.name}:
            raise ValueError(f"network {network.name!r} takes one input, {network.input.name!r}; got {list(x)}")
        x = x[network.input.name]
    x = check_input(network, x)
    res = Executor(network, batch_size=max(1, len(x))).run(x, record=False, keep=keep)  # one batch
    return {**res.tensors, **res.outputs}


__all__ = ["DEFAULT_CACHE_BYTES", "Executor", "LayerRecord", "RunResult", "check_input", "emulator_input",
           "emulator_kind", "run", "run_float", "run_network", "strict_lrn"]
