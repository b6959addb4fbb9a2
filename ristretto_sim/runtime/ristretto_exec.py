"""Running a network many times under different plans, the way Ristretto's tool does, with a prefix cache.

The trimming search scores the same images under a dozen plans that differ in a few layers. ``PlanExecutor``
holds the preprocessed images and runs them in chunks (the TEST batches) under a ``QuantPlan`` in ``float``,
``exact`` or ``ristretto`` arithmetic:

* **ristretto** (reference ``ristretto.md`` §1.3, §10): planned Conv/ConvTranspose/Dense layers fake-quantize
  their input, weights and bias (bias in the weights' format; power-of-two weights leave the bias float), run a
  float32 GEMM, add the bias in float32 and quantize the output. The input is quantized **in place**: when the
  input tensor has other readers, those that run later see the rounded values (Caffe's shared Split blobs). GPU
  semantics by default; ``cpu_compat=True`` adds the CPU quirks (ties away from zero, the minifloat early
  return, and power-of-two layers whose activations are not quantized at all).
* **exact**: planned weighted layers run through the emulator (``emulator.PreparedLayer``: the results of
  ``emulate_layer``, weights encoded once per format; integer codes, declared accumulator; their outputs are
  float64 values on the output grid); accumulator overflows and output saturations are counted per layer.
* **float**: no plan, float32.

An LRN layer whose plan entry has ``internal`` runs Ristretto's strict minifloat LRN (``LRNRistretto``,
``emulator.ristretto_lrn``) in both ristretto and exact mode, as ``runner`` does (see its module docstring; the
exact-mode result is carried as float64).

In every mode, layers without a plan entry compute as the float net does (Conv/Dense: float32 im2col GEMMs).

Prefix cache: the live tensors before every weighted layer are kept (per chunk) under a key made of the mode and
the plan entries of every layer executed before that point. A later run whose plan agrees with an earlier one up
to layer *i* starts at layer *i*, which makes e.g. Ristretto's FC-weights sweep (convolutions unchanged) almost
free. Results do not depend on the cache. ``cache_bytes`` bounds its memory (oldest snapshots are dropped).

Dynamic fixed point in ristretto mode is computed in float32 (clamp, scale by ``2**fl``, ``rint``, scale back),
which equals ``formats.ristretto_fixed_point`` bit for bit (the scalings are exact powers of two and ``rint`` of a
float32 is a float32); the test suite checks the equality.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from ristretto_sim.emulator import Mode, PreparedLayer
from ristretto_sim.emulator.ristretto_mode import float32_conv2d, float32_conv_transpose2d, ristretto_quantize
from ristretto_sim.errors import PlanError
from ristretto_sim.formats import FixedPoint, PowerOfTwo, Rounding
from ristretto_sim.graph.layers import LRN, WEIGHTED, Conv, Dense
from ristretto_sim.graph.network import Network
from ristretto_sim.graph.plan import QuantPlan
from ristretto_sim.runtime.float_runner import check_input, float_layer
from ristretto_sim.runtime.runner import conv_geometry, emulator_call, strict_lrn


def fast_ristretto_fixed_point(x, bits: int, frac_bits: int, cpu_compat: bool = False) -> np.ndarray:
    """``formats.ristretto_fixed_point`` (NEAREST) computed in float32: the same values, faster.

    Parameters
    ----------
    x : array_like
        Values (cast to float32 first, as Ristretto's blobs are).
    bits, frac_bits : int
        Word width and fractional length (``frac_bits`` may be negative or exceed ``bits``).
    cpu_compat : bool
        C ``round`` (ties away from zero) instead of CUDA ``rint`` (ties to even); computed by the reference
        function.
    """
    x = np.asarray(x, dtype=np.float32)
    hi = np.float32(((1 << (bits - 1)) - 1) * 2.0 ** (-frac_bits))
    lo = np.float32(-(1 << (bits - 1)) * 2.0 ** (-frac_bits))
    if cpu_compat or not (np.isfinite(hi) and np.isfinite(lo)) or abs(frac_bits) > 100:
        from ristretto_sim.formats import ristretto_fixed_point

        return ristretto_fixed_point(x, bits, frac_bits, cpu_compat=cpu_compat)
    y = np.rint(np.minimum(np.maximum(x, lo), hi) * np.float32(2.0**frac_bits))
    return (y * np.float32(2.0**-frac_bits)).astype(np.float32, copy=False)


def ristretto_trim(x, fmt, rounding=Rounding.NEAREST_EVEN, cpu_compat: bool = False) -> np.ndarray:
    """Ristretto's fake quantization of ``x`` to ``fmt`` (float32 out); None leaves ``x`` as float32."""
    if fmt is None:
        return np.asarray(x, dtype=np.float32)
    rounding = Rounding.coerce(rounding, "rounding")
    if isinstance(fmt, FixedPoint) and not fmt.per_channel and fmt.signed and rounding is Rounding.NEAREST_EVEN:
        return fast_ristretto_fixed_point(x, fmt.bits, fmt.frac_bits, cpu_compat)
    return ristretto_quantize(x, fmt, rounding, cpu_compat)


_TRANSPOSED: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _transposed(w: np.ndarray) -> np.ndarray:
    """A contiguous float32 ``w.T`` (cached per weight array): OpenBLAS multiplies a transposed view of a
    small-batch Dense layer several times slower."""
    hit = _TRANSPOSED.get(id(w))
    if hit is not None and hit[0] is w:
        return hit[1]
    wt = np.ascontiguousarray(np.asarray(w, dtype=np.float32).T)
    if len(_TRANSPOSED) > 256:
        _TRANSPOSED.clear()
    _TRANSPOSED[id(w)] = (w, wt)
    return wt


def fast_float_layer(network: Network, layer, ins: list) -> np.ndarray:
    """``float_runner.float_layer`` with Caffe's float32 im2col GEMM for Conv and Dense layers (several times
    faster on small batches); other layers go to ``float_layer``. Float64 inputs give float64 outputs computed
    in float32."""
    x = ins[0]
    if isinstance(layer, (Conv, Dense)):
        p = network.params.get(layer.name, {})
        x32 = np.asarray(x, dtype=np.float32)
        if isinstance(layer, Dense):
            y = np.matmul(x32.reshape(x32.shape[0], -1), _transposed(p["weight"]))
        else:
            y = float32_conv2d(x32, np.asarray(p["weight"], np.float32), conv_geometry(layer))
        b = p.get("bias")
        if b is not None:
            shape = [1] * y.ndim
            shape[1] = b.size
            y = y + np.asarray(b, np.float32).reshape(shape)
        y = y.reshape((x.shape[0],) + network.shape(layer.output))
        return y.astype(x.dtype, copy=False)
    return float_layer(network, layer, ins)


@dataclass(frozen=True)
class LayerCounts:
    """Per-layer event counts of one run (summed over every image).

    Attributes
    ----------
    accumulator_overflows, output_saturations : int
        Exact mode: outputs whose accumulator overflowed (or was clipped) / left the output format's range.
        Ristretto mode: output saturations only (Ristretto has no accumulator).
    """

    accumulator_overflows: int = 0
    output_saturations: int = 0

    def __add__(self, other: LayerCounts) -> LayerCounts:
        return LayerCounts(self.accumulator_overflows + other.accumulator_overflows,
                           self.output_saturations + other.output_saturations)


@dataclass(frozen=True, eq=False)
class ExecResult:
    """The scored output of every image and the per-layer counts of one run.

    Attributes
    ----------
    output : numpy.ndarray
        The requested output tensor, ``(N, ...)``, images in data order.
    counts : dict of str to LayerCounts
        Planned weighted layers only.
    mode : str
        ``"float"``, ``"exact"`` or ``"ristretto"``.
    layers_run : int
        Layer evaluations actually computed (the rest came from the prefix cache), summed over chunks.
    """

    output: np.ndarray
    counts: dict[str, LayerCounts] = field(default_factory=dict)
    mode: str = "float"
    layers_run: int = 0


class PlanExecutor:
    """Run one image set through ``network`` under many plans, reusing unchanged prefixes.

    Parameters
    ----------
    network : Network
    x : array_like
        The images after preprocessing, ``(N, *input_shape)``.
    chunk : int
        Images per forward pass (Caffe's TEST batch size).
    cache_bytes : int
        Memory bound of the prefix cache (0 disables it).
    workers : int, optional
        Threads running chunks in parallel (default 1: on the shared 2-core machine BLAS already uses both
        cores and threads did not help); results do not depend on it.
    """

    def __init__(self, network: Network, x, *, chunk: int = 100, cache_bytes: int = 512 << 20,
                 workers: int | None = None):
        if not isinstance(network, Network):
            raise TypeError(f"network={network!r} must be a Network")
        if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
            raise ValueError(f"chunk={chunk!r} must be a positive integer")
        self.network = network
        self.x = check_input(network, x)
        self.chunk = chunk
        self.cache_bytes = int(cache_bytes)
        if workers is None:
            workers = 1
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers={workers!r} must be a positive integer")
        self.workers = workers
        self._cache: OrderedDict = OrderedDict()
        self._cached_bytes = 0
        self._last_use: dict[str, int] = {}
        for i, layer in enumerate(network.layers):
            for t in layer.inputs:
                self._last_use[t] = i
        self._cut_points = [i for i, layer in enumerate(network.layers) if isinstance(layer, WEIGHTED)]
        self._weights: dict = {}
        self._prepared: dict[str, tuple] = {}  # exact mode: layer -> (formats, PreparedLayer), the latest formats

    def __len__(self) -> int:
        return int(self.x.shape[0])

    # ------------------------------------------------------------------ cache
    def _keys(self, plan: QuantPlan | None, mode: str, cpu_compat: bool, output: str) -> list:
        # every mode computes unplanned layers alike (float32 GEMMs), so an unplanned prefix is shared by all
        head = (bool(cpu_compat), output)
        keys = []
        prefix: tuple = ()
        for layer in self.network.layers:
            keys.append((head, prefix))
            entry = None if plan is None else plan.get(layer.name)
            if entry is not None:
                entry = (mode, entry, plan.rounding_of(layer.name), plan.overflow_of(layer.name))
            prefix = prefix + ((layer.name, entry),)
        return keys

    def _store(self, key, value, nbytes: int) -> None:
        if self.cache_bytes <= 0 or nbytes > self.cache_bytes or key in self._cache:
            return
        while self._cached_bytes + nbytes > self.cache_bytes and self._cache:
            _, (_, old) = self._cache.popitem(last=False)
            self._cached_bytes -= old
        self._cache[key] = (value, nbytes)
        self._cached_bytes += nbytes

    def clear_cache(self) -> None:
        """Forget every cached prefix."""
        self._cache.clear()
        self._cached_bytes = 0

    # ------------------------------------------------------------------ running
    def run(self, plan: QuantPlan | None = None, mode=None, *, cpu_compat: bool = False,
            output: str | None = None) -> ExecResult:
        """Run every image under ``plan`` (None: float32) and return the ``output`` tensor (default: the
        network's first output) with per-layer counts.

        Parameters
        ----------
        plan : QuantPlan, optional
        mode : str or emulator.Mode, optional
            ``"exact"`` or ``"ristretto"`` (default: the plan's mode); ignored without a plan.
        cpu_compat : bool
            Ristretto mode: the CPU quirks (module docstring).
        output : str, optional
            Tensor to return.
        """
        net = self.network
        output = net.outputs[0] if output is None else output
        if output not in net.tensor_shapes:
            raise ValueError(f"output={output!r} is not a tensor of network {net.name!r}")
        if plan is None:
            mode_name = "float"
        else:
            if not isinstance(plan, QuantPlan):
                raise TypeError(f"plan={plan!r} must be a QuantPlan or None")
            plan.check(net)
            mode_name = (plan.mode if mode is None else Mode.coerce(mode, "mode")).value
        keys = self._keys(plan, mode_name, cpu_compat, output)
        start, snapshots = 0, None
        for i in reversed(self._cut_points):
            hit = self._cache.get(keys[i])
            if hit is not None:
                self._cache.move_to_end(keys[i])
                start, snapshots = i, hit[0]
                break
        run_from = [i for i in self._cut_points if i > start]

        def one_chunk(c: int):
            lo = c * self.chunk
            if snapshots is None:
                env = {net.input.name: self.x[lo:lo + self.chunk]}
                chunk_counts: dict[str, LayerCounts] = {}
            else:
                env, chunk_counts = dict(snapshots[c][0]), dict(snapshots[c][1])
            snaps = {}
            for i in range(start, len(net.layers)):
                layer = net.layers[i]
                if i in run_from:
                    snaps[i] = (dict(env), dict(chunk_counts))
                self._step(layer, env, plan, mode_name, cpu_compat, chunk_counts)
                for t in set(layer.inputs):
                    if self._last_use.get(t) == i and t != output:
                        env.pop(t, None)
            return env[output], chunk_counts, snaps

        n_chunks = -(-len(self) // self.chunk)
        if self.workers > 1 and n_chunks > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(self.workers) as pool:
                parts = list(pool.map(one_chunk, range(n_chunks)))
        else:
            parts = [one_chunk(c) for c in range(n_chunks)]
        outs, counts = [], {}
        new_snaps: dict[int, list] = {i: [] for i in run_from}
        for out_c, counts_c, snaps_c in parts:
            outs.append(out_c)
            for k, v in counts_c.items():
                counts[k] = counts.get(k, LayerCounts()) + v
            for i, snap in snaps_c.items():
                new_snaps[i].append(snap)
        layers_run = n_chunks * (len(net.layers) - start)
        for i, snaps in new_snaps.items():
            nbytes = sum(a.nbytes for env, _ in snaps for a in env.values())
            self._store(keys[i], snaps, nbytes)
        # counts of a cached prefix were carried in the snapshots
        return ExecResult(np.concatenate(outs), counts, mode_name, layers_run)

    def _ristretto_params(self, name: str, wfmt, rounding, cpu_compat: bool):
        """Trimmed weights (Dense: transposed, contiguous) and bias of a layer, computed once per format."""
        key = (name, wfmt, rounding, cpu_compat)
        hit = self._weights.get(key)
        if hit is None:
            p = self.network.params[name]
            wq = ristretto_trim(p["weight"], wfmt, rounding, cpu_compat)
            if isinstance(self.network.layer(name), Dense):
                wq = np.ascontiguousarray(wq.T)
            b = p.get("bias")
            bq = None
            if b is not None:  # the bias in the weights' format; float for power-of-two weights (reference §3)
                bq = ristretto_trim(b, None if isinstance(wfmt, PowerOfTwo) else wfmt, rounding, cpu_compat)
            if len(self._weights) > 64:
                self._weights.clear()
            hit = self._weights[key] = (wq, bq)
        return hit

    def _prepared_layer(self, name: str, kind, geom, formats) -> PreparedLayer:
        """Exact mode: the layer's ``PreparedLayer`` under ``formats`` (weights encoded once, not per chunk and run;
        one per layer, for the formats it last ran with)."""
        hit = self._prepared.get(name)
        if hit is None or hit[0] != formats:
            p = self.network.params[name]
            hit = self._prepared[name] = (formats, PreparedLayer(kind, p["weight"], p.get("bias"), formats, geom))
        return hit[1]

    def _step(self, layer, env: dict, plan, mode: str, cpu_compat: bool, counts: dict) -> None:
        net = self.network
        ins = [env[t] for t in layer.inputs]
        entry = None if plan is None else plan.get(layer.name)
        if entry is None:
            with np.errstate(over="ignore", under="ignore", invalid="ignore"):
                env[layer.output] = fast_float_layer(net, layer, ins)
            return
        x0 = ins[0]
        rounding = plan.rounding_of(layer.name)
        if isinstance(layer, WEIGHTED):
            kind, geom, xin = emulator_call(layer, x0)
            out_shape = (x0.shape[0],) + net.shape(layer.output)
            if mode == "ristretto":
                quantize_acts = not (cpu_compat and isinstance(entry.weights, PowerOfTwo))
                fin = entry.inputs if quantize_acts else None
                fout = entry.outputs if quantize_acts else None
                xq = ristretto_trim(xin, fin, rounding, cpu_compat)
                if fin is not None and len(net.consumers(layer.inputs[0])) > 1:
                    env[layer.inputs[0]] = xq.reshape(x0.shape)  # in place on the shared blob
                wq, bq = self._ristretto_params(layer.name, entry.weights, rounding, cpu_compat)
                if kind == "linear":
                    y = np.matmul(xq, wq)
                elif kind == "conv2d":
                    y = float32_conv2d(xq, wq, geom)
                else:
                    y = float32_conv_transpose2d(xq, wq, geom)
                if bq is not None:
                    shape = [1] * y.ndim
                    shape[1] = bq.size
                    y = (y + bq.reshape(shape)).astype(np.float32)
                sat = 0
                if fout is not None:
                    with np.errstate(invalid="ignore"):
                        sat = int(np.count_nonzero((y > fout.max) | (y < fout.min)))
                    y = ristretto_trim(y, fout, rounding, cpu_compat)
                env[layer.output] = np.asarray(y, dtype=np.float32).reshape(out_shape)
                counts[layer.name] = counts.get(layer.name, LayerCounts()) + LayerCounts(0, sat)
                return
            try:
                res = self._prepared_layer(layer.name, kind, geom, plan.layer_formats(layer.name))(xin, codes=False)
            except (ValueError, TypeError) as exc:
                raise PlanError(f"exact mode cannot run layer {layer.name!r} with inputs {entry.inputs} and weights "
                                f"{entry.weights}: {exc}") from None
            env[layer.output] = np.asarray(res.values, dtype=np.float64).reshape(out_shape)
            counts[layer.name] = counts.get(layer.name, LayerCounts()) + LayerCounts(
                int(res.stats.accumulator_overflows), int(res.stats.output_saturations))
            return
        overflow = plan.overflow_of(layer.name)
        exact = mode == "exact"
        if isinstance(layer, LRN) and entry.internal is not None:  # strict minifloat LRN (module docstring)
            with np.errstate(over="ignore", under="ignore", invalid="ignore"):
                out = strict_lrn(layer, x0, entry.internal)
            env[layer.output] = out.astype(np.float64) if exact else out
            return

        def q(v, fmt):
            if fmt is None:
                return v
            if exact:
                return fmt.quantize(v, rounding, overflow)
            return ristretto_trim(v, fmt, rounding, cpu_compat)

        if entry.inputs is not None:
            ins = [q(v, entry.inputs) for v in ins]
            if not exact and len(net.consumers(layer.inputs[0])) > 1:
                env[layer.inputs[0]] = ins[0]
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            out = float_layer(net, layer, ins)
        env[layer.output] = q(out, entry.outputs)
