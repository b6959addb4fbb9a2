"""``simulate(layers, plan, config) -> Report``: cycles, memory traffic, energy and area of a network on an
accelerator.

Layers run one after another, each from an empty array: GEMM layers (``ConvShape``, ``GemmShape``,
``ConvTransposeShape``) on the PE array, the rest (``VectorShape``: pooling, elementwise, activations, LRN,
softmax, concat) on the vector unit (``ristretto_sim.hw.vector``). A layer's activations go through DRAM unless
``config.keep_activations_on_chip`` and they fit both the ofmap and ifmap buffers (and the next layer reads
them: its first input, or as many elements), or the next layer is fused into it (``config.vector.fuse``). A
GEMM layer with a bias fetches it with its first tile (at the plan's bias width, else the accumulator's).
Each GEMM layer is mapped (``mapping.schedule``), each vector layer cut into steps
(``vector.vector_schedule``); both are replayed in SimPy (``engine.run_layer``) and costed (``energy``):
``simulate_layer`` / ``simulate_vector_layer``, then ``.report``. With ``scalesim_compatible=True`` folds run
serially with SCALE-Sim's lengths, SRAM counts follow SCALE-Sim (its os ofmap-write quirk included), every
tensor word is one byte and, as in SCALE-Sim, only GEMM layers run (no biases, no vector layers, no leakage),
so with unlimited bandwidth the compute cycles equal SCALE-Sim's exactly; the DRAM channel serves requests in issue
order (``dram.write_policy`` ``fifo``, whatever the accelerator says), so the mode's figures do not move with it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np

from ristretto_sim.emulator import LayerFormats
from ristretto_sim.errors import ConfigError, ModelError, PlanError
from ristretto_sim.formats import FixedPoint
from ristretto_sim.hw.config import AcceleratorConfig, check_fits, datapath_for
from ristretto_sim.hw.energy import TechnologyTable, area, default_table, mac_energy, pe_area_um2, readout_pj
from ristretto_sim.hw.engine import LayerTiming, run_layer
from ristretto_sim.hw.enums import WritePolicy
from ristretto_sim.hw.layers import ConvShape, ConvTransposeShape, GemmProblem, GemmShape
from ristretto_sim.hw.mapping import Schedule, cdiv, scalesim_compute_cycles, schedule
from ristretto_sim.hw.names import short_labels
from ristretto_sim.hw.plan import PlanView
from ristretto_sim.hw.report import EnergyBreakdown, LayerReport, Report, attainment, roofline_bound, total_of
from ristretto_sim.hw.synth_area import fpga_clocked
from ristretto_sim.hw.vector import (
    VectorSchedule,
    VectorShape,
    compute_cycles,
    vector_area_um2,
    vector_energy_pj,
    vector_schedule,
)

#: SCALE-Sim's words are one byte whatever the data (``reference/systolic-timing.md`` §6.1)
SCALESIM_FORMATS = LayerFormats(
    FixedPoint(8, 0), FixedPoint(8, 0), outputs=FixedPoint(8, 0), accumulator=FixedPoint(8, 0)
)

#: the formats that set a layer's widths in the report (rounding and overflow do not)
_WIDTH_KEYS = ("inputs", "weights", "outputs", "accumulator")

_KINDS = {ConvShape: "conv", GemmShape: "gemm", ConvTransposeShape: "conv_transpose"}


def _input_elements(layer) -> int:
    if isinstance(layer, VectorShape):
        return layer.inputs[0]
    if isinstance(layer, GemmShape):
        return layer.m * layer.k
    return layer.batch * layer.h * layer.w * layer.c


def _reads_output_of(next_layer, name: str, elements: int) -> bool:
    """Whether ``next_layer``'s first input is the output (``elements`` of them) of the layer called ``name``."""
    if isinstance(next_layer, VectorShape) and next_layer.sources:
        return next_layer.sources[0] == name and next_layer.inputs[0] == elements
    return _input_elements(next_layer) == elements


def resolved_formats(formats: LayerFormats, k: int, n_out: int, layer: str) -> LayerFormats:
    """``formats`` with the datapath's accumulator for reduction length ``k`` (``PlanError`` naming ``layer``)."""
    try:
        return formats.resolved(k, n_out)
    except ValueError as exc:
        raise PlanError(f"layer {layer!r}: {exc}") from None


