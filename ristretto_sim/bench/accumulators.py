"""Accumulator benchmark: the cheap datapaths a hardware designer asks about (narrow saturating and wrapping
accumulators, float accumulators, Kulisch registers, shift PEs), each a full exact run of Caffe LeNet, next to the
exact int8 GEMM on the machine's integer kernels and the no-overflow DFP8 network, measured side by side in one
run (issue 11).

Cases (every one a run of ``run_network(net, x, plan)`` on the first ``images`` MNIST test images, except
``gemm``):

* ``gemm``: exact int8 x int8 GEMM (M=4096, K=1152, N=128) into a 32-bit saturating accumulator
  (``fixed_matmul``) against NumPy float32 ``matmul`` of the same shapes, on the backend the kernel layer chose;
* ``dfp8_acc32``: 8-bit dynamic fixed point, 32-bit saturating accumulators (the fast path; the reference);
* ``dfp8_acc14_saturate`` / ``dfp8_acc14_wrap``: the same plan with 14-bit accumulators (and 14-bit biases),
  per-addition saturation / two's complement wrap;
* ``e4m3_fp16``: e4m3 inputs, weights and outputs, an fp16 accumulator (one rounding per addition);
* ``e4m3_kulisch``: the same with the exact Kulisch accumulator;
* ``pow2_shift``: DFP8 activations, Ristretto's power-of-two weights (``2**-8 .. 2**-1``, no zero) on the
  shift-and-add PE with its lossless default accumulator.

The plans are calibrated as the ``network`` suite's (1,000 embedded MNIST training digits). Each case gets one
warm-up run (which also gives its top-1 and accumulator overflow count), then ``repeats`` rounds in which the
cases alternate, best time kept; BLAS is limited to ``threads`` threads. Every network case is also given as a
multiple of the no-overflow case's time in the same run (``over_no_overflow_case``), a figure that a busy machine
changes less than the seconds (the issue measured 0.31 to 0.43 s for that case). The JSON names the integer-kernel
backend in use (and why others were refused) and the CPU's flags that decide it (AVX-512 VNNI, AVX-VNNI, AMX).
:func:`run` returns a JSON-able dict and prints nothing.
"""

from __future__ import annotations

import importlib.metadata
import platform
import time
from pathlib import Path

import numpy as np

from ristretto_sim.bench.network import calibration_images, load_data, load_model, top1_accuracy
from ristretto_sim.bench.quantize import shared_data_dir
from ristretto_sim.bench.threads import blas_libraries, blas_limit
from ristretto_sim.emulator import fixed_matmul, jit
from ristretto_sim.emulator.kernels import default_backends
from ristretto_sim.formats import FixedPoint, PowerOfTwo
from ristretto_sim.graph.plan import LayerPlan
from ristretto_sim.runtime.calibrate import dynamic_fixed_point_plan
from ristretto_sim.runtime.executor import run_network

