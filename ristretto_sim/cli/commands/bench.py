"""``ristretto-sim bench``: the performance benchmarks, measured side by side in one run, written as JSON.

Suites (``--only``): ``gemm`` (exact fixed-point GEMM vs NumPy float32 and APyTypes; e4m3fn Kulisch MAC),
``simulate`` (cycle model on AlexNet's conv layers and a ResNet-18-size network; ``--with-scalesim`` adds the real
SCALE-Sim), ``network`` (every MNIST test image through Caffe LeNet: float vs exact 8-bit vs onnxruntime),
``quantize`` (the full Ristretto trimming search on Caffe LeNet over the 10,000 MNIST test images),
``accumulators`` (narrow saturating and wrapping, fp16 and Kulisch accumulators, shift PEs on Caffe LeNet, and the
exact int8 GEMM on the integer kernels; the backend and the CPU flags in the JSON), ``search`` (a 200-trial joint
accuracy x energy search on the bundled LeNet with 2,000 validation images).
Ratios are what matters: both sides run in the same process, alternating.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import time
from pathlib import Path

from ristretto_sim.emulator.kernels import BACKEND_ENV, backend_names

NAME = "bench"
HELP = "run the benchmarks (side-by-side ratios) and write them as JSON"
DESCRIPTION = __doc__

SUITES = ("gemm", "simulate", "network", "quantize", "accumulators", "search")


def add_arguments(p):
    p.add_argument("--output", "-o", default="bench.json", help="JSON file to write (default: bench.json)")
    p.add_argument("--only", help=f"comma-separated suites to run (default: all of {', '.join(SUITES)})")
    p.add_argument("--repeats", type=int, default=5, help="timed runs per contender, best kept (default 5)")
    p.add_argument("--backend", choices=backend_names(),
                   help=f"integer-kernel backend (default: ${BACKEND_ENV}, else the fastest one proven exact)")
    p.add_argument("--with-scalesim", action="store_true", help="also run the real SCALE-Sim (its own venv)")


def _run_suite(name: str, args) -> dict:
    if name == "gemm":
        from ristretto_sim.bench.gemm import run_gemm_benchmark

        return run_gemm_benchmark(repeats=args.repeats)
    if name == "simulate":
        from ristretto_sim.bench.simulate import run

        return run(with_scalesim=args.with_scalesim)
    module = importlib.import_module(f"ristretto_sim.bench.{name}")
    return module.run(repeats=args.repeats)


def run(args) -> int:
    if args.backend:
        os.environ[BACKEND_ENV] = args.backend  # the CLI owns the process: the emulator's default reads it
    suites = SUITES if not args.only else tuple(s.strip() for s in args.only.split(",") if s.strip())
    unknown = [s for s in suites if s not in SUITES]
    if unknown:
        raise ValueError(f"--only: unknown suite(s) {', '.join(unknown)}; choose from {', '.join(SUITES)}")
    if args.repeats < 1:
        raise ValueError(f"--repeats {args.repeats} must be >= 1")
    results = {"python": platform.python_version(), "machine": platform.machine(), "suites": {}}
    out = Path(args.output)
    for name in suites:
        t0 = time.perf_counter()
        print(f"bench {name} ...", file=sys.stderr, flush=True)
        try:
            results["suites"][name] = _run_suite(name, args)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("ristretto_sim.bench"):
                results["suites"][name] = {"skipped": f"suite not installed ({exc.name})"}
                continue
            raise
        results["suites"][name]["wall_s"] = round(time.perf_counter() - t0, 2)
        out.write_text(json.dumps(results, indent=2))  # keep finished suites if a later one is interrupted
    out.write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    print(f"written to {out}", file=sys.stderr)
    return 0