def pe_for(layers: Iterable, plan_or_formats, config: AcceleratorConfig, **pe_options):
    """The narrowest PE datapath every layer's formats fit (``datapath_for`` over the layers' resolved
    formats: each accumulator the declared one or the datapath's default for that layer's K)."""
    plan = PlanView(plan_or_formats, config.pe.datapath_formats())
    resolved = []
    for layer in layers:
        if isinstance(layer, VectorShape):
            continue
        p = layer.problem()
        resolved.append(resolved_formats(plan.formats(layer.name), p.k, p.n, layer.name))
    return datapath_for(resolved, **pe_options)


#: the DRAM traffic a layer reports, per operand
_DRAM_KEYS = ("ifmap", "filter", "ofmap", "psum_read", "psum_write", "bias", "operands")

#: the SRAM access kinds a layer reports, per buffer
_SRAM_KEYS = tuple(f"{b}_{op}" for b in ("ifmap", "filter", "ofmap") for op in ("reads", "writes"))


def checked_layers(layers: Iterable) -> list:
    """``layers`` as a list of layer shapes; ``TypeError`` for anything else, ``ModelError`` if there are none or
    two share a name."""
    layers = list(layers)
    if not layers:
        raise ModelError("simulate needs at least one layer")
    names = [getattr(x, "name", None) for x in layers]
    for x in layers:
        if not isinstance(x, (ConvShape, GemmShape, ConvTransposeShape, VectorShape)):
            raise TypeError(f"layer {x!r} must be a ConvShape, GemmShape, ConvTransposeShape or VectorShape")
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ModelError(f"layer names must be unique; repeated: {', '.join(dup)}")
    return layers


@dataclass(frozen=True)
class ArrayCosts:
    """What a layer's energy costs on ``config``, the same for every layer: the technology table, pJ per DRAM bit
    (the config's, else the table's), pJ per access of each SRAM buffer, leakage power and the clock."""

    table: TechnologyTable
    pe_count: int
    clock_hz: float
    dram_pj_per_bit: float
    sram_pj: dict[str, float]
    leakage_w: float
    pe_leakage_uw: float = 0.0
    sram_leakage_uw: float = 0.0
    vector_leakage_uw: float = 0.0

    @classmethod
    def of(cls, config: AcceleratorConfig, table: TechnologyTable, *, leakage: bool = True,
           pe_um2: float | None = None) -> ArrayCosts:
        """The costs of ``config`` priced by ``table`` (``leakage=False``: static power left out, as SCALE-Sim);
        ``pe_um2``: the PE area the leakage is paid on (default: the table's; ``simulate`` passes the area its report
        uses, synthesis-based when the config asks for it)."""
        pe_count = config.num_pes
        dram_pj_bit = config.dram.energy_pj_per_bit
        if dram_pj_bit is None:
            dram_pj_bit = table.dram_pj_per_bit
        sram_pj = {b: table.sram_pj_per_access(getattr(config, b)) for b in ("ifmap", "filter", "ofmap")}
        sram_kb = sum(getattr(config, b).capacity_bytes for b in ("ifmap", "filter", "ofmap")) / 1024
        pe_uw = table.pe_leakage_uw(pe_area_um2(config.pe, table) if pe_um2 is None else pe_um2) if leakage else 0.0
        sram_uw = sram_kb * table.leak_sram_uw_per_kb if leakage else 0.0
        vector_uw = table.leak_logic_nw_per_um2 * vector_area_um2(config.vector, table) * 1e-3 if leakage else 0.0
        leak_w = (pe_count * pe_uw + sram_uw + vector_uw) * 1e-6
        return cls(
            table, pe_count, config.clock_mhz * 1e6, dram_pj_bit, sram_pj, leak_w, pe_uw, sram_uw, vector_uw
        )

    def leakage_dict(self) -> dict:
        """The leakage power of the accelerator, reported beside the energy: per PE, the array, the SRAM."""
        return {
            "pe_uw": self.pe_leakage_uw,
            "array_mw": self.pe_leakage_uw * self.pe_count * 1e-3,
            "sram_mw": self.sram_leakage_uw * 1e-3,
            "vector_mw": self.vector_leakage_uw * 1e-3,
            "total_mw": self.leakage_w * 1e3,
        }


