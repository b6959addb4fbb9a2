"""The network benchmark on a small subset: its keys and that the contenders agree (no timing assertions)."""

import json

import pytest

from ristretto_sim.bench import network


@pytest.fixture(scope="module")
def result():
    return network.run(repeats=1, limit=500)


def test_result_has_the_figures(result):
    json.dumps(result)
    assert result["images"] == 500
    for key in ("data", "model", "calibration", "threads", "time_s", "ratios", "targets", "met", "top1",
                "peak_memory_mb", "notes", "batch_size"):
        assert key in result
    for name in ("float", "exact", "ristretto", "exact_wide"):
        assert result["time_s"][name] > 0
    assert set(result["ratios"]) >= {"exact_over_float", "ristretto_over_float", "exact_wide_over_float"}
    assert "fixed7" in result["wide_plan"]  # accumulators of 70+ bits: the limb path ran
    assert result["targets"]["exact_over_float"] == 0.8
    assert 0 < result["peak_memory_mb"] < 1e6


def test_top1_agree(result):
    top1 = result["top1"]
    assert top1["float"] > 0.9
    assert abs(top1["exact"] - top1["float"]) <= 0.02
    assert abs(top1["ristretto"] - top1["float"]) <= 0.02
    assert abs(top1["exact_wide"] - top1["float"]) <= 0.02
    assert result["exact_agrees_with_float"] > 0.97


def test_onnxruntime_matches_our_float_path(result):
    pytest.importorskip("onnxruntime", reason="onnxruntime is not installed "
                              "(it is in the test extra: pip install -e '.[test]')")
    assert result["threads"]["onnxruntime_intra_op"] == result["threads"]["onnxruntime_inter_op"] == 1
    assert result["top1"]["onnxruntime"] == result["top1"]["float"]
    assert result["float_max_abs_diff_vs_onnxruntime"] < 1e-3
    assert {"float_over_onnxruntime", "exact_over_onnxruntime"} <= set(result["ratios"])


def test_bad_parameters():
    with pytest.raises(ValueError, match="repeats"):
        network.run(repeats=0)
    with pytest.raises(ValueError, match="limit"):
        network.run(limit=0)
