"""PE area and FPGA resources from synthesis: the ``hdl/`` results table read as package data.

``ristretto-sim synth --sweep`` (``ristretto_sim.rtl.synth``) writes ``hdl/synth_results.json``; the package ships
it (``ristretto_sim.assets``), and this module reads it as plain JSON: ``hw`` never imports ``rtl``. A row is found
by the PE datapath's name and its formats as text (``inputs x weights -> accumulator``).

* ASIC area (``pe_area: synthesis``): Yosys' generic CMOS transistor count of the PE, flip-flops included, as
  NAND2 gate equivalents (4 transistors each) times the area of a NAND2 of a 45 nm library, reported beside the
  Horowitz-table figure and their ratio.
* FPGA (``fpga: ice40-hx8k``, ``ecp5-25k``, ``ecp5-25k-nodsp`` ...): the PE's LUTs, carries, FFs and DSPs times
  the array's PE count, and the clock ``min(clock_mhz, Fmax)``. The Fmax is the PE's (median over nextpnr seeds);
  an array's routing can only lower it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ristretto_sim.enums import NamedEnum
from ristretto_sim.errors import ConfigError

#: Nangate 45 nm Open Cell Library, NAND2_X1 cell area 0.798 um^2 (NangateOpenCellLibrary_typical.lib,
#: "cell (NAND2_X1) { area : 0.798000 ..."; Si2 / Nangate FreePDK45 Open Cell Library, release 2011)
NAND2_UM2 = 0.798
#: a static CMOS NAND2 is 4 transistors: the gate-equivalent count is transistors / 4
TRANSISTORS_PER_NAND2 = 4
NAND2_SOURCE = "Nangate45 Open Cell Library NAND2_X1 = 0.798 um^2 (NangateOpenCellLibrary_typical.lib)"
#: the node of the NAND2 area above: synthesis area is used only with a technology table at this node
NAND2_NODE_NM = 45.0


class PEArea(NamedEnum):
    """Where the PE area comes from: the technology table's per-unit areas, or synthesis of the PE."""

    TABLE = "table"
    SYNTHESIS = "synthesis"


_FPGA = re.compile(r"^(ice40|ecp5)(?:-([a-z0-9]+))?(-nodsp)?$")


@dataclass(frozen=True)
class FPGATarget:
    """An FPGA an accelerator is prototyped on: ``family[-device][-nodsp]``, e.g. ``ice40-up5k``, ``ecp5-25k-nodsp``.

    Without a device the table's first row of the family is taken; without ``-nodsp`` a row with DSPs is preferred.
    """

    family: str
    device: str | None = None
    dsp: bool | None = None

    @classmethod
    def parse(cls, text: str, name: str = "fpga") -> FPGATarget:
        if not isinstance(text, str):
            raise TypeError(f"{name}={text!r} must be a string such as ice40-hx8k or ecp5-25k")
        m = _FPGA.match(text.strip().lower())
        if m is None:
            raise ValueError(f"{name}={text!r} is not an FPGA target: family[-device][-nodsp], e.g. ice40-hx8k, "
                             "ice40-up5k, ecp5-25k, ecp5-25k-nodsp")
        return cls(m.group(1), m.group(2), False if m.group(3) else None)

    def __str__(self) -> str:
        return self.family + (f"-{self.device}" if self.device else "") + ("-nodsp" if self.dsp is False else "")


def results_path() -> Path:
    """The packaged results table (``hdl/synth_results.json``)."""
    from ristretto_sim.assets import asset_path

    return asset_path("hdl", "synth_results.json")


@lru_cache(maxsize=4)
def _rows(path: str, mtime_ns: int) -> tuple[dict, ...]:
    try:
        data = json.loads(Path(path).read_text())
        rows = tuple(data["rows"])
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: not a synthesis results table ({exc})") from None
    return rows


def rows(path: str | Path | None = None) -> tuple[dict, ...]:
    """The table's rows as dicts (``FileNotFoundError`` naming the file and the command that writes it)."""
    p = Path(path) if path is not None else results_path()
    try:
        return _rows(str(p.resolve()), p.stat().st_mtime_ns)
    except FileNotFoundError:
        raise FileNotFoundError(f"synthesis results table {p} not found; write it with ristretto-sim synth --sweep"
                                ) from None


#: what the table's formats text adds for an affine PE that folds its input zero point or holds its zero points in
#: registers (``rtl.synth.sweep``'s ``ZERO_POINT_SUFFIX``; ``hw`` and ``rtl`` share the table, not code)
ZERO_POINT_SUFFIX = {"fold": " (zero point folded)", "register": " (zero points in registers)"}


def pe_formats_text(pe) -> str:
    """A ``PEConfig``'s formats as the table writes them (a folding or register affine PE's marked: other
    circuits)."""
    zp = getattr(pe, "zero_point", None)
    return f"{pe.inputs} x {pe.weights} -> {pe.accumulator}" + ZERO_POINT_SUFFIX.get(getattr(zp, "value", ""), "")


def pe_rows(pe, target: str | None = None, path: str | Path | None = None) -> list[dict]:
    """The table's rows of ``pe`` (its datapath and formats), on ``target`` (``generic``, ``ice40``, ``ecp5``) or
    on every target."""
    kind, fmts = pe.datapath.name, pe_formats_text(pe)
    return [r for r in rows(path) if r["kind"] == kind and r["formats"] == fmts and target in (None, r["target"])]