def layer_formats(plan: PlanView, layer, problem, config: AcceleratorConfig, scalesim_compatible: bool):
    """The formats ``layer`` runs in: SCALE-Sim's one-byte words, or the plan's, checked against the PE
    (``PlanError``) and with the datapath's accumulator for the layer's K when the plan gives none."""
    if scalesim_compatible:
        return SCALESIM_FORMATS
    formats = plan.formats(layer.name)
    check_fits(formats, config.pe, layer.name, problem.k, problem.n)
    return resolved_formats(formats, problem.k, problem.n, layer.name)


def keeps_output_on_chip(config: AcceleratorConfig, name: str, elements: int, bits: int, next_layer) -> bool:
    """Whether the output of layer ``name`` (``elements`` of ``bits`` bits) stays on chip as ``next_layer``'s
    input (module docstring): only with ``keep_activations_on_chip``, a next layer reading it, and room in the
    ofmap and ifmap buffers."""
    if not config.keep_activations_on_chip or next_layer is None:
        return False
    out_bits_total = elements * bits
    return (
        _reads_output_of(next_layer, name, elements)
        and out_bits_total <= config.ofmap.capacity_bits
        and out_bits_total <= config.ifmap.capacity_bits
    )


def bias_bits(layer, problem: GemmProblem, formats: LayerFormats, scalesim_compatible: bool) -> int:
    """Bits of the layer's biases in DRAM: one per output channel at the bias format's width (else the
    accumulator's); none in SCALE-Sim-compatible runs."""
    if scalesim_compatible or not getattr(layer, "bias", False):
        return 0
    width = formats.bias.bits if formats.bias is not None else formats.accumulator.bits
    return problem.groups * problem.n * width


@dataclass(frozen=True)
class LayerRun:
    """One layer mapped and replayed: its shape, GEMM, formats, cycles per MAC, schedule and SimPy timing,
    from which its report is derived."""

    layer: object
    problem: GemmProblem
    formats: LayerFormats
    cycles_per_mac: int
    schedule: Schedule
    timing: LayerTiming
    scalesim_compatible: bool
    bias_bits: int = 0

    @property
    def dram_bits(self) -> dict[str, int]:
        return {**self.schedule.dram_bits, "bias": self.bias_bits, "operands": 0}

    @property
    def dram_read_bits(self) -> int:
        d = self.schedule.dram_bits
        return d["ifmap"] + d["filter"] + d["psum_read"] + self.bias_bits

    @property
    def dram_write_bits(self) -> int:
        d = self.schedule.dram_bits
        return d["ofmap"] + d["psum_write"]

    @property
    def sram_bits(self) -> dict[str, int]:
        """The schedule's SRAM bits per kind, plus the biases: written into the filter buffer and read once per
        output column into the accumulators."""
        s = dict(self.schedule.sram_bits)
        s["filter_writes"] = s.get("filter_writes", 0) + self.bias_bits
        s["filter_reads"] = s.get("filter_reads", 0) + self.bias_bits
        return s

    def sram_accesses(self, config: AcceleratorConfig) -> dict[str, int]:
        """SRAM port accesses per kind (``ifmap_reads``, ...): bits over each buffer's word width, rounded up."""
        s = self.sram_bits
        return {key: cdiv(s.get(key, 0), getattr(config, key.split("_")[0]).word_bits) for key in _SRAM_KEYS}

    def energy(self, config: AcceleratorConfig, costs: ArrayCosts) -> EnergyBreakdown:
        """The layer's energy: MACs at the PE's price, SRAM accesses, DRAM bits, and leakage over its latency."""
        macs = self.problem.executed_macs
        mac = mac_energy(config.pe, config.dataflow, costs.table, self.cycles_per_mac)
        acc = self.sram_accesses(config)
        return EnergyBreakdown(
            arithmetic_pj=macs * mac.arithmetic_pj,
            registers_pj=macs * mac.register_pj,
            sram_pj=sum(acc[key] * costs.sram_pj[key.split("_")[0]] for key in _SRAM_KEYS),
            dram_pj=(self.dram_read_bits + self.dram_write_bits) * costs.dram_pj_per_bit,
            leakage_pj=costs.leakage_w * (self.timing.total_cycles / costs.clock_hz) * 1e12,
            # the output stage's per-output work (an affine PE's requantizer), charged as vector-unit energy
            vector_pj=0.0 if self.scalesim_compatible else
            self.problem.groups * self.problem.output_elements * readout_pj(config.pe, costs.table),
        )

    def report(self, config: AcceleratorConfig, costs: ArrayCosts) -> LayerReport:
        """The layer's ``LayerReport``."""
        p, sched, timing, pes = self.problem, self.schedule, self.timing, costs.pe_count
        d, s, w = self.dram_bits, self.sram_bits, sched.sram_words
        acc = self.sram_accesses(config)
        read_bits, write_bits = self.dram_read_bits, self.dram_write_bits
        # SCALE-Sim runs each group as its own layer (depthwise rows expand), each ending with its "-1"
        ss_cycles = p.groups * scalesim_compute_cycles(p.m, p.n, p.k, config.rows, config.cols, config.dataflow)
        return LayerReport(
            name=self.layer.name,
            kind=_KINDS[type(self.layer)],
            m=p.m,
            n=p.n,
            k=p.k,
            groups=p.groups,
            folds=sched.folds,
            macs=p.executed_macs,
            wasted_macs=p.wasted_macs,
            total_cycles=timing.total_cycles,
            compute_cycles=timing.compute_cycles,
            stall_cycles=timing.stall_cycles,
            **_bound(timing, cdiv(read_bits, 8) + cdiv(write_bits, 8), config),
            scalesim_compute_cycles=ss_cycles,
            utilization=p.executed_macs / max(1, timing.total_cycles * pes),
            mapping_efficiency=sched.mapping_efficiency,
            compute_utilization=(
                sched.compute_util
                if self.scalesim_compatible
                else p.executed_macs / max(1, timing.compute_cycles * pes)
            ),
            **{f"dram_{key}_bytes": cdiv(d[key], 8) for key in _DRAM_KEYS},
            dram_read_bytes=cdiv(read_bits, 8),
            dram_write_bytes=cdiv(write_bits, 8),
            dram_read_bits=read_bits,
            dram_write_bits=write_bits,
            compulsory_dram_bytes=sum(cdiv(v, 8) for v in sched.compulsory_bits.values()) + cdiv(self.bias_bits, 8),
            **{f"sram_{key}_bits": s[key] for key in _SRAM_KEYS},
            **{f"sram_{key}_accesses": acc[key] for key in _SRAM_KEYS},
            edge_ifmap_reads_words=w["ifmap_reads"],
            edge_filter_reads_words=w["filter_reads"],
            edge_ofmap_writes_words=w["ofmap_writes"],
            energy=self.energy(config, costs),
            latency_s=timing.total_cycles / costs.clock_hz,
            formats=" ".join(f"{k}={getattr(self.formats, k)}" for k in _WIDTH_KEYS),
        )


