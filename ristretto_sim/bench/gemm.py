"""GEMM benchmark: the exact emulator against NumPy float32 BLAS and APyTypes, side by side in one run.

Three comparisons on one shape (default M=4096, K=1152, N=128: a 3x3x128 convolution over a 64x64 map):

1. exact 8x8-bit fixed-point GEMM with a 32-bit saturating accumulator (``fixed_matmul`` on int8 codes)
   against NumPy's float32 ``matmul`` of the same shapes (target: ratio <= 1.3);
2. the same exact GEMM against APyTypes' fixed-point ``APyFixedArray`` matmul (results checked bit-identical;
   target: the emulator >= 9x faster);
3. the exact e4m3fn MAC with Kulisch accumulation (``minifloat_matmul`` on float64 arrays of e4m3fn values,
   read out to the nearest float64; the operand-representability check is skipped, as in the layer path)
   against float32 ``matmul`` of the same values (ratio reported).

Each timing is the best of ``repeats`` runs, the contenders alternating so that machine load affects them
alike, with BLAS limited to ``threads`` threads (default 1, as the network benchmark: the emulator's non-BLAS
passes are single-threaded NumPy, so one thread compares like with like; threadpoolctl does the limiting). The
fixed-point pair is also timed with BLAS at its default thread count (``default_threads``), and APyTypes (single
threaded) is compared with that time, the emulator as a user runs it.
:func:`run_gemm_benchmark` returns a JSON-able dict; it prints nothing.
"""

from __future__ import annotations

import platform
import time

import numpy as np

from ristretto_sim.bench.threads import blas_libraries, blas_limit
from ristretto_sim.emulator import fixed_matmul
from ristretto_sim.emulator.kernels import default_backends
from ristretto_sim.emulator.minifloat_mac import kulisch_bits, minifloat_matmul
from ristretto_sim.formats import CATALOG, FixedPoint

#: targets from the issue: exact fixed GEMM / float32 matmul, and APyTypes / exact fixed GEMM
TARGET_FIXED_VS_FLOAT32 = 1.3
TARGET_SPEEDUP_VS_APYTYPES = 9.0


def _best_of(fns: dict, repeats: int) -> dict:
    """Best wall time (ms) of each callable, alternating between them ``repeats`` times after one warm-up."""
    for f in fns.values():
        f()
    best = {name: float("inf") for name in fns}
    for _ in range(repeats):
        for name, f in fns.items():
            t0 = time.perf_counter()
            f()
            best[name] = min(best[name], (time.perf_counter() - t0) * 1e3)
    return best


