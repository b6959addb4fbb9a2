"""SystolicArray (output-stationary): a GEMM streamed through it gives the emulator's accumulator codes on the
done cycles, for fixed, shift and minifloat PEs, edge folds included; the exported Verilog under Icarus gives the
same; cycles from the first operand in to the last result out are the cycle model's compute cycles + 1."""

import numpy as np
import pytest
from amaranth.hdl import Fragment

from ristretto_sim.emulator import fixed_matmul
from ristretto_sim.emulator.minifloat_mac import kulisch_contents
from ristretto_sim.hw.mapping import scalesim_compute_cycles
from ristretto_sim.rtl import cosim
from ristretto_sim.rtl.array import SystolicArray, check_array
from ristretto_sim.rtl.export import verilog_for
from ristretto_sim.rtl.sim import simulate_array
from ristretto_sim.rtl.stream import gemm_stream, tile_mask, tile_outputs
from tests.rtl.helpers import spec


def check(array, stream, c_full):
    done, got = simulate_array(array, stream)
    assert np.array_equal(done, stream.done)
    exp, mask = tile_outputs(stream, array, c_full), tile_mask(stream, array, c_full.shape)
    checked = 0
    for n in exp:
        sel = mask[n]
        assert got[n][sel].tolist() == exp[n][sel].tolist(), n
        checked += int(sel.sum())
    assert checked == c_full.size


@pytest.mark.parametrize("rows,cols", [(1, 1), (3, 2), (2, 4)])
def test_fixed_gemm(rows, cols):
    s = spec("fixed8.4", "fixed8.7", "fixed16.11", k=16, overflow="saturate")
    f = s.formats
    rng = np.random.default_rng(rows * 10 + cols)
    a = rng.integers(-128, 128, (7, 9))
    w = rng.integers(-128, 128, (9, 5))
    a[0], w[:, 0] = 127, 127  # saturates
    b = rng.integers(-3000, 3000, 5)
    c_full = fixed_matmul(a, w, f.inputs, f.weights, accumulator=s.accumulator, bias_codes=b).codes
    arr = SystolicArray(rows, cols, s)
    st = gemm_stream(arr, a, w, b)
    check(arr, st, c_full)
    # the last MAC is the cycle model's last compute cycle; the read-out is one more
    assert st.last_done - st.first_take == scalesim_compute_cycles(7, 5, 9, rows, cols, "os") + 1


def test_minifloat_gemm():
    s = spec("e4m3fn", "e4m3fn", k=8)
    fmt = s.formats.inputs
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 256, (2, 40))
    vals = fmt.decode(codes)
    codes = np.where(np.isfinite(vals), codes, 0)
    a, w = codes[0].reshape(5, 8), codes[1].reshape(8, 5)
    c_full = kulisch_contents(fmt.decode(a), fmt.decode(w), fmt, fmt).to_python()
    arr = SystolicArray(2, 2, s)
    check(arr, gemm_stream(arr, a, w), c_full)


def test_bad_arrays():
    s = spec("fixed8.4", "fixed8.7", "fixed16.11", k=16)
    with pytest.raises(ValueError, match="rows=0"):
        check_array(0, 4, s)
    arr = SystolicArray(2, 2, s)
    with pytest.raises(ValueError, match="exceeds"):
        gemm_stream(arr, np.zeros((2, 17), int), np.zeros((17, 2), int))
    Fragment.get(arr, None)


@pytest.mark.skipif(cosim.iverilog_path() is None, reason="iverilog is not installed (apt-get)")
def test_icarus_4x4_int8(tmp_path):
    s = spec("fixed8.7", "fixed8.7", "fixed24.14", k=64)
    f = s.formats
    rng = np.random.default_rng(1)
    a = rng.integers(-128, 128, (10, 30))
    w = rng.integers(-128, 128, (30, 6))
    b = rng.integers(-50000, 50000, 6)
    c_full = fixed_matmul(a, w, f.inputs, f.weights, accumulator=s.accumulator, bias_codes=b).codes
    arr = SystolicArray(4, 4, s)
    st = gemm_stream(arr, a, w, b)
    exp = tile_outputs(st, arr, c_full) | {"done": st.done.astype(np.int64)}
    (tmp_path / "dut.v").write_text(verilog_for(arr))
    tb = cosim.write_testbench(arr, arr.verilog_name(), st.inputs, exp, tmp_path,
                               mask=tile_mask(st, arr, c_full.shape), before_edge=True)
    r = cosim.run_icarus(tmp_path, tb, [tmp_path / "dut.v"])
    assert r.passed, r.mismatches