def _bound(timing: LayerTiming, dram_bytes: int, config: AcceleratorConfig) -> dict:
    """A layer report's ``bound_cycles`` and ``roofline_attainment`` (``report.roofline_bound``)."""
    bound = roofline_bound(timing.compute_cycles, dram_bytes, config.dram.bandwidth_bytes_per_cycle)
    return {"bound_cycles": bound, "roofline_attainment": attainment(timing.total_cycles, bound)}


def fused_output(sched: Schedule, own: Schedule, written_bits: int) -> Schedule:
    """``sched`` (the layer's own output written) with that output replaced by ``written_bits``: the output of the
    vector layers fused into it, written from its output path as its own would be, in proportion to each step's
    share. ``own`` is the schedule with the output kept on chip (its writes are the partial-sum spills)."""
    final = sched.write_bits - own.write_bits
    total = int(final.sum())
    if total == 0:
        return own
    cum = (np.cumsum(final) * written_bits) // total
    writes = own.write_bits + np.diff(cum, prepend=0)
    d = dict(own.dram_bits)
    d["ofmap"] = written_bits
    sram = dict(own.sram_bits)
    sram["ofmap_reads"] += written_bits
    return replace(
        own,
        write_bits=writes,
        dram_bits=d,
        compulsory_bits={**own.compulsory_bits, "ofmap": written_bits},
        sram_bits=sram,
    )


#: cycles from a value entering a requantizer to its output code: ``rtl.TfliteRequantize`` registers its result
#: once (``hdl/tflite_requantize_int8.v``)
READOUT_LATENCY_CYCLES = 1


def readout_cycles(problem: GemmProblem, config: AcceleratorConfig) -> int:
    """Cycles the PE datapath's output stage takes for a layer's outputs: one requantizer per vector lane, one
    output each per cycle, plus its latency (0 for a datapath without an output stage)."""
    if not config.pe.readout_units():
        return 0
    return cdiv(problem.groups * problem.output_elements, config.vector.lanes) + READOUT_LATENCY_CYCLES


