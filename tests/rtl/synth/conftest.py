"""Shared helpers of the synthesis tests: the tool skip marks and the real fixed-point PE of a width."""

import pytest

from ristretto_sim.emulator import LayerFormats
from ristretto_sim.rtl.synth import Tool, missing
from ristretto_sim.rtl.synth.sweep import GENERATORS, SweepEntry


def needs(*tools):
    """Skip, saying which tool is missing and how to install it, unless every tool in ``tools`` is installed."""
    reasons = [r for r in (missing(t) for t in tools) if r]
    return pytest.mark.skipif(bool(reasons), reason="; ".join(reasons))


needs_yosys = needs(Tool.YOSYS)
needs_ice40 = needs(Tool.YOSYS, Tool.NEXTPNR_ICE40)
needs_ecp5 = needs(Tool.YOSYS, Tool.NEXTPNR_ECP5)


def mac_entry(bits: int, acc_bits: int | None = None) -> SweepEntry:
    """The ``rtl`` FixedMacPE (saturating, pass-through registers) for ``fixed bits.0`` operands."""
    acc = acc_bits if acc_bits is not None else 2 * bits + 8
    return SweepEntry("fixed", LayerFormats(f"fixed{bits}.0", f"fixed{bits}.0", accumulator=f"fixed{acc}.0"),
                      GENERATORS["fixed"], series="test")
