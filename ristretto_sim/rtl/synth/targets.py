"""What a synthesis run targets: an FPGA family and device (iCE40, ECP5) or a generic CMOS gate count.

``SynthOptions`` is the frozen, validated description of one run: target, device, whether multipliers may go into
DSP blocks, the nextpnr seeds (Fmax is their median) and frequency target, and whether to go on to a bitstream.
"""

from __future__ import annotations

from dataclasses import dataclass

from ristretto_sim.enums import NamedEnum
from ristretto_sim.formats.base import check_int


class Target(NamedEnum):
    """``ice40`` and ``ecp5`` are Lattice FPGAs (Yosys + nextpnr); ``generic`` is Yosys' CMOS transistor count."""

    ICE40 = "ice40"
    ECP5 = "ecp5"
    GENERIC = "generic"


@dataclass(frozen=True)
class Device:
    """One FPGA part: nextpnr's device flag and package, and whether it has DSP multipliers."""

    target: Target
    name: str
    flag: str
    package: str
    has_dsp: bool


#: the parts the driver knows, by name; the first of each family is its default
DEVICES = {
    d.name: d
    for d in (
        Device(Target.ICE40, "hx8k", "--hx8k", "ct256", False),
        Device(Target.ICE40, "up5k", "--up5k", "sg48", True),
        Device(Target.ECP5, "25k", "--25k", "CABGA256", True),
        Device(Target.ECP5, "45k", "--45k", "CABGA381", True),
        Device(Target.ECP5, "85k", "--85k", "CABGA381", True),
    )
}

# nextpnr's timing-driven placer works towards this clock; above what the parts reach, so the seeds' Fmax is
# the tool's best rather than "met the constraint" (iCE40 HX ~ 100-250 MHz, ECP5 ~ 150-400 MHz fabric logic)
DEFAULT_FREQ_MHZ = {Target.ICE40: 300.0, Target.ECP5: 500.0}


def default_device(target: Target) -> Device | None:
    return next((d for d in DEVICES.values() if d.target is target), None)


@dataclass(frozen=True)
class SynthOptions:
    """One synthesis run's settings.

    Parameters
    ----------
    target : {"ice40", "ecp5", "generic"} or Target
    device : str, optional
        An FPGA part of ``DEVICES`` (default: hx8k for iCE40, 25k for ECP5; none for generic).
    dsp : bool, optional
        Let Yosys map multipliers to DSP blocks (default: when the part has them).
    seeds : tuple of int
        nextpnr placement seeds; Fmax is the median over them.
    freq_mhz : float, optional
        nextpnr's clock target (default ``DEFAULT_FREQ_MHZ``).
    bitstream : bool
        Go on to a bitstream of the design in its registered harness (icepack / ecppack).
    clock : str
        The design's clock port.
    """

    target: Target = Target.GENERIC
    device: str | None = None
    dsp: bool | None = None
    seeds: tuple[int, ...] = (1, 2, 3)
    freq_mhz: float | None = None
    bitstream: bool = False
    clock: str = "clk"

    def __post_init__(self):
        target = Target.coerce(self.target, "target")
        object.__setattr__(self, "target", target)
        if target is Target.GENERIC:
            if self.device is not None:
                raise ValueError(f"device={self.device!r}: the generic target has no device")
            if self.bitstream:
                raise ValueError("bitstream=True needs an FPGA target (ice40 or ecp5), not generic")
            if self.dsp:
                raise ValueError("dsp=True needs an FPGA target (ice40 or ecp5), not generic")
            object.__setattr__(self, "dsp", False)
            object.__setattr__(self, "seeds", ())
            return
        device = self.device if self.device is not None else default_device(target).name
        part = DEVICES.get(str(device).lower())
        if part is None or part.target is not target:
            names = ", ".join(d.name for d in DEVICES.values() if d.target is target)
            raise ValueError(f"device={device!r} is not among the {target.value} parts; choose one of: {names}")
        object.__setattr__(self, "device", part.name)
        dsp = part.has_dsp if self.dsp is None else self.dsp
        if not isinstance(dsp, bool):
            raise TypeError(f"dsp={dsp!r} must be true or false")
        if dsp and not part.has_dsp:
            raise ValueError(f"dsp=True: the {target.value} {part.name} has no DSP blocks (choose up5k for iCE40)")
        object.__setattr__(self, "dsp", dsp)
        seeds = tuple(check_int(s, "seeds[]", minimum=0) for s in self.seeds)
        if not seeds:
            raise ValueError("seeds=() must list at least one nextpnr seed")
        object.__setattr__(self, "seeds", seeds)
        freq = DEFAULT_FREQ_MHZ[target] if self.freq_mhz is None else self.freq_mhz
        if isinstance(freq, bool) or not isinstance(freq, (int, float)) or not freq > 0:
            raise ValueError(f"freq_mhz={freq!r} must be a positive number of MHz")
        object.__setattr__(self, "freq_mhz", float(freq))
        if not isinstance(self.bitstream, bool):
            raise TypeError(f"bitstream={self.bitstream!r} must be true or false")

    @property
    def part(self) -> Device | None:
        return DEVICES.get(self.device) if self.device else None
