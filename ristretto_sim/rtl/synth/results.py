"""``SynthResult``: one row of the synthesis results table (a design on one target), and its file forms.

A row names what was synthesized (kind, formats, operand bits, top), where (target, device, DSPs allowed), what it
uses (LUTs, carries, FFs, DSPs, block RAMs for an FPGA; transistors for generic CMOS), how fast it runs (Fmax:
median over the nextpnr seeds, each seed's value kept), what the registered harness added (iCE40 and bitstreams),
how long the tools took, and the tool versions. ``series`` names the sweep series a row belongs to (rows of one
series differ only in operand width, so the table fits their scaling). ``key`` identifies a row for resuming.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from ristretto_sim.rtl.synth.targets import Target


@dataclass(frozen=True)
class SynthResult:
    """One design on one target (module docstring); counts that do not apply to the target are None."""

    kind: str
    formats: str
    operand_bits: int | None
    top: str
    target: Target
    device: str | None
    dsp: bool
    luts: int | None
    carries: int | None
    ffs: int | None
    dsps: int | None
    brams: int | None
    transistors: int | None
    fmax_mhz: float | None
    fmax_seeds_mhz: tuple[float, ...]
    seeds: tuple[int, ...]
    freq_target_mhz: float | None
    harness_luts: int | None
    harness_ffs: int | None
    harness_carries: int | None
    synth_s: float
    pnr_s: float
    yosys: str
    nextpnr: str | None
    bitstream: str | None = None
    series: str = ""

    def __post_init__(self):
        object.__setattr__(self, "target", Target.coerce(self.target, "target"))
        for name in ("luts", "carries", "ffs", "dsps", "brams", "transistors", "harness_luts", "harness_ffs",
                     "harness_carries", "operand_bits"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
                raise TypeError(f"{name}={v!r} must be an integer or None")
        object.__setattr__(self, "fmax_seeds_mhz", tuple(float(x) for x in self.fmax_seeds_mhz))
        object.__setattr__(self, "seeds", tuple(int(x) for x in self.seeds))
        if self.fmax_mhz is not None and not (self.fmax_mhz > 0 and math.isfinite(self.fmax_mhz)):
            raise ValueError(f"fmax_mhz={self.fmax_mhz!r} must be a positive number of MHz or None")

    @property
    def key(self) -> tuple:
        """What identifies the row: design (kind, formats, top) and target (target, device, DSPs)."""
        return (self.kind, self.formats, self.top, self.target.value, self.device, self.dsp)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["target"] = self.target.value
        d["fmax_seeds_mhz"] = list(self.fmax_seeds_mhz)
        d["seeds"] = list(self.seeds)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> SynthResult:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"synthesis result has unknown keys {', '.join(unknown)}")
        return cls(**{**d, "fmax_seeds_mhz": tuple(d.get("fmax_seeds_mhz", ())), "seeds": tuple(d.get("seeds", ()))})

    def to_row(self) -> dict:
        """The flat CSV form (tuples joined by ``;``, None as empty)."""
        d = self.to_dict()
        d["fmax_seeds_mhz"] = ";".join(f"{x:.2f}" for x in self.fmax_seeds_mhz)
        d["seeds"] = ";".join(str(s) for s in self.seeds)
        return {k: "" if v is None else v for k, v in d.items()}

    def summary(self) -> str:
        """One line for the terminal."""
        where = self.target.value + (f" {self.device}" if self.device else "") + (" +DSP" if self.dsp else "")
        what = f"{self.top} ({self.kind} {self.formats})" if self.formats else self.top
        if self.target is Target.GENERIC:
            figures = f"{self.transistors} transistors, {self.ffs} FFs"
        else:
            fmax = "no clocked path" if self.fmax_mhz is None else f"Fmax {self.fmax_mhz:.1f} MHz"
            figures = (f"{self.luts} LUTs, {self.carries} carries, {self.ffs} FFs, {self.dsps} DSPs, {fmax} "
                       f"(median of {len(self.seeds)} seeds)")
            if self.harness_luts is not None:
                figures += f"; harness +{self.harness_luts} LUTs +{self.harness_ffs} FFs"
        tail = f"; synth {self.synth_s:.1f} s, pnr {self.pnr_s:.1f} s"
        if self.bitstream:
            tail += f"; bitstream {self.bitstream}"
        return f"{what} on {where}: {figures}{tail}"


CSV_COLUMNS = tuple(f.name for f in fields(SynthResult))
