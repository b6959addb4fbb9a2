"""``simulate(layers, plan, config) -> Report``: cycles, memory traffic, energy and area of a network on an
array.

Layers run one after another, each from an empty array; a layer's activations go through DRAM unless
``config.keep_activations_on_chip`` and they fit both the ofmap and ifmap buffers (and the next layer's input
has as many elements as this layer's output). Each layer is mapped (``mapping.schedule``), replayed in SimPy
(``engine.run_layer``) and costed (``energy``). With ``scalesim_compatible=True`` folds run serially with
SCALE-Sim's lengths, SRAM counts follow SCALE-Sim (its os ofmap-write quirk included) and every tensor word
is one byte, so with unlimited bandwidth the compute cycles equal SCALE-Sim's exactly.
"""

from __future__ import annotations

from collections.abc import Iterable

from ristretto_sim.emulator import LayerFormats
from ristretto_sim.errors import ModelError, PlanError
from ristretto_sim.formats import FixedPoint
from ristretto_sim.hw.config import AcceleratorConfig, check_fits, datapath_for
from ristretto_sim.hw.energy import TechnologyTable, area, default_table, mac_energy
from ristretto_sim.hw.engine import run_layer
from ristretto_sim.hw.layers import ConvShape, ConvTransposeShape, GemmShape
from ristretto_sim.hw.mapping import cdiv, scalesim_compute_cycles, schedule
from ristretto_sim.hw.plan import PlanView
from ristretto_sim.hw.report import EnergyBreakdown, LayerReport, Report, total_of

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
    plan = PlanView(plan_or_formats, config.pe.datapath_formats())
    plan.check_names(names)
    table = technology or default_table()
    pe_count = config.num_pes
    clock_hz = config.clock_mhz * 1e6
    dram_pj_bit = config.dram.energy_pj_per_bit
    if dram_pj_bit is None:
        dram_pj_bit = table.dram_pj_per_bit
    sram_pj = {b: table.sram_pj_per_access(getattr(config, b)) for b in ("ifmap", "filter", "ofmap")}
    sram_kb = sum(getattr(config, b).capacity_bytes for b in ("ifmap", "filter", "ofmap")) / 1024
    leak_w = (pe_count * table.leak_pe_uw + sram_kb * table.leak_sram_uw_per_kb) * 1e-6

    reports = []
    prev_output_on_chip = False
    problems = [x.problem() for x in layers]
    for index, (layer, problem) in enumerate(zip(layers, problems, strict=True)):
        if scalesim_compatible:
            formats = SCALESIM_FORMATS
        else:
            formats = plan.formats(layer.name)
            check_fits(formats, config.pe, layer.name, problem.k, problem.n)
            formats = resolved_formats(formats, problem.k, problem.n, layer.name)
        cpm = 1 if scalesim_compatible else config.pe.cycles_per_mac(formats)
        out_bits_total = problem.groups * problem.output_elements * formats.outputs.bits
        output_on_chip = False
        if config.keep_activations_on_chip and index + 1 < len(layers):
            nxt = layers[index + 1]
            output_on_chip = (
                _input_elements(nxt) == problem.groups * problem.output_elements
                and out_bits_total <= config.ofmap.capacity_bits
                and out_bits_total <= config.ifmap.capacity_bits
            )
        sched = schedule(
            problem,
            formats,
            config,
            layer=layer.name,
            cycles_per_mac=cpm,
            scalesim_compatible=scalesim_compatible,
            input_on_chip=prev_output_on_chip,
            output_on_chip=output_on_chip,
        )
        timing = run_layer(sched.compute_cycles, sched.read_bits, sched.write_bits, config)
        prev_output_on_chip = output_on_chip

        d = sched.dram_bits
        read_bits = d["ifmap"] + d["filter"] + d["psum_read"]
        write_bits = d["ofmap"] + d["psum_write"]
        s = sched.sram_bits
        acc = {}
        for buf in ("ifmap", "filter", "ofmap"):
            wb = getattr(config, buf).word_bits
            for op in ("reads", "writes"):
                acc[f"{buf}_{op}"] = cdiv(s.get(f"{buf}_{op}", 0), wb)
        latency_s = timing.total_cycles / clock_hz
        mac = mac_energy(config.pe, config.dataflow, table, cpm)
        energy = EnergyBreakdown(
            arithmetic_pj=problem.executed_macs * mac.arithmetic_pj,
            registers_pj=problem.executed_macs * mac.register_pj,
            sram_pj=sum(
                acc[f"{b}_{op}"] * sram_pj[b]
                for b in ("ifmap", "filter", "ofmap")
                for op in ("reads", "writes")
            ),
            dram_pj=(read_bits + write_bits) * dram_pj_bit,
            leakage_pj=leak_w * latency_s * 1e12,
        )
        g = problem.groups
        # SCALE-Sim runs each group as its own layer (depthwise rows expand), each ending with its "-1"
        ss_cycles = g * scalesim_compute_cycles(
            problem.m, problem.n, problem.k, config.rows, config.cols, config.dataflow
        )
        w = sched.sram_words
        reports.append(
            LayerReport(
                name=layer.name,
                kind=_KINDS[type(layer)],
                m=problem.m,
                n=problem.n,
                k=problem.k,
                groups=g,
                folds=sched.folds,
                macs=problem.executed_macs,
                wasted_macs=problem.wasted_macs,
                total_cycles=timing.total_cycles,
                compute_cycles=timing.compute_cycles,
                stall_cycles=timing.stall_cycles,
                scalesim_compute_cycles=ss_cycles,
                utilization=problem.executed_macs / max(1, timing.total_cycles * pe_count),
                mapping_efficiency=sched.mapping_efficiency,
                compute_utilization=(
                    sched.compute_util
                    if scalesim_compatible
                    else problem.executed_macs / max(1, timing.compute_cycles * pe_count)
                ),
                dram_ifmap_bytes=cdiv(d["ifmap"], 8),
                dram_filter_bytes=cdiv(d["filter"], 8),
                dram_ofmap_bytes=cdiv(d["ofmap"], 8),
                dram_psum_read_bytes=cdiv(d["psum_read"], 8),
                dram_psum_write_bytes=cdiv(d["psum_write"], 8),
                dram_read_bytes=cdiv(read_bits, 8),
                dram_write_bytes=cdiv(write_bits, 8),
                dram_read_bits=read_bits,
                dram_write_bits=write_bits,
                compulsory_dram_bytes=sum(cdiv(v, 8) for v in sched.compulsory_bits.values()),
                sram_ifmap_reads_bits=s["ifmap_reads"],
                sram_ifmap_writes_bits=s["ifmap_writes"],
                sram_filter_reads_bits=s["filter_reads"],
                sram_filter_writes_bits=s["filter_writes"],
                sram_ofmap_reads_bits=s["ofmap_reads"],
                sram_ofmap_writes_bits=s["ofmap_writes"],
                sram_ifmap_reads_accesses=acc["ifmap_reads"],
                sram_ifmap_writes_accesses=acc["ifmap_writes"],
                sram_filter_reads_accesses=acc["filter_reads"],
                sram_filter_writes_accesses=acc["filter_writes"],
                sram_ofmap_reads_accesses=acc["ofmap_reads"],
                sram_ofmap_writes_accesses=acc["ofmap_writes"],
                edge_ifmap_reads_words=w["ifmap_reads"],
                edge_filter_reads_words=w["filter_reads"],
                edge_ofmap_writes_words=w["ofmap_writes"],
                energy=energy,
                latency_s=latency_s,
                formats=" ".join(f"{k}={getattr(formats, k)}" for k in _WIDTH_KEYS),
            )
        )
    total = total_of(reports, config.rows, config.cols)
    return Report(
        layers=tuple(reports),
        total=total,
        config=config.to_dict(),
        area=area(config, table).to_dict(),
        scalesim_compatible=scalesim_compatible,
        technology=table.name,
        leakage_modelled=table.leakage_modelled,
    )