def run_gemm_benchmark(
    m: int = 4096, k: int = 1152, n: int = 128, *, repeats: int = 11, seed: int = 0, apytypes: bool = True,
    threads: int = 1,
) -> dict:
    """Run the GEMM benchmark and return its figures.

    Parameters
    ----------
    m, k, n : int
        GEMM shape: (m x k) activations times (k x n) weights.
    repeats : int
        Timed runs per contender (best time kept); APyTypes runs ``max(1, repeats // 3)`` times (it is slow).
    seed : int
        Seed of the random operands.
    apytypes : bool
        Include the APyTypes comparison (skipped, with a note, if APyTypes is not installed).
    threads : int
        BLAS threads on both sides.

    Returns
    -------
    dict
        JSON-able: shapes, times in milliseconds (``*_ms``), ratios, targets and whether they were met, the
        bit-identity check against APyTypes, library versions.
    """
    for name, v in (("m", m), ("k", k), ("n", n), ("repeats", repeats), ("threads", threads)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name}={v!r} must be a positive integer")
    rng = np.random.default_rng(seed)
    i8 = FixedPoint(8, 0)
    acc32 = FixedPoint(32, 0)
    a8 = rng.integers(-128, 128, size=(m, k), dtype=np.int64).astype(np.int8)
    w8 = rng.integers(-128, 128, size=(k, n), dtype=np.int64).astype(np.int8)
    a32 = a8.astype(np.float32)
    w32 = w8.astype(np.float32)

    e4 = CATALOG["e4m3fn"]
    ae = e4.quantize(rng.normal(size=(m, k)))
    we = e4.quantize(rng.normal(size=(k, n)) * 0.05)
    ae32 = ae.astype(np.float32)
    we32 = we.astype(np.float32)

    def fixed():
        return fixed_matmul(a8, w8, i8, i8, accumulator=acc32, overflow="saturate")

    def kulisch():
        return minifloat_matmul(ae, we, e4, e4, check_operands=False)

    limiter, info = blas_limit(threads)
    with limiter:
        blas = blas_libraries(info)
        times = _best_of(
            {
                "float32_matmul": lambda: a32 @ w32,
                "exact_fixed": fixed,
                "float32_matmul_e4m3": lambda: ae32 @ we32,
                "exact_e4m3fn_kulisch": kulisch,
            },
            repeats,
        )
        ref = fixed()
    # the same pair with BLAS at its default thread count (what a user gets without limits), and APyTypes
    # (single-threaded C++) against the emulator as a user runs it
    free = _best_of({"float32_matmul": lambda: a32 @ w32, "exact_fixed": fixed}, repeats)
    apy = _apytypes_comparison(a8, w8, ref.codes, free["exact_fixed"], max(1, repeats // 3)) if apytypes else {}
    exact_int = (a8.astype(np.float64) @ w8.astype(np.float64)).astype(np.int64)  # |sums| < 2**53: exact
    result = {
        "benchmark": "gemm",
        "shape": {"m": m, "k": k, "n": n},
        "repeats": repeats,
        "blas_threads": threads if info is not None else None,
        "blas_libraries": blas,
        "float32_matmul_ms": times["float32_matmul"],
        "exact_fixed_ms": times["exact_fixed"],
        "exact_fixed_format": {
            "inputs": str(i8),
            "weights": str(i8),
            "accumulator": str(acc32),
            "overflow": "saturate",
        },
        "exact_fixed_correct": bool(np.array_equal(ref.codes, exact_int)),
        "ratio_fixed_vs_float32": times["exact_fixed"] / times["float32_matmul"],
        "default_threads": {"float32_matmul_ms": free["float32_matmul"], "exact_fixed_ms": free["exact_fixed"],
                            "ratio_fixed_vs_float32": free["exact_fixed"] / free["float32_matmul"]},
        "target_ratio_fixed_vs_float32": TARGET_FIXED_VS_FLOAT32,
        "float32_matmul_e4m3_ms": times["float32_matmul_e4m3"],
        "exact_e4m3fn_kulisch_ms": times["exact_e4m3fn_kulisch"],
        "kulisch_bits": kulisch_bits(e4, e4, k),
        "ratio_kulisch_vs_float32": times["exact_e4m3fn_kulisch"] / times["float32_matmul_e4m3"],
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "backend": default_backends().report(),  # the integer kernel of the exact GEMMs
    }
    result["target_fixed_vs_float32_met"] = result["ratio_fixed_vs_float32"] <= TARGET_FIXED_VS_FLOAT32
    result.update(apy)
    if info is None:
        result["note"] = "threadpoolctl is not installed: BLAS ran with its default thread count"
    return result


def _apytypes_comparison(a8, w8, codes, exact_ms: float, repeats: int) -> dict:
    try:
        import apytypes as apy
    except ImportError:  # pragma: no cover - the bench extra installs it
        return {
            "apytypes": None,
            "apytypes_note": "APyTypes not installed (pip install ristretto-sim[bench])",
        }
    A = apy.APyFixedArray.from_float(a8.astype(np.float64), int_bits=8, frac_bits=0)
    W = apy.APyFixedArray.from_float(w8.astype(np.float64), int_bits=8, frac_bits=0)

    def run():
        # full-precision products and sums (25 bits here), cast to the 32-bit accumulator: the same integers
        return (A @ W).cast(int_bits=32, frac_bits=0, overflow=apy.OverflowMode.SAT)

    best = _best_of({"apytypes": run}, repeats)["apytypes"]
    got = np.asarray(run().to_numpy(), dtype=np.float64)
    identical = bool(np.array_equal(got, codes.astype(np.float64)))
    speedup = best / exact_ms
    return {
        "apytypes": apy.__version__,
        "apytypes_matmul_ms": best,
        "apytypes_bit_identical": identical,
        "speedup_vs_apytypes": speedup,
        "target_speedup_vs_apytypes": TARGET_SPEEDUP_VS_APYTYPES,
        "target_speedup_vs_apytypes_met": speedup >= TARGET_SPEEDUP_VS_APYTYPES,
    }
