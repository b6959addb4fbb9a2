"""The GEMM benchmark (ristretto_sim.bench.gemm) on a small shape: well-formed figures, passing checks."""

import json

import pytest

from ristretto_sim.bench.gemm import run_gemm_benchmark


def test_small_benchmark_is_json_and_bit_identical():
    pytest.importorskip("apytypes", reason="APyTypes is not installed "
                              "(it is in the test extra: pip install -e '.[test]')")
    r = run_gemm_benchmark(256, 300, 32, repeats=2)
    json.dumps(r)
    assert r["exact_fixed_correct"] is True
    assert r["apytypes_bit_identical"] is True
    assert r["backend"]["name"] in ("blas", "onnxruntime", "torch")
    assert r["kulisch_bits"] == 46  # e4m3fn, K = 300: 2 * 17 + 2 + ceil(log2 300) + 1
    for key in ("float32_matmul_ms", "exact_fixed_ms", "exact_e4m3fn_kulisch_ms", "apytypes_matmul_ms"):
        assert r[key] > 0


def test_bad_shape():
    with pytest.raises(ValueError, match="k=0"):
        run_gemm_benchmark(4, 0, 4)
