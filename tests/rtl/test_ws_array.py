"""WeightStationaryArray: a GEMM streamed through it (reduction and column folds) gives the emulator's
accumulator codes bit for bit; its cycles are SCALE-Sim's ws compute cycles."""

import numpy as np
import pytest

from ristretto_sim.emulator import fixed_matmul
from ristretto_sim.hw.mapping import scalesim_compute_cycles
from ristretto_sim.rtl.ws_array import WeightStationaryArray, simulate_ws_gemm
from tests.rtl.helpers import spec


@pytest.mark.parametrize("rows,cols,m,k,n", [(1, 1, 3, 2, 2), (3, 2, 7, 9, 5), (4, 4, 5, 4, 4), (2, 4, 6, 5, 9)])
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
    assert read == scalesim_compute_cycles(m, n, k, rows, cols, "ws") + 1


def test_unsupported_kind():
    with pytest.raises(ValueError, match="weight-stationary"):
        WeightStationaryArray(2, 2, spec("e4m3fn", "e4m3fn", k=8))
