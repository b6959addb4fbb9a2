"""``build_report``: the figures of one model gathered from the public API into a ``Document``.

Sections: the network (array layers, MACs); the float baseline; Ristretto's trimming analysis (``search.quantize``
with the margin back-off, its sweeps as a table and a plot); the chosen plan (``--plan``, else the trimming's
plan in exact arithmetic) and its exact top-1; per-layer cycles and energy on the accelerator (stacked bars), the
utilisation and roofline views and the area with its source (``hw.simulate``; a plan wider than the
accelerator's PE runs on the same array with the PE ``hw.pe_for`` derives from it, and the report says so); the
synthesis results of that PE (generic CMOS and FPGA rows of the table ``hw.synth_area`` reads) when present, and
a search folder's RTL equivalence check (``search --verify-rtl``); and, given a joint search's output folder, its
Pareto front (accuracy against energy, area and latency, with the float baseline, uniform int8, uniform 16-bit and
the Ristretto greedy result marked).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from ristretto_sim.report.html import Document, figure_uri, table_html


@dataclass(frozen=True)
class ReportInputs:
    """What the report is about.

    Parameters
    ----------
    model : str
        Model file or bundled name.
    data : str, optional
        Dataset (default: the model's own).
    plan : str, optional
        Plan YAML (default: the trimming's plan in exact arithmetic).
    arch : str
        Accelerator preset or file.
    search : str, optional
        A ``ristretto-sim search`` output folder.
    iterations : int
        Scored batches of 100 images (baseline, trimming, plan).
    margin : float
        Trimming error margin, points.
    """

    model: str = "lenet"
    data: str | None = None
    plan: str | None = None
    arch: str = "edge-32x32-int8"
    search: str | None = None
    iterations: int = 10
    margin: float = 1.0

    def __post_init__(self):
        if isinstance(self.iterations, bool) or not isinstance(self.iterations, int) or self.iterations < 1:
            raise ValueError(f"iterations={self.iterations!r} must be a positive integer")


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _num(row: dict, key: str) -> float | None:
    v = row.get(key, "")
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _scaled(row: dict, key: str, scale: float):
    """``row[key] * scale``, or "-" where the CSV leaves it empty (the float32 reference has no hardware cost)."""
    v = _num(row, key)
    return "-" if v is None else v * scale


def build_report(inputs: ReportInputs) -> Document:
    """The report of ``inputs`` (module docstring)."""
    from ristretto_sim import load_model, load_plan, score
    from ristretto_sim.data import model_dataset
    from ristretto_sim.errors import ModelError, PlanError
    from ristretto_sim.hw import load_accelerator, pe_for, simulate
    from ristretto_sim.hw.network import layers_from_network
    from ristretto_sim.search import quantize
    from ristretto_sim.search.plans import exact_plan

    network = load_model(inputs.model)
    if network.task != "classification":
        raise ModelError(f"model {network.name!r} is a {network.task} model; the report's baseline, trimming and "
                         "front score top-1 (ristretto-sim score gives its PSNR)")
    data = inputs.data or model_dataset(network.metadata.get("dataset"))
    limit = inputs.iterations * 100
    doc = Document(f"ristretto-sim report: {network.name}")

    layers, skipped = layers_from_network(network, batch=1)
    part = doc.section("Network")
    on_array = [x for x in layers if callable(getattr(x, "problem", None))]  # GEMM-shaped layers
    part.append(table_html(["layer", "kind", "M", "N", "K", "MACs"],
                           [[x.name, type(x).__name__, x.problem().m, x.problem().n, x.problem().k,
                             x.problem().executed_macs] for x in on_array]))
    others = [x.name for x in layers if x not in on_array]
    if others:
        part.append(doc.paragraph(f"on the vector unit: {', '.join(others)}", note=True))
    if skipped:
        part.append(doc.paragraph(f"not on the array (no MACs): {', '.join(skipped)}", note=True))

    base = score(network, data, limit=limit)
    part = doc.section("Float baseline")
    part.append(table_html(["dataset", "images", "top-1 (%)", "top-5 (%)"],
                           [[base.dataset, base.images, 100 * base.top1, 100 * (base.top5 or 0.0)]]))

    result = quantize(network, data, iterations=inputs.iterations, batch_size=100, margin=inputs.margin,
                      mode="exact", backoff=True)
    _ristretto_section(doc, result, inputs.margin)

    if inputs.plan:
        plan, where = load_plan(inputs.plan, network), inputs.plan
    else:
        plan, where = exact_plan(result.final_plan, network), "the trimming's plan in exact arithmetic"
    scored = score(network, data, plan=plan, mode="exact", limit=limit)
    part = doc.section("Plan")
    part.append(doc.paragraph(f"{where}: exact top-1 {100 * scored.top1:.2f}% on {scored.images} images "
                              f"({scored.overflows} overflow events)"))
    rows = []
    for name, entry in plan.layers.items():
        rows.append([name] + [str(getattr(entry, k)) if getattr(entry, k) is not None else "-"
                              for k in ("inputs", "weights", "bias", "outputs", "accumulator")])
    part.append(table_html(["layer", "inputs", "weights", "bias", "outputs", "accumulator"], rows))

    config = load_accelerator(inputs.arch)
    try:
        report = simulate(layers, plan, config)
        arch_note = f"{config.name}"
    except PlanError as exc:
        pe = pe_for(layers, plan, config)
        config = config.replace(pe=pe)
        report = simulate(layers, plan, config)
        arch_note = (f"{inputs.arch} with the PE the plan needs ({pe.inputs} x {pe.weights} -> {pe.accumulator}): "
                     f"the plan does not fit its own PE ({exc})")
    _hardware_sections(doc, report, config, arch_note, Path(inputs.search) if inputs.search else None)

    if inputs.search:
        _pareto_section(doc, Path(inputs.search))
    return doc


def _ristretto_section(doc: Document, result, margin: float) -> None:
    plt = _plt()
    part = doc.section("Ristretto analysis")
    widths = sorted({w for s in result.sweeps.values() for w in s.tried}, reverse=True)
    rows = []
    for name, sweep in result.sweeps.items():
        rows.append([name] + [100 * sweep.tried[w] if w in sweep.tried else "-" for w in widths] + [sweep.chosen])
    part.append(doc.paragraph(f"dynamic fixed point trimming in exact integer arithmetic, {margin:g}-point margin "
                              f"with the back-off extension; baseline {100 * result.baseline:.2f}%, final plan "
                              f"{100 * (result.final_accuracy or 0):.2f}% on {result.images} images"))
    part.append(table_html(["group"] + [f"{w} bit (%)" for w in widths] + ["chosen"], rows))
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, sweep in result.sweeps.items():
        ws = list(sweep.tried)
        ax.plot(ws, [100 * sweep.tried[w] for w in ws], "o-", label=name)
    ax.axhline(100 * result.baseline - margin, ls="--", c="k", lw=0.8, label="baseline - margin")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("bits")
    ax.set_ylabel("top-1 (%)")
    ax.legend(fontsize=8)
    part.append(doc.image(figure_uri(fig), "accuracy vs bit-width"))


def _hardware_sections(doc: Document, report, config, arch_note: str, search: Path | None = None) -> None:
    plt = _plt()
    import numpy as np

    part = doc.section("Cycles and energy per layer")
    part.append(doc.paragraph(f"one image on {arch_note}: {config.rows}x{config.cols} {config.dataflow.value}, "
                              f"{config.clock_mhz:g} MHz"))
    keys = ("arithmetic_pj", "registers_pj", "sram_pj", "dram_pj", "leakage_pj")
    rows = [[x.name, x.total_cycles, x.compute_cycles, x.stall_cycles, x.bound_cycles, x.roofline_attainment,
             100 * x.utilization, x.dram_read_bytes + x.dram_write_bytes] + [getattr(x.energy, k) / 1e6 for k in keys]
            + [x.energy.total_pj / 1e6] for x in (*report.layers, report.total)]
    part.append(table_html(["layer", "cycles", "compute", "stall", "bound", "cycles / bound", "util %",
                            "DRAM bytes", "arith uJ", "reg uJ", "SRAM uJ", "DRAM uJ", "leak uJ", "total uJ"], rows))
    part.append(doc.paragraph("bound: the roofline bound max(compute cycles, DRAM bytes / bandwidth); cycles / bound "
                              "is 1 on the roofline (the network's bound is the sum of its layers')", note=True))
    if not report.leakage_modelled:
        part.append(doc.paragraph("leakage is not modelled by this technology table", note=True))
    names = [x.name for x in report.layers]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.6))
    bottom = np.zeros(len(names))
    for k in keys:
        v = np.array([getattr(x.energy, k) / 1e6 for x in report.layers])
        a1.bar(names, v, bottom=bottom, label=k.replace("_pj", ""))
        bottom += v
    a1.set_ylabel("energy (uJ)")
    a1.legend(fontsize=7)
    comp = np.array([x.compute_cycles for x in report.layers])
    stall = np.array([x.stall_cycles for x in report.layers])
    a2.bar(names, comp, label="compute")
    a2.bar(names, stall, bottom=comp, label="stall")
    a2.set_ylabel("cycles")
    a2.legend(fontsize=7)
    part.append(doc.image(figure_uri(fig), "energy and cycles per layer (stacked)"))

    part = doc.section("Utilisation and roofline")
    peak = config.rows * config.cols
    bw = config.dram.bandwidth_bytes_per_cycle
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.6))
    a1.bar(names, [100 * x.utilization for x in report.layers], label="overall")
    a1.bar(names, [100 * x.mapping_efficiency for x in report.layers], alpha=0.4, label="mapping efficiency")
    a1.set_ylabel("%")
    a1.legend(fontsize=7)
    mac_layers = [x for x in report.layers if x.macs > 0]  # the vector unit's layers do no MACs on the array
    intensity = [x.macs / max(1, x.dram_read_bytes + x.dram_write_bytes) for x in mac_layers]
    achieved = [x.macs / max(1, x.total_cycles) for x in mac_layers]
    xs = np.logspace(np.log10(min(intensity) / 4), np.log10(max(intensity) * 4), 100)
    roof = np.minimum(peak, xs * bw) if bw else np.full_like(xs, peak)
    a2.loglog(xs, roof, "k-", label=f"roof: {peak} MAC/cycle" + (f", {bw:g} B/cycle" if bw else ""))
    bounds = [x.macs / max(1, x.bound_cycles) for x in mac_layers]  # each layer's own roof (its compute cycles)
    a2.vlines(intensity, achieved, bounds, colors="#999999", linewidth=0.8)
    a2.scatter(intensity, bounds, marker="_", c="k", zorder=3, label="layer bound")
    a2.scatter(intensity, achieved, c="#d62728", zorder=3, label="attained")
    for n, i, a in zip([x.name for x in mac_layers], intensity, achieved, strict=True):
        a2.annotate(n, (i, a), fontsize=7)
    a2.set_xlabel("MACs per DRAM byte")
    a2.set_ylabel("MACs per cycle")
    a2.legend(fontsize=7)
    part.append(doc.image(figure_uri(fig), "utilisation and roofline"))

    part = doc.section("Area")
    area = report.area
    part.append(table_html(["part", "um^2"], [["one PE", area["pe_um2"]], ["PE array", area["array_um2"]]]
                           + [[f"{b} SRAM", v] for b, v in area["sram_um2"].items()] + [["total", area["total_um2"]]]))
    part.append(doc.paragraph(f"source: {area.get('source', 'the cost model')}", note=True))
    _synthesis_summary(doc, config, search)


def _rtl_equivalence(doc: Document, part, folder: Path) -> None:
    """One sentence on the joint search's RTL equivalence check (``summary.json``'s ``rtl_verification``), and
    a line per failed point."""
    import json

    path = folder / "summary.json"
    v = json.loads(path.read_text()).get("rtl_verification") if path.is_file() else None
    if v is None:
        part.append(doc.paragraph(f"the Pareto front of {folder} was not checked against the RTL (`ristretto-sim "
                                  "search --verify-rtl` simulates every point's PEs against the emulator)", note=True))
        return
    part.append(doc.paragraph(
        f"RTL equivalence of the joint search's front ({folder}): {v['verified']} of {v['points']} points verified "
        f"bit for bit (every planned conv/fc layer's PE built by the rtl generators and simulated in Amaranth on "
        f"{v['cycles_per_spec']} cycles of vectors, half the layer's own operand codes, every register compared "
        f"with the emulator's arithmetic; {v['distinct_pe_specs']} distinct PEs), {v['failed']} failed, "
        f"{v['not_supported']} not supported (no generator or vectors for the datapath)"))
    for f in v.get("failures", []):
        part.append(doc.paragraph(f"FAILED: trial {f['trial']}: {f['detail']}"))


def _synthesis_summary(doc: Document, config, search: Path | None = None) -> None:
    """The synthesis results table's rows of the accelerator's PE (generic CMOS and every FPGA), when present;
    with a search folder, its RTL equivalence check first."""
    from ristretto_sim.hw.synth_area import NAND2_UM2, TRANSISTORS_PER_NAND2, pe_formats_text, pe_rows

    pe = config.pe
    fmts = pe_formats_text(pe)
    part = doc.section("RTL and synthesis of the PE")
    if search is not None:
        _rtl_equivalence(doc, part, search)
    try:
        found = pe_rows(pe, path=config.synth_table)
    except FileNotFoundError as exc:
        found, missing = [], str(exc)
    else:
        missing = ""
    if not found:
        part.append(doc.paragraph(f"the {pe.datapath.name} PE {fmts} is not in the synthesis results table"
                                  f"{' (' + missing + ')' if missing else ''}; `ristretto-sim rtl` writes its "
                                  "Verilog and `ristretto-sim synth` measures it", note=True))
        return
    table = []
    for r in found:
        where = r["target"] + (f" {r['device']}" if r.get("device") else "") + (" (DSPs)" if r.get("dsp") else "")
        um2 = r["transistors"] / TRANSISTORS_PER_NAND2 * NAND2_UM2 if r.get("transistors") else None
        table.append([where, r.get("transistors") or "-", um2 if um2 is not None else "-", r.get("luts") or "-",
                      r.get("ffs") or "-", r.get("dsps") if r.get("dsps") is not None else "-",
                      r.get("fmax_mhz") or "-"])
    part.append(doc.paragraph(f"{found[0]['top']}: the {pe.datapath.name} PE {fmts} as the rtl generators write it "
                              f"(Yosys {found[0].get('yosys', '')}; area = transistors / {TRANSISTORS_PER_NAND2} x "
                              f"a {NAND2_UM2} um^2 Nangate45 NAND2; Fmax the nextpnr median over seeds)"))
    part.append(table_html(["target", "transistors", "um^2", "LUTs", "FFs", "DSPs", "Fmax MHz"], table))


def _pareto_section(doc: Document, folder: Path) -> None:
    plt = _plt()
    pareto = folder / "pareto.csv"
    if not pareto.is_file():
        raise FileNotFoundError(f"--search {folder}: no pareto.csv (run ristretto-sim search --out {folder} first)")
    front = _read_csv(pareto)
    refs = _read_csv(folder / "references.csv") if (folder / "references.csv").is_file() else []
    trials = _read_csv(folder / "trials.csv") if (folder / "trials.csv").is_file() else []
    part = doc.section("Pareto front of the joint search")
    part.append(doc.paragraph(f"{len(front)} points of {sum(t.get('state') == 'COMPLETE' for t in trials)} "
                              f"COMPLETE trials ({folder}); accuracy on the held-out test split"))
    rtl = bool(front) and "rtl_verified" in front[0]  # written by search --verify-rtl
    part.append(table_html(["trial", "validation %", "test %", "energy uJ", "latency ms", "area mm^2", "plan"]
                           + (["RTL"] if rtl else []),
                           [[int(r["trial"]), 100 * _num(r, "accuracy"), 100 * _num(r, "test_accuracy"),
                             _num(r, "energy_pj") / 1e6, _num(r, "latency_s") * 1e3, _num(r, "area_um2") / 1e6,
                             r.get("plan", "")] + ([r["rtl_verified"]] if rtl else []) for r in front]))
    part.append(table_html(["reference", "validation %", "test %", "energy uJ", "area mm^2"],
                           [[r["name"], _scaled(r, "accuracy", 100), _scaled(r, "test_accuracy", 100),
                             _scaled(r, "energy_pj", 1e-6), _scaled(r, "area_um2", 1e-6)] for r in refs]))
    base = next((r for r in refs if r["name"] == "float32"), None)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    marks = {"uniform int8": ("s", "#d62728"), "uniform 16-bit": ("^", "#9467bd"), "ristretto greedy": ("D", "#2ca02c")}
    for ax, (key, scale, label) in zip(axes, (("energy_pj", 1e-6, "energy (uJ)"), ("area_um2", 1e-6, "area (mm^2)"),
                                              ("latency_s", 1e3, "latency (ms)")), strict=True):
        done = [t for t in trials if t.get("feasible") == "True" and _num(t, key) is not None]
        ax.scatter([_num(t, key) * scale for t in done], [100 * _num(t, "accuracy") for t in done], s=6,
                   c="#bbbbbb", label="trials (validation)")
        pts = sorted(front, key=lambda r: _num(r, key))
        ax.plot([_num(r, key) * scale for r in pts], [100 * _num(r, "test_accuracy") for r in pts], "o-",
                label="front (test)")
        for r in refs:
            if r["name"] in marks and _num(r, key) is not None:
                m, c = marks[r["name"]]
                ax.scatter([_num(r, key) * scale], [100 * _num(r, "test_accuracy")], marker=m, c=c, s=50,
                           label=r["name"], zorder=3)
        if base is not None:
            ax.axhline(100 * _num(base, "test_accuracy"), ls="--", c="k", lw=0.8, label="float32")
        tops = [100 * _num(r, "test_accuracy") for r in front] + [100 * (_num(r, "test_accuracy") or 0) for r in refs]
        ax.set_ylim(max(0.0, min(tops) - 2), max(tops) + 0.5)
        ax.set_xlabel(label)
        ax.set_ylabel("top-1 (%)")
    axes[0].legend(fontsize=6, loc="lower right")
    part.append(doc.image(figure_uri(fig), "Pareto front: accuracy vs energy, area, latency"))


def write_report(inputs: ReportInputs, path) -> Path:
    """Build the report and write it to ``path`` (one self-contained HTML file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(build_report(inputs).render(), encoding="utf-8")
    return path