def _missing(pe, what: str, path) -> ConfigError:
    where = path or "hdl/synth_results.json"
    return ConfigError(
        f"no {what} synthesis result for the {pe.datapath.name} PE {pe_formats_text(pe)} in {where}; synthesize it "
        f"(ristretto-sim synth --sweep, or synth --table) or use pe_area: table"
    )


@dataclass(frozen=True)
class SynthesizedArea:
    """A PE's area from its generic CMOS synthesis (module docstring)."""

    transistors: int
    pe_um2: float
    top: str
    source: str


def synthesized_pe_area(pe, path: str | Path | None = None) -> SynthesizedArea:
    """The PE's area from the table's generic row: ``transistors / 4 * NAND2_UM2`` (``ConfigError`` if absent)."""
    found = pe_rows(pe, "generic", path)
    if not found or found[0].get("transistors") is None:
        raise _missing(pe, "generic (CMOS)", path)
    row = found[0]
    um2 = row["transistors"] / TRANSISTORS_PER_NAND2 * NAND2_UM2
    source = (f"synthesis of {row['top']} (Yosys {row['yosys']} abc -g cmos2: {row['transistors']} transistors "
              f"/ {TRANSISTORS_PER_NAND2} x {NAND2_SOURCE})")
    return SynthesizedArea(int(row["transistors"]), um2, row["top"], source)


@dataclass(frozen=True)
class FPGAResources:
    """The array on an FPGA: per-PE counts from the table times the PE count, and the clock it runs at."""

    target: str
    device: str
    dsp: bool
    top: str
    pe: dict
    array: dict
    fmax_mhz: float | None
    configured_clock_mhz: float
    clock_mhz: float

    def to_dict(self) -> dict:
        return {"target": self.target, "device": self.device, "dsp": self.dsp, "top": self.top,
                "per_pe": dict(self.pe), "array": dict(self.array), "pe_fmax_mhz": self.fmax_mhz,
                "configured_clock_mhz": self.configured_clock_mhz, "clock_mhz": self.clock_mhz,
                "source": f"synthesis of {self.top} on {self.target} {self.device} (Yosys stat, nextpnr Fmax median "
                          "over seeds); clock = min(configured, PE Fmax)"}


def fpga_resources(pe, num_pes: int, clock_mhz: float, fpga: FPGATarget,
                   path: str | Path | None = None) -> FPGAResources:
    """The array's FPGA resources and clock for ``fpga`` (``ConfigError`` if the table has no such row)."""
    found = [r for r in pe_rows(pe, fpga.family, path) if fpga.device in (None, r["device"])]
    if fpga.dsp is False:
        found = [r for r in found if not r["dsp"]]
    found.sort(key=lambda r: not r["dsp"])  # DSP rows first unless -nodsp
    if not found:
        raise _missing(pe, str(fpga), path)
    row = found[0]
    counts = {k: row[k] for k in ("luts", "carries", "ffs", "dsps", "brams") if row.get(k) is not None}
    fmax = row.get("fmax_mhz")
    clock = clock_mhz if fmax is None else min(clock_mhz, float(fmax))
    return FPGAResources(fpga.family, row["device"], bool(row["dsp"]), row["top"], counts,
                         {k: v * num_pes for k, v in counts.items()}, fmax, clock_mhz, clock)


def area_details(config, horowitz_pe_um2: float, table_source: str, node_nm: float,
                 path: str | Path | None = None) -> tuple[float, str, dict]:
    """``(pe_um2, source, details)`` of ``config`` (an ``AcceleratorConfig``) for ``energy.area``.

    With ``pe_area: synthesis`` the PE area is the synthesized one and ``details`` holds its transistor count, the
    Horowitz-table figure and their ratio; with an ``fpga`` target ``details["fpga"]`` holds the array's FPGA
    resources and clock. Otherwise the table's figure stands and ``details`` is empty.
    """
    pe_um2, source, details = horowitz_pe_um2, table_source, {}
    if PEArea.coerce(config.pe_area, "pe_area") is PEArea.SYNTHESIS:
        if abs(node_nm - NAND2_NODE_NM) > 0.5:
            raise ConfigError(
                f"pe_area: synthesis gives {NAND2_NODE_NM:g} nm areas (Nangate45 NAND2), but the technology table "
                f"is at {node_nm:g} nm; use pe_area: table with it"
            )
        synth = synthesized_pe_area(config.pe, path)
        pe_um2, source = synth.pe_um2, f"PE: {synth.source}; SRAM: {table_source}"
        details = {"pe_area_source": "synthesis", "pe_transistors": synth.transistors,
                   "pe_gate_equivalents": synth.transistors / TRANSISTORS_PER_NAND2,
                   "table_pe_um2": horowitz_pe_um2, "synthesis_to_table_ratio": synth.pe_um2 / horowitz_pe_um2}
    if config.fpga is not None:
        fpga = fpga_resources(config.pe, config.num_pes, config.clock_mhz, FPGATarget.parse(config.fpga), path)
        details = {**details, "fpga": fpga.to_dict()}
    return pe_um2, source, details


def fpga_clocked(config):
    """``config`` with ``clock_mhz = min(clock_mhz, PE Fmax)`` when it names an FPGA target, else itself."""
    if config.fpga is None:
        return config
    fpga = fpga_resources(config.pe, config.num_pes, config.clock_mhz, FPGATarget.parse(config.fpga),
                          config.synth_table)
    return config if fpga.clock_mhz == config.clock_mhz else config.replace(clock_mhz=fpga.clock_mhz)
