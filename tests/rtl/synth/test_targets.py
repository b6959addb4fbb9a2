"""``SynthOptions``: validated settings, device defaults, DSP rules."""

import pytest

from ristretto_sim.rtl.synth import SynthOptions, Target


def test_defaults_per_target():
    g = SynthOptions("generic")
    assert (g.target, g.device, g.dsp, g.seeds) == (Target.GENERIC, None, False, ())
    ice = SynthOptions("ice40")
    assert (ice.device, ice.dsp, ice.seeds, ice.freq_mhz) == ("hx8k", False, (1, 2, 3), 300.0)
    up = SynthOptions("ice40", device="UP5K")
    assert (up.device, up.dsp) == ("up5k", True)
    ecp = SynthOptions("ecp5", dsp=False, seeds=[4])
    assert (ecp.device, ecp.dsp, ecp.seeds, ecp.freq_mhz) == ("25k", False, (4,), 500.0)


@pytest.mark.parametrize("kwargs, message", [
    ({"target": "xilinx"}, "target='xilinx'"),
    ({"target": "ice40", "device": "25k"}, "device='25k' is not among the ice40 parts; choose one of: hx8k, up5k"),
    ({"target": "ice40", "dsp": True}, "has no DSP blocks"),
    ({"target": "generic", "bitstream": True}, "needs an FPGA target"),
    ({"target": "generic", "device": "hx8k"}, "has no device"),
    ({"target": "ecp5", "seeds": ()}, "at least one nextpnr seed"),
    ({"target": "ecp5", "freq_mhz": 0}, "freq_mhz=0"),
])
def test_bad_options_name_the_parameter(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        SynthOptions(**kwargs)
