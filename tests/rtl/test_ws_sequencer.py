"""WsSequencer: a GEMM from its memories to its output stream gives the emulator's accumulator codes bit for bit
(reduction and column folds, edge folds, saturating and wrapping narrow accumulators, LeNet's conv2; the shift,
minifloat Kulisch and affine PEs too); ``done``
comes in the closed-form cycle of the module docstring, 3 cycles after the cycle model's pipelined ws count when
the partial-sum dependency costs nothing; the exported Verilog under Icarus shows the same outputs (LeNet's conv2
included)."""

import gc

import numpy as np
import pytest

from ristretto_sim.emulator import fixed_matmul
from ristretto_sim.hw import mapping
from ristretto_sim.rtl import cosim
from ristretto_sim.rtl.export import verilog_for
from ristretto_sim.rtl.generate import gemm_golden
from ristretto_sim.rtl.spec import PESpec
from ristretto_sim.rtl.ws_sequencer import (
    WsSequencer,
    expected_stream,
    fold_periods,
    sequencer_cycles,
    simulate_sequencer,
)
from tests.rtl import ws_kinds
from tests.rtl.helpers import spec
from tests.rtl.lenet_layer import conv2_gemm

#: (rows, cols, M, K, N): one fold; reduction and column folds; K, N not multiples of the array; M < rows;
#: M < rows + cols with reduction folds (the dependency stretches the period); a 1x1 array
SHAPES = [(4, 4, 5, 4, 4), (3, 2, 7, 9, 5), (2, 4, 6, 5, 9), (4, 3, 6, 3, 2), (4, 2, 2, 9, 3),
          (4, 4, 3, 10, 6), (1, 1, 3, 2, 2), (2, 3, 12, 7, 7)]


def _pipelined(m, k, n, rows, cols) -> int:
    return int(mapping.pipelined_fold_cycles(mapping.folding(m, n, k, rows, cols, "ws"), m).sum())