def with_readout(sched: Schedule, cycles: int) -> Schedule:
    """``sched`` with an output stage of ``cycles`` in the layer's output path: it requantizes each fold's
    outputs while the array computes (as a fused vector layer runs), so only what it needs beyond the compute,
    and at least its latency after the last fold, is added to the last step."""
    if cycles == 0:
        return sched
    comp = sched.compute_cycles.copy()
    comp[-1] += max(READOUT_LATENCY_CYCLES, cycles - int(comp.sum()))
    return replace(sched, compute_cycles=comp)


def simulate_layer(
    layer,
    problem: GemmProblem,
    formats: LayerFormats,
    config: AcceleratorConfig,
    *,
    scalesim_compatible: bool,
    input_on_chip: bool,
    output_on_chip: bool,
    written_bits: int | None = None,
) -> LayerRun:
    """Map one layer (``mapping.schedule``) and replay its steps in SimPy (``engine.run_layer``). With
    ``written_bits`` (and its output not kept on chip) the layer writes that many bits in place of its output:
    the output of the vector layers fused into it (``fused_output``)."""
    cpm = 1 if scalesim_compatible else config.pe.cycles_per_mac(formats)
    options = dict(
        layer=layer.name, cycles_per_mac=cpm, scalesim_compatible=scalesim_compatible, input_on_chip=input_on_chip
    )
    sched = schedule(problem, formats, config, output_on_chip=output_on_chip, **options)
    if written_bits is not None and not output_on_chip:
        sched = fused_output(sched, schedule(problem, formats, config, output_on_chip=True, **options), written_bits)
    if not scalesim_compatible:
        sched = with_readout(sched, readout_cycles(problem, config))
    biases = bias_bits(layer, problem, formats, scalesim_compatible)
    reads = sched.read_bits.copy()
    reads[0] += biases  # fetched with the first tile: the accumulators are preloaded before the first fold
    timing = run_layer(sched.compute_cycles, reads, sched.write_bits, config, sched.stream_bits, sched.slices)
    return LayerRun(layer, problem, formats, cpm, sched, timing, scalesim_compatible, biases)


@dataclass(frozen=True)
class VectorRun:
    """One vector layer cut into steps and replayed: its shape, element width, schedule and timing, whether it
    was fused (into which producer), from which its report is derived."""

    layer: VectorShape
    elem_bits: int
    schedule: VectorSchedule
    timing: LayerTiming
    fused_into: str

    def sram_accesses(self, config: AcceleratorConfig) -> dict[str, int]:
        s = self.schedule.sram_bits
        return {key: cdiv(s.get(key, 0), getattr(config, key.split("_")[0]).word_bits) for key in _SRAM_KEYS}

    def report(self, config: AcceleratorConfig, costs: ArrayCosts) -> LayerReport:
        x, sched, timing = self.layer, self.schedule, self.timing
        d, s = sched.dram_bits, sched.sram_bits
        acc = self.sram_accesses(config)
        read_bits, write_bits = d["ifmap"] + d["operands"], d["ofmap"]
        energy = EnergyBreakdown(
            sram_pj=sum(acc[key] * costs.sram_pj[key.split("_")[0]] for key in _SRAM_KEYS),
            dram_pj=(read_bits + write_bits) * costs.dram_pj_per_bit,
            leakage_pj=costs.leakage_w * (timing.total_cycles / costs.clock_hz) * 1e12,
            vector_pj=vector_energy_pj(x, config.vector, costs.table),
        )
        zero_dram = {f"dram_{key}_bytes": 0 for key in _DRAM_KEYS}
        zero_dram.update(
            dram_ifmap_bytes=cdiv(d["ifmap"], 8), dram_operands_bytes=cdiv(d["operands"], 8),
            dram_ofmap_bytes=cdiv(d["ofmap"], 8),
        )
        return LayerReport(
            name=x.name,
            kind=x.op.value,
            m=0,
            n=0,
            k=0,
            groups=1,
            folds=0,
            macs=0,
            wasted_macs=0,
            total_cycles=timing.total_cycles,
            compute_cycles=timing.compute_cycles,
            stall_cycles=timing.stall_cycles,
            **_bound(timing, cdiv(read_bits, 8) + cdiv(write_bits, 8), config),
            scalesim_compute_cycles=0,
            utilization=0.0,
            mapping_efficiency=0.0,
            compute_utilization=0.0,
            **zero_dram,
            dram_read_bytes=cdiv(read_bits, 8),
            dram_write_bytes=cdiv(write_bits, 8),
            dram_read_bits=read_bits,
            dram_write_bits=write_bits,
            compulsory_dram_bytes=sum(cdiv(v, 8) for v in sched.compulsory_bits.values()),
            **{f"sram_{key}_bits": s[key] for key in _SRAM_KEYS},
            **{f"sram_{key}_accesses": acc[key] for key in _SRAM_KEYS},
            edge_ifmap_reads_words=0,
            edge_filter_reads_words=0,
            edge_ofmap_writes_words=0,
            energy=energy,
            latency_s=timing.total_cycles / costs.clock_hz,
            formats=f"elements={self.elem_bits}b vector={config.vector.inputs}/{config.vector.accumulator}",
            unit="vector",
            fused_into=self.fused_into,
        )


