"""The folded zero point on the three MLPerf Tiny int8 models (``../shared/data/tflite``): with every affine
layer's accumulator computed as the folded datapath computes it (raw code products onto ``b - z_x * sum_k w_k``,
``AffineMac.accumulate_folded``), each layer's int32 accumulator equals the subtracting one bit for bit and every
int8 tensor still equals LiteRT's reference kernels."""

import numpy as np
import pytest

import ristretto_sim as rs
from ristretto_sim.emulator.datapaths.affine import AffineMac
from tests.io.tflite.litert import MODELS, SHARED_TFLITE, all_tensors, inputs, interpreter

pytestmark = pytest.mark.skipif(not SHARED_TFLITE.exists(),
                                reason="../shared/data/tflite (MLPerf Tiny models) is not present")


@pytest.mark.parametrize("name", MODELS)
def test_folded_accumulators_are_the_subtracting_ones_and_litert_agrees(name, monkeypatch):
    subtract = AffineMac.accumulate
    checked = []

    def folded(self, prepared, x, keys):
        ref = subtract(self, prepared, x, keys)
        acc = self.accumulate_folded(prepared, x, keys)
        assert np.array_equal(acc.codes, ref.codes) and acc.codes.dtype == ref.codes.dtype
        checked.append(acc.codes.size)
        return acc

    monkeypatch.setattr(AffineMac, "accumulate", folded)
    path = SHARED_TFLITE / f"{name}.tflite"
    net = rs.load_model(path)
    it = interpreter(path)
    shape = tuple(it.get_input_details()[0]["shape"])
    for x in inputs(shape, 2, seed=5):
        ref = all_tensors(it, x)
        for t, codes in rs.run_tensors(net, x).items():
            assert np.array_equal(codes, ref[t]), f"{name}: tensor {t!r} differs in {(codes != ref[t]).sum()} codes"
    assert len(checked) >= 4 * 3 and sum(checked) > 0  # every input ran through the folded layers
