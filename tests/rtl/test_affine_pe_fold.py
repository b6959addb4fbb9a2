"""AffineMacPE with the zero point folded (``zero_point='fold'``): the PE multiplies the raw codes onto the folded
bias preload; the Amaranth simulation equals the golden model, and on real MLPerf Tiny layers the final int32
accumulators (and TFLite's requantized output codes after them) equal the emulator's subtracting datapath."""

from dataclasses import replace

import numpy as np
import pytest

from ristretto_sim.cli import main
from ristretto_sim.emulator.datapaths import LayerFormats
from ristretto_sim.rtl import cosim
from ristretto_sim.rtl.affine_pe import AffineMacPE
from ristretto_sim.rtl.generate import gemm_golden, layer_spec
from ristretto_sim.rtl.golden import golden_run
from ristretto_sim.rtl.sim import simulate_pe
from ristretto_sim.rtl.spec import PESpec
from ristretto_sim.rtl.tflite_requantize import TfliteRequantize, TfliteRequantSpec
from ristretto_sim.rtl.vectors import random_trace
from tests.rtl.affine_layers import LAYERS, affine_gemm
from tests.rtl.helpers import cosimulate
from tests.rtl.test_affine_pe import OUT
from tests.rtl.test_fixed_pe import _dot_trace
from tests.rtl.test_tflite_requantize import simulate as simulate_requantizer

SYMMETRIC = [
    ("affine8[s=0.05,z=-3]", "affine8[s=0.01,z=0]"),
    ("uaffine8[s=0.05,z=128]", "affine8[s=0.01,z=0]"),  # uint8 activations, int8 weights: mixed-sign multiplier
    ("affine4[s=0.5,z=-8]", "affine4[s=0.1,z=0]"),
]


def _fold(inputs, weights):
    return PESpec(LayerFormats(inputs, weights, outputs=OUT), zero_point="fold")


@pytest.mark.parametrize("fmts", SYMMETRIC, ids="x".join)
def test_amaranth_equals_golden(fmts):
    s = _fold(*fmts)
    trace = random_trace(s, 1200, 1, seed=3)
    g = golden_run(s, trace)
    assert g.first_difference(simulate_pe(s, trace)) is None and g.overflow.any()


def test_folded_pe_is_another_module_and_a_subtracting_pe_is_not_it():
    s = _fold(*SYMMETRIC[0])
    assert s.module_name() == "affine_mac_fold_int8_zm3_int8_z0_int32"
    trace = random_trace(s, 300, 1, seed=4)
    # the subtracting PE on the folded trace differs (the zero point would be taken twice)
    assert golden_run(s, trace).first_difference(simulate_pe(replace(s, zero_point="subtract"), trace)) is not None


def test_fold_refuses_asymmetric_weights_and_other_kinds():
    with pytest.raises(ValueError, match="row-sum unit"):
        _fold("uaffine8[s=0.05,z=128]", "uaffine8[s=0.01,z=120]")
    with pytest.raises(ValueError, match="for affine PEs"):
        PESpec(LayerFormats("int8", "int8", accumulator="int32"), zero_point="fold")


@pytest.mark.parametrize("name", LAYERS)
def test_real_layer(name):
    g = affine_gemm(name)
    s = layer_spec(g.formats, g.a.shape[1], zero_point="fold")
    bias = AffineMacPE.preload(s, g.w, g.bias)
    assert np.array_equal(gemm_golden(s, g.a, g.w, bias), g.acc)
    for i, j in ((0, 0), (1, 5), (g.a.shape[0] - 1, g.w.shape[1] - 1)):
        t = _dot_trace(g.a[i][:, None], g.w[:, j][:, None], bias[j])
        assert simulate_pe(s, t).acc[-1, 0] == g.acc[i, j]
    rq = TfliteRequantSpec.of(g.formats, g.linear)
    m = np.broadcast_to(g.multiplier, g.acc.shape).ravel()
    sh = np.broadcast_to(g.shift, g.acc.shape).ravel()
    acc = gemm_golden(s, g.a, g.w, bias)
    got, _ = simulate_requantizer(TfliteRequantize(rq), acc.ravel(), m, sh)
    assert np.array_equal(got.reshape(g.out.shape), g.out)


def test_cli_writes_the_folded_pe(tmp_path, capsys):
    assert main(["rtl", "--pe", "affine", "--inputs", "affine8[s=0.05,z=-3]", "--weights", "affine8[s=0.01,z=0]",
                 "--outputs", OUT, "--zero-point", "fold", "--cycles", "200", "--out", str(tmp_path)]) == 0
    assert "affine_mac_fold" in capsys.readouterr().out
    assert any("affine_mac_fold_int8_zm3_int8_z0_int32" in p.read_text() for p in tmp_path.glob("*.v"))
    assert main(["rtl", "--pe", "fixed", "--inputs", "int8", "--weights", "int8", "--acc", "int32",
                 "--zero-point", "fold", "--out", str(tmp_path / "f")]) == 2


@pytest.mark.skipif(cosim.iverilog_path() is None, reason="iverilog is not installed (apt-get)")
def test_icarus_folded_pe(tmp_path):
    r = cosimulate(_fold(*SYMMETRIC[1]), 2000, tmp_path, cosim.run_icarus)
    assert r.passed, r.mismatches
