"""nextpnr runs: place and route, Fmax from its ``--report`` JSON, and the bitstream packers.

ECP5 designs are placed out of context (``--out-of-context``: no I/O, the design's ports stay internal nets);
iCE40 designs and every bitstream go through the registered harness (``harness``). Each seed is one run; the
result's Fmax is the median over the seeds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ristretto_sim.rtl.synth.targets import SynthOptions, Target
from ristretto_sim.rtl.synth.tools import SynthesisToolError, Tool, run

_PNR = {Target.ICE40: Tool.NEXTPNR_ICE40, Target.ECP5: Tool.NEXTPNR_ECP5}


@dataclass(frozen=True)
class PlaceRoute:
    """One nextpnr run: the clock it reached (None for a design without a clocked path) and its seconds."""

    seed: int
    fmax_mhz: float | None
    seconds: float
    utilization: tuple[tuple[str, int], ...]


def fmax(report: dict, clock: str) -> float | None:
    """The achieved MHz of ``clock`` in a nextpnr ``--report`` (the only clock when names differ).

    nextpnr-ice40 renames a net it promotes to a global buffer (``clk$SB_IO_IN_$glb_clk``) and may time a
    promoted constant net too (``$PACKER_GND_NET_$glb_clk``, no clocked path of the design): ``clock`` followed
    by ``$`` is the clock.
    """
    clocks = report.get("fmax", {})
    if not isinstance(clocks, dict) or not clocks:
        return None
    entry = clocks.get(clock)
    if entry is None:
        promoted = [name for name in clocks if name.startswith(clock + "$")]
        if len(promoted) == 1:
            return float(clocks[promoted[0]]["achieved"])
        if len(clocks) != 1:
            raise SynthesisToolError(f"nextpnr's report has clocks {', '.join(clocks)}, none called {clock!r}")
        entry = next(iter(clocks.values()))
    return float(entry["achieved"])


def place_route(netlist: Path, options: SynthOptions, seed: int, *, harness: bool,
                out: Path | None = None, clock: str = "clk") -> PlaceRoute:
    """Place and route ``netlist`` (a Yosys JSON) on ``options``' device with ``seed``.

    ``harness`` places the whole-chip harness (free pin placement); otherwise the design is placed out of context
    (ECP5 only). ``out`` also writes the placed design for a packer (iCE40 ``.asc``, ECP5 ``.config``).
    """
    part = options.part
    folder = netlist.parent
    report = folder / f"report_seed{seed}.json"
    args = [part.flag, "--package", part.package, "--json", netlist.name, "--freq", f"{options.freq_mhz:g}",
            "--seed", seed, "--timing-allow-fail", "--report", report.name, "-q", "-l", f"nextpnr_seed{seed}.log"]
    if options.target is Target.ICE40:
        if not harness:
            raise ValueError("nextpnr-ice40 has no out-of-context mode: place iCE40 designs in the harness")
        args.append("--pcf-allow-unconstrained")
        if out is not None:
            args += ["--asc", out.name]
    else:
        args.append("--lpf-allow-unconstrained" if harness else "--out-of-context")
        if out is not None:
            if not harness:
                raise ValueError("an out-of-context ECP5 placement has no bitstream: place the harness")
            args += ["--textcfg", out.name]
    done = run(_PNR[options.target], args, cwd=folder)
    try:
        data = json.loads(report.read_text())
    except (FileNotFoundError, json.JSONDecodeError) as exc:
        raise SynthesisToolError(f"nextpnr wrote no readable report in {folder}: {exc}") from None
    used = tuple(sorted((k, int(v["used"])) for k, v in data.get("utilization", {}).items() if v.get("used")))
    return PlaceRoute(seed, fmax(data, "clk" if harness else clock), done.seconds, used)


def pack(placed: Path, target: Target) -> Path:
    """Pack a placed design into a bitstream (icepack ``.asc`` -> ``.bin``, ecppack ``.config`` -> ``.bit``)."""
    if target is Target.ICE40:
        bitstream = placed.with_suffix(".bin")
        run(Tool.ICEPACK, [placed.name, bitstream.name], cwd=placed.parent)
    else:
        bitstream = placed.with_suffix(".bit")
        run(Tool.ECPPACK, [placed.name, bitstream.name], cwd=placed.parent)
    if not bitstream.is_file() or bitstream.stat().st_size == 0:
        raise SynthesisToolError(f"the packer wrote no bitstream {bitstream}")
    return bitstream