@pytest.mark.parametrize("rows,cols,m,k,n", SHAPES)
@pytest.mark.parametrize("overflow", ["saturate", "wrap"])
def test_fixed_gemm(rows, cols, m, k, n, overflow):
    s = spec("fixed8.4", "fixed8.7", "fixed16.11", k=16, overflow=overflow)
    f = s.formats
    rng = np.random.default_rng(rows * 100 + cols * 10 + k)
    a = rng.integers(-128, 128, (m, k))
    w = rng.integers(-128, 128, (k, n))
    a[0], w[:, 0] = 127, 127  # saturates / wraps the 16-bit accumulator
    b = rng.integers(-3000, 3000, n)
    exp = fixed_matmul(a, w, f.inputs, f.weights, accumulator=s.accumulator, overflow=f.overflow,
                       bias_codes=b).codes
    seq = WsSequencer(rows, cols, s, a, w, b)
    got, done, (stim, trace, _) = simulate_sequencer(seq, with_trace=True)
    assert got.tolist() == np.asarray(exp).tolist()
    # every port, every cycle, as the schedule of the module docstring says (the CLI's testbench vectors)
    stim2, want, mask = expected_stream(seq, exp)
    assert stim2["start"].tolist() == stim["start"].tolist()
    for name, v in want.items():
        sel = mask.get(name, np.ones(len(v), bool))
        assert trace[name][sel].tolist() == v[sel].tolist(), name
    assert done == seq.cycles() == sequencer_cycles(m, k, n, rows, cols)
    # the cycle model's pipelined count + start, memory latency and read-out, + the dependency's stretch
    fk = -(-k // rows)
    stretch = sum(p - max(m, rows) for p in fold_periods(m, k, n, rows, cols))
    assert (stretch > 0) == (fk > 1 and m < rows + cols)
    assert done == _pipelined(m, k, n, rows, cols) + 3 + stretch
    # and below SCALE-Sim's serial folds (+ the same 3) as soon as there is more than one fold
    serial = mapping.scalesim_compute_cycles(m, n, k, rows, cols, "ws")
    folds = fk * -(-n // cols)
    assert (done == serial + 3) if folds == 1 else (done < serial + 3)


@pytest.mark.filterwarnings("ignore:.*created but never used")  # the sequencers that refused their operands
def test_no_bias_and_errors():
    s = spec("fixed8.4", "fixed8.7", "fixed16.11", k=16)
    a, w = np.ones((3, 4), int), np.ones((4, 2), int)
    got, _ = simulate_sequencer(WsSequencer(2, 2, s, a, w))
    assert got.tolist() == [[4, 4]] * 3
    with pytest.raises(ValueError, match="same K"):
        WsSequencer(2, 2, s, a, np.ones((3, 2), int))
    with pytest.raises(ValueError, match="bias"):
        WsSequencer(2, 2, s, a, w, np.ones(3, int))
    g = ws_kinds.minifloat_gemm(3, 4, 2)
    with pytest.raises(ValueError, match="give the flags nan, pinf, ninf"):
        expected_stream(WsSequencer(2, 2, g.spec, g.a, g.w, g.bias), g.codes)
    gc.collect()  # their warnings now, under this test's filter


def _lenet(rows_of_a):
    formats, a, w, bias, acc = conv2_gemm(image=0)
    a, acc = a[:rows_of_a], acc[:rows_of_a]
    m, k = a.shape
    n = w.shape[1]
    seq = WsSequencer(8, 8, PESpec(formats, k=k), a, w, bias)
    got, done = simulate_sequencer(seq)
    assert got.tolist() == acc.tolist()
    assert done == seq.cycles() == _pipelined(m, k, n, 8, 8) + 3  # M >= rows + cols: folds fully overlapped
    return m, k, n, done


def test_lenet_conv2_rows_on_8x8():
    """The real layer's codes (K = 500, N = 50: 63 x 7 folds), its first 16 output pixels (M = rows + cols)."""
    assert _lenet(16)[:3] == (16, 500, 50)


@pytest.mark.slow
def test_lenet_conv2_on_8x8():
    """LeNet's conv2 for one image (M = 64), about 30 s in Amaranth's simulator."""
    m, k, n, done = _lenet(64)
    assert done == 28248 < mapping.scalesim_compute_cycles(m, n, k, 8, 8, "ws") == 37925


@pytest.mark.skipif(cosim.iverilog_path() is None, reason="iverilog is not installed (apt-get)")
def test_icarus_small_sequencer(tmp_path):
    """The exported Verilog (memories initialised with the operands) under Icarus: the same output stream, cycle
    for cycle, as Amaranth's simulator, which the emulator checks. M = rows + cols: each reduction fold reads
    the psum buffer in the cycle the previous fold writes it (the transparent read)."""
    s = spec("fixed8.7", "fixed8.7", "fixed24.14", k=64, overflow="saturate")
    f = s.formats
    rng = np.random.default_rng(3)
    a = rng.integers(-128, 128, (5, 7))
    w = rng.integers(-128, 128, (7, 5))
    b = rng.integers(-50000, 50000, 5)
    exp = fixed_matmul(a, w, f.inputs, f.weights, accumulator=s.accumulator, bias_codes=b).codes
    seq = WsSequencer(3, 2, s, a, w, b)
    got, done, (stim, expected, mask) = simulate_sequencer(seq, with_trace=True)
    assert got.tolist() == np.asarray(exp).tolist()
    (tmp_path / "dut.v").write_text(verilog_for(seq))
    tb = cosim.write_testbench(seq, seq.verilog_name(), stim, expected, tmp_path, mask=mask, before_edge=True)
    r = cosim.run_icarus(tmp_path, tb, [tmp_path / "dut.v"])
    assert r.passed, r.mismatches
    assert r.cycles == done + 1


@pytest.mark.skipif(cosim.iverilog_path() is None, reason="iverilog is not installed (apt-get)")
def test_icarus_lenet_conv2_on_8x8(tmp_path):
    """The whole layer (M = 64, 441 folds) through the exported Verilog under Icarus (about 13 s): the output
    stream the schedule gives the emulator's accumulator codes, every cycle up to ``done``."""
    formats, a, w, bias, acc = conv2_gemm(image=0)
    seq = WsSequencer(8, 8, PESpec(formats, k=500), a, w, bias)
    (tmp_path / "dut.v").write_text(verilog_for(seq))
    stim, exp, mask = expected_stream(seq, acc)
    tb = cosim.write_testbench(seq, seq.verilog_name(), stim, exp, tmp_path, mask=mask, before_edge=True)
    r = cosim.run_icarus(tmp_path, tb, [tmp_path / "dut.v"])
    assert r.passed, r.mismatches
    assert r.cycles == seq.cycles() + 1 == 28249


#: the other PE kinds' GEMMs (tests/rtl/ws_kinds.py) by name
KINDS = {
    "shift-saturate": lambda m, k, n, seed: ws_kinds.shift_gemm(m, k, n, "saturate", seed),
    "shift-wrap": lambda m, k, n, seed: ws_kinds.shift_gemm(m, k, n, "wrap", seed),
    "minifloat-e4m3fn": lambda m, k, n, seed: ws_kinds.minifloat_gemm(m, k, n, "e4m3fn", seed),
    "minifloat-e5m2": lambda m, k, n, seed: ws_kinds.minifloat_gemm(m, k, n, "e5m2", seed),
    "affine": ws_kinds.affine_gemm,
    "affine-uint8": lambda m, k, n, seed: ws_kinds.affine_gemm(m, k, n, seed, unsigned=True),
}


@pytest.mark.parametrize("rows,cols,m,k,n", SHAPES)
@pytest.mark.parametrize("kind", KINDS)
def test_other_kinds_gemm(rows, cols, m, k, n, kind):
    g = KINDS[kind](m, k, n, rows * 100 + cols * 10 + k)
    seq = WsSequencer(rows, cols, g.spec, g.a, g.w, g.bias)
    got, done, (_, trace, _), flags = simulate_sequencer(seq, with_trace=True, with_flags=True)
    assert got.tolist() == g.codes.tolist()
    if g.values is not None:  # the minifloat PE's flags: the emulator's NaN and infinities
        want = ws_kinds.special_class(g.values)
        assert np.array_equal(ws_kinds.readout_class(flags, (m, n)), want, equal_nan=True)
    _, want, mask = expected_stream(seq, g.codes, flags)
    for name, v in want.items():
        sel = mask.get(name, np.ones(len(v), bool))
        assert trace[name][sel].tolist() == v[sel].tolist(), name
    assert done == seq.cycles()


@pytest.mark.skipif(cosim.iverilog_path() is None, reason="iverilog is not installed (apt-get)")
@pytest.mark.parametrize("kind", ["shift-saturate", "minifloat-e5m2", "affine-uint8"])
def test_icarus_other_kinds(tmp_path, kind):
    """One small sequencer per kind (reduction and column folds, M = rows + cols) through the exported Verilog
    under Icarus: the output stream of the emulator's codes (e5m2: a 69-bit Kulisch register, and the flags the
    golden model gives, whose readout is the emulator's NaN and infinities)."""
    g = KINDS[kind](5, 7, 5, 1)  # seed 1: NaN and infinite outputs
    seq = WsSequencer(3, 2, g.spec, g.a, g.w, g.bias)
    (tmp_path / "dut.v").write_text(verilog_for(seq))
    flags = {}
    if g.values is not None:
        codes, flags = gemm_golden(g.spec, g.a, g.w, g.bias, with_flags=True)
        assert codes.tolist() == g.codes.tolist()
        assert np.array_equal(ws_kinds.readout_class(flags, codes.shape), ws_kinds.special_class(g.values),
                              equal_nan=True)
        assert any(v.any() for v in flags.values())
    stim, exp, mask = expected_stream(seq, g.codes, flags)
    tb = cosim.write_testbench(seq, seq.verilog_name(), stim, exp, tmp_path, mask=mask, before_edge=True)
    r = cosim.run_icarus(tmp_path, tb, [tmp_path / "dut.v"])
    assert r.passed, r.mismatches
    assert r.cycles == seq.cycles() + 1
