"""Reading nextpnr's ``--report``: the clock's achieved frequency, whatever global-buffer suffix nextpnr gave it."""

import pytest

from ristretto_sim.rtl.synth import SynthesisToolError
from ristretto_sim.rtl.synth.nextpnr import fmax


def _report(**clocks):
    return {"fmax": {name: {"achieved": mhz, "constraint": 300.0} for name, mhz in clocks.items()}}


def test_the_named_clock_or_the_only_one():
    assert fmax(_report(clk=123.5, other=9.0), "clk") == 123.5
    assert fmax(_report(**{"clk$SB_IO_IN_$glb_clk": 88.0}), "clk") == 88.0
    assert fmax({"fmax": {}}, "clk") is None


def test_a_promoted_clock_beside_a_promoted_constant_net():
    # nextpnr-ice40 on an UP5K: the clock renamed by its global buffer, and the packer's GND net timed as well
    report = _report(**{"$PACKER_GND_NET_$glb_clk": 400.0, "clk$SB_IO_IN_$glb_clk": 61.2})
    assert fmax(report, "clk") == 61.2


def test_no_matching_clock_is_an_error():
    with pytest.raises(SynthesisToolError, match="none called 'clk'"):
        fmax(_report(a=1.0, b=2.0), "clk")
