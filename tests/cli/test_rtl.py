"""``ristretto-sim rtl``: Verilog, a testbench with emulator vectors and a one-line summary, for formats or a
plan's layer; bad input is one error line."""

from pathlib import Path

import pytest

from ristretto_sim.cli import main
from ristretto_sim.rtl import cosim

PLAN = Path(__file__).resolve().parents[1] / "golden" / "plans" / "lenet-dfp8.yaml"
AFFINE = ["--pe", "affine", "--inputs", "affine8[s=0.05,z=-3]", "--weights", "affine8[s=0.01,z=0]"]
needs_iverilog = pytest.mark.skipif(cosim.iverilog_path() is None, reason="iverilog is not installed (apt-get)")


def _run_tb(out: Path):
    dut = [p for p in out.glob("*.v") if p.name != "tb.v"]
    assert len(dut) == 1
    r = cosim.run_icarus(out, out / "tb.v", dut)
    assert r.passed, r.mismatches
    return r


@needs_iverilog
@pytest.mark.parametrize("argv", [
    ["--pe", "fixed", "--inputs", "fixed8.7", "--weights", "fixed8.7", "--acc", "fixed24.14", "--cycles", "500"],
    ["--pe", "shift", "--inputs", "fixed8.4", "--weights", "pow2[-7,0]", "--acc", "fixed20.11",
     "--shifter-bits", "12", "--cycles", "500"],
    ["--pe", "minifloat", "--inputs", "e5m2", "--weights", "e5m2", "--k", "64", "--cycles", "500"],
    ["--pe", "minifloat", "--inputs", "e4m3fn", "--weights", "e4m3fn", "--acc", "fp16", "--product", "e5m2",
     "--rounding", "toward_zero", "--cycles", "500"],
    ["--pe", "minifloat", "--inputs", "e4m3fn", "--weights", "e4m3fn", "--acc", "bf16", "--array", "2x2"],
    ["--pe", "fixed", "--inputs", "fixed4.3", "--weights", "fixed4.3", "--acc", "fixed10.6", "--array", "3x2"],
    ["--pe", "fixed", "--inputs", "fixed8.7", "--weights", "fixed8.7", "--acc", "fixed16.14", "--array", "3x2",
     "--dataflow", "ws"],
    ["--pe", "shift", "--inputs", "fixed8.4", "--weights", "pow2[-7,0]", "--acc", "fixed14.11", "--array", "3x2",
     "--dataflow", "ws", "--overflow", "wrap"],
    ["--pe", "minifloat", "--inputs", "e5m2", "--weights", "e5m2", "--k", "64", "--array", "2x3", "--dataflow", "ws"],
    [*AFFINE, "--outputs", "affine8[s=0.1,z=4]", "--array", "3x2", "--dataflow", "ws"],
    [*AFFINE, "--outputs", "affine8[s=0.1,z=4]", "--zero-point", "register", "--cycles", "500"],
    [*AFFINE, "--outputs", "affine8[s=0.1,z=4]", "--zero-point", "register", "--array", "3x2", "--dataflow", "ws"],
], ids=["fixed", "shift", "minifloat", "minifloat-float", "minifloat-float-array", "array",
         "ws-sequencer", "ws-shift", "ws-minifloat", "ws-affine", "affine-register", "ws-affine-register"])
def test_formats(argv, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["rtl", *argv, "--out", str(out)]) == 0
    line = capsys.readouterr().out
    assert line.count("\n") == 1 and "ports" in line and "testbench" in line
    assert (out / "summary.txt").read_text() == line
    _run_tb(out)


@needs_iverilog
def test_plan_layer_and_array(tmp_path, capsys):
    out = tmp_path / "conv2"
    assert main(["rtl", "lenet", "--plan", str(PLAN), "--layer", "conv2", "--out", str(out), "--cycles", "300"]) == 0
    assert "inputs fixed8.6" in capsys.readouterr().out and "fixed32.15" in (out / "summary.txt").read_text()
    _run_tb(out)
    out = tmp_path / "array"
    assert main(["rtl", "lenet", "--plan", str(PLAN), "--array", "2x3", "--out", str(out)]) == 0
    assert "2x3 output-stationary array" in capsys.readouterr().out
    _run_tb(out)


TFLITE = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "tflite" / "ad01_int8.tflite"


@needs_iverilog
def test_affine_pe_and_its_requantizer(tmp_path, capsys):
    out = tmp_path / "affine"
    argv = [*AFFINE, "--outputs", "affine8[s=0.1,z=4]", "--cycles", "500", "--out", str(out)]
    assert main(["rtl", *argv, "--rounding", "nearest_away"]) == 0
    line = capsys.readouterr().out
    assert "affine PE" in line and "int32 wrap" in line and "requantizer" in line and "double rounding" in line
    _run_tb(out)
    _run_tb(out / "requantize")
    # ONNX's rounding: its readout multiplies in floating point, so the PE comes alone
    assert main(["rtl", *argv[:-1], str(tmp_path / "onnx")]) == 0
    assert "requantizer" not in capsys.readouterr().out and not (tmp_path / "onnx" / "requantize").exists()


