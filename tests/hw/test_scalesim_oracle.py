"""Live comparison with the real SCALE-Sim 3.0 (separate environment, ``make scalesim-venv``).

Skipped, saying why, when that environment is absent.
"""

import pytest

from ristretto_sim.hw.layers import ConvShape, GemmShape
from ristretto_sim.hw.scalesim_run import find_scalesim_python, run_scalesim
from ristretto_sim.hw.simulate import simulate

from .conftest import make_config

PYTHON = find_scalesim_python()
pytestmark = pytest.mark.skipif(
    PYTHON is None,
    reason="SCALE-Sim environment absent: run `make scalesim-venv` (or set RISTRETTO_SCALESIM_PYTHON)",
)

CONV = [
    ConvShape("a", 12, 10, 3, 10, kernel=3, ceil_mode=True),
    ConvShape("b", 9, 9, 5, 7, kernel=2, stride=2, ceil_mode=True),
    ConvShape("c", 7, 11, 6, 19, kernel=(3, 1), stride=1, ceil_mode=True),
]
GEMM = [GemmShape("g1", 12, 10, 3), GemmShape("g2", 30, 17, 41)]


@pytest.mark.parametrize("df", ["os", "ws", "is"])
@pytest.mark.parametrize("R, C", [(8, 4), (4, 8), (6, 6)])
@pytest.mark.parametrize("layers", [CONV, GEMM], ids=["conv", "gemm"])
def test_compute_cycles_and_sram_counts_equal_scalesim(df, R, C, layers):
    cfg = make_config(R, C, df, kb=64)
    theirs, _ = run_scalesim(layers, cfg, python=PYTHON)
    ours = simulate(layers, None, cfg, scalesim_compatible=True)
    for mine, ref in zip(ours.layers, theirs, strict=True):
        assert ref.stall_cycles == 0
        assert mine.compute_cycles == ref.compute_cycles
        assert mine.total_cycles == ref.total_cycles
        assert mine.edge_ifmap_reads_words == ref.sram_ifmap_reads
        assert mine.edge_filter_reads_words == ref.sram_filter_reads
        assert mine.edge_ofmap_writes_words == ref.sram_ofmap_writes
        assert mine.mapping_efficiency * 100 == pytest.approx(ref.mapping_efficiency_pct)
        assert mine.compute_utilization * 100 == pytest.approx(ref.compute_util_pct)
        # CALC mode: when the layer fits, SCALE-Sim's DRAM reads are the unique footprint, as ours; every
        # partial sum of ws/is goes to DRAM
        assert mine.dram_filter_bytes == ref.dram_filter_reads
        assert mine.dram_ifmap_bytes == ref.dram_ifmap_reads
        assert mine.dram_ofmap_bytes + mine.dram_psum_write_bytes == ref.dram_ofmap_writes
