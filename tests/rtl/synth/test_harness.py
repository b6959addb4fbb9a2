"""The registered iCE40 harness: every input from the shift register, every output into the XOR tree."""

import pytest

from ristretto_sim.rtl.synth.harness import harness_verilog
from ristretto_sim.rtl.synth.yosys import Port


def test_ports_are_wired_by_name_and_tree_is_pipelined():
    ports = (Port("clk", "input", 1), Port("a", "input", 3), Port("en", "input", 1), Port("y", "output", 9))
    text = harness_verilog("dut_mod", ports)
    assert "reg [3:0] sr = 4'b0;" in text and "sr <= {sr[2:0], din};" in text
    assert "dut_mod dut (.clk(clk), .a(sr[2:0]), .en(sr[3:3]), .y(x0[8:0]));" in text
    # 9 bits -> 3 -> 1: two registered levels of 4-input XORs
    assert "x1[2] <= ^x0[8:8];" in text and "x2[0] <= ^x1[2:0];" in text and "assign dout = x2[0];" in text


def test_a_module_without_outputs_or_with_inouts_is_refused():
    with pytest.raises(ValueError, match="has no outputs"):
        harness_verilog("m", (Port("a", "input", 1),))
    with pytest.raises(ValueError, match="inout ports \\(io\\)"):
        harness_verilog("m", (Port("io", "inout", 1), Port("y", "output", 1)))