@needs_iverilog
def test_tflite_layer_array(tmp_path, capsys):
    """An int8 TFLite model needs no --plan: its fully connected layer's PE in a 2x2 array, and the
    single-rounding requantizer."""
    if not TFLITE.is_file():
        pytest.skip(f"{TFLITE} is absent (the shared MLPerf Tiny models)")
    out = tmp_path / "ad01"
    layer = "functional_1/activation/Relu;functional_1/dense/BiasAdd"
    assert main(["rtl", str(TFLITE), "--layer", layer, "--array", "2x2", "--out", str(out)]) == 0
    line = capsys.readouterr().out
    assert "2x2 output-stationary array of the affine PE" in line and "z=89" in line and "single rounding" in line
    _run_tb(out)
    _run_tb(out / "requantize")
    assert main(["rtl", str(TFLITE), "--array", "2x2", "--out", str(out)]) == 2
    assert "zero points as constants" in capsys.readouterr().err


@needs_iverilog
def test_tflite_model_array_with_register_zero_points(tmp_path, capsys):
    """--zero-point register: one array for the whole KWS model (its widest datapath, int8 x int8); the testbench
    runs one GEMM per distinct pair of the model's zero points through it, driving za and zw."""
    kws = TFLITE.parent / "kws_ref_model.tflite"
    if not kws.is_file():
        pytest.skip(f"{kws} is absent (the shared MLPerf Tiny models)")
    out = tmp_path / "kws"
    assert main(["rtl", str(kws), "--array", "2x2", "--zero-point", "register", "--out", str(out)]) == 0
    line = capsys.readouterr().out
    assert "os_array_2x2_affine_mac_zreg_int8_int8_int32" in line and "za[8] zw[8]" in line
    assert "2 configurations (za=83 zw=0, za=-128 zw=0)" in line and "requantizer" not in line
    _run_tb(out)
    out = tmp_path / "pe"  # a layer's PE is the same module, its testbench with the layer's zero points
    assert main(["rtl", str(kws), "--layer", "2:conv:activation_1", "--zero-point", "register", "--cycles", "300",
                 "--out", str(out)]) == 0
    assert "affine_mac_zreg_int8_int8_int32.v" in capsys.readouterr().out
    _run_tb(out)


@pytest.mark.parametrize("argv,message", [
    (AFFINE, "needs a per-tensor affine output format"),
    (["--pe", "fixed", "--inputs", "pow2[-4,0]", "--weights", "fixed8.7"], "power-of-two activations"),
    (["--pe", "minifloat", "--inputs", "e4m3fn", "--weights", "e4m3fn", "--acc", "fixed20.18"], "Kulisch register"),
    (["--pe", "fixed", "--inputs", "fixed8.7", "--weights", "fixed8.7", "--acc", "fixed24.10"], "fractional bits"),
    (["--pe", "fixed", "--inputs", "fixed8.7", "--weights", "fixed8.7", "--acc", "fixed24.14", "--array", "0x4"],
     "at least one row"),
    (["--pe", "fixed", "--inputs", "fixed8.7", "--weights", "fixed8.7", "--array", "8by8"], "rows x cols"),
    (["--pe", "fixed", "--inputs", "fixed8.7", "--weights", "fixed8.7", "--dataflow", "ws"], "--array RxC"),
    (["--pe", "shift", "--inputs", "fixed8.7", "--weights", "fixed8.7"], "select the fixed datapath"),
    (["lenet", "--plan", str(PLAN), "--layer", "pool1"], "weighted layers are"),
    (["--pe", "minifloat", "--inputs", "e4m3fn", "--weights", "e4m3fn", "--acc", "fp16", "--rounding", "stochastic"],
     "rounding=stochastic"),
    (["--pe", "minifloat", "--inputs", "e4m3fn", "--weights", "e4m3fn", "--product", "e5m2"],
     "declare a minifloat accumulator"),
    (["--pe", "minifloat", "--inputs", "e4m3fn", "--weights", "e4m3fn", "--acc", "fp16", "--array", "2x2",
      "--dataflow", "ws"], "weight-stationary array supports"),
])
def test_bad_input_is_one_line(argv, message, tmp_path, capsys):
    assert main(["rtl", *argv, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err, err


def test_a_tflite_layer_is_named_by_the_label_info_prints(tmp_path, capsys):
    """--layer takes a converted model's layer by its label (2:conv:activation_1), not only its 200-character
    name; a wrong one lists the labels."""
    kws = TFLITE.parent / "kws_ref_model.tflite"
    if not kws.is_file():
        pytest.skip(f"{kws} is absent (the shared MLPerf Tiny models)")
    assert main(["rtl", str(kws), "--layer", "2:conv:activation_1", "--out", str(tmp_path / "pe")]) == 0
    assert "affine PE" in capsys.readouterr().out
    assert main(["rtl", str(kws), "--layer", "nope", "--out", str(tmp_path / "pe")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "2:conv:activation_1" in err and "functional_1/activation_1/Relu" not in err
