"""RTL equivalence of the Pareto front: every front point's layer PEs simulated in Amaranth against the emulator.

A front point claims the energy and area of an accelerator whose PE computes what its accuracy was measured with.
``verify_front`` checks that claim: for every point and every planned conv/fc layer (and for the single PE its
accelerator is costed with, ``ACCELERATOR_PE``: ``config.pe``, the narrowest datapath every layer fits, sized for
the longest K, simulated on the vectors alone) it builds the layer's PE from the candidate's plan with the ``rtl``
generators (``rtl.spec.PESpec``: the layer's formats, sized for the layer's reduction length K), runs it in
Amaranth's in-process simulator (``rtl.sim.simulate_pe``) on a trace of ``cycles`` cycles, and compares every
register after every edge, as integers, with the golden model (the emulator's arithmetic, ``rtl.golden``). The trace
is ``rtl.vectors.random_trace``'s (the PE kind's codes with the corner cases weighted in: extreme codes, runs that
overflow both ways, K = 1 outputs, loads and clears mid-accumulation) whose second half takes its operands from the
layer itself (``layer_operands``: the codes of the layer's weights and of its input activations for one validation
image through the exact emulator).

* A point is ``verified`` when every layer's PE is; ``failed`` when one is not (the first mismatch kept, naming
  the layer, cycle and values: a bug, which the CLI reports loudly); ``not supported`` when a layer's datapath
  has no RTL generator, an operand is wider than ``MAX_OPERAND_BITS`` or the golden model cannot step its
  register (the reason kept), and none failed.
* The PE a layer needs is a ``PESpec`` whose formats keep what the PE implements (operands, accumulator, rounding,
  overflow, shifter; the bias is preloaded in accumulator codes and the output format is the requantizer's, so
  neither is part of it); each distinct spec is simulated once however many points and layers share it, on the
  operands of the first front point and layer that needs it (its ``source``).
* Results are written to ``OUT/rtl_verification.json`` as each spec finishes; a later run with the same vector
  settings and package version reuses every ``verified`` and ``not supported`` result without simulating, and
  simulates a ``failed`` one again (so that a fix is seen).

Nothing here prints: ``progress(done, total, text)`` is called after each spec.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ristretto_sim.errors import PlanError
from ristretto_sim.graph.layers import Conv, Dense
from ristretto_sim.graph.network import Network
from ristretto_sim.graph.plan import QuantPlan
from ristretto_sim.rtl.golden import Trace, golden_run
from ristretto_sim.rtl.registry import make_pe, pe_class
from ristretto_sim.rtl.sim import simulate_pe
from ristretto_sim.rtl.spec import PESpec
from ristretto_sim.rtl.vectors import random_trace

#: the results file in the search's output folder
FILENAME = "rtl_verification.json"
#: cycles of the trace each PE spec is simulated on (one MAC per enabled cycle: a few hundred MACs)
DEFAULT_CYCLES = 400
#: widest operand simulated: the vectors enumerate every code of an operand (``PE.operand_codes``), 2**bits of them
MAX_OPERAND_BITS = 16
VERIFIED, FAILED, UNSUPPORTED = "verified", "failed", "not supported"
#: the entry of a point's results for its accelerator's PE (beside its layers' names)
ACCELERATOR_PE = "accelerator PE"
STATUSES = (VERIFIED, FAILED, UNSUPPORTED)


@dataclass(frozen=True)
class SpecResult:
    """One PE spec's outcome: ``status`` (``STATUSES``), ``detail`` (the first mismatch or why no generator), the
    spec's one-line description, the cycles and MACs simulated."""

    status: str
    detail: str = ""
    describe: str = ""
    cycles: int = 0
    macs: int = 0
    source: str = ""

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status={self.status!r}: one of {', '.join(STATUSES)}")

    def as_dict(self) -> dict:
        return {"status": self.status, "detail": self.detail, "describe": self.describe, "cycles": self.cycles,
                "macs": self.macs, "source": self.source}


@dataclass(frozen=True, eq=False)
class Operands:
    """Port codes a layer's PE really sees (flattened): ``a`` its input activations', ``w`` its weights'."""

    a: np.ndarray
    w: np.ndarray