#: targets from issue 11 (seconds for the 2,000-image network cases; a ratio for the GEMM)
TARGETS = {
    "gemm_exact_over_float32": 0.3,
    "dfp8_acc14_saturate_s": 3.0,
    "dfp8_acc14_wrap_s": 1.0,
    "e4m3_fp16_s": 10.0,
    "e4m3_kulisch_s": 2.0,
    "pow2_shift_s": 0.6,
}
#: figures measured before the fast accumulators (issue 11's table, this machine, 2,000 images)
BEFORE = {
    "gemm_exact_over_float32": 1.18,
    "dfp8_acc14_saturate_s": 32.0,
    "dfp8_acc14_wrap_s": 4.2,
    "e4m3_fp16_s": 111.0,
    "e4m3_kulisch_s": 7.4,
    "pow2_shift_s": 1.6,
}
#: CPU flags that decide which integer kernels are exact and fast (x86 /proc/cpuinfo names)
CPU_FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "amx_int8", "avx512_bf16",
             "avx512_fp16", "f16c")


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def cpu_flags() -> dict:
    """The CPU model and which of :data:`CPU_FLAGS` it has (from ``/proc/cpuinfo``; empty elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {"model": platform.processor() or None, "flags": {}}
    model, flags = None, set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and model is None:
            model = value.strip()
        if key.strip() == "flags" and not flags:
            flags = set(value.split())
    return {"model": model, "flags": {f: f in flags for f in CPU_FLAGS}}


def plans(net, x_calib) -> dict:
    """The plan of every network case (module docstring), by case name."""
    dfp8 = dynamic_fixed_point_plan(net, x_calib, 8)
    acc14 = dynamic_fixed_point_plan(net, x_calib, 8, acc_bits=14)
    e4m3 = {name: LayerPlan("e4m3", "e4m3", None, "e4m3", "fp16") for name in dfp8.layers}
    kulisch = {name: LayerPlan("e4m3", "e4m3", None, "e4m3", None) for name in dfp8.layers}
    pow2 = PowerOfTwo(-8, -1, has_zero=False)  # Ristretto's power-of-two weights (reference/ristretto.md)
    shift = {name: LayerPlan(e.inputs, pow2, None, e.outputs, None) for name, e in dfp8.layers.items()}
    return {
        "dfp8_acc32": dfp8,
        "dfp8_acc14_saturate": acc14,
        "dfp8_acc14_wrap": acc14.replace(overflow="wrap"),
        "e4m3_fp16": dfp8.replace(layers=e4m3),
        "e4m3_kulisch": dfp8.replace(layers=kulisch),
        "pow2_shift": dfp8.replace(layers=shift),
    }


def _gemm_pair(backends, m=4096, k=1152, n=128, seed=0):
    rng = np.random.default_rng(seed)
    a8 = rng.integers(-128, 128, size=(m, k), dtype=np.int64).astype(np.int8)
    w8 = rng.integers(-128, 128, size=(k, n), dtype=np.int64).astype(np.int8)
    a32, w32 = a8.astype(np.float32), w8.astype(np.float32)
    i8, acc32 = FixedPoint(8, 0), FixedPoint(32, 0)

    def exact():
        return fixed_matmul(a8, w8, i8, i8, accumulator=acc32, overflow="saturate", backends=backends).codes

    ref = (a8.astype(np.float64) @ w8.astype(np.float64)).astype(np.int64)  # |sums| < 2**53: exact
    return {"float32_matmul": lambda: a32 @ w32, "exact_int8_gemm": exact}, lambda: bool(np.array_equal(exact(), ref))


def run(repeats: int = 3, *, images: int = 2000, threads: int = 1, batch_size: int = 256, data_dir=None,
        cases=None, backend: str | None = None) -> dict:
    """Run the accumulator benchmark and return its figures.

    Parameters
    ----------
    repeats : int
        Timed rounds (the cases alternate; best time kept), after one warm-up run of each.
    images : int
        MNIST test images per network case (issue 11: 2,000).
    threads : int
        BLAS threads (threadpoolctl).
    batch_size : int
    data_dir : str or os.PathLike, optional
        Folder holding ``mnist/`` and ``caffe-lenet/`` (default :func:`shared_data_dir`).
    cases : iterable of str, optional
        Only these cases (default all).
    backend : str, optional
        Force an integer-kernel backend for the GEMM case (``blas``, ``onnxruntime``, ``torch``); default the
        environment's ``RISTRETTO_SIM_BACKEND``, else the fastest one proven exact. The network cases use the
        emulator's default (:func:`~ristretto_sim.emulator.kernels.default_backends`), reported in the result.
    """
    for name, v in (("repeats", repeats), ("threads", threads), ("batch_size", batch_size), ("images", images)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name}={v!r} must be a positive integer")
    notes: list[str] = []
    data_dir = shared_data_dir() if data_dir is None else Path(data_dir)
    ds, data_source = load_data(data_dir, notes)
    net, model_source = load_model(data_dir, notes)
    imgs, labels = ds.images[:images], ds.labels[:images]
    x = net.preprocess(imgs) if net.preprocess is not None else imgs.astype(np.float32)
    x = np.ascontiguousarray(x, dtype=np.float32)
    x_calib, calib_source = calibration_images(net, x, notes)
    all_plans = plans(net, x_calib)
    names = ("gemm",) + tuple(all_plans) if cases is None else tuple(cases)
    unknown = [c for c in names if c != "gemm" and c not in all_plans]
    if unknown:
        raise ValueError(f"cases: unknown {', '.join(unknown)}; choose from gemm, {', '.join(all_plans)}")
    backends = default_backends(backend, threads=threads)
    network_backends = default_backends()
    fns = {}
    gemm_check = None
    if "gemm" in names:
        pair, gemm_check = _gemm_pair(backends)
        fns.update(pair)
    for c in names:
        if c != "gemm":
            fns[c] = (lambda p: lambda: run_network(net, x, p, record=True, batch_size=batch_size))(all_plans[c])
    limiter, info = blas_limit(threads)
    with limiter:
        blas = blas_libraries(info)
        warm = {name: f() for name, f in fns.items()}
        best = {name: float("inf") for name in fns}
        for _ in range(repeats):
            for name, f in fns.items():
                t0 = time.perf_counter()
                f()
                best[name] = min(best[name], time.perf_counter() - t0)
        gemm_ok = gemm_check() if gemm_check is not None else None
    figures, top1, overflows, relative = {}, {}, {}, {}
    if "gemm" in names:
        figures["gemm_exact_over_float32"] = best["exact_int8_gemm"] / best["float32_matmul"]
    for c in names:
        if c == "gemm":
            continue
        figures[f"{c}_s"] = best[c]
        if "dfp8_acc32" in best:  # side by side with the no-overflow fast path: less sensitive to machine load
            relative[c] = best[c] / best["dfp8_acc32"]
        top1[c] = top1_accuracy(warm[c].output, labels)
        overflows[c] = int(sum(r.stats.accumulator_overflows for r in warm[c].records.values()
                               if getattr(r, "stats", None) is not None))
    return {
        "benchmark": "accumulators",
        "data": data_source,
        "model": model_source,
        "calibration": calib_source,
        "images": int(len(x)),
        "batch_size": batch_size,
        "repeats": repeats,
        "blas_threads": threads if info is not None else None,
        "blas_libraries": blas,
        "backend": backends.report(),
        "network_backend": network_backends.report(),
        "compiled_loops": {"numba": _version("numba") if jit.available() else None},
        "cpu": cpu_flags(),
        "time_s": {k: round(v, 4) for k, v in best.items()},
        "figures": {k: round(v, 4) for k, v in figures.items()},
        "targets": {k: v for k, v in TARGETS.items() if k in figures},
        "before": {k: v for k, v in BEFORE.items() if k in figures},
        "met": {k: bool(figures[k] <= TARGETS[k]) for k in figures if k in TARGETS},
        "over_no_overflow_case": {k: round(v, 3) for k, v in relative.items()},
        "gemm_bit_identical": gemm_ok,
        "top1": top1,
        "accumulator_overflows": overflows,
        "versions": {"python": platform.python_version(), "numpy": np.__version__},
        "notes": notes,
    }
