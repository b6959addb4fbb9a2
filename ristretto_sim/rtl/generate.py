"""Writing a generated design to a folder: its Verilog, a Verilog testbench with vectors from the golden model
(the emulator's arithmetic), and a one-line summary (``summary.txt``, what ``ristretto-sim rtl`` prints).

``pe_spec_for(kind, formats, k)`` checks that the formats select the PE kind asked for; ``layer_spec(formats,
k)`` is the PE of a plan's layer (the PE kind's ``pe_formats`` of the layer's formats); ``array_formats``
gives the one PE datapath that serves every layer of a plan (the widest operands, the datapath's widest
accumulator); ``write_design`` writes a PE or an array. A PE with configuration inputs (the register
zero-point affine PE) serves many layers: ``layer_specs`` gives its spec per layer of a plan, and
``write_design(..., layers=...)`` writes a testbench that runs them one after another through the one module.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ristretto_sim.emulator.datapaths import LayerFormats, select
from ristretto_sim.formats import widest
from ristretto_sim.rtl import cosim
from ristretto_sim.rtl.array import SystolicArray, check_array
from ristretto_sim.rtl.export import module_name, verilog_for
from ristretto_sim.rtl.golden import GoldenPEs, Trace, golden_layers
from ristretto_sim.rtl.registry import make_pe, pe_class, pe_class_named
from ristretto_sim.rtl.spec import PESpec
from ristretto_sim.rtl.stream import concat_streams, concat_vectors, gemm_stream, tile_mask, tile_outputs
from ristretto_sim.rtl.vectors import pe_stimulus, random_trace

#: PE kinds by the name the CLI takes -> the datapaths they implement (a minifloat PE: a Kulisch register without
#: an accumulator or with a fixed-point one, a float adder with a minifloat accumulator)
PE_KINDS = {"fixed": ("fixed",), "shift": ("shift",), "minifloat": ("minifloat-kulisch", "minifloat-float"),
            "affine": ("affine",)}


@dataclass(frozen=True)
class Written:
    """What ``write_design`` wrote: the Verilog, the testbench, its cycle count, and the summary line."""

    verilog: Path
    testbench: Path
    cycles: int
    summary: str


def pe_spec_for(kind: str, formats: LayerFormats, k: int, zero_point: str = "subtract") -> PESpec:
    """The spec of a ``kind`` PE (``fixed``, ``shift``, ``minifloat``, ``affine``) for ``formats`` sized for reduction
    length ``k`` (an affine PE's ``zero_point``: ``subtract``, ``fold`` or ``register``); ``ValueError`` when the
    formats select another datapath, naming it and the fix."""
    if kind not in PE_KINDS:
        raise ValueError(f"pe={kind!r}: choose one of {', '.join(PE_KINDS)}")
    if zero_point != "subtract" and kind != "affine":
        raise ValueError(f"--zero-point {zero_point} is for affine PEs, not {kind} ones")
    spec = PESpec(formats, k=k, zero_point=zero_point)
    pe_class(spec)  # a generator exists
    if spec.kind not in PE_KINDS[kind]:
        raise ValueError(
            f"a {kind} PE was asked for, but inputs {formats.inputs} x weights {formats.weights} "
            f"(accumulator {formats.accumulator}) select the {spec.kind} datapath; give formats of the {kind} "
            "datapath or the PE kind those formats select"
        )
    return spec


def layer_spec(formats: LayerFormats, k: int, zero_point: str = "subtract") -> PESpec:
    """The spec of the PE computing a layer of ``formats`` with reduction length ``k`` (the formats the datapath's
    PE kind holds: ``pe_formats``; an affine PE's ``zero_point``)."""
    cls = pe_class_named(select(formats).name)
    return PESpec(formats if cls is None else cls.pe_formats(formats), k=k, zero_point=zero_point)


def array_formats(layers: dict, zero_point: str = "subtract") -> tuple[LayerFormats, str]:
    """The PE formats that serve every layer in ``layers`` (name -> ``(LayerFormats, k)``): the widest inputs and
    weights, the datapath's widest accumulator; and the largest K. ``ValueError`` if the layers need different
    datapaths, or a PE of that kind serves one layer only (``layer_bound``; an affine PE unless its zero points are
    ``register`` inputs)."""
    if not layers:
        raise ValueError("the plan has no weighted layers to build an array for")
    kinds = {name: select(f).name for name, (f, _) in layers.items()}
    if len(set(kinds.values())) != 1:
        listing = ", ".join(f"{n}: {k}" for n, k in kinds.items())
        raise ValueError(f"one array serves one datapath, but the plan's layers need several ({listing}); "
                         "pick one with --layer")
    cls = pe_class_named(next(iter(kinds.values())))
    bound = None if cls is None else cls.layer_bound(zero_point)
    if bound:
        raise ValueError(f"{bound}: pick a layer with --layer (with --array RxC for an array of its PE)")
    fmts = [f for f, _ in layers.values()]
    k = max(k for _, k in layers.values())
    inputs = widest([f.inputs for f in fmts], "inputs")
    weights = widest([f.weights for f in fmts], "weights")
    first = fmts[0]
    dp = select(first)
    accs = [select(f).accumulator_for(kk) for f, kk in layers.values()]
    acc = dp.widest_accumulator(accs, inputs, weights)
    return replace(first, inputs=inputs, weights=weights, accumulator=acc, bias=None, outputs=None), k


def layer_specs(spec: PESpec, layers: dict) -> list[PESpec]:
    """``spec``'s hardware computing each layer in ``layers`` (name -> ``(LayerFormats, k)``), one spec per distinct
    configuration (an affine register zero-point PE: per pair of zero points), in the layers' order; ``[spec]``
    for a kind without configuration inputs."""
    cls = pe_class(spec)
    out = []
    for f, _ in layers.values():
        s = cls.layer_of(spec, f)
        if s is None:
            return [spec]
        if all(cls.config_values(s) != cls.config_values(o) for o in out):
            out.append(s)
    return out or [spec]


def _pe_files(spec: PESpec, out: Path, cycles: int, seed: int, layers):
    pe = make_pe(spec)
    runs = []
    for i, s in enumerate(layers):  # the cycles shared out; each run starts with a load
        n = cycles // len(layers) + (1 if i < cycles % len(layers) else 0)
        runs.append((s, random_trace(s, max(1, n), 1, seed=seed + i)))
    g = golden_layers(runs)
    name = module_name(pe)
    path = out / f"{name}.v"
    path.write_text(verilog_for(pe))
    stim = concat_vectors(pe_stimulus(s, t) for s, t in runs)
    cycles = len(stim["a"])
    exp = {"acc": g.acc[:, 0], "overflow": g.overflow[:, 0]} | {f: v[:, 0] for f, v in g.flags.items()}
    tb = cosim.write_testbench(pe, name, stim, exp, out)
    return pe, path, tb, cycles


def gemm_golden(spec: PESpec, a: np.ndarray, w: np.ndarray, bias: np.ndarray, with_flags: bool = False):
    """``A @ W + bias`` as the PEs compute it, from the golden model (one golden PE per output); ``with_flags``:
    also the PE kind's sticky flags of every output (name -> (M, N) bools)."""
    m, k = a.shape
    n = w.shape[1]
    steps = np.ones((k, m * n), dtype=bool)
    load = np.zeros((k, m * n), dtype=bool)
    load[0] = True
    ai = np.repeat(a.T, n, axis=1)  # (K, M*N): output (i, j) at column i*N + j
    wi = np.tile(w, (1, m))
    bi = np.empty((k, m * n), dtype=bias.dtype)
    bi[:] = np.tile(bias, m)
    out = GoldenPEs(spec, m * n).run(Trace(ai, wi, bi, steps, load, np.zeros((k, m * n), bool)))
    if with_flags:
        return out.acc[-1].reshape(m, n), {f: v[-1].reshape(m, n) for f, v in out.flags.items()}
    return out.acc[-1].reshape(m, n)


def _array_files(rows: int, cols: int, spec: PESpec, out: Path, seed: int, layers):
    """An output-stationary array and a testbench of one random GEMM per layer of ``layers`` (specs of its PE's
    hardware), run one after another."""
    arr = SystolicArray(rows, cols, spec)
    kind = pe_class(spec)
    rng = np.random.default_rng(seed)
    limit = kind.max_products(spec)
    k = max(1, min(spec.k if limit is None else limit, 32))
    m, n = rows + max(1, rows // 2), cols + max(1, cols // 2)  # edge folds included
    streams, exps, masks = [], [], []
    for layer in layers:
        a_codes, w_codes = kind.operand_codes(layer)
        a = a_codes[rng.integers(0, len(a_codes), (m, k))]
        w = w_codes[rng.integers(0, len(w_codes), (k, n))]
        b_codes = kind.bias_codes(layer)
        bias = b_codes[rng.integers(0, len(b_codes), n)]
        c = gemm_golden(layer, a, w, bias)
        st = gemm_stream(arr, a, w, bias, layer=layer)
        streams.append(st)
        exps.append(tile_outputs(st, arr, c) | {"done": st.done.astype(np.int64)})
        masks.append(tile_mask(st, arr, c.shape))
    st = concat_streams(streams)
    name = module_name(arr)
    path = out / f"{name}.v"
    path.write_text(verilog_for(arr))
    tb = cosim.write_testbench(arr, name, st.inputs, concat_vectors(exps), out, mask=concat_vectors(masks),
                               before_edge=True)
    return arr, path, tb, st.cycles


def _ws_files(rows: int, cols: int, spec: PESpec, out: Path, seed: int, layers):
    """A :class:`~ristretto_sim.rtl.ws_sequencer.WsSequencer` of a random GEMM with reduction and column edge folds
    (its memories hold the operands) and the output stream the golden model's result gives it: the GEMM of the
    first of ``layers`` (the memories hold one GEMM, so one layer's configuration)."""
    spec = layers[0]
    from ristretto_sim.rtl.ws_array import check_ws_pe
    from ristretto_sim.rtl.ws_sequencer import WsSequencer, expected_stream

    check_ws_pe(spec)
    kind = pe_class(spec)
    rng = np.random.default_rng(seed)
    limit = kind.max_products(spec)
    k = max(1, min(spec.k if limit is None else limit, rows + max(1, rows // 2)))
    m, n = rows + cols, cols + max(1, cols // 2)  # M = rows + cols: folds fully overlapped
    a_codes, w_codes = kind.operand_codes(spec)
    a = a_codes[rng.integers(0, len(a_codes), (m, k))]
    w = w_codes[rng.integers(0, len(w_codes), (k, n))]
    b_codes = kind.bias_codes(spec)
    bias = b_codes[rng.integers(0, len(b_codes), n)]
    seq = WsSequencer(rows, cols, spec, a, w, bias)
    codes, flags = gemm_golden(spec, a, w, bias, with_flags=True)
    stim, exp, mask = expected_stream(seq, codes, flags)
    name = module_name(seq)
    path = out / f"{name}.v"
    path.write_text(verilog_for(seq))
    tb = cosim.write_testbench(seq, name, stim, exp, out, mask=mask, before_edge=True)
    return seq, path, tb, len(stim["start"])


#: array generators by dataflow: files and the summary's description
_ARRAYS = {
    "os": (_array_files, "output-stationary array"),
    "ws": (_ws_files, "weight-stationary GEMM sequencer (double-buffered array, operand memories)"),
}


def _requantizer_files(rq, out: Path, cycles: int, seed: int) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    name = module_name(rq)
    path = out / f"{name}.v"
    path.write_text(verilog_for(rq))
    stim, exp = rq.vectors(max(cycles, 64), seed)
    return path, cosim.write_testbench(rq, name, stim, exp, out)


def write_design(spec: PESpec, out_dir, *, array: tuple[int, int] | None = None, cycles: int = 2000,
                 seed: int = 0, linear: bool = False, dataflow: str = "os", layers=None,
                 requantizer: bool = True) -> Written:
    """Write ``spec``'s PE (or a ``rows x cols`` array of it) into ``out_dir`` (module docstring), and the PE
    kind's requantizer (its ``readout``: of a fully connected layer when ``linear``), if it has one, with its own
    testbench into ``out_dir/requantize``. ``dataflow``: ``os`` (:class:`SystolicArray`) or ``ws`` (a
    :class:`~ristretto_sim.rtl.ws_sequencer.WsSequencer` of a random GEMM). ``layers``: specs of ``spec``'s
    hardware (``layer_specs``: other layers' configuration inputs) the testbench runs one after another (default:
    ``spec`` alone; a ws sequencer takes the first). ``requantizer=False``: no requantizer (an array serving a
    whole plan: a requantizer holds one layer's output zero point and multipliers)."""
    if dataflow not in _ARRAYS:
        raise ValueError(f"dataflow={dataflow!r}: choose one of {', '.join(_ARRAYS)}")
    if array is None and dataflow != "os":
        raise ValueError(f"dataflow {dataflow!r} is an array's: give the array size too (--array RxC)")
    if array is not None:
        check_array(array[0], array[1], spec)
    layers = [spec] if layers is None else list(layers)
    bad = [s for s in layers if not s.same_hardware(spec)]
    if not layers or bad:
        raise ValueError(f"layers: give specs of the {spec.module_name()} PE (got {len(layers)}, {len(bad)} others)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if array is None:
        comp, path, tb, n = _pe_files(spec, out, cycles, seed, layers)
        what = spec.describe()
    else:
        files, kind = _ARRAYS[dataflow]
        comp, path, tb, n = files(array[0], array[1], spec, out, seed, layers)
        what = f"{array[0]}x{array[1]} {kind} of the {spec.describe()}"
    config = pe_class(spec).config_values
    if config(spec):
        used = layers[:1] if array is not None and dataflow != "os" else layers
        runs = ", ".join(" ".join(f"{k}={v}" for k, v in config(s).items()) for s in used)
        what += f"; testbench runs {len(used)} configuration{'s' if len(used) > 1 else ''} ({runs})"
    ports = " ".join(f"{p}[{w}]" for p, d, w in cosim.ports_of(comp))
    summary = f"{path}: {what}; ports {ports}; testbench {tb} ({n} cycles of emulator vectors)"
    rq = pe_class(spec).readout(spec, linear) if requantizer else None
    if rq is not None:
        rq_path, rq_tb = _requantizer_files(rq, out / "requantize", cycles, seed)
        summary += f"; requantizer {rq_path} ({rq.spec.form} rounding, latency {rq.latency}; testbench {rq_tb})"
    (out / "summary.txt").write_text(summary + "\n")
    return Written(path, tb, n, summary)
