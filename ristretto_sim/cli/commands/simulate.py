"""``ristretto-sim simulate``: cycles, memory traffic and energy of a topology on an accelerator."""

from __future__ import annotations

NAME = "simulate"
HELP = "simulate a network (SCALE-Sim topology CSV) on an accelerator: cycles, DRAM traffic, energy"
DESCRIPTION = (
    "Run a SCALE-Sim topology (conv or GEMM form) on an accelerator given as a preset, a YAML file or a "
    "SCALE-Sim .cfg, and print a per-layer table and totals. Model files (ONNX/Caffe) are not yet supported."
)


def add_arguments(p):
    p.add_argument("model", nargs="?", help="model file (not yet supported; use --topology)")
    p.add_argument("--plan", help="quantization plan YAML (with MODEL; not yet supported)")
    p.add_argument("--topology", "-t", metavar="T.csv", help="SCALE-Sim topology CSV (conv or GEMM form)")
    p.add_argument("--gemm", action="store_true", help="read the topology as GEMM rows (Layer, M, N, K)")
    p.add_argument(
        "--padding",
        choices=("valid", "same"),
        default="valid",
        help="how to read conv rows: no padding (valid, default) or (F-1)//2 on each side (same)",
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
        help="inputs,weights,outputs,accumulator formats for every layer, e.g. int8,int4,int8,int32 "
        "(default: the PE datapath's)",
    )
    p.add_argument(
        "--bandwidth", type=float, metavar="B", help="override the DRAM bandwidth in bytes per cycle"
    )
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
    t = report.total
    lines.append(
        f"latency {t.latency_s * 1e3:.4f} ms at {report.config['clock_mhz']:g} MHz; energy "
        f"{t.energy.total_pj / 1e6:.3f} uJ (arithmetic {t.energy.arithmetic_pj / 1e6:.3f}, registers "
        f"{t.energy.registers_pj / 1e6:.3f}, SRAM {t.energy.sram_pj / 1e6:.3f}, DRAM "
        f"{t.energy.dram_pj / 1e6:.3f}, leakage "
        f"{'not modelled' if not report.leakage_modelled else f'{t.energy.leakage_pj / 1e6:.3f}'}); "
        f"area {report.area['total_um2'] / 1e6:.3f} mm^2"
    )
    if report.scalesim_compatible:
        lines.append("mode: scalesim_compatible (serial folds, SCALE-Sim SRAM counts, 1-byte words)")
    return "\n".join(lines)


def run(args) -> int:
    from ristretto_sim.errors import ConfigError
    from ristretto_sim.hw import LayerFormats, load_accelerator, read_topology, simulate

    if args.model is not None or args.plan is not None:
        raise ConfigError(
            "model input is not yet supported by `simulate` (the graph adapter is pending); "
            "give the layers as --topology T.csv"
        )
    if args.topology is None:
        raise ConfigError("give the network as --topology T.csv (SCALE-Sim conv or GEMM form)")
    if args.scalesim_compatible and args.padding != "valid":
        raise ConfigError("--padding same contradicts --scalesim-compatible (SCALE-Sim never pads)")
    config = load_accelerator(args.arch)
    if args.bandwidth is not None:
        config = config.with_bandwidth(args.bandwidth)
    mode = "scalesim" if args.scalesim_compatible else args.padding
    layers = read_topology(args.topology, gemm=True if args.gemm else None, mode=mode)
    formats = None
    if args.formats:
        parts = [s.strip() for s in args.formats.split(",")]
        if len(parts) != 4:
            raise ValueError(
                f"--formats={args.formats!r} needs four formats: inputs,weights,outputs,accumulator"
            )
        formats = LayerFormats(*parts)
    report = simulate(layers, formats, config, scalesim_compatible=args.scalesim_compatible)
    if args.csv:
        report.to_csv(args.csv)
    if args.plot:
        from ristretto_sim.hw.plots import plot_report

        plot_report(report, args.plot)
    print(report.to_json() if args.json else _table(report))
    return 0