@dataclass(frozen=True)
class PointResult:
    """One front point: its status, the spec key of every planned layer, and the first failure or reason."""

    trial: int
    status: str
    layers: Mapping[str, str] = field(default_factory=dict)
    detail: str = ""

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status={self.status!r}: one of {', '.join(STATUSES)}")

    def as_dict(self) -> dict:
        return {"trial": self.trial, "status": self.status, "layers": dict(self.layers), "detail": self.detail}


@dataclass(frozen=True)
class FrontVerification:
    """Every front point's result, the specs they use, and how many specs this run simulated."""

    path: Path
    points: tuple[PointResult, ...]
    specs: Mapping[str, SpecResult]
    simulated: int
    cycles: int
    seconds: float = 0.0

    def counts(self) -> dict:
        c = {s: sum(p.status == s for p in self.points) for s in STATUSES}
        return {"verified": c[VERIFIED], "failed": c[FAILED], "not_supported": c[UNSUPPORTED],
                "points": len(self.points), "distinct_pe_specs": len(self.specs),
                "simulated_by_this_run": self.simulated, "cycles_per_spec": self.cycles,
                "seconds": round(self.seconds, 3), "file": str(self.path)}

    def by_trial(self) -> dict[int, PointResult]:
        return {p.trial: p for p in self.points}

    @property
    def failures(self) -> list[PointResult]:
        return [p for p in self.points if p.status == FAILED]


def layer_specs(network: Network, plan: QuantPlan) -> dict[str, PESpec | str]:
    """The PE spec of every conv/fc layer ``plan`` sets (module docstring), or why the rtl package has none."""
    out: dict[str, PESpec | str] = {}
    for layer in network.layers:
        if not isinstance(layer, Conv | Dense) or layer.name not in plan.layers:
            continue
        w = network.params.get(layer.name, {}).get("weight")
        k = int(np.prod(w.shape[1:])) if w is not None else 1
        try:
            formats = replace(plan.layer_formats(layer.name), bias=None, outputs=None)
            spec = PESpec(formats, k=k)
            pe_class(spec)
        except (ValueError, TypeError, PlanError) as exc:
            out[layer.name] = f"{layer.name}: {exc}"
            continue
        out[layer.name] = spec
    return out


def accelerator_spec(network: Network, plan: QuantPlan, config) -> PESpec | str:
    """The spec of the PE the point's accelerator is costed with (``config.pe``: the narrowest datapath every
    planned layer fits, ``hw.pe_for``) in the plan's rounding and overflow, sized for the longest reduction among
    the planned layers; or why the rtl package has none."""
    ks = [int(np.prod(network.params[layer.name]["weight"].shape[1:])) for layer in network.layers
          if isinstance(layer, Conv | Dense) and layer.name in plan.layers
          and "weight" in network.params.get(layer.name, {})]
    try:
        formats = replace(config.pe.datapath_formats(), bias=None, outputs=None, rounding=plan.rounding,
                          overflow=plan.overflow)
        spec = PESpec(formats, k=max(ks, default=1))
        pe_class(spec)
    except (ValueError, TypeError, PlanError) as exc:
        return f"{ACCELERATOR_PE}: {exc}"
    return spec


def layer_operands(network: Network, plan: QuantPlan, x: np.ndarray, names) -> dict[str, Operands]:
    """The codes of each layer in ``names``: its weights in the plan's weight format, and its input for the images
    ``x`` (network input, preprocessed) through the exact emulator, in the plan's input format."""
    from ristretto_sim.runtime.executor import run_network

    layers = {layer.name: layer for layer in network.layers}
    wanted = {n: layers[n].inputs[0] for n in names}
    kept = tuple(sorted({t for t in wanted.values() if t != network.input.name}))
    res = run_network(network, x, plan.with_mode("exact"), record=False, keep=kept)
    out = {}
    for name, tensor in wanted.items():
        f = plan.layer_formats(name)
        acts = x if tensor == network.input.name else res.tensor(tensor)
        out[name] = Operands(np.asarray(f.inputs.encode(np.ravel(acts))),
                             np.asarray(f.weights.encode(np.ravel(network.params[name]["weight"]))))
    return out


