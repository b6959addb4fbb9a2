"""WeightStationaryArray: a GEMM streamed through it (reduction and column folds) gives the emulator's
accumulator codes bit for bit for every PE kind (fixed, shift, minifloat Kulisch, affine; saturating and wrapping
accumulators); its cycles are SCALE-Sim's ws compute cycles + 1 read-out; the exported Verilog under Icarus reads
the same."""

import numpy as np
import pytest
from amaranth.hdl import Fragment

from ristretto_sim.emulator import fixed_matmul
from ristretto_sim.hw import mapping
from ristretto_sim.rtl import cosim, ws_array
from ristretto_sim.rtl.export import verilog_for
from ristretto_sim.rtl.ws_array import WeightStationaryArray, simulate_ws_gemm
from tests.rtl import ws_kinds
from tests.rtl.helpers import spec

#: (rows, cols, M, K, N): reduction and column folds, edge folds, a fold with unused rows and columns
SHAPES = [(1, 1, 3, 2, 2), (3, 2, 7, 9, 5), (4, 4, 5, 4, 4), (2, 4, 6, 5, 9), (4, 3, 6, 3, 2)]


@pytest.mark.parametrize("rows,cols,m,k,n", SHAPES)
@pytest.mark.parametrize("overflow", ["saturate", "wrap"])
def test_fixed_gemm(rows, cols, m, k, n, overflow):
    s = spec("fixed8.4", "fixed8.7", "fixed16.11", k=16, overflow=overflow)
    f = s.formats
    rng = np.random.default_rng(rows * 100 + cols * 10 + k)
    a = rng.integers(-128, 128, (m, k))
    w = rng.integers(-128, 128, (k, n))
    a[0], w[:, 0] = 127, 127  # saturates / wraps
    b = rng.integers(-3000, 3000, n)
    exp = fixed_matmul(a, w, f.inputs, f.weights, accumulator=s.accumulator, overflow=f.overflow,
                      bias_codes=b).codes
    got, read = simulate_ws_gemm(WeightStationaryArray(rows, cols, s), a, w, b)
    assert got.tolist() == np.asarray(exp).tolist()
    # the last MAC (0-based cycle read - 1) is SCALE-Sim's last compute cycle; the read-out is one more
    assert read == mapping.scalesim_compute_cycles(m, n, k, rows, cols, "ws") + 1
    # the cycle model's serial-fold schedule is the same; its default (pipelined) schedule overlaps the next
    # fold's weight load and this fold's drain, which this array does not: equal with one fold only
    fo = mapping.folding(m, n, k, rows, cols, "ws")
    assert read == mapping.serial_fold_cycles(fo, m).sum() + 1
    pipelined = mapping.pipelined_fold_cycles(fo, m).sum() + 1
    assert (read == pipelined) if fo.folds == 1 else (read > pipelined)


@pytest.mark.filterwarnings("ignore:.*created but never used")  # the array that refused its PE kind
def test_unsupported_kind(monkeypatch):
    monkeypatch.setattr(ws_array, "WS_KINDS", ("fixed",))  # a kind without the ws chain is refused by name
    with pytest.raises(ValueError, match="weight-stationary array supports fixed"):
        WeightStationaryArray(2, 2, spec("e4m3fn", "e4m3fn", k=8))
    with pytest.raises(ValueError, match="reduction"):
        simulate_ws_gemm(arr := WeightStationaryArray(1, 1, spec("fixed8.4", "fixed8.7", "fixed16.11", k=4)),
                         np.zeros((2, 3), int), np.zeros((2, 3), int))
    Fragment.get(arr, None)


@pytest.mark.skipif(cosim.iverilog_path() is None, reason="iverilog is not installed (apt-get)")
def test_icarus_3x4_int8(tmp_path):
    """The exported Verilog under Icarus reads the same outputs on the same cycles as Amaranth's simulator."""
    s = spec("fixed8.7", "fixed8.7", "fixed24.14", k=64, overflow="saturate")
    f = s.formats
    rng = np.random.default_rng(1)
    a = rng.integers(-128, 128, (6, 7))
    w = rng.integers(-128, 128, (7, 6))
    b = rng.integers(-50000, 50000, 6)
    exp = fixed_matmul(a, w, f.inputs, f.weights, accumulator=s.accumulator, bias_codes=b).codes
    arr = WeightStationaryArray(3, 4, s)
    got, _, tr = simulate_ws_gemm(arr, a, w, b, with_trace=True)
    assert got.tolist() == np.asarray(exp).tolist()
    (tmp_path / "dut.v").write_text(verilog_for(arr))
    tb = cosim.write_testbench(arr, arr.verilog_name(), tr.inputs, tr.outputs, tmp_path, mask=tr.mask,
                               before_edge=True)
    r = cosim.run_icarus(tmp_path, tb, [tmp_path / "dut.v"])
    assert r.passed, r.mismatches


@pytest.mark.parametrize("rows,cols,m,k,n", SHAPES)
@pytest.mark.parametrize("overflow", ["saturate", "wrap"])
def test_shift_gemm(rows, cols, m, k, n, overflow):
    g = ws_kinds.shift_gemm(m, k, n, overflow, seed=rows * 100 + cols * 10 + k)
    got, read = simulate_ws_gemm(WeightStationaryArray(rows, cols, g.spec), g.a, g.w, g.bias)
    assert got.tolist() == g.codes.tolist()
    assert read == mapping.scalesim_compute_cycles(m, n, k, rows, cols, "ws") + 1


@pytest.mark.parametrize("rows,cols,m,k,n", SHAPES)
@pytest.mark.parametrize("fmt", ["e4m3fn", "e5m2"])  # a 41-bit and a 69-bit Kulisch register
def test_minifloat_gemm(rows, cols, m, k, n, fmt):
    g = ws_kinds.minifloat_gemm(m, k, n, fmt, seed=rows * 100 + cols * 10 + k)
    got, _, tr = simulate_ws_gemm(WeightStationaryArray(rows, cols, g.spec), g.a, g.w, g.bias, with_trace=True)
    assert got.tolist() == g.codes.tolist()
    # the flags carried down the columns and across reduction folds: the emulator's NaN and infinities
    want = ws_kinds.special_class(g.values)
    assert np.array_equal(ws_kinds.readout_class(tr.flags, (m, n)), want, equal_nan=True)


@pytest.mark.parametrize("rows,cols,m,k,n", SHAPES)
@pytest.mark.parametrize("unsigned", [False, True], ids=["int8", "uint8"])
def test_affine_gemm(rows, cols, m, k, n, unsigned):
    g = ws_kinds.affine_gemm(m, k, n, seed=rows * 100 + cols * 10 + k, unsigned=unsigned)
    got, _ = simulate_ws_gemm(WeightStationaryArray(rows, cols, g.spec), g.a, g.w, g.bias)
    assert got.tolist() == g.codes.tolist()


@pytest.mark.parametrize("rows,cols,m,k,n", SHAPES)
def test_folded_affine_gemm(rows, cols, m, k, n):
    """The folded affine PE (raw codes onto ``b - z_a * sum_k w_k``, code 0 on unused rows): the same int32
    accumulators as the subtracting datapath."""
    from dataclasses import replace

    from ristretto_sim.rtl.affine_pe import AffineMacPE

    g = ws_kinds.affine_gemm(m, k, n, seed=rows * 100 + cols * 10 + k)
    s = replace(g.spec, zero_point="fold")
    got, _ = simulate_ws_gemm(WeightStationaryArray(rows, cols, s), g.a, g.w, AffineMacPE.preload(s, g.w, g.bias))
    assert got.tolist() == g.codes.tolist()
