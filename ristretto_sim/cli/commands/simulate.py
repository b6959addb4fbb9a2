"""``ristretto-sim simulate``: cycles, memory traffic and energy of a network on an accelerator."""

from __future__ import annotations

NAME = "simulate"
HELP = "simulate a model or SCALE-Sim topology on an accelerator: cycles, DRAM traffic, energy"
DESCRIPTION = (
    "Run a model (ONNX or Caffe prototxt, formats from --plan) or a SCALE-Sim topology (conv or GEMM form) "
    "on an accelerator given as a preset, a YAML file or a SCALE-Sim .cfg, and print a per-layer table and "
    "totals. Only convolutions and fully connected layers run on the array; other layers are listed as not "
    "simulated."
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
        metavar="ARCH",
        help="accelerator: a preset name, ARCH.yaml or a SCALE-Sim .cfg",
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
    p.add_argument("--plot", metavar="OUT.png", help="also write energy and cycle plots")


def _table(report) -> str:
    head = (
        f"{'layer':<16}{'total_cyc':>12}{'compute':>12}{'stall':>11}{'util%':>7}{'DRAM_rd_B':>12}"
        f"{'DRAM_wr_B':>11}{'energy_uJ':>11}"
    )
    lines = [head]
    for x in (*report.layers, report.total):
        if x is report.total:
            lines.append("-" * len(head))
        lines.append(
            f"{x.name[:15]:<16}{x.total_cycles:>12}{x.compute_cycles:>12}{x.stall_cycles:>11}"
            f"{100 * x.utilization:>7.1f}{x.dram_read_bytes:>12}{x.dram_write_bytes:>11}"
            f"{x.energy.total_pj / 1e6:>11.3f}"
        )
    t, e = report.total, report.total.energy
    leak = f"{e.leakage_pj / 1e6:.3f}" if report.leakage_modelled else "not modelled"
    lines.append(
        f"latency {t.latency_s * 1e3:.4f} ms at {report.config['clock_mhz']:g} MHz; energy "
        f"{e.total_pj / 1e6:.3f} uJ (arithmetic {e.arithmetic_pj / 1e6:.3f}, registers "
        f"{e.registers_pj / 1e6:.3f}, SRAM {e.sram_pj / 1e6:.3f}, DRAM {e.dram_pj / 1e6:.3f}, "
        f"leakage {leak}); area {report.area['total_um2'] / 1e6:.3f} mm^2"
    )
    if report.scalesim_compatible:
        lines.append("mode: scalesim_compatible (serial folds, SCALE-Sim SRAM counts, 1-byte words)")
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


def _load_model(path: str, plan_path: str | None, batch: int, weights: str | None = None):
    from ristretto_sim.cli.modelargs import load_structure
    from ristretto_sim.hw.network import layers_from_network

    if batch < 1:
        raise ValueError(f"--batch={batch} must be >= 1")
    network, _ = load_structure(path, weights)  # a prototxt without weights: shapes suffice for the cycle model
    layers, skipped = layers_from_network(network, batch=batch)
    plan = None
    if plan_path is not None:
        from ristretto_sim import load_plan

        plan = load_plan(plan_path, network)
    return layers, skipped, plan


def run(args) -> int:
    from ristretto_sim.errors import ConfigError
    from ristretto_sim.hw import LayerFormats, load_accelerator, read_topology, simulate

    if (args.model is None) == (args.topology is None):
        raise ConfigError("give the network either as MODEL (.onnx, .prototxt) or as --topology T.csv")
    if args.plan is not None and args.model is None:
        raise ConfigError("--plan needs MODEL; with --topology give --formats instead")
    if args.scalesim_compatible and args.padding != "valid":
        raise ConfigError("--padding same contradicts --scalesim-compatible (SCALE-Sim never pads)")
    config = load_accelerator(args.arch)
    if args.bandwidth is not None:
        config = config.with_bandwidth(args.bandwidth)
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
    report = simulate(layers, formats, config, scalesim_compatible=args.scalesim_compatible)
    if args.csv:
        report.to_csv(args.csv)
    if args.plot:
        from ristretto_sim.hw.plots import plot_report

        plot_report(report, args.plot)
    if args.json:
        print(report.to_json())
    else:
        print(_table(report))
        print(_area_source(report.area))
        if skipped:
            print(f"not simulated (no MACs on the array): {', '.join(skipped)}")
    return 0
