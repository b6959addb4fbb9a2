"""The output stage's cycles: an affine PE's requantizers (one per vector lane) requantize each fold's outputs while
the array computes; a layer pays what they need beyond its compute, and at least their one cycle of latency. A PE
without an output stage pays nothing, and SCALE-Sim-compatible runs keep SCALE-Sim's cycles."""

from dataclasses import replace

import pytest

from ristretto_sim.emulator import LayerFormats
from ristretto_sim.hw import PEConfig
from ristretto_sim.hw.layers import GemmShape
from ristretto_sim.hw.simulate import READOUT_LATENCY_CYCLES, readout_cycles, simulate

from .conftest import make_config

AFFINE = "affine8[s=1.0,z=0]"
FORMATS = LayerFormats(AFFINE, AFFINE, outputs=AFFINE, accumulator="fixed32.0")
FIXED = LayerFormats("int8", "int8", outputs="int8", accumulator="int32")


def _configs(lanes):
    affine = make_config(8, 8, "os").replace(pe=PEConfig("affine", AFFINE, AFFINE, "fixed32.0"))
    fixed = make_config(8, 8, "os").replace(pe=PEConfig("fixed_mac", "int8", "int8", "fixed32.0"))
    return (c.replace(vector=replace(c.vector, lanes=lanes)) for c in (affine, fixed))


@pytest.mark.parametrize("m, k, n, lanes", [(64, 4, 64, 1), (64, 4, 64, 2), (64, 300, 64, 16), (8, 1, 8, 64)])
def test_requantizers_cost_what_they_need_beyond_the_compute(m, k, n, lanes):
    layer = GemmShape("fc", m=m, k=k, n=n)
    affine, fixed = _configs(lanes)
    a = simulate([layer], FORMATS, affine).layers[0]
    f = simulate([layer], FIXED, fixed).layers[0]
    need = -(-m * n // lanes) + READOUT_LATENCY_CYCLES
    assert readout_cycles(layer.problem(), affine) == need and readout_cycles(layer.problem(), fixed) == 0
    # the fixed PE has no output stage: its compute is the array's; the affine one adds its stage's excess
    assert a.compute_cycles == f.compute_cycles + max(READOUT_LATENCY_CYCLES, need - f.compute_cycles)
    assert a.total_cycles >= f.total_cycles


def test_a_readout_bound_layer_is_as_slow_as_its_requantizers():
    """4,096 outputs through one requantizer take 4,097 cycles, far more than the 8x8 array's compute."""
    layer = GemmShape("fc", m=64, k=4, n=64)
    affine, _ = _configs(1)
    r = simulate([layer], FORMATS, affine).layers[0]
    assert r.compute_cycles == 64 * 64 + READOUT_LATENCY_CYCLES


def test_scalesim_compatible_runs_have_no_output_stage():
    layer = GemmShape("fc", m=64, k=4, n=64)
    affine, fixed = _configs(1)
    a = simulate([layer], FORMATS, affine, scalesim_compatible=True).layers[0]
    f = simulate([layer], FIXED, fixed, scalesim_compatible=True).layers[0]
    assert a.compute_cycles == f.compute_cycles
