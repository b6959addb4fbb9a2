"""``synthesize(design, options)``: one design through Yosys (and nextpnr) to a ``SynthResult``.

* generic: Yosys' CMOS transistor count (``yosys``);
* ECP5: ``synth_ecp5``, then nextpnr-ecp5 out of context once per seed (a design without a clock port in the
  harness instead: out of context it has no register-to-register path to time);
* iCE40: ``synth_ice40`` of the design alone (its counts are the row's), then of the design inside the registered
  harness (``harness``), placed by nextpnr-ice40 once per seed; the harness' extra cells are reported.
With ``bitstream`` the harness of either family is packed into a bitstream (icepack / ecppack) kept in ``workdir``.
"""

from __future__ import annotations

import json
import statistics
import tempfile
from pathlib import Path

from ristretto_sim.rtl.synth.design import Design
from ristretto_sim.rtl.synth.harness import HARNESS_TOP, harness_verilog
from ristretto_sim.rtl.synth.nextpnr import pack, place_route
from ristretto_sim.rtl.synth.results import SynthResult
from ristretto_sim.rtl.synth.targets import SynthOptions, Target
from ristretto_sim.rtl.synth.tools import Tool, require, version
from ristretto_sim.rtl.synth.yosys import Resources, ports, resources, run_yosys, synth_script

_TOOLS = {
    Target.GENERIC: (Tool.YOSYS,),
    Target.ICE40: (Tool.YOSYS, Tool.NEXTPNR_ICE40),
    Target.ECP5: (Tool.YOSYS, Tool.NEXTPNR_ECP5),
}
_PACKERS = {Target.ICE40: Tool.ICEPACK, Target.ECP5: Tool.ECPPACK}


def synthesize(design: Design, options: SynthOptions, workdir: str | Path | None = None) -> SynthResult:
    """Synthesize ``design`` as ``options`` say (module docstring).

    Parameters
    ----------
    design : Design
    options : SynthOptions
    workdir : path, optional
        Where the tools' inputs, logs, reports and bitstream stay (default: a temporary folder, removed after; a
        bitstream needs ``workdir``).

    Raises
    ------
    SynthesisToolError
        A tool is missing (the message names ``pip install 'ristretto-sim[synth]'``) or failed.
    """
    if not isinstance(design, Design):
        raise TypeError(f"design={design!r} must be a Design")
    if not isinstance(options, SynthOptions):
        raise TypeError(f"options={options!r} must be SynthOptions")
    require(*_TOOLS[options.target], *((_PACKERS[options.target],) if options.bitstream else ()))
    if options.bitstream and workdir is None:
        raise ValueError("bitstream=True needs a workdir to keep the bitstream in")
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="ristretto-synth-") as tmp:
            return _synthesize(design, options, Path(tmp))
    folder = Path(workdir)
    folder.mkdir(parents=True, exist_ok=True)
    return _synthesize(design, options, folder)


def _synthesize(design: Design, options: SynthOptions, folder: Path) -> SynthResult:
    target = options.target
    dut_dir = folder / "design"
    dut_dir.mkdir(exist_ok=True)
    fpga = target is not Target.GENERIC
    stat, synth_s = run_yosys(synth_script(design, options, dut_dir, netlist="netlist.json" if fpga else None),
                              dut_dir)
    used = resources(stat, target)
    fmaxes: list[float | None] = []
    pnr_s = 0.0
    overhead = Resources()
    bitstream = None
    if fpga:
        netlist = json.loads((dut_dir / "netlist.json").read_text())
        dut_ports = ports(netlist, design.top)
        clocked = any(p.name == options.clock for p in dut_ports)
        # out of context only for a clocked design on ECP5: a combinational one has no register-to-register path
        # of its own, so its Fmax is measured between the harness' registers
        in_harness = target is Target.ICE40 or not clocked
        if in_harness or options.bitstream:
            hdir = folder / "harness"
            hdir.mkdir(exist_ok=True)
            text = harness_verilog(design.top, dut_ports, options.clock)
            wrapped = Design(HARNESS_TOP, (*design.sources, ("synth_harness.v", text)))
            hstat, seconds = run_yosys(synth_script(wrapped, options, hdir, netlist="netlist.json"), hdir)
            synth_s += seconds
            overhead = resources(hstat, target).minus(used)
        placed = None
        if options.bitstream:
            placed = hdir / ("placed.asc" if target is Target.ICE40 else "placed.config")
        for i, seed in enumerate(options.seeds):
            if in_harness:
                run = place_route(hdir / "netlist.json", options, seed, harness=True,
                                  out=placed if i == 0 else None)
            else:
                run = place_route(dut_dir / "netlist.json", options, seed, harness=False, clock=options.clock)
            fmaxes.append(run.fmax_mhz)
            pnr_s += run.seconds
        if placed is not None:
            if not in_harness:  # the out-of-context placements have no pins: place the harness for the bitstream
                pnr_s += place_route(hdir / "netlist.json", options, options.seeds[0], harness=True, out=placed).seconds
            bitstream = str(pack(placed, target))
    reached = [round(f, 2) for f in fmaxes if f is not None]
    return SynthResult(
        kind=design.kind,
        formats=design.formats,
        operand_bits=design.operand_bits,
        top=design.top,
        target=target,
        device=options.device,
        dsp=bool(options.dsp),
        luts=used.luts,
        carries=used.carries,
        ffs=used.ffs,
        dsps=used.dsps,
        brams=used.brams,
        transistors=used.transistors,
        fmax_mhz=round(statistics.median(reached), 2) if reached else None,
        fmax_seeds_mhz=tuple(reached),
        seeds=options.seeds,
        freq_target_mhz=options.freq_mhz,
        harness_luts=overhead.luts,
        harness_ffs=overhead.ffs,
        harness_carries=overhead.carries,
        synth_s=round(synth_s, 3),
        pnr_s=round(pnr_s, 3),
        yosys=version(Tool.YOSYS),
        nextpnr=version(_TOOLS[target][1]) if fpga else None,
        bitstream=bitstream,
    )
