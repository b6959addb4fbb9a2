"""``Design``: Verilog sources and the top module, from text, a file or a folder."""

import pytest

from ristretto_sim.rtl.synth import Design
from ristretto_sim.rtl.synth.design import modules_with_ports

MAC = "module mac(clk, a, y);\n  input clk; input [3:0] a; output [3:0] y;\n  assign y = a;\nendmodule\n"
TB = "`timescale 1ns/1ps\nmodule tb;\n  mac dut (.clk(1'b0), .a(4'd0), .y());\nendmodule\n"


def test_modules_with_ports_skip_testbenches_and_parameters():
    text = MAC + TB + "module p #(parameter W = (2)) (input [W-1:0] x, output z);\nendmodule\n"
    assert modules_with_ports(text) == ["mac", "p"]


def test_folder_top_is_the_module_named_like_its_file(tmp_path):
    (tmp_path / "mac.v").write_text(MAC)
    (tmp_path / "tb_mac.v").write_text(TB)
    d = Design.from_path(tmp_path)
    assert d.top == "mac" and [n for n, _ in d.sources] == ["mac.v"]  # the testbench is not synthesized
    assert Design.from_path(tmp_path / "mac.v").top == "mac"


def test_unclear_or_wrong_top_is_a_clear_error(tmp_path):
    (tmp_path / "a.v").write_text(MAC + MAC.replace("mac", "other"))
    with pytest.raises(ValueError, match="give --top NAME"):
        Design.from_path(tmp_path)
    assert Design.from_path(tmp_path, top="other").top == "other"
    with pytest.raises(ValueError, match="top='nope' is not a module with ports"):
        Design.from_path(tmp_path, top="nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no Verilog"):
        Design.from_path(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="not found"):
        Design.from_path(tmp_path / "missing")