def with_operands(spec: PESpec, trace: Trace, operands: Operands, seed: int = 0) -> Trace:
    """``trace`` with the operands of its second half drawn from ``operands`` (codes the PE's ports take only)."""
    a_codes, w_codes = pe_class(spec).operand_codes(spec)
    a = operands.a[np.isin(operands.a, a_codes)]
    w = operands.w[np.isin(operands.w, w_codes)]
    if not len(a) or not len(w):
        return trace
    rng = np.random.default_rng(seed + 1)
    half = trace.cycles // 2
    ta, tw = trace.a.copy(), trace.w.copy()
    ta[half:, 0] = a[rng.integers(0, len(a), trace.cycles - half)].astype(ta.dtype)
    tw[half:, 0] = w[rng.integers(0, len(w), trace.cycles - half)].astype(tw.dtype)
    return Trace(ta, tw, trace.bias, trace.en, trace.load, trace.clear)


def spec_key(spec: PESpec) -> str:
    """A short stable name of ``spec`` (its datapath and a hash of its full description)."""
    text = repr(spec)
    return f"{spec.module_name()}_k{spec.k}_{hashlib.sha1(text.encode()).hexdigest()[:10]}"


def check_spec(spec: PESpec, cycles: int = DEFAULT_CYCLES, seed: int = 0, operands: Operands | None = None,
               source: str = "") -> SpecResult:
    """Simulate ``spec``'s PE on ``cycles`` cycles of vectors (the second half from ``operands`` when given) and
    compare with the golden model bit for bit; ``source`` names where the operands came from."""
    wide = [f"{name} {fmt} ({fmt.bits} bits)" for name, fmt in (("inputs", spec.formats.inputs),
                                                                 ("weights", spec.formats.weights))
            if fmt.bits > MAX_OPERAND_BITS]
    if wide:
        return SpecResult(UNSUPPORTED, f"{', '.join(wide)}: the rtl vectors draw from every code of an operand "
                          f"(rtl.vectors), at most {MAX_OPERAND_BITS} bits", spec.describe())
    try:
        pe = make_pe(spec)
        trace = random_trace(spec, cycles, 1, seed=seed)
        if operands is not None:
            trace = with_operands(spec, trace, operands, seed)
        golden = golden_run(spec, trace)
    except (ValueError, NotImplementedError) as exc:  # no generator, or a register the golden model cannot step
        return SpecResult(UNSUPPORTED, str(exc), spec.describe())
    macs = int(np.count_nonzero(trace.en & ~trace.clear))
    hardware = simulate_pe(spec, trace, pe=pe)
    diff = golden.first_difference(hardware)
    if diff is None:
        return SpecResult(VERIFIED, "", spec.describe(), cycles, macs, source)
    return SpecResult(FAILED, f"golden vs Amaranth: {diff}{_stimulus(golden, hardware, trace)}", spec.describe(),
                      cycles, macs, source)


def _stimulus(golden, hardware, trace: Trace) -> str:
    """The inputs of the first cycle where the two runs differ, as text."""
    bad = (golden.acc[:, 0] != hardware.acc[:, 0]) | (golden.overflow[:, 0] != hardware.overflow[:, 0])
    for f, v in golden.flags.items():
        if f in hardware.flags and hardware.flags[f].shape == v.shape:
            bad |= v[:, 0] != hardware.flags[f][:, 0]
    where = np.flatnonzero(bad)
    if not len(where):
        return ""
    t = int(where[0])
    parts = ", ".join(f"{n}={int(getattr(trace, n)[t, 0])}" for n in ("a", "w", "bias", "en", "load", "clear"))
    before = f", register before {golden.acc[t - 1, 0]}" if t > 0 else ""
    return f" (inputs that cycle: {parts}{before})"


