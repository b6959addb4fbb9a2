"""``simulate(layers, plan, config) -> Report``: cycles, memory traffic, energy and area of a network on an
array.

Layers run one after another, each from an empty array; a layer's activations go through DRAM unless
``config.keep_activations_on_chip`` and they fit both the ofmap and ifmap buffers (and the next layer's input
has as many elements as this layer's output). Each layer is mapped (``mapping.schedule``), replayed in SimPy
(``engine.run_layer``) and costed (``energy``): ``simulate_layer``, then ``LayerRun.report``. With
``scalesim_compatible=True`` folds run serially with SCALE-Sim's lengths, SRAM counts follow SCALE-Sim (its os
ofmap-write quirk included) and every tensor word is one byte, so with unlimited bandwidth the compute cycles
equal SCALE-Sim's exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ristretto_sim.emulator import LayerFormats
from ristretto_sim.errors import ModelError, PlanError
from ristretto_sim.formats import FixedPoint
from ristretto_sim.hw.config import AcceleratorConfig, check_fits, datapath_for
from ristretto_sim.hw.energy import TechnologyTable, area, default_table, mac_energy
from ristretto_sim.hw.engine import LayerTiming, run_layer
from ristretto_sim.hw.layers import ConvShape, ConvTransposeShape, GemmProblem, GemmShape
from ristretto_sim.hw.mapping import Schedule, cdiv, scalesim_compute_cycles, schedule
from ristretto_sim.hw.plan import PlanView
from ristretto_sim.hw.report import EnergyBreakdown, LayerReport, Report, total_of
from ristretto_sim.hw.synth_area import fpga_clocked

#: SCALE-Sim's words are one byte whatever the data (``reference/systolic-timing.md`` §6.1)
SCALESIM_FORMATS = LayerFormats(
    FixedPoint(8, 0), FixedPoint(8, 0), outputs=FixedPoint(8, 0), accumulator=FixedPoint(8, 0)
)

#: the formats that set a layer's widths in the report (rounding and overflow do not)
_WIDTH_KEYS = ("inputs", "weights", "outputs", "accumulator")

_KINDS = {ConvShape: "conv", GemmShape: "gemm", ConvTransposeShape: "conv_transpose"}


def _input_elements(layer) -> int:
    if isinstance(layer, GemmShape):
        return layer.m * layer.k
    return layer.batch * layer.h * layer.w * layer.c


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
        p = layer.problem()
        resolved.append(resolved_formats(plan.formats(layer.name), p.k, p.n, layer.name))
    return datapath_for(resolved, **pe_options)


#: the DRAM traffic a layer reports, per operand
_DRAM_KEYS = ("ifmap", "filter", "ofmap", "psum_read", "psum_write")

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
        if not isinstance(x, (ConvShape, GemmShape, ConvTransposeShape)):
            raise TypeError(f"layer {x!r} must be a ConvShape, GemmShape or ConvTransposeShape")
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

    @classmethod
    def of(cls, config: AcceleratorConfig, table: TechnologyTable) -> ArrayCosts:
        """The costs of ``config`` priced by ``table``."""
        pe_count = config.num_pes
        dram_pj_bit = config.dram.energy_pj_per_bit
        if dram_pj_bit is None:
            dram_pj_bit = table.dram_pj_per_bit
        sram_pj = {b: table.sram_pj_per_access(getattr(config, b)) for b in ("ifmap", "filter", "ofmap")}
        sram_kb = sum(getattr(config, b).capacity_bytes for b in ("ifmap", "filter", "ofmap")) / 1024
        leak_w = (pe_count * table.leak_pe_uw + sram_kb * table.leak_sram_uw_per_kb) * 1e-6
        return cls(table, pe_count, config.clock_mhz * 1e6, dram_pj_bit, sram_pj, leak_w)


def layer_formats(plan: PlanView, layer, problem, config: AcceleratorConfig, scalesim_compatible: bool):
    """The formats ``layer`` runs in: SCALE-Sim's one-byte words, or the plan's, checked against the PE
    (``PlanError``) and with the datapath's accumulator for the layer's K when the plan gives none."""
    if scalesim_compatible:
        return SCALESIM_FORMATS
    formats = plan.formats(layer.name)
    check_fits(formats, config.pe, layer.name, problem.k, problem.n)
    return resolved_formats(formats, problem.k, problem.n, layer.name)


def keeps_output_on_chip(config: AcceleratorConfig, problem, formats: LayerFormats, next_layer) -> bool:
    """Whether a layer's output stays on chip as ``next_layer``'s input (module docstring): only with
    ``keep_activations_on_chip``, a next layer reading as many elements, and room in the ofmap and ifmap
    buffers."""
    if not config.keep_activations_on_chip or next_layer is None:
        return False
    out_bits_total = problem.groups * problem.output_elements * formats.outputs.bits
    return (
        _input_elements(next_layer) == problem.groups * problem.output_elements
        and out_bits_total <= config.ofmap.capacity_bits
        and out_bits_total <= config.ifmap.capacity_bits
    )


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

    @property
    def dram_read_bits(self) -> int:
        d = self.schedule.dram_bits
        return d["ifmap"] + d["filter"] + d["psum_read"]

    @property
    def dram_write_bits(self) -> int:
        d = self.schedule.dram_bits
        return d["ofmap"] + d["psum_write"]

    def sram_accesses(self, config: AcceleratorConfig) -> dict[str, int]:
        """SRAM port accesses per kind (``ifmap_reads``, ...): bits over each buffer's word width, rounded up."""
        s = self.schedule.sram_bits
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
        )

    def report(self, config: AcceleratorConfig, costs: ArrayCosts) -> LayerReport:
        """The layer's ``LayerReport``."""
        p, sched, timing, pes = self.problem, self.schedule, self.timing, costs.pe_count
        d, s, w = sched.dram_bits, sched.sram_bits, sched.sram_words
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
            compulsory_dram_bytes=sum(cdiv(v, 8) for v in sched.compulsory_bits.values()),
            **{f"sram_{key}_bits": s[key] for key in _SRAM_KEYS},
            **{f"sram_{key}_accesses": acc[key] for key in _SRAM_KEYS},
            edge_ifmap_reads_words=w["ifmap_reads"],
            edge_filter_reads_words=w["filter_reads"],
            edge_ofmap_writes_words=w["ofmap_writes"],
            energy=self.energy(config, costs),
            latency_s=timing.total_cycles / costs.clock_hz,
            formats=" ".join(f"{k}={getattr(self.formats, k)}" for k in _WIDTH_KEYS),
        )