def simulate_vector_layer(
    layer: VectorShape,
    config: AcceleratorConfig,
    *,
    elem_bits: int,
    inputs_on_chip: tuple[bool, ...],
    output_on_chip: bool,
    fused_into: str = "",
    producer_compute_cycles: int = 0,
) -> VectorRun:
    """Cut one vector layer into steps (``vector.vector_schedule``) and replay them in SimPy. A fused layer runs on
    its producer's outputs as they leave the array: only its cycles beyond the producer's compute are charged."""
    if not config.vector.supports(layer.op):
        raise ConfigError(
            f"layer {layer.name!r} is a {layer.op.value} layer, which the vector unit does not support; add "
            f"{layer.op.value!r} to vector.ops of the accelerator"
        )
    extra = None
    if fused_into:
        extra = max(0, compute_cycles(layer, config.vector) - producer_compute_cycles)
    sched = vector_schedule(
        layer, config, elem_bits, inputs_on_chip=inputs_on_chip, output_on_chip=output_on_chip, extra_cycles=extra
    )
    timing = run_layer(sched.compute_cycles, sched.read_bits, sched.write_bits, config)
    return VectorRun(layer, elem_bits, sched, timing, fused_into)


def fusion_plan(layers: list, config: AcceleratorConfig, scalesim_compatible: bool) -> list[str]:
    """For each layer, the GEMM layer it is fused into ("" if none): a fusable vector op (``VectorOp.fusable``)
    whose input is the previous layer's output, that previous layer a GEMM layer or itself fused into one."""
    fused = [""] * len(layers)
    if scalesim_compatible or not config.vector.fuse:
        return fused
    for i, x in enumerate(layers):
        if i == 0 or not isinstance(x, VectorShape) or not (x.op.fusable and x.fusable):
            continue
        prev = layers[i - 1]
        if not isinstance(prev, VectorShape):
            fused[i] = prev.name
        elif fused[i - 1]:
            fused[i] = fused[i - 1]
    return fused


