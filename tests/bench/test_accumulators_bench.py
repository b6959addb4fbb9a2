"""The accumulators benchmark on a small subset: its keys, the backend and CPU flags in the JSON, the GEMM's
bit-identity, and that the narrow accumulators overflowed (no timing assertions)."""

import json

import pytest

from ristretto_sim.bench import accumulators


@pytest.fixture(scope="module")
def result():
    return accumulators.run(repeats=1, images=64, cases=["dfp8_acc32", "dfp8_acc14_saturate", "dfp8_acc14_wrap",
                                                         "e4m3_fp16", "pow2_shift"])


def test_result_has_the_figures(result):
    json.dumps(result)
    assert result["images"] == 64
    for key in ("backend", "network_backend", "cpu", "time_s", "figures", "targets", "before", "met", "top1",
                "accumulator_overflows", "over_no_overflow_case", "compiled_loops"):
        assert key in result
    assert result["backend"]["name"] in ("blas", "onnxruntime", "torch")
    assert set(result["figures"]) == {"dfp8_acc32_s", "dfp8_acc14_saturate_s", "dfp8_acc14_wrap_s", "e4m3_fp16_s",
                                      "pow2_shift_s"}
    assert result["accumulator_overflows"]["dfp8_acc14_saturate"] > 0
    assert result["accumulator_overflows"]["dfp8_acc32"] == 0


def test_unknown_case_is_named():
    with pytest.raises(ValueError, match="unknown nope"):
        accumulators.run(repeats=1, images=8, cases=["nope"])


@pytest.mark.slow  # the full-size GEMM (4096 x 1152 x 128), timed
def test_gemm_case_is_bit_identical():
    r = accumulators.run(repeats=1, images=8, cases=["gemm"])
    assert r["gemm_bit_identical"] is True and r["figures"]["gemm_exact_over_float32"] > 0
