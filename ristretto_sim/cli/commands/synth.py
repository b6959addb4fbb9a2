"""``ristretto-sim synth``: area and clock of a design (Verilog folder or file, or a PE spec) from YoWASP Yosys
and nextpnr, and the sweep that writes the ``hdl/`` results table."""

from __future__ import annotations

import json
import sys

NAME = "synth"
HELP = "synthesize a PE (Verilog or KIND:INPUTS,WEIGHTS,ACC): LUTs, carries, FFs, DSPs, transistors, Fmax"
DESCRIPTION = (
    "Synthesize a design with YoWASP Yosys and nextpnr (pip install 'ristretto-sim[synth]'): DIR_OR_SPEC is a "
    "folder of Verilog files (the rtl command writes DIR/<top>.v), a .v file, or a PE spec such as "
    "fixed:int8,int8,fixed24.0 (kinds fixed, shift, minifloat: the rtl command's PEs; KIND:INPUTS,WEIGHTS "
    "takes the datapath's accumulator, e.g. minifloat:e4m3fn,e4m3fn for its Kulisch register). Targets: "
    "generic (CMOS transistor count), ice40 (in a registered harness, "
    "its overhead reported) and ecp5 (out of context); Fmax is the median over the nextpnr seeds. --sweep "
    "synthesizes the fixed-point PE at operand widths 2..16, the presets' formats, a few shift PEs and the "
    "catalogue's minifloat PEs into a results table (resumable)."
)


def add_arguments(p):
    p.add_argument("design", nargs="?", metavar="DIR_OR_SPEC",
                   help="Verilog folder or file, or KIND:INPUTS,WEIGHTS[,ACCUMULATOR] (e.g. fixed:int8,int8,fixed24.0, "
                        "shift:fixed8.4,pow2[-7,0],fixed20.11, minifloat:e4m3fn,e4m3fn)")
    p.add_argument("--target", "-t", choices=("generic", "ice40", "ecp5", "all"),
                   help="generic CMOS transistors (the default), iCE40, ECP5, or all three (--sweep's default: "
                        "generic, iCE40 HX8K and UP5K, ECP5-25K with and without DSPs)")
    p.add_argument("--device", help="FPGA part: hx8k (default) or up5k for iCE40; 25k (default), 45k, 85k for ECP5")
    dsp = p.add_mutually_exclusive_group()
    dsp.add_argument("--dsp", dest="dsp", action="store_true", default=None,
                     help="map multipliers to DSP blocks (default: when the part has them)")
    dsp.add_argument("--no-dsp", dest="dsp", action="store_false", help="keep multipliers in LUTs")
    p.add_argument("--top", help="top module of a Verilog folder or file (default: the module named like its file)")
    p.add_argument("--seeds", default="1,2,3", help="nextpnr seeds, comma-separated (Fmax is their median)")
    p.add_argument("--freq", type=float, metavar="MHZ", help="nextpnr clock target (default 300 iCE40, 500 ECP5)")
    p.add_argument("--bitstream", action="store_true",
                   help="also pack a bitstream of the design in its harness (icepack / ecppack); needs --out")
    p.add_argument("--out", metavar="DIR", help="keep the tools' files (logs, reports, bitstream) in DIR")
    p.add_argument("--table", metavar="RESULTS.json",
                   help="add the results to this table (with --sweep: the table to fill, default "
                        "hdl/synth_results.json)")
    p.add_argument("--sweep", action="store_true",
                   help="synthesize the default sweep (fixed PEs at --widths, shift and minifloat PEs) on the "
                        "default targets (or --target)")
    p.add_argument("--widths", default="2..16", help="operand widths of --sweep, e.g. 2..16 or 4,8 (default 2..16)")
    p.add_argument("--json", action="store_true", help="print JSON instead of one line per result")


def _ints(text: str, name: str) -> tuple[int, ...]:
    try:
        if ".." in text:
            lo, hi = text.split("..")
            return tuple(range(int(lo), int(hi) + 1))
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise ValueError(f"{name}={text!r} must be integers like 1,2,3 or a range 2..16") from None


def _targets(args, synth):
    seeds = _ints(args.seeds, "--seeds")
    target = args.target or "generic"
    names = ("generic", "ice40", "ecp5") if target == "all" else (target,)
    if args.device and len(names) > 1:
        raise ValueError("--device names one FPGA part: give one --target with it")
    out = []
    for name in names:
        generic = name == "generic"
        out.append(synth.SynthOptions(
            name, device=None if generic else args.device, dsp=None if generic else args.dsp,
            seeds=seeds, freq_mhz=None if generic else args.freq, bitstream=args.bitstream and not generic,
        ))
    return out


def _progress(done, total, label):
    if done < total:
        print(f"[{done + 1}/{total}] {label}", file=sys.stderr, flush=True)


def run(args) -> int:
    from pathlib import Path

    from ristretto_sim.rtl import synth

    if args.bitstream and not args.out:
        raise ValueError("--bitstream needs --out DIR to keep the bitstream in")
    if args.bitstream and args.target in (None, "generic"):
        raise ValueError("--bitstream needs an FPGA --target (ice40 or ecp5)")
    if args.sweep:
        if args.design is not None:
            raise ValueError("--sweep synthesizes the registered PE kinds; give no DIR_OR_SPEC with it")
        targets = synth.DEFAULT_TARGETS if args.target is None else _targets(args, synth)
        entries = synth.default_entries(_ints(args.widths, "--widths"))
        table = synth.run_sweep(entries, targets, args.table or "hdl/synth_results.json", workdir=args.out,
                                progress=_progress)
        rows = table.rows
        if args.json:
            print(json.dumps(table.to_dict(), indent=1))
        else:
            for r in rows:
                print(r.summary())
            print(f"{len(rows)} results and {len(table.fits)} fits in {args.table or 'hdl/synth_results.json'}")
        return 0
    if args.design is None:
        raise ValueError("give DIR_OR_SPEC (a Verilog folder or file, or e.g. fixed:int8,int8,fixed24.0) or --sweep")
    if Path(args.design).exists():
        design = synth.Design.from_path(args.design, args.top)
    else:
        if args.top:
            raise ValueError("--top is for Verilog files; a PE spec names its own top module")
        design = synth.entry_from_spec(args.design).design()
    results = []
    for options in _targets(args, synth):
        work = None if args.out is None else Path(args.out) / f"{design.top}_{options.target.value}"
        results.append(synth.synthesize(design, options, work))
    if args.table:
        path = Path(args.table)
        table = synth.ResultsTable.read(path) if path.exists() else synth.ResultsTable()
        for r in results:
            table = table.with_row(r)
        table.write(path)
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=1))
    else:
        for r in results:
            print(r.summary())
    return 0