def simulate(
    layers: Iterable,
    plan_or_formats=None,
    config: AcceleratorConfig | None = None,
    *,
    scalesim_compatible: bool = False,
    technology: TechnologyTable | None = None,
) -> Report:
    """Simulate ``layers`` in order on ``config``.

    Parameters
    ----------
    layers : iterable of ConvShape, GemmShape, ConvTransposeShape or VectorShape
        The network, in execution order (names must be unique); ``hw.network.layers_from_network`` makes them
        from a ``Network``.
    plan_or_formats : None, LayerFormats, QuantPlan or mapping of layer names to LayerFormats
        Tensor formats per layer (``ristretto_sim.hw.plan``); ``None`` runs every layer in the PE's datapath
        formats. A missing accumulator is the layer datapath's default.
    config : AcceleratorConfig
        The accelerator.
    scalesim_compatible : bool
        SCALE-Sim's serial folds, SRAM counts and one-byte words (module docstring).
    technology : TechnologyTable, optional
        Energy and area table (default: 45 nm Horowitz, ``data/energy_45nm.yaml``).

    Raises
    ------
    PlanError
        If a layer's formats do not fit the PE datapath, or the plan names unknown layers.
    ConfigError
        If a buffer cannot hold one tile of some layer.
    ModelError
        If there are no layers or two share a name.
    """
    if not isinstance(config, AcceleratorConfig):
        raise TypeError(f"config={config!r} must be an AcceleratorConfig")
    layers = checked_layers(layers)
    plan = PlanView(plan_or_formats, config.pe.datapath_formats())
    plan.check_names([x.name for x in layers])
    table = technology or default_table()
    area_report = area(config, table)
    config = fpga_clocked(config)  # an FPGA prototype runs at min(clock, the PE's Fmax)
    if scalesim_compatible:  # SCALE-Sim's figures were matched on the channel that serves requests in issue order
        config = config.replace(dram=replace(config.dram, write_policy=WritePolicy.FIFO))
    costs = ArrayCosts.of(config, table, leakage=not scalesim_compatible, pe_um2=area_report.pe_um2)
    skipped = tuple(x.name for x in layers if scalesim_compatible and isinstance(x, VectorShape))
    if scalesim_compatible:
        layers = [x for x in layers if not isinstance(x, VectorShape)]
        if not layers:
            raise ModelError("simulate needs at least one convolution or fully connected layer")
    fused = fusion_plan(layers, config, scalesim_compatible)
    reports = []
    input_on_chip = False
    tensor_bits: dict[str, int] = {}  # layer name -> bits of one element of its output
    compute_of: dict[str, int] = {}  # GEMM layer name -> its compute cycles (for fused layers)
    chain_on_chip = False  # whether the output of the current fused chain stays on chip
    for index, layer in enumerate(layers):
        next_layer = layers[index + 1] if index + 1 < len(layers) else None
        next_fused = index + 1 < len(layers) and bool(fused[index + 1])
        if isinstance(layer, VectorShape):
            bits = [tensor_bits.get(src, config.vector.inputs.bits) for src in (layer.sources or ("",))]
            elem_bits = bits[0]
            on_chip = tuple(
                (i == 0 and (input_on_chip or bool(fused[index]))) for i in range(len(layer.inputs))
            )
            if fused[index]:  # the producer writes the chain's output; it leaves (or stays) from there
                output_on_chip = True
            else:
                output_on_chip = next_fused or keeps_output_on_chip(
                    config, layer.name, layer.outputs, elem_bits, next_layer
                )
            run = simulate_vector_layer(
                layer,
                config,
                elem_bits=elem_bits,
                inputs_on_chip=on_chip,
                output_on_chip=output_on_chip,
                fused_into=fused[index],
                producer_compute_cycles=compute_of.get(fused[index], 0),
            )
            tensor_bits[layer.name] = elem_bits
        else:
            problem = layer.problem()
            formats = layer_formats(plan, layer, problem, config, scalesim_compatible)
            end = index
            while end + 1 < len(layers) and fused[end + 1] == layer.name:
                end += 1
            written = None
            if end > index:  # vector layers fused into this one: it writes the last one's output
                last, after = layers[end], (layers[end + 1] if end + 1 < len(layers) else None)
                output_on_chip = keeps_output_on_chip(config, last.name, last.outputs, formats.outputs.bits, after)
                written = last.outputs * formats.outputs.bits
            else:
                elements = problem.groups * problem.output_elements
                output_on_chip = keeps_output_on_chip(config, layer.name, elements, formats.outputs.bits, next_layer)
            run = simulate_layer(
                layer,
                problem,
                formats,
                config,
                scalesim_compatible=scalesim_compatible,
                input_on_chip=input_on_chip,
                output_on_chip=output_on_chip,
                written_bits=written,
            )
            tensor_bits[layer.name] = formats.outputs.bits
            compute_of[layer.name] = run.timing.compute_cycles
            chain_on_chip = output_on_chip
        reports.append(run.report(config, costs))
        # after a fused chain the next layer finds its input where the producer left it
        input_on_chip = chain_on_chip if fused[index] and not next_fused else output_on_chip
    labels = short_labels([x.name for x in reports], [x.kind for x in reports])
    reports = [replace(x, label=label) for x, label in zip(reports, labels, strict=True)]
    return Report(
        layers=tuple(reports),
        total=total_of(reports, config.rows, config.cols),
        config=config.to_dict(),
        area=area_report.to_dict(),
        scalesim_compatible=scalesim_compatible,
        technology=table.name,
        leakage_modelled=table.leakage_modelled and not scalesim_compatible,
        leakage=costs.leakage_dict(),
        not_simulated=skipped,
    )