class VerificationCache:
    """``OUT/rtl_verification.json``: spec results by key, written after every result (module docstring)."""

    def __init__(self, path: str | Path, cycles: int, seed: int):
        from ristretto_sim import __version__

        self.path = Path(path)
        self.settings = {"cycles": int(cycles), "seed": int(seed), "version": __version__,
                         "vectors": "rtl.vectors.random_trace, second half from the layer's operands"}
        self.specs: dict[str, SpecResult] = {}
        self.points: list[dict] = []
        if self.path.is_file():
            try:
                stored = json.loads(self.path.read_text())
            except json.JSONDecodeError:
                stored = {}
            if stored.get("settings") == self.settings:
                for key, r in stored.get("specs", {}).items():
                    if r.get("status") in (VERIFIED, UNSUPPORTED):
                        self.specs[key] = SpecResult(**r)

    def put(self, key: str, result: SpecResult) -> None:
        self.specs[key] = result
        self.save()

    def save(self) -> None:
        data = {"settings": self.settings, "specs": {k: r.as_dict() for k, r in self.specs.items()},
                "points": self.points}
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(data, indent=2))
        os.replace(tmp, self.path)


def verify_front(search, front, *, cycles: int = DEFAULT_CYCLES, seed: int = 0, path: str | Path | None = None,
                 progress: Callable | None = None) -> FrontVerification:
    """Check every point of ``front`` (Optuna trials of ``search``, a ``JointSearch``) as the module docstring
    says; results in ``path`` (default ``OUT/rtl_verification.json``)."""
    start = time.perf_counter()
    path = Path(path) if path is not None else search.settings.out / FILENAME
    cache = VerificationCache(path, cycles, seed)
    network = search.problem.network
    candidates = [search.candidate(t.params) for t in front]
    plans = [c.plan for c in candidates]
    per_point: list[tuple[int, dict[str, PESpec | str]]] = []
    for t, c in zip(front, candidates, strict=True):
        layers = layer_specs(network, c.plan)
        if layers:
            layers[ACCELERATOR_PE] = accelerator_spec(network, c.plan, c.config)
        per_point.append((t.number, layers))
    wanted: dict[str, tuple[PESpec, int, str]] = {}  # key -> (spec, index of the first point, its layer)
    for i, (_, layers) in enumerate(per_point):
        for name, spec in layers.items():
            if isinstance(spec, PESpec):
                wanted.setdefault(spec_key(spec), (spec, i, name))
    todo = [k for k in wanted if k not in cache.specs]
    x = search.problem.inputs("validation", 1) if todo else None
    operands: dict[int, dict[str, Operands]] = {}
    for n, key in enumerate(todo):
        spec, i, name = wanted[key]
        if name == ACCELERATOR_PE:  # the vectors alone: a layer's codes are in its own, narrower formats
            result = check_spec(spec, cycles, seed, None, f"trial {per_point[i][0]} {name}")
        else:
            if i not in operands:  # one emulator run per point, for every layer whose spec it is the first to need
                names = [wanted[k][2] for k in todo if wanted[k][1] == i and wanted[k][2] != ACCELERATOR_PE]
                operands[i] = layer_operands(network, plans[i], x, names)
            result = check_spec(spec, cycles, seed, operands[i][name], f"trial {per_point[i][0]} {name}")
        cache.put(key, result)
        if progress is not None:
            progress(n + 1, len(todo), f"{result.status}: {result.describe}")
    points = []
    for trial, layers in per_point:
        keys, failed, unsupported = {}, "", ""
        for name, spec in layers.items():
            if isinstance(spec, str):
                keys[name] = ""
                unsupported = unsupported or spec
                continue
            key = spec_key(spec)
            keys[name] = key
            r = cache.specs[key]
            if r.status == FAILED and not failed:
                failed = f"{name}: {r.describe}: {r.detail}"
            elif r.status == UNSUPPORTED and not unsupported:
                unsupported = f"{name}: {r.detail}"
        if failed:
            points.append(PointResult(trial, FAILED, keys, failed))
        elif unsupported or not layers:
            points.append(PointResult(trial, UNSUPPORTED, keys, unsupported or "no planned conv/fc layer"))
        else:
            points.append(PointResult(trial, VERIFIED, keys))
    cache.points = [p.as_dict() for p in points]
    cache.save()
    used = {k for p in points for k in p.layers.values() if k}
    return FrontVerification(path, tuple(points), {k: cache.specs[k] for k in used}, len(todo), cycles,
                             time.perf_counter() - start)