def simulate_layer(
    layer,
    problem: GemmProblem,
    formats: LayerFormats,
    config: AcceleratorConfig,
    *,
    scalesim_compatible: bool,
    input_on_chip: bool,
    output_on_chip: bool,
) -> LayerRun:
    """Map one layer (``mapping.schedule``) and replay its steps in SimPy (``engine.run_layer``)."""
    cpm = 1 if scalesim_compatible else config.pe.cycles_per_mac(formats)
    sched = schedule(
        problem,
        formats,
        config,
        layer=layer.name,
        cycles_per_mac=cpm,
        scalesim_compatible=scalesim_compatible,
        input_on_chip=input_on_chip,
        output_on_chip=output_on_chip,
    )
    timing = run_layer(sched.compute_cycles, sched.read_bits, sched.write_bits, config)
    return LayerRun(layer, problem, formats, cpm, sched, timing, scalesim_compatible)


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
    layers : iterable of ConvShape, GemmShape or ConvTransposeShape
        The network, in execution order (names must be unique).
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
    costs = ArrayCosts.of(config, table)
    problems = [x.problem() for x in layers]
    reports = []
    input_on_chip = False
    for index, (layer, problem) in enumerate(zip(layers, problems, strict=True)):
        formats = layer_formats(plan, layer, problem, config, scalesim_compatible)
        next_layer = layers[index + 1] if index + 1 < len(layers) else None
        output_on_chip = keeps_output_on_chip(config, problem, formats, next_layer)
        run = simulate_layer(
            layer,
            problem,
            formats,
            config,
            scalesim_compatible=scalesim_compatible,
            input_on_chip=input_on_chip,
            output_on_chip=output_on_chip,
        )
        reports.append(run.report(config, costs))
        input_on_chip = output_on_chip
    return Report(
        layers=tuple(reports),
        total=total_of(reports, config.rows, config.cols),
        config=config.to_dict(),
        area=area_report.to_dict(),
        scalesim_compatible=scalesim_compatible,
        technology=table.name,
        leakage_modelled=table.leakage_modelled,
    )
