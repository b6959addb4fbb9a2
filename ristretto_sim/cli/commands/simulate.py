"""``ristretto-sim simulate``: cycles, memory traffic and energy of a network on an accelerator."""

from __future__ import annotations

NAME = "simulate"
HELP = "simulate a model or SCALE-Sim topology on accelerators: cycles, DRAM traffic, energy, area"
DESCRIPTION = (
    "Run a model (ONNX or Caffe prototxt, formats from --plan) or a SCALE-Sim topology (conv or GEMM form) "
    "on an accelerator given as a preset, a YAML file or a SCALE-Sim .cfg, and print a per-layer table and "
    "totals. Convolutions and fully connected layers run on the PE array, every other layer (pooling, "
    "elementwise, activations, LRN, softmax, concat) on the vector unit; views (flatten, reshape) are free. "
    "Several --arch print the accelerators side by side; --sweep NAME=V1,V2 (repeatable: the product) "
    "simulates every point and writes a table and a plot."
)


def add_arguments(p):
    p.add_argument("model", nargs="?",
                   help="model: .onnx, Caffe .prototxt or a bundled name such as lenet (or give --topology)")
    p.add_argument("--weights", metavar="CAFFEMODEL", help="Caffe weights (not needed: shapes come from the prototxt)")
    p.add_argument("--plan", help="quantization plan YAML for MODEL (default: the PE datapath formats)")
    p.add_argument("--batch", type=int, default=1, help="images per inference for MODEL (default 1)")
    p.add_argument("--topology", "-t", metavar="T.csv", help="SCALE-Sim topology CSV (conv or GEMM form)")
    p.add_argument("--gemm", action="store_true", help="read the topology as GEMM rows (Layer, M, N, K)")
    p.add_argument(
        "--padding",
        choices=("valid", "same"),
        default="valid",
        help="how to read topology conv rows: no padding (valid, default) or (F-1)//2 on each side (same)",
    )
    p.add_argument(
        "--arch",
        "-a",
        required=True,
        action="append",
        metavar="ARCH",
        help="accelerator: a preset name, ARCH.yaml or a SCALE-Sim .cfg; give it again to compare side by side",
    )
    p.add_argument(
        "--zero-point",
        choices=("subtract", "register", "fold"),
        help="an affine PE's zero points (int8 models): subtracted in every PE (constants, or 'register': loaded "
        "per layer), or the input's folded into the bias (default: the accelerator's pe.zero_point)",
    )
    p.add_argument(
        "--sweep",
        action="append",
        metavar="NAME=V1,V2",
        help="sweep one parameter of the accelerator (rows, cols, dataflow, buffer_kb, ifmap_kb, filter_kb, "
        "ofmap_kb, bandwidth, latency, prefetch_depth, write_policy, lanes, clock_mhz); repeat for the product; writes "
        "--csv (default sweep.csv) and --plot (default sweep.png)",
    )
    p.add_argument(
        "--formats",
        metavar="FMT",
        help="inputs,weights,outputs,accumulator formats for every layer, e.g. "
        "int8,int4,int8,int32 (default: the PE datapath's)",
    )
    p.add_argument("--bandwidth", type=float, metavar="B", help="override the DRAM bandwidth (bytes/cycle)")
    p.add_argument(
        "--scalesim-compatible",
        action="store_true",
        help="SCALE-Sim's serial folds, SRAM counts, 1-byte words and layer sizes",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--csv", metavar="OUT.csv", help="also write the per-layer table as CSV")
    p.add_argument(
        "--plot",
        metavar="OUT.png",
        help="also write energy, cycle and utilisation plots (and OUT_roofline.png, the roofline)",
    )


def _table(report) -> str:
    labels = [x.label or x.name for x in report.layers]
    label_of = dict(zip((x.name for x in report.layers), labels, strict=True))  # a fused layer's producer, short
    w = max(8, *(len(label) for label in labels)) + 2
    head = (
        f"{'layer':<{w}}{'unit':<8}{'total_cyc':>11}{'compute':>11}{'stall':>10}{'/bound':>7}{'util%':>7}"
        f"{'DRAM_rd_B':>12}"
        f"{'DRAM_wr_B':>11}{'energy_uJ':>11}  fused"
    )
    lines = [head]
    for x, label in (*zip(report.layers, labels, strict=True), (report.total, "total")):
        if x is report.total:
            lines.append("-" * len(head))
        util = f"{100 * x.utilization:>7.1f}" if x.unit != "vector" else f"{'-':>7}"
        fused = f"into {label_of.get(x.fused_into, x.fused_into)}" if x.fused_into else ""
        lines.append(
            f"{label:<{w}}{x.unit:<8}{x.total_cycles:>11}{x.compute_cycles:>11}{x.stall_cycles:>10}"
            f"{x.roofline_attainment:>7.2f}{util}{x.dram_read_bytes:>12}{x.dram_write_bytes:>11}"
            f"{x.energy.total_pj / 1e6:>11.3f}  {fused}"
        )
    t, e = report.total, report.total.energy
    leak = f"{e.leakage_pj / 1e6:.3f}" if report.leakage_modelled else "not modelled"
    lines.append(
        f"latency {t.latency_s * 1e3:.4f} ms at {report.config['clock_mhz']:g} MHz; energy "
        f"{e.total_pj / 1e6:.3f} uJ (PE arithmetic {e.arithmetic_pj / 1e6:.3f}, PE registers "
        f"{e.registers_pj / 1e6:.3f}, vector unit {e.vector_pj / 1e6:.3f}, SRAM {e.sram_pj / 1e6:.3f}, "
        f"DRAM {e.dram_pj / 1e6:.3f}, leakage {leak}); area {report.area['total_um2'] / 1e6:.3f} mm^2"
    )
    if report.leakage_modelled:
        lk = report.leakage
        lines.append(
            f"leakage power {lk['total_mw']:.3f} mW (array {lk['array_mw']:.3f}, SRAM {lk['sram_mw']:.3f}, "
            f"vector unit {lk['vector_mw']:.3f})"
        )
    lines.append("/bound: cycles over the roofline bound max(compute, DRAM bytes / bandwidth); 1.00 is on the roof")
    if any(x.label != x.name for x in report.layers):
        lines.append("(long layer names are shortened to index:kind:part; the CSV and JSON carry the full names)")
    if report.scalesim_compatible:
        lines.append("mode: scalesim_compatible (serial folds, SCALE-Sim SRAM counts, 1-byte words)")
        if report.not_simulated:
            lines.append(f"not simulated in SCALE-Sim mode (no GEMM): {', '.join(report.not_simulated)}")
    return "\n".join(lines)


def _area_source(area: dict) -> str:
    """Which area source the report used, and the synthesis and FPGA figures when there are any."""
    line = f"area source: {area['source']}"
    if "synthesis_to_table_ratio" in area:
        line += (f"; PE {area['pe_um2']:.1f} um^2 = {area['synthesis_to_table_ratio']:.2f} x the table's "
                 f"{area['table_pe_um2']:.1f} um^2")
    fpga = area.get("fpga")
    if fpga:
        used = ", ".join(f"{v} {k}" for k, v in fpga["array"].items())
        line += (f"\nFPGA {fpga['target']} {fpga['device']}: {used} for the array; clock "
                 f"{fpga['clock_mhz']:g} MHz (configured {fpga['configured_clock_mhz']:g}, PE Fmax "
                 f"{fpga['pe_fmax_mhz']} MHz)")
    return line


def _side_by_side(reports: dict) -> str:
    from ristretto_sim.hw.sweep import comparison

    names = list(reports)
    w = max(12, *(len(n) for n in names)) + 2
    lines = [f"{'':<20}" + "".join(f"{n:>{w}}" for n in names)]
    for label, values in comparison(reports):
        lines.append(f"{label:<20}" + "".join(f"{v:>{w}}" for v in values))
    return "\n".join(lines)


def _roofline_path(path: str) -> str:
    from pathlib import Path

    p = Path(path)
    return str(p.with_name(f"{p.stem}_roofline{p.suffix or '.png'}"))


def _load_model(path: str, plan_path: str | None, batch: int, weights: str | None = None):
    from ristretto_sim.cli.modelargs import load_structure
    from ristretto_sim.hw.network import layers_from_network

    if batch < 1:
        raise ValueError(f"--batch={batch} must be >= 1")
    network, _ = load_structure(path, weights)  # a prototxt without weights: shapes suffice for the cycle model
    layers, skipped = layers_from_network(network, batch=batch)
    plan = None
    if plan_path is not None:
        from ristretto_sim.cli.modelargs import load_plan_arg

        plan = load_plan_arg(plan_path, path, weights, network)
    else:
        from ristretto_sim.graph.plan import embedded_plan

        plan = embedded_plan(network)  # an int8 TFLite model runs in its own affine formats
    if plan is not None and set(skipped) & set(plan.layers):  # views (reshape) move no data: not simulated
        plan = plan.replace(layers={k: v for k, v in plan.layers.items() if k not in set(skipped)})
    return layers, skipped, plan


def _pe_for_plan(layers, formats, config, scalesim_compatible: bool):
    """``config``, or when the plan's datapath is not its PE's (an int8 TFLite model's affine formats on a fixed-point
    preset) the same array with the PE the plan needs (``hw.pe_for``), and a line saying so."""
    from ristretto_sim.errors import PlanError
    from ristretto_sim.hw import pe_for
    from ristretto_sim.hw.plan import PlanView

    if formats is None or scalesim_compatible:
        return config, ""
    plan = PlanView(formats, config.pe.datapath_formats())
    on_array = [x for x in layers if callable(getattr(x, "problem", None))]
    # only an int8 model's affine plan swaps the PE: any other plan that does not fit the PE is the user's error
    kinds = {plan.formats(x.name).datapath for x in on_array}
    if "affine" not in kinds or config.pe.datapath.name == "affine":
        return config, ""
    try:
        pe = pe_for(layers, formats, config)
    except PlanError:
        return config, ""  # simulate reports the mismatch
    note = (f"PE: the plan's {pe.datapath.name} datapath, not {config.name}'s {config.pe.kind.value} one: "
            f"{pe.kind.value} {pe.inputs} x {pe.weights} -> {pe.accumulator} on the same array")
    return config.replace(pe=pe), note


def run(args) -> int:
    from ristretto_sim.errors import ConfigError
    from ristretto_sim.hw import LayerFormats, load_accelerator, read_topology, simulate

    if (args.model is None) == (args.topology is None):
        raise ConfigError("give the network either as MODEL (.onnx, .prototxt) or as --topology T.csv")
    if args.plan is not None and args.model is None:
        raise ConfigError("--plan needs MODEL; with --topology give --formats instead")
    if args.scalesim_compatible and args.padding != "valid":
        raise ConfigError("--padding same contradicts --scalesim-compatible (SCALE-Sim never pads)")
    configs = []
    for spec in args.arch:
        config = load_accelerator(spec)
        if args.bandwidth is not None:
            config = config.with_bandwidth(args.bandwidth)
        configs.append(config)
    if args.sweep and len(configs) > 1:
        raise ConfigError("--sweep varies one accelerator: give one --arch with it")
    formats = None
    skipped: list[str] = []
    if args.model is not None:
        layers, skipped, formats = _load_model(args.model, args.plan, args.batch, args.weights)
    else:
        mode = "scalesim" if args.scalesim_compatible else args.padding
        layers = read_topology(args.topology, gemm=True if args.gemm else None, mode=mode)
    if args.formats:
        if formats is not None:
            raise ConfigError("give formats either with --plan or with --formats, not both")
        parts = [s.strip() for s in args.formats.split(",")]
        if len(parts) != 4:
            raise ValueError(
                f"--formats={args.formats!r} needs four formats: inputs,weights,outputs,accumulator"
            )
        formats = LayerFormats(parts[0], parts[1], outputs=parts[2], accumulator=parts[3])
    if args.zero_point and (args.sweep or len(configs) > 1):
        raise ValueError("--zero-point sets one accelerator's affine PE: with --sweep or several --arch, write "
                         "pe.zero_point in the accelerator YAML")
    # an int8 model's affine plan takes each accelerator's array with the PE it needs (a PE: line says so)
    swapped = [_pe_for_plan(layers, formats, c, args.scalesim_compatible) for c in configs]
    configs = [c for c, _ in swapped]
    notes = list(dict.fromkeys(n for _, n in swapped if n))
    if args.sweep:
        return _run_sweep(args, layers, formats, configs[0], notes)
    if len(configs) > 1:
        return _run_compare(args, layers, formats, configs, notes)
    config, note = configs[0], "".join(notes)
    if args.zero_point:
        config = _with_zero_point(config, args.zero_point)
    report = simulate(layers, formats, config, scalesim_compatible=args.scalesim_compatible)
    if args.csv:
        report.to_csv(args.csv)
    if args.plot:
        from ristretto_sim.hw.plots import plot_report, plot_roofline

        plot_report(report, args.plot)
        plot_roofline(report, _roofline_path(args.plot))
    if args.json:
        print(report.to_json())
    else:
        print(_table(report))
        print(_area_source(report.area))
        if note:
            print(note)
        if skipped:
            print(f"views, no data moved: {', '.join(skipped)}")
    return 0


def _with_zero_point(config, zero_point: str):
    """``config`` with its affine PE's ``zero_point`` handling (``ValueError`` for another PE kind)."""
    import dataclasses

    from ristretto_sim.hw import PEKind

    if config.pe.kind is not PEKind.AFFINE:
        raise ValueError(f"--zero-point is for an affine PE (an int8 model's plan); {config.name}'s PE is "
                         f"{config.pe.kind.value}")
    return config.replace(pe=dataclasses.replace(config.pe, zero_point=zero_point))


def _unique_names(configs) -> list[str]:
    names = [c.name for c in configs]
    return [n if names.count(n) == 1 else f"{n}#{i + 1}" for i, n in enumerate(names)]


def _run_compare(args, layers, formats, configs, notes=()) -> int:
    import json

    from ristretto_sim.hw import simulate

    reports = {
        name: simulate(layers, formats, c, scalesim_compatible=args.scalesim_compatible)
        for name, c in zip(_unique_names(configs), configs, strict=True)
    }
    if args.csv:
        import csv

        from ristretto_sim.hw.sweep import comparison

        with open(args.csv, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["metric", *reports])
            for label, values in comparison(reports):
                writer.writerow([label.strip(), *values])
    if args.plot:
        from ristretto_sim.hw.plots import plot_comparison

        plot_comparison(reports, args.plot)
    if args.json:
        print(json.dumps({name: r.to_dict() for name, r in reports.items()}, indent=2))
    else:
        print(_side_by_side(reports))
        for note in notes:
            print(note)
    return 0


def _run_key(layers, formats, config, scalesim_compatible: bool) -> str:
    """A digest of what a sweep simulates (the layers, their formats, the base accelerator, the mode): a table
    is resumed only by a run of the same sweep, never one of another model or accelerator."""
    import hashlib

    text = "\n".join((repr(tuple(layers)), repr(formats), config.to_yaml(), str(scalesim_compatible)))
    return hashlib.sha256(text.encode()).hexdigest()


def _key_path(path) -> str:
    return f"{path}.run"  # the run key beside the table, so the CSV stays a plain table


def _finished_points(path, header: list[str], n_axes: int, key: str) -> dict:
    """The rows of an earlier run of the same sweep (same columns, same run key) in ``path``, by their axis
    values."""
    import csv
    from pathlib import Path

    if not Path(path).exists() or not Path(_key_path(path)).exists():
        return {}
    if Path(_key_path(path)).read_text().strip() != key:
        return {}
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows or rows[0] != header:
        return {}
    return {tuple(r[:n_axes]): r for r in rows[1:] if len(r) == len(header)}


def _run_sweep(args, layers, formats, config, notes=()) -> int:
    import csv
    import json

    from ristretto_sim.hw import simulate
    from ristretto_sim.hw.plots import plot_sweep
    from ristretto_sim.hw.sweep import COMPARED, SweepAxis, sweep_points

    axes = [SweepAxis.parse(text) for text in args.sweep]
    csv_path = args.csv or "sweep.csv"
    plot_path = args.plot or "sweep.png"
    keys = [a.name for a in axes]
    metrics = [label.strip() for label, _ in COMPARED]
    header = keys + metrics
    key = _run_key(layers, formats, config, args.scalesim_compatible)
    done = _finished_points(csv_path, header, len(keys), key)  # an interrupted run of the same sweep resumes
    points, rows = [], []
    reused = 0
    from pathlib import Path

    Path(_key_path(csv_path)).write_text(key + "\n")
    with open(csv_path, "w", newline="") as fh:  # each point is written as soon as it is simulated
        writer = csv.writer(fh)
        writer.writerow(header)
        for point, c in sweep_points(config, axes):
            key = tuple(str(v) for v in point.values())
            if key in done:
                row, reused = done[key], reused + 1
            else:
                report = simulate(layers, formats, c, scalesim_compatible=args.scalesim_compatible)
                row = [*key, *(str(get(report)) for _, get in COMPARED)]
            writer.writerow(row)
            fh.flush()
            points.append(point)
            rows.append(dict(zip(header, row, strict=True)))
    plot_sweep(points, rows, plot_path)
    if args.json:
        totals = [{"point": p, "total": {m: r[m] for m in metrics}} for p, r in zip(points, rows, strict=True)]
        print(json.dumps(totals))
        return 0
    shown = ("total cycles", "utilisation %", "latency ms", "energy uJ", "area mm^2")
    widths = [max(12, len(k) + 2) for k in keys]  # an axis name longer than a column (prefetch_depth) stays apart
    print("".join(f"{k:>{w}}" for k, w in zip(keys, widths, strict=True))
          + "".join(f"{label:>15}" for label in shown))
    for r in rows:
        print("".join(f"{r[k]:>{w}}" for k, w in zip(keys, widths, strict=True))
              + "".join(f"{r[label]:>15}" for label in shown))
    note = f" ({reused} of {len(rows)} points read back from the earlier run)" if reused else ""
    print(f"wrote {csv_path} and {plot_path}{note}")
    for line in notes:
        print(line)
    return 0
